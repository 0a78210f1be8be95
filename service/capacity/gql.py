"""GraphQL: staffing what-ifs, promotions and capacity plans. Thin, over capacity.service.

Inputs are validated by the REST models (service/capacity/schemas.py), so both doors accept the same.
A plan's `intervals` and `shops` are batched per request by DataLoaders: a list of plans costs one query
for each, not one per plan. Roles as in api.py: clients read their own shops' lines and nothing else.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql import GraphQLError
from service.capacity import service
from service.capacity.models import CapacityPlan, CapacityPlanInterval, PlanModel, PlanStatus, Promotion
from service.capacity.schemas import (
    PlanCreate,
    PlanLineRead,
    PlanShopRead,
    PlanSummary,
    PromotionCreate,
    PromotionRead,
    StaffingRequest,
)
from service.kit.gql import validated
from service.kit.pagination import check_limit
from service.kit.roles import Allow, Role
from tenants.gql import page_request

PlanModelEnum = strawberry.enum(PlanModel, name="PlanModel", description="erlang_c (no abandonment) or "
                                "erlang_a (abandonment with mean patience)")
PlanStatusEnum = strawberry.enum(PlanStatus, name="CapacityPlanStatus")

STAFF = Allow.of(Role.admin, Role.ops, Role.finance)
WRITE = Allow.of(Role.admin, Role.ops)
LINES = Allow.of(Role.admin, Role.ops, Role.finance, Role.client)


def plain(value: Any) -> Any:
    """A strawberry input as plain data for the REST model: nested inputs to dicts, unset and null dropped,
    enums to their values, python names to the REST field names."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "__strawberry_definition__"):
        return {k.rstrip("_"): plain(v) for k, v in vars(value).items() if v is not None and v is not UNSET}
    return value


# --- staffing -----------------------------------------------------------------------------------------


@strawberry.input(description="Contacts offered in one interval; with `agents`, evaluate that many agents.")
class StaffingIntervalInput:
    volume: float
    agents: int | None = None


@strawberry.input(description="The body of POST /v1/staffing/erlang.")
class StaffingInput:
    model: PlanModelEnum
    interval_s: float
    aht_s: float
    target_service_level: float
    target_answer_s: float
    target_asa_s: float | None = None
    concurrency: int | None = None
    shrinkage: float | None = None
    max_occupancy: float | None = None
    patience_s: float | None = None
    max_abandon_rate: float | None = None
    intervals: list[StaffingIntervalInput]


@strawberry.type(name="StaffingInterval")
class StaffingIntervalType:
    volume: float
    load: float
    agents: int
    scheduled: int
    service_level: float
    asa_s: float | None = strawberry.field(description="null when unbounded (an unstable queue)")
    wait_probability: float
    abandon_rate: float
    occupancy: float


@strawberry.type(name="Staffing")
class StaffingType:
    model: PlanModelEnum
    intervals: list[StaffingIntervalType]


# --- promotions ---------------------------------------------------------------------------------------


@strawberry.experimental.pydantic.type(model=PromotionRead, name="Promotion",
                                       description="A peak event on local days of its timezone.")
class PromotionType:
    """The REST read model's fields (schemas.PromotionRead); the uplift travels as JSON."""

    id: strawberry.auto
    name: strawberry.auto
    year: strawberry.auto
    platform: strawberry.auto
    start_date: strawberry.auto
    end_date: strawberry.auto
    timezone: strawberry.auto
    uplift: JSON | None
    uplift_from_id: strawberry.auto
    created_at: strawberry.auto


def _promotion(p: Promotion) -> PromotionType:
    return PromotionType.from_pydantic(PromotionRead.model_validate(p))


@strawberry.type
class PromotionPage:
    items: list[PromotionType]
    next_cursor: str | None


@strawberry.input
class PromotionInput:
    name: str
    start_date: date
    end_date: date
    platform: str | None = strawberry.field(default=None, description="A platform, or `all` (default)")
    timezone: str | None = None
    uplift_by_day: list[float] | None = strawberry.field(default=None, description="One factor per day")
    uplift_by_interval: list[list[float]] | None = strawberry.field(
        default=None, description="Per day, 96 factors (one per 15-minute interval)")
    uplift_from: str | None = strawberry.field(default=None, description="Learn the uplift from this earlier "
                                               "promotion (name or id)")


# --- plans --------------------------------------------------------------------------------------------


