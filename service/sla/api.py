"""REST: SLA policies, reports, breaches and the tenant summary. Thin, over sla.service; roles in sla.auth."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Response

from service.kit.access import Caller, Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.routing import Router
from service.kit.types import TenantKey, Text
from service.sla import auth, service
from service.sla.figures import (
    BrandSlaReport,
    Breach,
    Granularity,
    Metric,
    PeriodKind,
    SlaReport,
    TenantSummary,
)
from service.sla.schemas import SlaPolicyCreate, SlaPolicyRead, SlaPolicyUpdate

router = Router(tags=["sla"])

FROM = Query(alias="from", description="Inclusive: a date (YYYY-MM-DD, local midnight) or a datetime "
             "(YYYY-MM-DDTHH:MM, shop-local unless it carries an offset) on a quarter hour. "
             "Default: the start of the local month holding `to`.", max_length=40)
TO = Query(alias="to", description="Exclusive, like `from`. Default: the end of the shop's local today.",
           max_length=40)
Pages = Annotated[PageRequest, Depends(page_params)]


@router.get("/v1/shops/{shop_id}/sla-policies", response_model=Page[SlaPolicyRead],
            summary="A shop's SLA policy versions, by effective date", dependencies=[auth.read.rest])
async def list_policies(session: Session, caller: Caller, shop_id: uuid.UUID, page: Pages):
    return await service.list_policies(session, caller, shop_id, page)


@router.get("/v1/shops/{shop_id}/sla-policy", response_model=SlaPolicyRead, dependencies=[auth.read.rest],
            summary="The SLA policy in force on a day (the platform default when no version applies)")
async def policy_in_force(session: Session, caller: Caller, shop_id: uuid.UUID,
                          on: Annotated[date | None,
                                        Query(description="Shop-local day; default today")] = None):
    return await service.policy_in_force(session, caller, shop_id, on)


@router.post("/v1/shops/{shop_id}/sla-policies", response_model=SlaPolicyRead, status_code=201,
             summary="Add a policy version applying from a shop-local date", dependencies=[auth.write.rest])
async def create_policy(session: Session, caller: Caller, shop_id: uuid.UUID, body: SlaPolicyCreate):
    return await service.create_policy(session, caller, shop_id, body)


@router.patch("/v1/shops/{shop_id}/sla-policies/{effective_from}", response_model=SlaPolicyRead,
              summary="Change a policy version (its targets, T, assessed hours)",
              dependencies=[auth.write.rest])
async def update_policy(session: Session, caller: Caller, shop_id: uuid.UUID, effective_from: date,
                        body: SlaPolicyUpdate):
    return await service.update_policy(session, caller, shop_id, effective_from, body)


@router.get("/v1/shops/{shop_id}/sla", response_model=SlaReport, response_model_by_alias=True,
            summary="SLA report per bucket of the shop's local time, with targets met or breached",
            dependencies=[auth.read.rest])
async def shop_report(session: Session, caller: Caller, shop_id: uuid.UUID,
                      start: Annotated[Text | None, FROM] = None, end: Annotated[Text | None, TO] = None,
                      granularity: Granularity = Granularity.day):
    report = await service.shop_report(session, caller, shop_id, start, end, granularity)
    # Written by pydantic-core from the values the service built, once per kept report (response_model still
    # documents it).
    return Response(report.json_bytes(), media_type="application/json")


@router.get("/v1/sla/breaches", response_model=Page[Breach], dependencies=[auth.read.rest],
            summary="Daily and monthly SLA breaches (a client: its own shops)")
async def list_breaches(
    session: Session, caller: Caller, page: Pages,
    start: Annotated[date | None, Query(alias="from", description="First local day (default: the first of "
                                                                   "this month)")] = None,
    end: Annotated[date | None, Query(alias="to", description="Local day after the last (default: tomorrow)")]
    = None,
    tenant: Annotated[Text | None, Query(description="Tenant id or slug", max_length=100)] = None,
    shop: uuid.UUID | None = None, metric: Metric | None = None, period: PeriodKind | None = None,
):
    filters = service.BreachFilter(start=start, end=end, tenant=tenant, shop=shop, metric=metric,
                                   period=period)
    found = await service.list_breaches(session, caller, filters, page)
    # The breaches as the service built them, written by pydantic-core (not validated again on the way out).
    body = Page[Breach].model_construct(items=found.items, next_cursor=found.next_cursor)
    return Response(body.model_dump_json(), media_type="application/json")


@router.get("/v1/tenants/{tenant}/sla", response_model=BrandSlaReport, response_model_by_alias=True,
            dependencies=[auth.read.rest],
            summary="A brand's SLA report: every shop per bucket of its local time and in total, in one call "
                    "(a client: its own brand)")
async def brand_report(session: Session, caller: Caller, tenant: str,
                       start: Annotated[str | None, FROM] = None, end: Annotated[str | None, TO] = None,
                       granularity: Granularity = Granularity.month):
    report = await service.brand_report(session, caller, tenant, start, end, granularity)
    return Response(report.model_dump_json(by_alias=True), media_type="application/json")


@router.get("/v1/tenants/{tenant}/sla-summary", response_model=TenantSummary, dependencies=[auth.read.rest],
            summary="A brand's shops with their month-to-date SLA attainment")
async def tenant_summary(session: Session, caller: Caller, tenant: TenantKey,
                         as_of: Annotated[date | None,
                                          Query(description="Last day of the month-to-date (default: "
                                                            "each shop's local today)")] = None):
    return await service.tenant_summary(session, caller, tenant, as_of)
