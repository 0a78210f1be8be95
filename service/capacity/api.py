"""REST: staffing what-ifs, promotions and capacity plans. Thin, over capacity.service; roles in
capacity.auth.

An unknown plan id is a 404 for everyone; a plan without the client's shops is an empty page (plans are the
outsourcer's and name no brand); another brand's shop in `?shop=` is a 404, like everywhere else.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated

from fastapi import Depends, Query, Response
from fastapi.responses import StreamingResponse

from service.capacity import auth, service
from service.capacity.schemas import (
    PlanCreate,
    PlanDetail,
    PlanLineRead,
    PlanRead,
    PromotionCreate,
    PromotionRead,
    StaffingRead,
    StaffingRequest,
)
from service.capacity.staffing import staffing
from service.kit.access import Caller, Session, Sessions
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.routing import Router
from service.kit.types import Text

router = Router(tags=["capacity"])
Pages = Annotated[PageRequest, Depends(page_params)]
OneShop = Annotated[uuid.UUID | None, Query(description="One shop's lines")]


@router.post("/v1/staffing/erlang", response_model=StaffingRead, dependencies=[auth.staff.rest],
             max_body_size=16 * 1024 * 1024,  # up to 100,000 intervals
             summary="Erlang C / Erlang A staffing for up to 100,000 intervals (what-if calculator)")
async def erlang(body: StaffingRequest):
    result = await asyncio.to_thread(staffing, body)
    # Built directly (not through response_model validation): 100,000 rows must stay cheap.
    payload = json.dumps({"model": body.model.value, "intervals": result.rows()}, allow_nan=False)
    return Response(payload, media_type="application/json")


@router.post("/v1/promotions", response_model=PromotionRead, status_code=201, summary="Add a promotion",
             dependencies=[auth.write.rest])
async def create_promotion(session: Session, body: PromotionCreate):
    return await service.create_promotion(session, body)


@router.get("/v1/promotions", response_model=Page[PromotionRead], dependencies=[auth.calendar.rest],
            summary="The promotions calendar (everyone)")
async def list_promotions(session: Session, page: Pages,
                          name: Annotated[Text | None, Query(max_length=100)] = None,
                          year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                          upcoming: Annotated[bool | None, Query(
                              description="true: only editions not over by their local today")] = None):
    return await service.list_promotions(session, page, name, year, upcoming)


@router.post("/v1/capacity-plans", response_model=PlanRead, status_code=201, dependencies=[auth.write.rest],
             summary="Forecast, staff and allocate seats for a promotion or a date range, and store the plan")
async def create_plan(session: Session, sessions: Sessions, caller: Caller, body: PlanCreate):
    return await service.create_plan(session, sessions, caller, body)


@router.get("/v1/capacity-plans", response_model=Page[PlanRead], dependencies=[auth.plans.rest],
            summary="Capacity plans (a client: those that include its shops, with its share of each)")
async def list_plans(session: Session, caller: Caller, page: Pages,
                     promotion: Annotated[uuid.UUID | None, Query(description="Promotion id")] = None):
    return await service.list_plans(session, caller, page, promotion)


@router.get("/v1/capacity-plans/{plan_id}", response_model=PlanDetail, dependencies=[auth.staff.rest],
            summary="A plan: header, seats per interval, and per-shop totals (KA first)")
async def get_plan(session: Session, plan_id: uuid.UUID):
    return await service.plan_detail(session, plan_id)


@router.get("/v1/capacity-plans/{plan_id}/lines", response_model=Page[PlanLineRead],
            dependencies=[auth.lines.rest],
            summary="A plan's lines per shop and interval (a client: its own shops)")
async def list_lines(session: Session, caller: Caller, plan_id: uuid.UUID, page: Pages, shop: OneShop = None):
    return await service.list_lines(session, caller, plan_id, shop, page)


@router.get("/v1/capacity-plans/{plan_id}/lines.csv", response_class=StreamingResponse,
            dependencies=[auth.lines.rest],
            summary="The same lines as CSV, streamed (a client: its own shops)")
async def lines_csv(session: Session, sessions: Sessions, caller: Caller, plan_id: uuid.UUID,
                    shop: OneShop = None):
    await service.check_lines_visible(session, caller, plan_id, shop)
    name = f"capacity-plan-{plan_id}{'-' + str(shop) if shop else ''}.csv"
    return StreamingResponse(service.lines_csv(sessions, caller, plan_id, shop), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