@strawberry.type(name="CapacityTierSummary")
class TierSummaryType:
    tier: str
    shops: int
    required: int
    allocated: int
    missing: int
    shops_short: int
    intervals_short: int


@strawberry.type(name="CapacityPlanSummary")
class PlanSummaryType:
    intervals: int
    shops: int
    tenants: int
    forecast_volume: float
    seats_available: int
    seats_required: int
    allocated: int
    seats_missing: int
    intervals_short: int
    peak_required: int
    peak_shortfall: int
    uplift_source: str
    learned_from: uuid.UUID | None
    history_weeks: int
    history_from: datetime
    history_to: datetime
    tiers: list[TierSummaryType]

    @classmethod
    def of(cls, s: PlanSummary) -> PlanSummaryType:
        data = s.model_dump()
        data["tiers"] = [TierSummaryType(**t) for t in data["tiers"]]
        return cls(**data)


@strawberry.type(name="CapacityPlanInterval")
class PlanIntervalType:
    interval_start: datetime
    seats_available: int
    seats_required: int
    allocated: int
    shortfall: int
    shops_short: int

    @classmethod
    def of(cls, i: CapacityPlanInterval) -> PlanIntervalType:
        return cls(interval_start=i.interval_start, seats_available=i.seats_available,
                   seats_required=i.seats_required, allocated=i.allocated, shortfall=i.shortfall,
                   shops_short=i.shops_short)


@strawberry.experimental.pydantic.type(model=PlanShopRead, all_fields=True, name="CapacityPlanShop",
                                       description="A shop's totals over the plan (seat-intervals).")
class PlanShopType:
    """The REST read model's fields, declared once (schemas.PlanShopRead)."""


@strawberry.type(name="CapacityPlan")
class PlanType:
    id: uuid.UUID
    name: str
    status: PlanStatusEnum
    model: PlanModelEnum
    promotion_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    seats: JSON
    params: JSON
    created_by: str
    created_at: datetime
    summary: PlanSummaryType

    @strawberry.field(permission_classes=[STAFF], description="Seats against requirements per interval.")
    async def intervals(self, info: Info) -> list[PlanIntervalType]:
        rows = await info.context.loader("capacity_plan_intervals", service.intervals_of_plans).load(self.id)
        return [PlanIntervalType.of(i) for i in rows]

    @strawberry.field(permission_classes=[STAFF], description="Per-shop totals, KA first.")
    async def shops(self, info: Info) -> list[PlanShopType]:
        rows = await info.context.loader("capacity_plan_shops", service.shops_of_plans).load(self.id)
        return [PlanShopType.from_pydantic(s) for s in rows]

    @classmethod
    def of(cls, p: CapacityPlan) -> PlanType:
        return cls(id=p.id, name=p.name, status=PlanStatus(p.status), model=PlanModel(p.model),
                   promotion_id=p.promotion_id, starts_at=p.starts_at, ends_at=p.ends_at, seats=p.seats,
                   params=p.params, created_by=p.created_by, created_at=p.created_at,
                   summary=PlanSummaryType.of(PlanSummary.model_validate(p.summary)))


@strawberry.type
class CapacityPlanPage:
    items: list[PlanType]
    next_cursor: str | None


@strawberry.experimental.pydantic.type(model=PlanLineRead, all_fields=True, name="CapacityPlanLine",
                                       description="One shop's forecast and staffing for one interval.")
class PlanLineType:
    """The REST read model's fields, declared once (schemas.PlanLineRead)."""


@strawberry.type
class CapacityPlanLinePage:
    items: list[PlanLineType]
    next_cursor: str | None


@strawberry.input(description="Exactly one of total, perSite or series.")
class SeatsInput:
    total: int | None = strawberry.field(default=None, description="The same seats in every interval")
    per_site: list[SiteSeatsInput] | None = strawberry.field(default=None, description="Seats per site")
    series: list[int] | None = strawberry.field(default=None, description="Seats per interval, in order")


@strawberry.input
class SiteSeatsInput:
    site: str = strawberry.field(description="Site id or name")
    seats: int | None = strawberry.field(default=None, description="Default: the site's whole capacity")


@strawberry.input(description="Overrides for one shop of what history and its SLA policy give.")
class ShopParamsInput:
    shop_id: uuid.UUID
    aht_s: float | None = None
    concurrency: int | None = None
    target_service_level: float | None = None
    target_answer_s: float | None = None
    patience_s: float | None = None
    max_abandon_rate: float | None = None


