"""What the API accepts and answers for staffing what-ifs, promotions and capacity plans."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.capacity.models import PROMOTION_PLATFORMS, PlanModel, PlanStatus
from service.kit.time import quarter_hour
from service.kit.types import Text

MAX_STAFFING_INTERVALS = 100_000
MAX_PROMOTION_DAYS = 45
MAX_PLAN_DAYS = 45
INTERVALS_PER_DAY = 96
_ZONES = available_timezones()

PromotionPlatform = Literal[PROMOTION_PLATFORMS]  # type: ignore[valid-type]


def _erlang_a_only(value: Any, info: ValidationInfo, what: str) -> Any:
    model = info.data.get("model")
    if model == PlanModel.erlang_a and value is None and what == "patience_s":
        raise ValueError("required by model erlang_a (mean patience before abandoning, seconds)")
    if model == PlanModel.erlang_c and value is not None:
        raise ValueError("only used by model erlang_a")
    return value


# --- staffing what-ifs --------------------------------------------------------------------------------


class StaffingInterval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    volume: float = Field(ge=0, le=1e9, allow_inf_nan=False, description="Contacts offered in the interval")
    agents: int | None = Field(default=None, ge=0, le=1_000_000,
                               description="Evaluate this many agents instead of computing the requirement")


class StaffingRequest(BaseModel):
    """Erlang C or Erlang A staffing for a list of intervals sharing one set of parameters."""

    model_config = ConfigDict(extra="forbid")

    model: PlanModel
    interval_s: float = Field(gt=0, le=86_400, allow_inf_nan=False, description="Interval length, seconds")
    aht_s: float = Field(gt=0, le=86_400, allow_inf_nan=False, description="Handle time per contact, seconds")
    target_service_level: float = Field(ge=0, lt=1, description="Share answered within target_answer_s")
    target_answer_s: float = Field(ge=0, le=86_400, allow_inf_nan=False)
    target_asa_s: float | None = Field(default=None, gt=0, le=86_400, allow_inf_nan=False,
                                       description="Optional cap on the average speed of answer")
    concurrency: int = Field(default=1, ge=1, le=50, description="Chats one agent works at once")
    shrinkage: float = Field(default=0, ge=0, lt=1)
    max_occupancy: float = Field(default=1, gt=0, le=1)
    patience_s: float | None = Field(default=None, gt=0, le=86_400, allow_inf_nan=False,
                                     validate_default=True, description="Mean patience (erlang_a only)")
    max_abandon_rate: float | None = Field(default=None, gt=0, le=1, description="erlang_a only")
    intervals: list[StaffingInterval] = Field(min_length=1, max_length=MAX_STAFFING_INTERVALS)

    @field_validator("patience_s")
    @classmethod
    def _patience(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _erlang_a_only(value, info, "patience_s")

    @field_validator("max_abandon_rate")
    @classmethod
    def _abandon(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _erlang_a_only(value, info, "max_abandon_rate")


class StaffingIntervalRead(BaseModel):
    volume: float
    load: float = Field(description="Offered load, Erlangs (chat slots)")
    agents: int = Field(description="The required agents, or the given ones")
    scheduled: int = Field(description="agents / (1 - shrinkage), rounded up")
    service_level: float
    asa_s: float | None = Field(description="null when unbounded (the queue is unstable)")
    wait_probability: float
    abandon_rate: float
    occupancy: float


class StaffingRead(BaseModel):
    model: PlanModel
    intervals: list[StaffingIntervalRead]


# --- promotions ---------------------------------------------------------------------------------------

DayUplift = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]


class PromotionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=100, description="The same name every year, e.g. `Double 11`")
    platform: PromotionPlatform = Field(default="all", description="A platform, or `all`")
    start_date: date = Field(description="First local day (inclusive)")
    end_date: date = Field(description="Last local day (inclusive)")
    timezone: Text = "Asia/Shanghai"
    uplift: list[DayUplift] | list[Annotated[list[DayUplift], Field(min_length=INTERVALS_PER_DAY,
                                                                   max_length=INTERVALS_PER_DAY)]] | None = \
        Field(default=None, description="Volume over baseline when no history of last year's promotion "
              "exists: one factor per day, or per day 96 factors (one per 15-minute interval)")
    uplift_from: Text | None = Field(default=None, max_length=100, description="Learn the uplift from this "
                                    "earlier promotion (name or id) instead of last year's one of the same "
                                    "name")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _ZONES:
            raise ValueError("not an IANA timezone (e.g. Asia/Shanghai)")
        return value

    @field_validator("end_date")
    @classmethod
    def _end(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("start_date")
        if start is not None:
            if value < start:
                raise ValueError("must not be before start_date")
            if (value - start).days + 1 > MAX_PROMOTION_DAYS:
                raise ValueError(f"a promotion lasts at most {MAX_PROMOTION_DAYS} days")
        return value

    @field_validator("uplift")
    @classmethod
    def _uplift(cls, value: list | None, info: ValidationInfo) -> list | None:
        start, end = info.data.get("start_date"), info.data.get("end_date")
        if (value is not None and start is not None and end is not None
                and len(value) != (end - start).days + 1):
            raise ValueError(f"needs one entry per day of the promotion ({(end - start).days + 1})")
        return value


class PromotionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    year: int
    platform: str
    start_date: date
    end_date: date
    timezone: str
    uplift: list[float] | list[list[float]] | None = Field(
        description="Given uplift: per day, or per day 96 per-interval factors")
    uplift_from_id: uuid.UUID | None = Field(
        description="The promotion whose history the uplift is learned from, when not last year's of the "
                    "same name")
    created_at: datetime


# --- capacity plans -----------------------------------------------------------------------------------


class SeatsPerSite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_site: dict[str, Annotated[int, Field(ge=0, le=1_000_000)] | None] = Field(
        min_length=1, description="Site id or name -> seats; null: the site's whole seat capacity")


class SeatsSeries(BaseModel):
    model_config = ConfigDict(extra="forbid")

    series: list[Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        min_length=1, description="Seats per interval of the plan, in order")


class SeatsTotal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total: int = Field(ge=0, le=1_000_000, description="The same seats in every interval")


_SEAT_KINDS = {"total": SeatsTotal, "per_site": SeatsPerSite, "series": SeatsSeries}


def _seats_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((kind for kind in _SEAT_KINDS if kind in value), None)
    for kind, model in _SEAT_KINDS.items():
        if isinstance(value, model):
            return kind
    return "number" if isinstance(value, int | float | str) else None


# One branch validates, so an error names that branch's field only (e.g. body.seats.number). A number and
# {"total": n} are the same: GraphQL, which has no union inputs, sends the second.
Seats = Annotated[
    Annotated[Annotated[int, Field(ge=0, le=1_000_000)], Tag("number")] | Annotated[SeatsTotal, Tag("total")]
    | Annotated[SeatsPerSite, Tag("per_site")] | Annotated[SeatsSeries, Tag("series")],
    Discriminator(_seats_kind, custom_error_type="seats",
                  custom_error_message="give a number, {\"total\": n}, {\"per_site\": {...}} or "
                                       "{\"series\": [...]}"),
]


class ShopParams(BaseModel):
    """Per-shop overrides of what history and the SLA policy give."""

    model_config = ConfigDict(extra="forbid")

    aht_s: float | None = Field(default=None, gt=0, le=86_400, allow_inf_nan=False)
    concurrency: int | None = Field(default=None, ge=1, le=50)
    target_service_level: float | None = Field(default=None, ge=0, lt=1)
    target_answer_s: float | None = Field(default=None, ge=0, le=86_400, allow_inf_nan=False)
    patience_s: float | None = Field(default=None, gt=0, le=86_400, allow_inf_nan=False)
    max_abandon_rate: float | None = Field(default=None, gt=0, le=1)


class PlanCreate(BaseModel):
    """A plan over a promotion's days, or over [from, to)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Text = Field(min_length=1, max_length=200)
    promotion: Text | None = Field(default=None, max_length=100, description="Promotion name (or id)")
    year: int | None = Field(default=None, ge=2000, le=2100,
                             description="Which year's edition of the promotion; default the next upcoming "
                             "one (not over by its local today), else the latest")
    start: datetime | None = Field(default=None, alias="from", description="Instead of a promotion: the "
                                   "first instant, with offset, on a quarter hour")
    end: datetime | None = Field(default=None, alias="to", description="Exclusive end, with offset")
    seats: Seats = Field(description="Seats available per interval: one number, {per_site: {site: n}}, or "
                         "{series: [n, ...]} with one number per interval")
    model: PlanModel = PlanModel.erlang_c
    shrinkage: float = Field(default=0.3, ge=0, lt=1)
    max_occupancy: float = Field(default=0.85, gt=0, le=1)
    concurrency: int | None = Field(default=None, ge=1, le=50,
                                    description="Chats per agent for every shop (default 3)")
    patience_s: float | None = Field(default=None, gt=0, le=86_400, allow_inf_nan=False,
                                     description="Mean patience (erlang_a), unless given per shop")
    history_weeks: int = Field(default=4, ge=1, le=12, description="Weeks of rollups behind the baseline")
    params: dict[uuid.UUID, ShopParams] = Field(default_factory=dict, description="Overrides per shop id")

    @field_validator("start", "end")
    @classmethod
    def _instant(cls, value: datetime | None) -> datetime | None:
        return quarter_hour(value)

    @model_validator(mode="after")
    def _window(self) -> PlanCreate:
        if self.promotion is None and (self.start is None or self.end is None):
            raise ValueError("give a promotion, or both from and to")
        if self.promotion is not None and (self.start is not None or self.end is not None):
            raise ValueError("give a promotion or from/to, not both")
        if self.start is not None and self.end is not None:
            if self.end <= self.start:
                raise ValueError("to must be after from")
            if self.end - self.start > timedelta(days=MAX_PLAN_DAYS):
                raise ValueError(f"a plan spans at most {MAX_PLAN_DAYS} days")
        return self


