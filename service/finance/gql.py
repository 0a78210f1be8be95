"""GraphQL: cost rates, contracts, the books, statements, reports, the balance view and estimates. Thin, over
finance.service; shapes from finance.schemas, roles from finance.auth.

A brand reads its finalized statements through `brandStatements` / `brandStatement`, whose types have no
rate (BrandStatementLine); the staff types (Statement, StatementLine) carry the rates and links. Exports are
files: REST only (GET /v1/finance/exports/...) and the `seatwise export` command.

The four rate books have the same two fields each (its versions, a new version): they are made by one
factory (`_versions`, `_adder`), as the REST door makes their routes.
"""

from __future__ import annotations

import inspect
import uuid
from typing import Annotated, Any

import strawberry

from service.finance import auth, service
from service.finance import schemas as shapes
from service.kit import gql
from service.kit.access import Caller, Session, Sessions
from service.kit.errors import Invalid
from service.sla import gql as sla_gql  # noqa: F401  (registers the SlaMetric enum of the credit policy)


def _type(model: type[Any], name: str, **fields: Any) -> Any:
    """The GraphQL type of a read model; FIELDS retype what GraphQL cannot say as the model does (its text
    literals are strings here)."""
    return gql.read_type(model, name=name)(type(f"{name}Type", (), {"__annotations__": fields}))


# Types nested in others (each model's type is found by strawberry when the holder is derived), and the
# rate books' version types.
for _model, _name, _fields in (
    (shapes.CreditAllocationFields, "CreditAllocation", {}), (shapes.CreditPolicyFields, "CreditPolicy",
                                                             {"pool_scope": str}),
    (shapes.ContractVersionRead, "ContractVersion", {}), (shapes.PeriodEventRead, "FinancePeriodEvent",
                                                          {"action": str}),
    (shapes.LineView, "BrandStatementLine", {"kind": str}), (shapes.LineRead, "StatementLine", {"kind": str}),
    (shapes.RevenueComponent, "RevenueComponent", {}), (shapes.CostRow, "CostRow", {"by": str}),
    (shapes.MarginRow, "MarginRow", {"by": str}), (shapes.MarginalCostRead, "MarginalCost", {}),
    (shapes.PlanShopRead, "PlanShopEstimate", {}), (shapes.PlanDeltaRead, "PlanShopDelta", {}),
    (shapes.KaFirstRead, "KaFirst", {}),
):
    _type(_model, _name, **_fields)
RATES = {kind: (_type(read, name), create, gql.create_input(create, name=f"{name}Input"))
         for kind, read, create, name in (
             ("agent", shapes.AgentCostRead, shapes.AgentCostCreate, "AgentCost"),
             ("seat", shapes.SeatCostRead, shapes.SeatCostCreate, "SeatCost"),
             ("overhead", shapes.OverheadRead, shapes.OverheadCreate, "Overhead"),
             ("overtime", shapes.OvertimeRead, shapes.OvertimeCreate, "OvertimeMultipliers"))}


@gql.read_type(shapes.ContractRead, name="Contract")
class ContractType: ...


CreditAllocationInput = gql.create_input(shapes.CreditAllocationFields, name="CreditAllocationInput")
CreditPolicyInput = gql.create_input(shapes.CreditPolicyFields, name="CreditPolicyInput", replace={
    "allocations": (list[CreditAllocationInput], gql.UNSET),  # type: ignore[valid-type]
    "pool_scope": (str, strawberry.field(default="brand", description="brand or shop"))})
_POLICY = {"credit_policy": (CreditPolicyInput | None, None)}
ContractInput = gql.create_input(shapes.ContractCreate, name="ContractInput", replace=_POLICY)
ContractVersionInput = gql.create_input(shapes.ContractVersionCreate, name="ContractVersionInput",
                                        replace=_POLICY)


@gql.read_type(shapes.PeriodRead, name="FinancePeriod")
class PeriodType:
    status: str  # open or closed


@gql.read_type(shapes.ComputeRead, name="FinanceComputation")
class ComputeType: ...


@gql.read_type(shapes.CloseRead, name="FinanceClose", description="A month closed: computed once more, "
               "every draft numbered, every figure frozen.")
class CloseType: ...


@gql.read_type(shapes.FinalizeRead, name="FinanceFinalization", description="The numbers given.")
class FinalizeType: ...


@gql.read_type(shapes.StatementView, name="BrandStatement")
class BrandStatementType: ...


@gql.read_type(shapes.StatementSummary, name="StatementSummary")
class StatementSummaryType:
    status: str  # draft or finalized


@gql.read_type(shapes.StatementRead, name="Statement")
class StatementType:
    status: str


@gql.read_type(shapes.CostReport, name="CostReport", description="Cost rows of whole months.")
class CostReportType:
    by: str  # shop, brand or site


@gql.read_type(shapes.MarginReport, name="MarginReport")
class MarginReportType:
    by: str


@gql.read_type(shapes.ShopBalanceRead, name="ShopBalance")
class ShopBalanceType: ...


@gql.read_type(shapes.PlanEstimateRead, name="PlanEstimate")
class PlanEstimateType: ...


FromArg = Annotated[str | None, strawberry.argument(name="from", description="First month, YYYY-MM "
                                                                             "(default: this month)")]
