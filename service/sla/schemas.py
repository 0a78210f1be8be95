"""What the API accepts and answers for SLA policies, reports, breaches and the tenant summary."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import to_json

from service.sla.metrics import TARGETED_METRICS

if TYPE_CHECKING:
    from service.sla.service import Breach, BucketResult, Report, ShopAttainment, TenantSummary, Terms


class Granularity(enum.StrEnum):
    interval = "interval"
    hour = "hour"
    day = "day"
    week = "week"
    month = "month"


# The metrics a policy can target (field names of SlaMetrics), in the order of metrics.TARGETED_METRICS.
Metric = enum.StrEnum("Metric", {metric: metric for _, metric, _ in TARGETED_METRICS})


class PeriodKind(enum.StrEnum):
    day = "day"
    month = "month"


Rate = Field(default=None, ge=0, le=1)


def _quarter_hour(value: time | None) -> time | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        raise ValueError("a shop-local time without offset (e.g. 08:00)")
    if value.minute % 15 or value.second or value.microsecond:
        raise ValueError("must be a whole quarter hour (e.g. 08:00, 22:45)")
    return value


class SlaPolicyCreate(BaseModel):
    """A new version of a shop's policy, applying from `effective_from` (shop-local date) on.
    Targets left out are not judged; the assessed hours default to the platform's."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date
    answer_target_s: int = Field(default=30, ge=1, le=600, description="T of the service level, seconds")
    service_level_target: float | None = Rate
    response_rate_3min_target: float | None = Rate
    frt_mean_target_s: float | None = Field(default=None, ge=0, le=86_400)
    csat_target: float | None = Rate
    conversion_rate_target: float | None = Rate
    max_abandon_rate: float | None = Rate
    assessed_start: time | None = Field(default=None, description="Shop-local, whole quarter hour; "
                                        "with assessed_end (equal bounds: the whole day)")
    assessed_end: time | None = None

    _qh = field_validator("assessed_start", "assessed_end")(_quarter_hour)


class SlaPolicyUpdate(BaseModel):
    """Change a version in place (PATCH: the fields sent; a target set to null is no longer judged)."""

    model_config = ConfigDict(extra="forbid")

    answer_target_s: int | None = Field(default=None, ge=1, le=600)
    service_level_target: float | None = Rate
    response_rate_3min_target: float | None = Rate
    frt_mean_target_s: float | None = Field(default=None, ge=0, le=86_400)
    csat_target: float | None = Rate
    conversion_rate_target: float | None = Rate
    max_abandon_rate: float | None = Rate
    assessed_start: time | None = None
    assessed_end: time | None = None

    _qh = field_validator("assessed_start", "assessed_end")(_quarter_hour)


class SlaPolicyRead(BaseModel):
    """A policy version, or a platform default (is_default: true, no id, effective_from null)."""

    id: uuid.UUID | None
    shop_id: uuid.UUID
    is_default: bool
    effective_from: date | None
    answer_target_s: int
    service_level_target: float | None
    response_rate_3min_target: float | None
    frt_mean_target_s: float | None
    csat_target: float | None
    conversion_rate_target: float | None
    max_abandon_rate: float | None
    assessed_start: time
    assessed_end: time

    @classmethod
    def of(cls, shop_id: uuid.UUID, terms: Terms) -> SlaPolicyRead:
        t = terms.targets
        return cls(id=terms.id, shop_id=shop_id, is_default=terms.id is None, effective_from=terms.effective_from,
                   answer_target_s=int(t.answer_target_s), service_level_target=t.service_level,
                   response_rate_3min_target=t.response_rate_3min, frt_mean_target_s=t.frt_mean_s,
                   csat_target=t.csat, conversion_rate_target=t.conversion_rate, max_abandon_rate=t.max_abandon_rate,
                   assessed_start=terms.window[0], assessed_end=terms.window[1])


class VerdictRead(BaseModel):
    metric: str
    target: float
    actual: float
    met: bool


class MetricsRead(BaseModel):
    """Metrics of GLOSSARY.md; a rate or mean is null when its denominator is 0. Rates are fractions."""

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
    policy_effective_from: date | None = Field(description="The policy version judging this period (null: the "
                                               "platform default)")
    answer_target_s: int = Field(description="T used for service_level")
    verdicts: list[VerdictRead] = Field(description="One per metric with a target and data")


