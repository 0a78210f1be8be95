"""REST: cost rates, contracts, the books (compute, finalize, close, reopen), statements, reports and exports.
Thin, over finance.service; roles in finance.auth.

Staff routes live under /v1/finance; a brand reads its own finalized statements under /v1/tenants/{tenant}
(another brand's, or a draft, is a 404). Months travel as YYYY-MM.
"""

from __future__ import annotations

import inspect
import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from fastapi.responses import StreamingResponse

from service.finance import auth, service
from service.finance import schemas as shapes
from service.finance.schemas import By
from service.kit.access import Caller, Session, Sessions
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.routing import Router
from service.kit.types import TenantKey, Text

router = Router(tags=["finance"])
Pages = Annotated[PageRequest, Depends(page_params)]
MonthPath = Annotated[Text, Path(max_length=7, description="A month, YYYY-MM")]
MonthQuery = Annotated[Text | None, Query(max_length=7, description="A month, YYYY-MM")]
FromMonth = Annotated[Text | None, Query(alias="from", max_length=7, description="First month, YYYY-MM "
                                        "(default: this month)")]
ToMonth = Annotated[Text | None, Query(alias="to", max_length=7, description="Last month, inclusive "
                                      "(default: from)")]
Tier = Annotated[Text | None, Query(max_length=16, description="KA, standard or longtail")]
Platform = Annotated[Text | None, Query(max_length=16)]
Brand = Annotated[Text | None, Query(max_length=100, description="A brand's id or slug")]
Format = Annotated[Literal["csv", "xlsx"], Query(description="csv or xlsx")]


def _report(start: str | None, end: str | None, by: By, tier: str | None, platform: str | None,
            tenant: str | None) -> shapes.ReportFilter:
    return service.report_filter(start, end, by, tier, platform, tenant)


# --- cost rates: four books, the same two routes each ------------------------------------------------------


def _rate_routes(path: str, kind: str, create: type[Any], read: type[Any], owner: str | None,
                 what: str) -> None:
    """POST {path} (a new version of WHAT) and GET {path} (the versions, by OWNER when it names a query
    parameter), over service.add_rate and service.list_rates."""
    kw = inspect.Parameter.KEYWORD_ONLY

    async def add(session: Any, caller: Any, body: Any) -> Any:
        return await service.add_rate(session, caller, kind, body)

    async def versions(session: Any, page: Any, **owned: Any) -> Any:
        return await service.list_rates(session, kind, page, owned.get(owner or ""))

    add.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("session", kw, annotation=Session),
        inspect.Parameter("caller", kw, annotation=Caller), inspect.Parameter("body", kw, annotation=create)])
    versions.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("session", kw, annotation=Session), inspect.Parameter("page", kw, annotation=Pages),
        *([inspect.Parameter(owner, kw, annotation=uuid.UUID | None, default=None)] if owner else [])])
    router.add_api_route(path, add, methods=["POST"], response_model=read, status_code=201,
                         summary=f"Add a version of {what}", name=f"add_{kind}_rate",
                         dependencies=[auth.write.rest])
    router.add_api_route(path, versions, methods=["GET"], response_model=Page[read],  # type: ignore[valid-type]
                         summary=f"The versions of {what}", name=f"list_{kind}_rates",
                         dependencies=[auth.read.rest])


for _path, _kind, _create, _read, _owner, _what in (
    ("agent-costs", "agent", shapes.AgentCostCreate, shapes.AgentCostRead, "agent",
     "agents' loaded hourly cost"),
    ("seat-costs", "seat", shapes.SeatCostCreate, shapes.SeatCostRead, "site",
     "sites' seat cost per seat-hour"),
    ("overheads", "overhead", shapes.OverheadCreate, shapes.OverheadRead, "site", "sites' overhead share"),
    ("overtime-multipliers", "overtime", shapes.OvertimeCreate, shapes.OvertimeRead, None,
     "the overtime multipliers by pay class"),
):
    _rate_routes(f"/v1/finance/{_path}", _kind, _create, _read, _owner, _what)