ToArg = Annotated[str | None, strawberry.argument(description="Last month, inclusive (default: from)")]
ByArg = Annotated[str, strawberry.argument(description="shop, brand or site")]


def _report_field(use_case: Any, read: Any, description: str) -> Any:
    """A report over whole months (cost or margin), its filters the same as REST's."""

    async def report(self: Any, session: Any, from_: str | None = None, to: str | None = None,
                     by: str = "brand", tier: str | None = None, platform: str | None = None,
                     tenant: str | None = None) -> Any:
        if by not in ("shop", "brand", "site"):
            raise gql.graphql_problem(Invalid("by", "shop, brand or site"))
        filters = service.report_filter(from_, to, by, tier, platform, tenant)
        return gql.of(read, await use_case(session, filters))

    empty = inspect.Parameter.empty
    params = [("session", Session, empty), ("from_", FromArg, None), ("to", ToArg, None),
              ("by", ByArg, "brand"), ("tier", str | None, None), ("platform", str | None, None),
              ("tenant", str | None, None)]
    return gql.field(auth.read, description=description)(_signed(report, params, read))


def _signed(fn: Any, params: list[tuple[str, Any, Any]], returns: Any) -> Any:
    """FN with the signature the kit reads: (self, *PARAMS as (name, annotation, default)) -> RETURNS."""
    kw = inspect.Parameter.KEYWORD_ONLY
    fn.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         *(inspect.Parameter(n, kw, annotation=a, default=d) for n, a, d in params)],
        return_annotation=returns)
    fn.__annotations__ = {**{n: a for n, a, _ in params}, "return": returns}
    return fn


def _versions(kind: str, owner: str | None, description: str) -> Any:
    """The field listing a rate book's versions (by agent or site when OWNER names the argument)."""
    read = RATES[kind][0]

    async def versions(self: Any, session: Any, first: int = 50, after: str | None = None, **kw: Any) -> Any:
        found = await service.list_rates(session, kind, gql.page_request(first, after), kw.get(owner or ""))
        return gql.page(read, found)

    empty = inspect.Parameter.empty
    params = [("session", Session, empty), *([(owner, uuid.UUID | None, None)] if owner else []),
              ("first", int, 50), ("after", str | None, None)]
    page_type = gql.Page[read]  # type: ignore[valid-type]
    return gql.field(auth.read, description=description)(_signed(versions, params, page_type))


def _adder(kind: str, description: str) -> Any:
    """The mutation adding a version to a rate book."""
    read, create, _ = RATES[kind]

    async def add(self: Any, session: Any, caller: Any, input: Any) -> Any:
        return gql.of(read, await service.add_rate(session, caller, kind, input))

    empty = inspect.Parameter.empty
    params = [("session", Session, empty), ("caller", Caller, empty), ("input", create, empty)]
    return gql.mutation(auth.write, description=description)(_signed(add, params, read))


@strawberry.type
class FinanceQuery:
    agent_costs = _versions("agent", "agent_id", "Agents' loaded hourly cost versions.")
    seat_costs = _versions("seat", "site_id", "Sites' seat cost versions.")
    overheads = _versions("overhead", "site_id", "Sites' overhead versions.")
    overtime_multipliers = _versions("overtime", None, "Versions of the overtime multipliers by pay class.")

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

    cost_report = _report_field(service.cost_report, CostReportType,
                                "Cost per shop, brand or site and month, with unit costs.")
    margin_report = _report_field(service.margin_report, MarginReportType,
                                  "Revenue, credits, costs and margin per shop, brand or site and month.")

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
    add_agent_cost = _adder("agent", "Add a version of an agent's loaded hourly cost.")
    add_seat_cost = _adder("seat", "Add a version of a site's seat cost per seat-hour.")
    add_overhead = _adder("overhead", "Add a version of a site's management overhead share.")
    add_overtime_multipliers = _adder("overtime", "Add a version of the overtime multipliers.")

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
        body = gql.validated(shapes.ReopenRequest, {"reason": reason}, [])
        return gql.of(PeriodType, await service.reopen_month(session, caller, month, body.reason))

    @gql.mutation(auth.write, description="Finalize a draft statement with its number (idempotent).")
    async def finalize_statement(self, session: Session, caller: Caller, id: uuid.UUID) -> StatementType:
        return gql.of(StatementType, await service.finalize_statement(session, caller, id))

    @gql.mutation(auth.write, description="A contract (a brand's, or one shop's) with its first version.")
    async def create_contract(self, session: Session, caller: Caller,
                              input: ContractInput) -> ContractType:  # type: ignore[valid-type]
        data = gql.validated(shapes.ContractCreate, input, ["input"])
        return gql.of(ContractType, await service.create_contract(session, caller, data))

    @gql.mutation(auth.write, description="A new version of a contract's prices from a day on.")
    async def add_contract_version(self, session: Session, caller: Caller, contract_id: uuid.UUID,
                                   input: ContractVersionInput) -> ContractType:  # type: ignore[valid-type]
        data = gql.validated(shapes.ContractVersionCreate, input, ["input"])
        return gql.of(ContractType, await service.add_contract_version(session, caller, contract_id, data))
