"""REST: SLA policies, reports, breaches and the tenant summary. Thin, over sla.service.

Everyone reads (a client: its own shops and brand, another's is 404); ops and admins write policies.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from service.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest
from service.kit.roles import Context, Role, allow
from service.sla import service
from service.sla.schemas import (
    BreachRead,
    Granularity,
    Metric,
    PeriodKind,
    SlaPolicyCreate,
    SlaPolicyRead,
    SlaPolicyUpdate,
    SlaReportRead,
    TenantSummaryRead,
)

router = APIRouter(tags=["sla"])

read_roles = allow(Role.admin, Role.ops, Role.finance, Role.client)
write_roles = allow(Role.admin, Role.ops)
# /v1/tenants is staff-only, but a brand's users may read their own brand's SLA summary.
summary_roles = allow(Role.admin, Role.ops, Role.finance, Role.client)

FROM = Query(alias="from", description="Inclusive: a date (YYYY-MM-DD, local midnight) or a datetime "
             "(YYYY-MM-DDTHH:MM, shop-local unless it carries an offset) on a quarter hour. "
             "Default: the start of the local month holding `to`.")
TO = Query(alias="to", description="Exclusive, like `from`. Default: the end of the shop's local today.")
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (max 500).")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


@router.get("/v1/shops/{shop_id}/sla-policies", response_model=Page[SlaPolicyRead],
            summary="A shop's SLA policy versions, by effective date")
async def list_policies(ctx: Annotated[Context, Depends(read_roles)], shop_id: uuid.UUID,
                        limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None):
    async with ctx.tx() as session:
        shop, items, next_cursor = await service.list_policies(session, ctx.principal, shop_id, limit, cursor)
        return Page[SlaPolicyRead](items=[SlaPolicyRead.of(shop.id, service.Terms.of(p)) for p in items],
                                   next_cursor=next_cursor)


@router.get("/v1/shops/{shop_id}/sla-policy", response_model=SlaPolicyRead,
            summary="The SLA policy in force on a day (the platform default when no version applies)")
async def policy_in_force(ctx: Annotated[Context, Depends(read_roles)], shop_id: uuid.UUID,
                          on: Annotated[date | None, Query(description="Shop-local day; default today")] = None):
    async with ctx.tx() as session:
        shop, terms = await service.policy_in_force(session, ctx.principal, shop_id, on)
        return SlaPolicyRead.of(shop.id, terms)


@router.post("/v1/shops/{shop_id}/sla-policies", response_model=SlaPolicyRead, status_code=201,
             summary="Add a policy version applying from a shop-local date")
async def create_policy(ctx: Annotated[Context, Depends(write_roles)], shop_id: uuid.UUID, body: SlaPolicyCreate):
    async with ctx.tx() as session:
        policy = await service.create_policy(session, ctx.principal, shop_id, body)
        return SlaPolicyRead.of(policy.shop_id, service.Terms.of(policy))


@router.patch("/v1/shops/{shop_id}/sla-policies/{effective_from}", response_model=SlaPolicyRead,
              summary="Change a policy version (its targets, T, assessed hours)")
async def update_policy(ctx: Annotated[Context, Depends(write_roles)], shop_id: uuid.UUID, effective_from: date,
                        body: SlaPolicyUpdate):
    async with ctx.tx() as session:
        policy = await service.update_policy(session, ctx.principal, shop_id, effective_from, body)
        return SlaPolicyRead.of(policy.shop_id, service.Terms.of(policy))


@router.get("/v1/shops/{shop_id}/sla", response_model=SlaReportRead, response_model_by_alias=True,
            summary="SLA report per bucket of the shop's local time, with targets met or breached")
async def shop_report(ctx: Annotated[Context, Depends(read_roles)], shop_id: uuid.UUID,
                      start: Annotated[str | None, FROM] = None, end: Annotated[str | None, TO] = None,
                      granularity: Granularity = Granularity.day):
    async with ctx.tx() as session:
        report = await service.shop_report(session, ctx.principal, shop_id, start, end, granularity)
    # Serialized straight from the report (response_model still documents it): no validation, FastAPI's nor ours.
    return Response(SlaReportRead.json_of(report), media_type="application/json")


@router.get("/v1/sla/breaches", response_model=Page[BreachRead],
            summary="Daily and monthly SLA breaches (a client: its own shops)")
async def list_breaches(
    ctx: Annotated[Context, Depends(read_roles)],
    start: Annotated[date | None, Query(alias="from", description="First local day (default: the first of "
                                                                   "this month)")] = None,
    end: Annotated[date | None, Query(alias="to", description="Local day after the last (default: tomorrow)")]
    = None,
    tenant: Annotated[str | None, Query(description="Tenant id or slug")] = None,
    shop: uuid.UUID | None = None,
    metric: Metric | None = None,
    period: PeriodKind | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
):
    filters = service.BreachFilter(start=start, end=end, tenant=tenant, shop=shop,
                                   metric=metric.value if metric else None, period=period.value if period else None)
    async with ctx.tx() as session:
        items, next_cursor = await service.list_breaches(session, ctx.principal, filters, PageRequest(limit), cursor)
        return Page[BreachRead](items=[BreachRead.of(b) for b in items], next_cursor=next_cursor)


@router.get("/v1/tenants/{tenant}/sla-summary", response_model=TenantSummaryRead,
            summary="A brand's shops with their month-to-date SLA attainment")
async def tenant_summary(ctx: Annotated[Context, Depends(summary_roles)], tenant: str,
                         as_of: Annotated[date | None, Query(description="Last day of the month-to-date "
                                                                         "(default: each shop's local today)")]
                         = None):
    async with ctx.tx() as session:
        return TenantSummaryRead.of(await service.tenant_summary(session, ctx.principal, tenant, as_of))