# What the plan's numbers count. A seat is one agent position through one 15-minute interval: the seats of
# a plan (`--seats`, a number per interval), peaks and every per-interval figure count seats; totals over the
# plan count seat-intervals (seats summed over its intervals: 4 seat-intervals make a seat-hour).
_SUMS, _AT_ONCE = "seat-intervals", "seats"
PLAN_UNITS: dict[str, str] = {
    "intervals": "15-minute intervals", "forecast_volume": "contacts", "seats_available": _SUMS,
    "seats_required": _SUMS, "allocated": _SUMS, "seats_missing": _SUMS, "peak_required": _AT_ONCE,
    "peak_shortfall": _AT_ONCE,
    **{f"{part}.{name}": _SUMS for part, names in (
        ("tiers", ("required", "allocated", "missing")),
        ("shops", ("required", "scheduled", "allocated", "missing"))) for name in names},
    **{f"{part}.{name}": _AT_ONCE for part, names in (
        ("intervals", ("seats_available", "seats_required", "allocated", "shortfall")),
        ("lines", ("required", "scheduled", "allocated", "shortfall"))) for name in names},
}


class TierSummary(BaseModel):
    tier: str
    shops: int
    required: int = Field(description="Seat-intervals required")
    allocated: int
    missing: int
    shops_short: int
    intervals_short: int