# --- contracts ----------------------------------------------------------------------------------------------


@router.post("/v1/finance/contracts", response_model=shapes.ContractRead, status_code=201,
             summary="A contract (a brand's, or one shop's) with its first version",
             dependencies=[auth.write.rest])
async def create_contract(session: Session, caller: Caller, body: shapes.ContractCreate) -> Any:
    return await service.create_contract(session, caller, body)


@router.get("/v1/finance/contracts", response_model=Page[shapes.ContractRead], dependencies=[auth.read.rest],
            summary="Contracts with their versions")
async def list_contracts(session: Session, page: Pages, tenant: Brand = None) -> Any:
    return await service.list_contracts(session, page, tenant)


@router.get("/v1/finance/contracts/{contract_id}", response_model=shapes.ContractRead,
            dependencies=[auth.read.rest], summary="A contract with its versions")
async def get_contract(session: Session, contract_id: uuid.UUID) -> Any:
    return await service.get_contract(session, contract_id)


@router.post("/v1/finance/contracts/{contract_id}/versions", response_model=shapes.ContractRead,
             status_code=201, summary="A new version of a contract's prices from a day on",
             dependencies=[auth.write.rest])
async def add_contract_version(session: Session, caller: Caller, contract_id: uuid.UUID,
                               body: shapes.ContractVersionCreate) -> Any:
    return await service.add_contract_version(session, caller, contract_id, body)


# --- the books ----------------------------------------------------------------------------------------------


@router.get("/v1/finance/periods", response_model=Page[shapes.PeriodRead], dependencies=[auth.read.rest],
            summary="Months with books, latest first")
async def list_periods(session: Session, page: Pages) -> Any:
    return await service.list_periods(session, page)


@router.get("/v1/finance/periods/{month}", response_model=shapes.PeriodRead, dependencies=[auth.read.rest],
            summary="A month of the books: open or closed, its statements and its closes and reopenings")
async def get_period(session: Session, month: MonthPath) -> Any:
    return await service.get_period(session, month)


@router.post("/v1/finance/periods/{month}/compute", response_model=shapes.ComputeRead,
             dependencies=[auth.write.rest],
             summary="Compute an open month's draft statements and cost figures (late data for the closed "
                     "months before it becomes adjustments)")
async def compute_month(session: Session, sessions: Sessions, caller: Caller, month: MonthPath) -> Any:
    return await service.compute_month(session, sessions, caller, month)


@router.post("/v1/finance/periods/{month}/finalize", response_model=shapes.FinalizeRead,
             dependencies=[auth.write.rest], summary="Finalize every draft of an open month with its number")
async def finalize_month(session: Session, caller: Caller, month: MonthPath) -> Any:
    return await service.finalize_month(session, caller, month)


@router.post("/v1/finance/periods/{month}/close", response_model=shapes.CloseRead,
             dependencies=[auth.write.rest],
             summary="Close a month: compute, finalize every draft, freeze every figure")
async def close_month(session: Session, sessions: Sessions, caller: Caller, month: MonthPath) -> Any:
    return await service.close_month(session, sessions, caller, month)


@router.post("/v1/finance/periods/{month}/reopen", response_model=shapes.PeriodRead,
             dependencies=[auth.reopen.rest],
             summary="Open a closed month again (admins; recorded with the reason)")
async def reopen_month(session: Session, caller: Caller, month: MonthPath, body: shapes.ReopenRequest) -> Any:
    return await service.reopen_month(session, caller, month, body.reason)


# --- statements ---------------------------------------------------------------------------------------------


@router.get("/v1/finance/statements", response_model=Page[shapes.StatementSummary],
            dependencies=[auth.read.rest], summary="Statements, latest month first")
async def list_statements(session: Session, page: Pages, month: MonthQuery = None, tenant: Brand = None,
                          status: Literal["draft", "finalized"] | None = None) -> Any:
    filters = service.statement_filter(month, tenant, status)
    return await service.list_statements(session, filters, page)


@router.get("/v1/finance/statements/{statement_id}", response_model=shapes.StatementRead,
            dependencies=[auth.read.rest], summary="A statement with every line, rates included")
