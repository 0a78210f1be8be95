"""REST: staffing what-ifs, promotions and capacity plans. Thin, over capacity.service.

Roles: staff run what-ifs (pure maths, no data: finance too); ops and admins create promotions and plans;
staff read them. A client reads the lines of its own shops in a plan (its forecast and staffing) and
nothing else of the plan: headers, per-interval seat totals and other brands' lines are not theirs. An
unknown plan id is a 404 for everyone; a plan without the client's shops is an empty page (plans are the
outsourcer's and name no brand); another brand's shop in `?shop=` is a 404, like everywhere else.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from service.capacity import service
from service.capacity.schemas import (
    PlanCreate,
    PlanDetail,
    PlanIntervalRead,
    PlanLineRead,
    PlanRead,
    PromotionCreate,
    PromotionRead,
    StaffingRead,
    StaffingRequest,
)
from service.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest, page_params
from service.kit.roles import Context, Role, allow

router = APIRouter(tags=["capacity"])

what_if_roles = allow(Role.admin, Role.ops, Role.finance)
staff_roles = allow(Role.admin, Role.ops, Role.finance)
write_roles = allow(Role.admin, Role.ops)
line_roles = allow(Role.admin, Role.ops, Role.finance, Role.client)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (max 500).")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


@router.post("/v1/staffing/erlang", response_model=StaffingRead,
             summary="Erlang C / Erlang A staffing for up to 100,000 intervals (what-if calculator)")
async def erlang(ctx: Annotated[Context, Depends(what_if_roles)], body: StaffingRequest):
    result = await asyncio.to_thread(service.staffing, body)
    # Built directly (not through response_model validation): 100,000 rows must stay cheap.
    payload = json.dumps({"model": body.model.value, "intervals": result.rows()}, allow_nan=False)
    return Response(payload, media_type="application/json")


@router.post("/v1/promotions", response_model=PromotionRead, status_code=201, summary="Add a promotion")
async def create_promotion(ctx: Annotated[Context, Depends(write_roles)], body: PromotionCreate):
    async with ctx.tx() as session:
        return PromotionRead.model_validate(await service.create_promotion(session, body))


@router.get("/v1/promotions", response_model=Page[PromotionRead], summary="Promotions")
async def list_promotions(ctx: Annotated[Context, Depends(staff_roles)],
                          page: Annotated[PageRequest, Depends(page_params)],
                          name: Annotated[str | None, Query(max_length=100)] = None,
                          year: Annotated[int | None, Query(ge=2000, le=2100)] = None):
    async with ctx.tx() as session:
        items, cursor = await service.list_promotions(session, page, name, year)
        return Page[PromotionRead](items=[PromotionRead.model_validate(p) for p in items], next_cursor=cursor)


@router.post("/v1/capacity-plans", response_model=PlanRead, status_code=201,
             summary="Forecast, staff and allocate seats for a promotion or a date range, and store the plan")
async def create_plan(ctx: Annotated[Context, Depends(write_roles)], body: PlanCreate):
    async with ctx.tx() as session:
        return PlanRead.model_validate(await service.create_plan(session, ctx.principal, body, db=ctx.db))


@router.get("/v1/capacity-plans", response_model=Page[PlanRead], summary="Capacity plans")
async def list_plans(ctx: Annotated[Context, Depends(staff_roles)],
                     page: Annotated[PageRequest, Depends(page_params)],
                     promotion: Annotated[uuid.UUID | None, Query(description="Promotion id")] = None):
    async with ctx.tx() as session:
        items, cursor = await service.list_plans(session, page, promotion)
        return Page[PlanRead](items=[PlanRead.model_validate(p) for p in items], next_cursor=cursor)


@router.get("/v1/capacity-plans/{plan_id}", response_model=PlanDetail,
            summary="A plan: header, seats per interval, and per-shop totals (KA first)")
async def get_plan(ctx: Annotated[Context, Depends(staff_roles)], plan_id: uuid.UUID):
    async with ctx.tx() as session:
        return plan_detail_read(await service.plan_detail(session, plan_id))


def plan_detail_read(d: service.PlanDetailData) -> PlanDetail:
    return PlanDetail(**PlanRead.model_validate(d.plan).model_dump(),
                      intervals=[PlanIntervalRead.model_validate(i) for i in d.intervals],
                      shops=d.shops)


@router.get("/v1/capacity-plans/{plan_id}/lines", response_model=Page[PlanLineRead],
            summary="A plan's lines per shop and interval (a client: its own shops)")
async def list_lines(ctx: Annotated[Context, Depends(line_roles)], plan_id: uuid.UUID,
                     shop: Annotated[uuid.UUID | None, Query(description="One shop's lines")] = None,
                     limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None):
    async with ctx.tx() as session:
        items, next_cursor = await service.list_lines(session, ctx.principal, plan_id, shop, limit, cursor)
        return Page[PlanLineRead](items=items, next_cursor=next_cursor)


@router.get("/v1/capacity-plans/{plan_id}/lines.csv", response_class=StreamingResponse,
            summary="The same lines as CSV, streamed (a client: its own shops)")
async def lines_csv(ctx: Annotated[Context, Depends(line_roles)], plan_id: uuid.UUID,
                    shop: Annotated[uuid.UUID | None, Query(description="One shop's lines")] = None):
    await service.check_lines_visible(ctx.db, ctx.principal, plan_id, shop)
    name = f"capacity-plan-{plan_id}{'-' + str(shop) if shop else ''}.csv"
    return StreamingResponse(service.lines_csv(ctx.db, ctx.principal, plan_id, shop), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