@strawberry.input(description="The body of POST /v1/capacity-plans: a promotion, or from and to.")
class CapacityPlanInput:
    name: str
    seats: SeatsInput
    promotion: str | None = None
    year: int | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None
    model: PlanModelEnum | None = None
    shrinkage: float | None = None
    max_occupancy: float | None = None
    concurrency: int | None = None
    patience_s: float | None = None
    history_weeks: int | None = None
    params: list[ShopParamsInput] | None = None


def _plan_body(input: CapacityPlanInput) -> dict[str, Any]:
    data = plain(input)
    seats = data.pop("seats", {})
    given = [k for k in ("total", "per_site", "series") if k in seats]
    if len(given) != 1:
        raise GraphQLError("seats: give exactly one of total, perSite or series",
                           extensions={"code": "BAD_USER_INPUT", "status": 422,
                                       "errors": [{"field": "seats", "reason": "give exactly one of total, "
                                                   "perSite or series"}]})
    if "total" in seats:
        data["seats"] = seats["total"]
    elif "per_site" in seats:
        data["seats"] = {"per_site": {s["site"]: s.get("seats") for s in seats["per_site"]}}
    else:
        data["seats"] = {"series": seats["series"]}
    if "params" in data:
        data["params"] = {p.pop("shop_id"): p for p in data["params"]}
    return data


@strawberry.type
class CapacityQuery:
    @strawberry.field(permission_classes=[STAFF], description="Erlang C / A staffing what-if (no data read).")
    async def staffing(self, info: Info, input: StaffingInput) -> StaffingType:
        req = validated(StaffingRequest, plain(input))
        result = await asyncio.to_thread(service.staffing, req)
        return StaffingType(model=req.model, intervals=[StaffingIntervalType(**row) for row in result.rows()])

    @strawberry.field(permission_classes=[STAFF])
    async def promotions(self, info: Info, name: str | None = None, year: int | None = None, first: int = 50,
                         after: str | None = None) -> PromotionPage:
        page = page_request(first, after)
        async with info.context.tx() as session:
            items, cursor = await service.list_promotions(session, page, name, year)
        return PromotionPage(items=[_promotion(p) for p in items], next_cursor=cursor)

    @strawberry.field(permission_classes=[STAFF])
    async def capacity_plans(self, info: Info, promotion_id: uuid.UUID | None = None, first: int = 50,
                             after: str | None = None) -> CapacityPlanPage:
        page = page_request(first, after)
        async with info.context.tx() as session:
            items, cursor = await service.list_plans(session, page, promotion_id)
        return CapacityPlanPage(items=[PlanType.of(p) for p in items], next_cursor=cursor)

    @strawberry.field(permission_classes=[STAFF], description="A plan with its summary (staff).")
    async def capacity_plan(self, info: Info, id: uuid.UUID) -> PlanType:
        async with info.context.tx() as session:
            return PlanType.of(await service.get_plan(session, id))

    @strawberry.field(permission_classes=[LINES], description="A plan's lines (a client: its own shops).")
    async def capacity_plan_lines(
        self, info: Info, plan_id: uuid.UUID, shop_id: uuid.UUID | None = None, first: int = 50,
        after: Annotated[str | None, strawberry.argument(description="nextCursor of the previous page")] = None,
    ) -> CapacityPlanLinePage:
        limit = check_limit(first)
        async with info.context.tx() as session:
            items, cursor = await service.list_lines(session, info.context.principal, plan_id, shop_id, limit,
                                                     after, "after")
        return CapacityPlanLinePage(items=[PlanLineType.from_pydantic(x) for x in items], next_cursor=cursor)


@strawberry.type
class CapacityMutation:
    @strawberry.mutation(permission_classes=[WRITE])
    async def create_promotion(self, info: Info, input: PromotionInput) -> PromotionType:
        data = plain(input)
        by_day, by_interval = data.pop("uplift_by_day", None), data.pop("uplift_by_interval", None)
        if by_day is not None or by_interval is not None:
            data["uplift"] = by_day if by_day is not None else by_interval
        body = validated(PromotionCreate, data)
        async with info.context.tx() as session:
            return _promotion(await service.create_promotion(session, body))

    @strawberry.mutation(permission_classes=[WRITE], description="Forecast, staff, allocate and store a plan.")
    async def create_capacity_plan(self, info: Info, input: CapacityPlanInput) -> PlanType:
        body = validated(PlanCreate, _plan_body(input))
        async with info.context.tx() as session:
            return PlanType.of(await service.create_plan(session, info.context.principal, body, db=info.context.db))