async def get_statement(session: Session, statement_id: uuid.UUID) -> Any:
    return await service.get_statement(session, statement_id)


@router.get("/v1/tenants/{tenant}/statements", response_model=Page[shapes.StatementView],
            dependencies=[auth.statements.rest],
            summary="A brand's finalized statements: charges, credits and their quantities")
async def brand_statements(session: Session, caller: Caller, tenant: TenantKey, page: Pages) -> Any:
    return await service.brand_statements(session, caller, tenant, page)


@router.get("/v1/tenants/{tenant}/statements/{month}", response_model=shapes.StatementView,
            dependencies=[auth.statements.rest], summary="A brand's finalized statement of a month")
async def brand_statement(session: Session, caller: Caller, tenant: TenantKey, month: MonthPath) -> Any:
    return await service.brand_statement(session, caller, tenant, month)


@router.post("/v1/finance/statements/{statement_id}/finalize", response_model=shapes.StatementRead,
             dependencies=[auth.write.rest], summary="Finalize a draft with its number (idempotent)")
async def finalize_statement(session: Session, caller: Caller, statement_id: uuid.UUID) -> Any:
    return await service.finalize_statement(session, caller, statement_id)


# --- reports ------------------------------------------------------------------------------------------------


@router.get("/v1/finance/costs", response_model=shapes.CostReport, dependencies=[auth.read.rest],
            summary="Labour, seat and overhead cost per shop, brand or site and month, with unit costs")
async def costs(session: Session, start: FromMonth = None, end: ToMonth = None, by: By = "brand",
                tier: Tier = None, platform: Platform = None, tenant: Brand = None) -> Any:
    return await service.cost_report(session, _report(start, end, by, tier, platform, tenant))


@router.get("/v1/finance/margins", response_model=shapes.MarginReport, dependencies=[auth.read.rest],
            summary="Revenue by component, credits, costs and margin per shop, brand or site and month")
async def margins(session: Session, start: FromMonth = None, end: ToMonth = None, by: By = "brand",
                  tier: Tier = None, platform: Platform = None, tenant: Brand = None) -> Any:
    return await service.margin_report(session, _report(start, end, by, tier, platform, tenant))


@router.get("/v1/finance/balance", response_model=Page[shapes.ShopBalanceRead], dependencies=[auth.read.rest],
            summary="Service level against cost per shop for a month, and the price of one more point")
async def balance(session: Session, page: Pages, month: MonthQuery = None, tenant: Brand = None,
                  shop: uuid.UUID | None = None) -> Any:
    return await service.balance(session, month, tenant, shop, page)


@router.get("/v1/finance/capacity-plans/{plan_id}/estimate", response_model=shapes.PlanEstimateRead,
            dependencies=[auth.read.rest],
            summary="A capacity plan's cost, projected margin, and what KA first costs and protects")
async def plan_estimate(session: Session, plan_id: uuid.UUID) -> Any:
    return await service.plan_estimate(session, plan_id)


@router.get("/v1/finance/rosters/{roster_id}/estimate", response_model=shapes.PlanEstimateRead,
            dependencies=[auth.read.rest], summary="A roster's cost (its named agents) and projected margin")
async def roster_estimate(session: Session, roster_id: uuid.UUID) -> Any:
    return await service.roster_estimate(session, roster_id)


# --- exports ------------------------------------------------------------------------------------------------


@router.get("/v1/finance/exports/{report}", response_class=StreamingResponse, dependencies=[auth.read.rest],
            summary="Statements (one row per line), margins or costs as CSV or XLSX, streamed")
async def export(session: Session, sessions: Sessions, report: Literal["statements", "margins", "costs"],
                 start: FromMonth = None, end: ToMonth = None, by: By = "brand", tier: Tier = None,
                 platform: Platform = None, tenant: Brand = None, format: Format = "csv") -> Any:
    filters = _report(start, end, by, tier, platform, tenant)
    name, media, body = await service.export(session, sessions, report, filters, format)
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=media, headers=disposition)
