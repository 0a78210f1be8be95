"""The SLA domain's value types and read shapes, each declared once: the maths computes them, the use cases
assemble them, REST serializes them and the GraphQL types derive from them. No I/O, no other module of the
domain: everything else in service/sla depends on this one.

Reports and breaches are built with `model_construct` (the values are the service's own, already of the
declared types: validating a month of buckets would cost more than computing it); REST writes them with
pydantic-core's serializer.
"""

from __future__ import annotations

import enum
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

DEFAULT_ANSWER_TARGET_S = 30


class Granularity(enum.StrEnum):
    interval = "interval"
    hour = "hour"
    day = "day"
    week = "week"
    month = "month"


class PeriodKind(enum.StrEnum):
    day = "day"
    month = "month"


#: (target field of SlaTargets, metric field of SlaMetrics, higher is better): what a policy can target.
TARGETED_METRICS: tuple[tuple[str, str, bool], ...] = (
    ("service_level", "service_level", True),
    ("response_rate_3min", "response_rate_3min", True),
    ("frt_mean_s", "frt_mean_s", False),
    ("csat", "csat", True),
    ("conversion_rate", "conversion_rate", True),
    ("max_abandon_rate", "abandon_rate", False),
)
Metric = enum.StrEnum("Metric", {metric: metric for _, metric, _ in TARGETED_METRICS})  # type: ignore[misc]
Metric.__doc__ = "A metric a policy can target"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaTargets:
    """A shop's SLA targets; None means "no target". Rates are fractions in [0, 1]."""

    answer_target_s: float = DEFAULT_ANSWER_TARGET_S
    service_level: float | None = None
    response_rate_3min: float | None = None
    frt_mean_s: float | None = None
    csat: float | None = None
    conversion_rate: float | None = None
    max_abandon_rate: float | None = None

    def __post_init__(self) -> None:
        check_answer_target(self.answer_target_s)
        for name in ("service_level", "response_rate_3min", "csat", "conversion_rate", "max_abandon_rate"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} target must be within 0..1")
        if self.frt_mean_s is not None and not (math.isfinite(self.frt_mean_s) and self.frt_mean_s >= 0):
            raise ValueError("frt_mean_s target must be >= 0 seconds")

    @property
    def any(self) -> bool:
        return any(getattr(self, target) is not None for target, _, _ in TARGETED_METRICS)


def check_answer_target(answer_target_s: float) -> None:
    if not math.isfinite(answer_target_s) or answer_target_s < 0:
        raise ValueError("answer target must be a finite number of seconds >= 0")


class SlaMetrics(BaseModel):
    """Metrics of GLOSSARY.md over a set of conversations; a rate or mean is null when its denominator is
    0. Rates are fractions."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")

    offered: int
    answered: int
    abandon_rate: float | None
    service_level: float | None
    frt_mean_s: float | None
    frt_p50_s: float | None
    frt_p90_s: float | None
    response_rate_3min: float | None
    avg_response_s: float | None
    handle_mean_s: float | None
    csat: float | None
    dsat: float | None
    conversion_rate: float | None
    gmv: Decimal
    aov: Decimal | None


class Verdict(BaseModel):
    """A targeted metric: met or breached."""

    model_config = ConfigDict(frozen=True)

    metric: Metric
    target: float
    actual: float
    met: bool


class JudgedMetrics(SlaMetrics):
    """Metrics of GLOSSARY.md (rates are fractions; null when the denominator is 0) and the verdicts of the
    policy."""

    policy_effective_from: date | None = Field(description="The policy version judging this period (null: "
                                               "the platform default)")
    answer_target_s: int = Field(description="T used for service_level")
    verdicts: list[Verdict] = Field(description="One per metric with a target and data")


class Bucket(JudgedMetrics):
    start: datetime = Field(description="Bucket start, shop-local with offset; a bucket is clipped to the "
                            "range, so a week or month that began before `from` starts at `from`")
    end: datetime = Field(description="Exclusive end, shop-local with offset: the next bucket's start, or "
                          "`to` when the range ends inside the bucket")


class Total(JudgedMetrics):
    pass  # the whole range: a type of its own, so GraphQL can tell it from a bucket


class SlaReport(BaseModel):
    """Metrics per bucket of the shop's local time. Each bucket is judged by the policy in force on its
    first day, the total by the one at the range's start."""

    model_config = ConfigDict(populate_by_name=True, ser_json_inf_nan="null")

    shop_id: uuid.UUID
    timezone: str
    granularity: Granularity
    from_: datetime = Field(alias="from", description="Inclusive, shop-local")
    to: datetime = Field(description="Exclusive, shop-local")
    buckets: list[Bucket] = Field(description="Buckets with conversations, in time order, clipped to the "
                                  "range; each judged by the policy in force on its first day (in the range)")
    total: Total = Field(description="The whole range, judged by the policy in force at its start")
    _json: bytes | None = PrivateAttr(default=None)

    def json_bytes(self) -> bytes:
        """The report as the REST door sends it (fields by alias), written once: a kept report (kit.cache) is
        sent many times, and writing it was a sixth of such a request."""
        if self._json is None:
            self._json = self.model_dump_json(by_alias=True).encode()
        return self._json


class BrandShopReport(SlaReport):
    """One shop of a brand's report."""

    name: str
    platform: str


class BrandSlaReport(BaseModel):
    """Every shop of a brand with its SLA report over the same local dates (each in its own timezone), per
    bucket and in total: "last month for all my shops" in one call."""

    tenant_id: uuid.UUID
    slug: str
    name: str
    granularity: Granularity
    shops: list[BrandShopReport]


class Breach(BaseModel):
    """A day or month whose metric missed its target."""

    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    shop_name: str
    period: PeriodKind
    period_start: date = Field(description="Shop-local first day of the day or month")
    metric: Metric
    target: float
    actual: float
    policy_effective_from: date | None

    @property
    def key(self) -> tuple[uuid.UUID, date, str, str]:
        """The order of a breach list: shop, period start, period kind, metric."""
        return (self.shop_id, self.period_start, self.period.value, self.metric.value)


class ShopAttainment(JudgedMetrics):
    """A shop's month to date."""

    shop_id: uuid.UUID
    name: str
    platform: str
    timezone: str
    period_start: date = Field(description="First day of the month (shop-local)")
    period_end: date = Field(description="Exclusive: the day after as_of")


class TenantSummary(BaseModel):
    """A brand's shops with their month-to-date attainment."""

    tenant_id: uuid.UUID
    slug: str
    name: str
    as_of: date | None = Field(description="The day the month-to-date ends (null: each shop's local today)")
    shops: list[ShopAttainment]
