"""GraphQL: cost rates, contracts, the books, statements, reports, the balance view and estimates. Thin, over
finance.service; shapes from finance.schemas, roles from finance.auth.

A brand reads its finalized statements through `brandStatements` / `brandStatement`, whose types have no
rate (BrandStatementLine); the staff types (Statement, StatementLine) carry the rates and links. Exports are
files: REST only (GET /v1/finance/exports/...) and the `seatwise export` command.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import strawberry

from service.finance import auth, service
from service.finance.schemas import (
    AgentCostCreate,
    AgentCostRead,
    CloseRead,
    ComputeRead,
    ContractCreate,
    ContractRead,
    ContractVersionCreate,
    ContractVersionRead,
    CostReport,
    CostRow,
    CreditAllocationFields,
    CreditPolicyFields,
    FinalizeRead,
    KaFirstRead,
    LineRead,
    LineView,
    MarginalCostRead,
    MarginReport,
    MarginRow,
    OverheadCreate,
    OverheadRead,
    OvertimeCreate,
    OvertimeRead,
    PeriodEventRead,
    PeriodRead,
    PlanDeltaRead,
    PlanEstimateRead,
    PlanShopRead,
    ReopenRequest,
    RevenueComponent,
    SeatCostCreate,
    SeatCostRead,
    ShopBalanceRead,
    StatementRead,
    StatementSummary,
    StatementView,
)
from service.kit import gql
from service.kit.access import Caller, Session, Sessions
from service.kit.errors import Invalid
from service.sla import gql as sla_gql  # noqa: F401  (registers the SlaMetric enum of the credit policy)

# --- rates and contracts ----------------------------------------------------------------------------------


@gql.read_type(AgentCostRead, name="AgentCost")
class AgentCostType: ...


@gql.read_type(SeatCostRead, name="SeatCost")
class SeatCostType: ...


@gql.read_type(OverheadRead, name="Overhead")
class OverheadType: ...


@gql.read_type(OvertimeRead, name="OvertimeMultipliers")
class OvertimeType: ...


@gql.read_type(CreditAllocationFields, name="CreditAllocation")
class CreditAllocationType: ...


@gql.read_type(CreditPolicyFields, name="CreditPolicy")
class CreditPolicyType:
    pool_scope: str  # brand or shop


@gql.read_type(ContractVersionRead, name="ContractVersion")
class ContractVersionType: ...


@gql.read_type(ContractRead, name="Contract")
class ContractType: ...


AgentCostInput = gql.create_input(AgentCostCreate, name="AgentCostInput")
SeatCostInput = gql.create_input(SeatCostCreate, name="SeatCostInput")
OverheadInput = gql.create_input(OverheadCreate, name="OverheadInput")
OvertimeInput = gql.create_input(OvertimeCreate, name="OvertimeMultipliersInput")
CreditAllocationInput = gql.create_input(CreditAllocationFields, name="CreditAllocationInput")
CreditPolicyInput = gql.create_input(CreditPolicyFields, name="CreditPolicyInput", replace={
    "allocations": (list[CreditAllocationInput], gql.UNSET),  # type: ignore[valid-type]
    "pool_scope": (str, strawberry.field(default="brand", description="brand or shop"))})
_POLICY = {"credit_policy": (CreditPolicyInput | None, None)}
ContractInput = gql.create_input(ContractCreate, name="ContractInput", replace=_POLICY)
ContractVersionInput = gql.create_input(ContractVersionCreate, name="ContractVersionInput", replace=_POLICY)


# --- the books and statements -----------------------------------------------------------------------------


@gql.read_type(PeriodEventRead, name="FinancePeriodEvent")
class PeriodEventType:
    action: str  # close or reopen


@gql.read_type(PeriodRead, name="FinancePeriod")
class PeriodType:
    status: str  # open or closed


@gql.read_type(ComputeRead, name="FinanceComputation")
class ComputeType: ...


@gql.read_type(CloseRead, name="FinanceClose")
class CloseType: ...


@gql.read_type(FinalizeRead, name="FinanceFinalization")
class FinalizeType: ...


@gql.read_type(LineView, name="BrandStatementLine", description="A statement line as its brand reads it.")
class BrandLineType:
    kind: str  # charge, credit, credit_pending, credit_forgiven or adjustment


@gql.read_type(LineRead, name="StatementLine")
class LineType:
    kind: str


@gql.read_type(StatementView, name="BrandStatement")
class BrandStatementType: ...


@gql.read_type(StatementSummary, name="StatementSummary")
class StatementSummaryType:
    status: str  # draft or finalized


@gql.read_type(StatementRead, name="Statement")
class StatementType:
    status: str


# --- reports ------------------------------------------------------------------------------------------------


@gql.read_type(RevenueComponent, name="RevenueComponent")
class RevenueComponentType: ...


@gql.read_type(CostRow, name="CostRow")
class CostRowType:
    by: str  # shop, brand or site


@gql.read_type(MarginRow, name="MarginRow")
class MarginRowType:
    by: str


@gql.read_type(CostReport, name="CostReport")
class CostReportType:
    by: str


@gql.read_type(MarginReport, name="MarginReport")
class MarginReportType:
    by: str


@gql.read_type(MarginalCostRead, name="MarginalCost")
class MarginalCostType: ...


@gql.read_type(ShopBalanceRead, name="ShopBalance")
class ShopBalanceType: ...


@gql.read_type(PlanShopRead, name="PlanShopEstimate")
class PlanShopType: ...


@gql.read_type(PlanDeltaRead, name="PlanShopDelta")
class PlanDeltaType: ...


@gql.read_type(KaFirstRead, name="KaFirst")
class KaFirstType: ...


@gql.read_type(PlanEstimateRead, name="PlanEstimate")
class PlanEstimateType: ...


FromArg = Annotated[str | None, strawberry.argument(name="from", description="First month, YYYY-MM "
                                                                             "(default: this month)")]
ToArg = Annotated[str | None, strawberry.argument(description="Last month, inclusive (default: from)")]
ByArg = Annotated[str, strawberry.argument(description="shop, brand or site")]


def _report(from_: str | None, to: str | None, by: str, tier: str | None, platform: str | None,
            tenant: str | None) -> Any:
    if by not in ("shop", "brand", "site"):
        raise gql.graphql_problem(Invalid("by", "shop, brand or site"))
    return service.report_filter(from_, to, by, tier, platform, tenant)


@strawberry.type
class FinanceQuery:
    @gql.field(auth.read, description="Agents' loaded hourly cost versions.")
    async def agent_costs(self, session: Session, agent_id: uuid.UUID | None = None, first: int = 50,
                          after: str | None = None) -> gql.Page[AgentCostType]:
        page = gql.page_request(first, after)
        return gql.page(AgentCostType, await service.list_rates(session, "agent", page, agent_id))

    @gql.field(auth.read, description="Sites' seat cost versions.")
    async def seat_costs(self, session: Session, site_id: uuid.UUID | None = None, first: int = 50,
                         after: str | None = None) -> gql.Page[SeatCostType]:
        page = gql.page_request(first, after)
        return gql.page(SeatCostType, await service.list_rates(session, "seat", page, site_id))

    @gql.field(auth.read, description="Sites' overhead versions.")
    async def overheads(self, session: Session, site_id: uuid.UUID | None = None, first: int = 50,
                        after: str | None = None) -> gql.Page[OverheadType]:
        page = gql.page_request(first, after)
        return gql.page(OverheadType, await service.list_rates(session, "overhead", page, site_id))

    @gql.field(auth.read, description="Versions of the overtime multipliers by pay class.")
    async def overtime_multipliers(self, session: Session, first: int = 50,
                                   after: str | None = None) -> gql.Page[OvertimeType]:
        page = gql.page_request(first, after)
        return gql.page(OvertimeType, await service.list_rates(session, "overtime", page))

    @gql.field(auth.read, description="Contracts with their versions.")
    async def contracts(self, session: Session, tenant: str | None = None, first: int = 50,
                        after: str | None = None) -> gql.Page[ContractType]:
        page = gql.page_request(first, after)
        return gql.page(ContractType, await service.list_contracts(session, page, tenant))

    @gql.field(auth.read)
    async def contract(self, session: Session, id: uuid.UUID) -> ContractType:
        return gql.of(ContractType, await service.get_contract(session, id))

    @gql.field(auth.read, description="Months with books, latest first.")
    async def finance_periods(self, session: Session, first: int = 50,
                              after: str | None = None) -> gql.Page[PeriodType]:
        return gql.page(PeriodType, await service.list_periods(session, gql.page_request(first, after)))

    @gql.field(auth.read)
    async def finance_period(self, session: Session, month: str) -> PeriodType:
        return gql.of(PeriodType, await service.get_period(session, month))

    @gql.field(auth.read, description="Statements (staff), latest month first.")
    async def statements(self, session: Session, month: str | None = None, tenant: str | None = None,
                         status: str | None = None, first: int = 50,
                         after: str | None = None) -> gql.Page[StatementSummaryType]:
        if status not in (None, "draft", "finalized"):
            raise gql.graphql_problem(Invalid("status", "draft or finalized"))
        filters = service.statement_filter(month, tenant, status)
        page = gql.page_request(first, after)
        return gql.page(StatementSummaryType, await service.list_statements(session, filters, page))

    @gql.field(auth.read, description="A statement with every line, rates included (staff).")
    async def statement(self, session: Session, id: uuid.UUID) -> StatementType:
        return gql.of(StatementType, await service.get_statement(session, id))

    @gql.field(auth.statements, description="A brand's finalized statements (a client: its own).")
    async def brand_statements(self, session: Session, caller: Caller, tenant: str, first: int = 50,
                               after: str | None = None) -> gql.Page[BrandStatementType]:
        page = gql.page_request(first, after)
        return gql.page(BrandStatementType, await service.brand_statements(session, caller, tenant, page))

    @gql.field(auth.statements, description="A brand's finalized statement of a month (a client: its own).")
    async def brand_statement(self, session: Session, caller: Caller, tenant: str,
                              month: str) -> BrandStatementType:
        return gql.of(BrandStatementType, await service.brand_statement(session, caller, tenant, month))

    @gql.field(auth.read, description="Cost per shop, brand or site and month, with unit costs.")
    async def cost_report(self, session: Session, from_: FromArg = None, to: ToArg = None,
                          by: ByArg = "brand", tier: str | None = None, platform: str | None = None,
                          tenant: str | None = None) -> CostReportType:
        filters = _report(from_, to, by, tier, platform, tenant)
        return gql.of(CostReportType, await service.cost_report(session, filters))

    @gql.field(auth.read, description="Revenue, credits, costs and margin per shop, brand or site and month.")
    async def margin_report(self, session: Session, from_: FromArg = None, to: ToArg = None,
                            by: ByArg = "brand", tier: str | None = None, platform: str | None = None,
                            tenant: str | None = None) -> MarginReportType:
        filters = _report(from_, to, by, tier, platform, tenant)
        return gql.of(MarginReportType, await service.margin_report(session, filters))

    @gql.field(auth.read, description="Service level against cost per shop for a month.")
    async def shop_balance(self, session: Session, month: str | None = None, tenant: str | None = None,
                           shop_id: uuid.UUID | None = None, first: int = 50,
                           after: str | None = None) -> gql.Page[ShopBalanceType]:
        page = gql.page_request(first, after)
        return gql.page(ShopBalanceType, await service.balance(session, month, tenant, shop_id, page))

    @gql.field(auth.read, description="A capacity plan's cost, projected margin, and KA first's price.")
    async def plan_estimate(self, session: Session, plan_id: uuid.UUID) -> PlanEstimateType:
        return gql.of(PlanEstimateType, await service.plan_estimate(session, plan_id))

    @gql.field(auth.read, description="A roster's cost (its named agents) and projected margin.")
    async def roster_estimate(self, session: Session, roster_id: uuid.UUID) -> PlanEstimateType:
        return gql.of(PlanEstimateType, await service.roster_estimate(session, roster_id))


@strawberry.type
class FinanceMutation:
    @gql.mutation(auth.write, description="Add a version of an agent's loaded hourly cost.")
    async def add_agent_cost(self, session: Session, caller: Caller, input: AgentCostCreate) -> AgentCostType:
        return gql.of(AgentCostType, await service.add_rate(session, caller, "agent", input))

    @gql.mutation(auth.write, description="Add a version of a site's seat cost per seat-hour.")
    async def add_seat_cost(self, session: Session, caller: Caller, input: SeatCostCreate) -> SeatCostType:
        return gql.of(SeatCostType, await service.add_rate(session, caller, "seat", input))

    @gql.mutation(auth.write, description="Add a version of a site's management overhead share.")
    async def add_overhead(self, session: Session, caller: Caller, input: OverheadCreate) -> OverheadType:
        return gql.of(OverheadType, await service.add_rate(session, caller, "overhead", input))

    @gql.mutation(auth.write, description="Add a version of the overtime multipliers.")
    async def add_overtime_multipliers(self, session: Session, caller: Caller,
                                       input: OvertimeCreate) -> OvertimeType:
        return gql.of(OvertimeType, await service.add_rate(session, caller, "overtime", input))

    @gql.mutation(auth.write, description="A contract (a brand's, or one shop's) with its first version.")
    async def create_contract(self, session: Session, caller: Caller,
                              input: ContractInput) -> ContractType:  # type: ignore[valid-type]
        data = gql.validated(ContractCreate, input, ["input"])
        return gql.of(ContractType, await service.create_contract(session, caller, data))

    @gql.mutation(auth.write, description="A new version of a contract's prices from a day on.")
    async def add_contract_version(self, session: Session, caller: Caller, contract_id: uuid.UUID,
                                   input: ContractVersionInput) -> ContractType:  # type: ignore[valid-type]
        data = gql.validated(ContractVersionCreate, input, ["input"])
        return gql.of(ContractType, await service.add_contract_version(session, caller, contract_id, data))

    @gql.mutation(auth.write, description="Compute an open month's drafts and cost figures.")
    async def compute_period(self, session: Session, sessions: Sessions, caller: Caller,
                             month: str) -> ComputeType:
        return gql.of(ComputeType, await service.compute_month(session, sessions, caller, month))

    @gql.mutation(auth.write, description="Finalize every draft of an open month with its number.")
    async def finalize_period(self, session: Session, caller: Caller, month: str) -> FinalizeType:
        return gql.of(FinalizeType, await service.finalize_month(session, caller, month))

    @gql.mutation(auth.write, description="Close a month: compute, finalize every draft, freeze its figures.")
    async def close_period(self, session: Session, sessions: Sessions, caller: Caller,
                           month: str) -> CloseType:
        return gql.of(CloseType, await service.close_month(session, sessions, caller, month))

    @gql.mutation(auth.reopen, description="Open a closed month again (admins; recorded with the reason).")
    async def reopen_period(self, session: Session, caller: Caller, month: str, reason: str) -> PeriodType:
        body = gql.validated(ReopenRequest, {"reason": reason}, [])
        return gql.of(PeriodType, await service.reopen_month(session, caller, month, body.reason))

    @gql.mutation(auth.write, description="Finalize a draft statement with its number (idempotent).")
    async def finalize_statement(self, session: Session, caller: Caller, id: uuid.UUID) -> StatementType:
        return gql.of(StatementType, await service.finalize_statement(session, caller, id))
