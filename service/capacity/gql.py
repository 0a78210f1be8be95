"""GraphQL: staffing what-ifs, promotions and capacity plans. Thin, over capacity.service; shapes from
capacity.schemas, roles from capacity.auth.

Inputs derive from the REST models, except where GraphQL cannot say what the model says: it has no union
inputs (a plan's seats are a number, per-site counts or a series; a promotion's uplift is per day or per
interval) and no maps (per-shop overrides), so those travel as the inputs declared below and are turned
back into the model's shape here. A plan's `intervals` and `shops` are batched per request by
DataLoaders: a list of plans costs one query for each, not one per plan.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from service.capacity import auth, service
from service.capacity.models import PlanModel, PlanStatus
from service.capacity.schemas import (
    PlanCreate,
    PlanIntervalRead,
    PlanLineRead,
    PlanRead,
    PlanShare,
    PlanShopRead,
    PlanSummary,
    PromotionCreate,
    PromotionRead,
    ShopParams,
    StaffingInterval,
    StaffingIntervalRead,
    StaffingRead,
    StaffingRequest,
    TierSummary,
)
from service.capacity.staffing import staffing
from service.kit import gql
from service.kit.access import Caller, Session, Sessions
from service.kit.errors import Invalid

strawberry.enum(PlanModel, name="PlanModel", description="erlang_c (no abandonment) or erlang_a (abandonment "
                "with mean patience)")
strawberry.enum(PlanStatus, name="CapacityPlanStatus")


# --- staffing -----------------------------------------------------------------------------------------

StaffingIntervalInput = gql.create_input(StaffingInterval, name="StaffingIntervalInput",
                                         description="Contacts offered in one interval; with `agents`, "
                                         "evaluate that many agents.")
StaffingInput = gql.create_input(StaffingRequest, name="StaffingInput", description="The body of POST "
                                 "/v1/staffing/erlang.",
                                 replace={"intervals": (list[StaffingIntervalInput], gql.UNSET)})


gql.nested_types((StaffingIntervalRead, "StaffingInterval"))


@gql.read_type(StaffingRead, name="Staffing")
class StaffingType: ...


# --- promotions ---------------------------------------------------------------------------------------


@gql.read_type(PromotionRead, name="Promotion", description="A peak event on local days of its timezone.")
class PromotionType:
    uplift: JSON | None  # per day, or per day 96 factors: a union GraphQL has no type for


PromotionInput = gql.create_input(PromotionCreate, name="PromotionInput", replace={
    "platform": (str, strawberry.field(default="all", description="A platform, or `all`")),
    "uplift": (None, None),
    "uplift_by_day": (list[float] | None, strawberry.field(default=None, description="One factor per day")),
    "uplift_by_interval": (list[list[float]] | None, strawberry.field(
        default=None, description="Per day, 96 factors (one per 15-minute interval)")),
})


def _promotion_body(input: Any) -> dict[str, Any]:
    data = gql.plain(input)
    by_day, by_interval = data.pop("uplift_by_day", None), data.pop("uplift_by_interval", None)
    if by_day is not None or by_interval is not None:
        data["uplift"] = by_day if by_day is not None else by_interval
    return data


# --- plans --------------------------------------------------------------------------------------------


gql.nested_types((TierSummary, "CapacityTierSummary"))


@gql.read_type(PlanSummary, name="CapacityPlanSummary")
class PlanSummaryType:
    uplift_source: str  # learned, given or none
    units: JSON  # figure -> what it counts (a map: GraphQL has no map type)


@gql.read_type(PlanIntervalRead, name="CapacityPlanInterval")
class PlanIntervalType: ...


@gql.read_type(PlanShopRead, name="CapacityPlanShop", description="A shop's totals over the plan "
               "(seat-intervals).")
class PlanShopType: ...


gql.nested_types((PlanShare, "CapacityPlanShare"))


@gql.read_type(PlanRead, name="CapacityPlan")
class PlanType:
    seats: JSON | None  # {total}, {per_site} or {series}, as the plan was asked for
    params: JSON | None

    @gql.field(auth.staff, description="Seats against requirements per interval.")
    async def intervals(self, info: Info) -> list[PlanIntervalType]:
        rows = await info.context.loader("capacity_plan_intervals", service.intervals_of_plans).load(self.id)
        return [gql.of(PlanIntervalType, i) for i in rows]

    @gql.field(auth.staff, description="Per-shop totals, KA first.")
    async def shops(self, info: Info) -> list[PlanShopType]:
        rows = await info.context.loader("capacity_plan_shops", service.shops_of_plans).load(self.id)
        return [gql.of(PlanShopType, s) for s in rows]


@gql.read_type(PlanLineRead, name="CapacityPlanLine", description="One shop's forecast and staffing for one "
               "interval.")
class PlanLineType: ...


@strawberry.input
class SiteSeatsInput:
    site: str = strawberry.field(description="Site id or name")
    seats: int | None = strawberry.field(default=None, description="Default: the site's whole capacity")


@strawberry.input(description="Exactly one of total, perSite or series.")
class SeatsInput:
    total: int | None = strawberry.field(default=None, description="The same seats in every interval")
    per_site: list[SiteSeatsInput] | None = strawberry.field(default=None, description="Seats per site")
    series: list[int] | None = strawberry.field(default=None, description="Seats per interval, in order")


ShopParamsInput = gql.create_input(ShopParams, name="ShopParamsInput",
                                   replace={"shop_id": (uuid.UUID, gql.UNSET)})
CapacityPlanInput = gql.create_input(PlanCreate, name="CapacityPlanInput", description="The body of POST "
                                     "/v1/capacity-plans: a promotion, or from and to.", replace={
                                         "seats": (SeatsInput, gql.UNSET),
                                         "params": (list[ShopParamsInput] | None, None)})


def _plan_body(input: Any) -> dict[str, Any]:
    data = gql.plain(input)
    seats = data.pop("seats", {})
    given = [k for k in ("total", "per_site", "series") if seats.get(k) is not None]
    if len(given) != 1:
        raise gql.graphql_problem(Invalid("seats", "give exactly one of total, perSite or series"))
    if "total" in given:
        data["seats"] = seats["total"]
    elif "per_site" in given:
        data["seats"] = {"per_site": {s["site"]: s.get("seats") for s in seats["per_site"]}}
    else:
        data["seats"] = {"series": seats["series"]}
    if data.get("params") is not None:
        data["params"] = {p.pop("shop_id"): p for p in data["params"]}
    else:
        data.pop("params", None)
    return data


@strawberry.type
class CapacityQuery:
    @gql.field(auth.staff, description="Erlang C / A staffing what-if (no data read).")
    async def staffing(self, input: StaffingInput) -> StaffingType:
        request = gql.validated(StaffingRequest, input, ["input"])
        result = await asyncio.to_thread(staffing, request)
        return gql.of(StaffingType, {"model": request.model, "intervals": result.rows()})

    @gql.field(auth.calendar, description="The promotions calendar (upcoming: only editions not over by "
               "their local today).")
    async def promotions(self, session: Session, name: str | None = None, year: int | None = None,
                         upcoming: bool | None = None, first: int = 50,
                         after: str | None = None) -> gql.Page[PromotionType]:
        page = gql.page_request(first, after)
        return gql.page(PromotionType, await service.list_promotions(session, page, name, year, upcoming))

    @gql.field(auth.plans, description="Capacity plans (a client: those that include its shops, with its "
               "share of each).")
    async def capacity_plans(self, session: Session, caller: Caller, promotion_id: uuid.UUID | None = None,
                             first: int = 50, after: str | None = None) -> gql.Page[PlanType]:
        found = await service.list_plans(session, caller, gql.page_request(first, after), promotion_id)
        return gql.page(PlanType, found)

    @gql.field(auth.staff, description="A plan with its summary (staff).")
    async def capacity_plan(self, session: Session, id: uuid.UUID) -> PlanType:
        return gql.of(PlanType, await service.get_plan(session, id))

    @gql.field(auth.lines, description="A plan's lines (a client: its own shops).")
    async def capacity_plan_lines(
        self, session: Session, caller: Caller, plan_id: uuid.UUID, shop_id: uuid.UUID | None = None,
        first: int = 50,
        after: Annotated[str | None,
                         strawberry.argument(description="nextCursor of the previous page")] = None,
    ) -> gql.Page[PlanLineType]:
        found = await service.list_lines(session, caller, plan_id, shop_id, gql.page_request(first, after))
        return gql.page(PlanLineType, found)


@strawberry.type
class CapacityMutation:
    @gql.mutation(auth.write)
    async def create_promotion(self, session: Session, input: PromotionInput) -> PromotionType:
        body = gql.validated(PromotionCreate, _promotion_body(input), ["input"])
        return gql.of(PromotionType, await service.create_promotion(session, body))

    @gql.mutation(auth.write, description="Forecast, staff, allocate and store a plan.")
    async def create_capacity_plan(self, session: Session, sessions: Sessions, caller: Caller,
                                   input: CapacityPlanInput) -> PlanType:
        body = gql.validated(PlanCreate, _plan_body(input), ["input"])
        return gql.of(PlanType, await service.create_plan(session, sessions, caller, body))