class PlanSummary(BaseModel):
    intervals: int
    shops: int
    tenants: int
    forecast_volume: float
    seats_available: int = Field(description="Seat-intervals available over the plan")
    seats_required: int = Field(description="Seat-intervals required")
    allocated: int
    seats_missing: int = Field(description="Seat-intervals short")
    intervals_short: int
    peak_required: int
    peak_shortfall: int
    uplift_source: Literal["learned", "given", "none"]
    learned_from: uuid.UUID | None = Field(description="Last year's promotion the uplift was learned from")
    history_weeks: int
    history_from: datetime = Field(description="The baseline's history: [history_from, history_to)")
    history_to: datetime
    tiers: list[TierSummary]
    units: dict[str, str] = Field(default_factory=lambda: dict(PLAN_UNITS), description="What each figure "
                                  "counts: a seat is one agent position through one 15-minute interval; "
                                  "seat-intervals are seats summed over the plan's intervals (4 make a "
                                  "seat-hour)")


class PlanShare(BaseModel):
    """A brand's shops in a plan, summed: a client's own share of it (seat-intervals, like the shops'
    totals)."""

    shops: int
    forecast_volume: float = Field(description="Contacts")
    required: int = Field(description="Seat-intervals required")
    scheduled: int
    allocated: int
    missing: int = Field(description="Seat-intervals short")
    shops_short: int
    min_service_level: float = Field(description="Lowest expected service level of the shops")


class PlanRead(BaseModel):
    """A capacity plan. A client sees the plans that include its shops, with its share of them; the plan's
    own totals, seats and parameters are the outsourcer's (null for a client)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    status: PlanStatus
    model: PlanModel
    promotion_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    seats: Any = Field(description="Seats per interval as asked for: {total: n}, {per_site: {site: n}} or "
                       "{series: [n, ...]}")
    params: Any
    created_by: str | None
    created_at: datetime
    summary: PlanSummary | None
    share: PlanShare | None = Field(default=None, description="The caller's brand's shops in the plan (a "
                                    "client's; null for staff)")

    @field_validator("seats", mode="before")
    @classmethod
    def _seats_as_object(cls, value: Any) -> Any:
        # Stored as asked: a bare number (REST's shorthand) reads like every other spec.
        return {"total": value} if isinstance(value, int) and not isinstance(value, bool) else value


class PlanIntervalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    interval_start: datetime
    seats_available: int
    seats_required: int
    allocated: int
    shortfall: int
    shops_short: int


class PlanShopRead(BaseModel):
    """A shop in a plan: what it was planned with (tier and weight at the time, AHT from history, targets
    from its SLA policy, overrides) and its totals over the plan."""

    tenant_id: uuid.UUID
    tenant_slug: str
    tier: str
    shop_id: uuid.UUID
    shop_name: str
    platform: str
    priority_weight: float
    aht_s: float
    concurrency: int
    target_service_level: float
    target_answer_s: float
    patience_s: float | None
    max_abandon_rate: float | None
    forecast_volume: float
    required: int = Field(description="Seat-intervals required")
    scheduled: int
    allocated: int
    missing: int
    min_service_level: float = Field(description="Lowest expected service level over the intervals")
    intervals_short: int


class PlanDetail(PlanRead):
    intervals: list[PlanIntervalRead]
    shops: list[PlanShopRead]


class PlanLineRead(BaseModel):
    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    interval_start: datetime
    forecast_volume: float
    aht_s: float
    required: int
    scheduled: int
    allocated: int
    shortfall: int
    expected_service_level: float
    expected_asa_s: float | None