def _metrics_fields(b: BucketResult) -> dict:
    """The MetricsRead fields of a judged bucket, in field order, as plain values of the declared types:
    validated into a read model by the .of() methods, or serialized as they are by SlaReportRead.json_of."""
    m = b.metrics
    return dict(offered=m.offered, answered=m.answered, abandon_rate=m.abandon_rate, service_level=m.service_level,
                frt_mean_s=m.frt_mean_s, frt_p50_s=m.frt_p50_s, frt_p90_s=m.frt_p90_s,
                response_rate_3min=m.response_rate_3min, avg_response_s=m.avg_response_s,
                handle_mean_s=m.handle_mean_s, csat=m.csat, dsat=m.dsat, conversion_rate=m.conversion_rate,
                gmv=m.gmv, aov=m.aov, policy_effective_from=b.terms.effective_from,
                answer_target_s=int(b.terms.targets.answer_target_s),
                verdicts=[{"metric": v.metric, "target": v.target, "actual": v.actual, "met": v.met}
                          for v in b.verdicts])


class BucketRead(MetricsRead):
    start: datetime = Field(description="Bucket start, shop-local with offset (the whole bucket's start, even "
                            "when the requested range begins inside it)")

    @classmethod
    def of(cls, b: BucketResult) -> BucketRead:
        return cls(start=b.start, **_metrics_fields(b))


class TotalRead(MetricsRead):
    @classmethod
    def of(cls, b: BucketResult) -> TotalRead:
        return cls(**_metrics_fields(b))


class SlaReportRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    shop_id: uuid.UUID
    timezone: str
    granularity: Granularity
    from_: datetime = Field(alias="from", description="Inclusive, shop-local")
    to: datetime = Field(description="Exclusive, shop-local")
    buckets: list[BucketRead] = Field(description="Buckets with conversations, in time order, clipped to the "
                                      "range; each judged by the policy in force on its first day")
    total: TotalRead = Field(description="The whole range, judged by the policy in force at its start")

    @classmethod
    def of(cls, r: Report) -> SlaReportRead:
        return cls(shop_id=r.shop.id, timezone=r.shop.timezone, granularity=r.granularity, from_=r.start,
                   to=r.end, buckets=[BucketRead.of(b) for b in r.buckets], total=TotalRead.of(r.total))

    @staticmethod
    def json_of(r: Report) -> bytes:
        """``of(r).model_dump_json(by_alias=True)`` without building the models: the same fields, in the
        same order, serialized by pydantic-core from plain values (a month of days is ~700 fields, and
        validating what the service just computed cost more than computing it). test_reports holds the
        two together."""
        return to_json({"shop_id": r.shop.id, "timezone": r.shop.timezone, "granularity": r.granularity,
                        "from": r.start, "to": r.end,
                        "buckets": [{**_metrics_fields(b), "start": b.start} for b in r.buckets],
                        "total": _metrics_fields(r.total)}, inf_nan_mode="null")


class BreachRead(BaseModel):
    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    shop_name: str
    period: PeriodKind
    period_start: date = Field(description="Shop-local first day of the day or month")
    metric: str
    target: float
    actual: float
    policy_effective_from: date | None

    @classmethod
    def of(cls, b: Breach) -> BreachRead:
        return cls(tenant_id=b.shop.tenant_id, shop_id=b.shop.id, shop_name=b.shop.name, period=b.period,
                   period_start=b.period_start, metric=b.metric, target=b.target, actual=b.actual,
                   policy_effective_from=b.policy_effective_from)


class ShopAttainmentRead(MetricsRead):
    shop_id: uuid.UUID
    name: str
    platform: str
    timezone: str
    period_start: date = Field(description="First day of the month (shop-local)")
    period_end: date = Field(description="Exclusive: the day after as_of")

    @classmethod
    def of(cls, a: ShopAttainment) -> ShopAttainmentRead:
        return cls(shop_id=a.shop.id, name=a.shop.name, platform=a.shop.platform, timezone=a.shop.timezone,
                   period_start=a.period_start, period_end=a.period_end, **_metrics_fields(a.result))


class TenantSummaryRead(BaseModel):
    tenant_id: uuid.UUID
    slug: str
    name: str
    as_of: date | None = Field(description="The day the month-to-date ends (null: each shop's local today)")
    shops: list[ShopAttainmentRead]

    @classmethod
    def of(cls, s: TenantSummary) -> TenantSummaryRead:
        return cls(tenant_id=s.tenant.id, slug=s.tenant.slug, name=s.tenant.name, as_of=s.as_of,
                   shops=[ShopAttainmentRead.of(a) for a in s.shops])
