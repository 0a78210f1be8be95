"""GraphQL: SLA policies, reports, breaches and the tenant summary. Thin, over sla.service.

The Shop type (service/shops/gql.py) takes its `sla`, `breaches` and `slaPolicy` fields from here; each
is batched by a per-request DataLoader, so a list of shops costs one aggregate query, not one per shop.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from service.kit.errors import Problem
from service.kit.gql import input_dict, validated
from service.kit.pagination import PageRequest, check_limit
from service.kit.roles import Allow, Role
from service.sla import service
from service.sla.schemas import (
    BreachRead,
    Granularity,
    Metric,
    MetricsRead,
    PeriodKind,
    SlaPolicyCreate,
    SlaPolicyRead,
    SlaPolicyUpdate,
    SlaReportRead,
    TenantSummaryRead,
)
from service.sla.service import ShopRef

GranularityEnum = strawberry.enum(Granularity, name="SlaGranularity")
MetricEnum = strawberry.enum(Metric, name="SlaMetric", description="A metric a policy can target")
PeriodEnum = strawberry.enum(PeriodKind, name="SlaPeriod")

READ = Allow.of(Role.admin, Role.ops, Role.finance, Role.client)
WRITE = Allow.of(Role.admin, Role.ops)

FromArg = Annotated[str | None, strawberry.argument(
    name="from", description="Inclusive: a date (YYYY-MM-DD) or a shop-local datetime (YYYY-MM-DDTHH:MM) on a "
    "quarter hour. Default: the start of the local month holding `to`.")]
ToArg = Annotated[str | None, strawberry.argument(description="Exclusive, like `from`. Default: the end of the "
                                                              "shop's local today.")]
FromDay = Annotated[date | None, strawberry.argument(name="from", description="First local day (default: the "
                                                                                  "first of this month)")]
ToDay = Annotated[date | None, strawberry.argument(description="Local day after the last (default: tomorrow)")]


def _copy(cls: Any, read: Any, **extra: Any) -> Any:
    """A strawberry object from the REST read model: both doors answer the same fields."""
    names = [f.python_name for f in cls.__strawberry_definition__.fields if f.base_resolver is None]
    values = {n: getattr(read, n) for n in names if n not in extra}
    return cls(**values, **extra)


@strawberry.experimental.pydantic.type(model=SlaPolicyRead, all_fields=True, name="SlaPolicy",
                                       description="A policy version, or the platform default (isDefault).")
class SlaPolicyType:
    """The REST read model's fields, declared once (schemas.SlaPolicyRead)."""


@strawberry.type(name="SlaVerdict", description="A targeted metric: met or breached.")
class VerdictType:
    metric: MetricEnum
    target: float
    actual: float
    met: bool


@strawberry.interface(name="SlaFigures", description="Metrics of GLOSSARY.md (rates are fractions; null when "
                                                      "the denominator is 0) and the verdicts of the policy.")
class FiguresType:
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
    policy_effective_from: date | None
    answer_target_s: int
    verdicts: list[VerdictType]


def _figures(cls: Any, read: MetricsRead, **extra: Any) -> Any:
    verdicts = [VerdictType(metric=Metric(v.metric), target=v.target, actual=v.actual, met=v.met)
                for v in read.verdicts]
    return _copy(cls, read, verdicts=verdicts, **extra)


@strawberry.type(name="SlaBucket")
class BucketType(FiguresType):
    start: datetime


@strawberry.type(name="SlaTotal")
class TotalType(FiguresType):
    pass


@strawberry.type(name="SlaReport", description="Metrics per bucket of the shop's local time. Each bucket is "
                 "judged by the policy in force on its first day, the total by the one at the range's start.")
class ReportType:
    shop_id: uuid.UUID
    timezone: str
    granularity: GranularityEnum
    from_: datetime = strawberry.field(name="from")
    to: datetime
    buckets: list[BucketType]
    total: TotalType

    @classmethod
    def of(cls, report: service.Report) -> ReportType:
        read = SlaReportRead.of(report)
        return cls(shop_id=read.shop_id, timezone=read.timezone, granularity=read.granularity, from_=read.from_,
                   to=read.to, buckets=[_figures(BucketType, b) for b in read.buckets],
                   total=_figures(TotalType, read.total))


@strawberry.type(name="SlaBreach", description="A day or month whose metric missed its target.")
class BreachType:
    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    shop_name: str
    period: PeriodEnum
    period_start: date
    metric: MetricEnum
    target: float
    actual: float
    policy_effective_from: date | None

    @classmethod
    def of(cls, b: service.Breach) -> BreachType:
        return _copy(cls, BreachRead.of(b), metric=Metric(b.metric))


@strawberry.type(name="SlaBreachPage")
class BreachPage:
    items: list[BreachType]
    next_cursor: str | None


@strawberry.type(name="SlaPolicyPage")
class PolicyPage:
    items: list[SlaPolicyType]
    next_cursor: str | None


@strawberry.type(name="SlaShopAttainment", description="A shop's month to date.")
class AttainmentType(FiguresType):
    shop_id: uuid.UUID
    name: str
    platform: str
    timezone: str
    period_start: date
    period_end: date


@strawberry.type(name="SlaSummary", description="A brand's shops with their month-to-date attainment.")
class SummaryType:
    tenant_id: uuid.UUID
    slug: str
    name: str
    as_of: date | None
    shops: list[AttainmentType]


@strawberry.experimental.pydantic.input(model=SlaPolicyCreate, all_fields=True, name="SlaPolicyCreateInput")
class PolicyCreateInput:
    pass


@strawberry.experimental.pydantic.input(model=SlaPolicyUpdate, all_fields=True, name="SlaPolicyUpdateInput")
class PolicyUpdateInput:
    pass


# --- Shop fields (batched) ------------------------------------------------------------------------


def _shop_ref(shop: Any) -> ShopRef:
    return ShopRef(shop.tenant_id, shop.id, shop.name, str(shop.platform.value if hasattr(shop.platform, "value")
                                                             else shop.platform), shop.timezone)


def _grouped(keys: list[tuple]) -> dict[tuple, list[int]]:
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key[1:]].append(i)
    return groups


async def _batch_reports(session: AsyncSession, keys: list[tuple]) -> list[Any]:
    out: list[Any] = [None] * len(keys)
    for (start, end, granularity), idx in _grouped(keys).items():
        ranges = []
        for i in idx:
            shop = keys[i][0]
            try:
                ranges.append((i, shop, *service.period_of(shop.timezone, granularity, start, end, where="")))
            except Problem as exc:
                out[i] = exc
        done = await service.reports(session, [(s, lo, hi) for _, s, lo, hi in ranges], granularity)
        for (i, *_), report in zip(ranges, done, strict=True):
            out[i] = report
    return out


async def _batch_breaches(session: AsyncSession, keys: list[tuple]) -> list[Any]:
    out: list[Any] = [None] * len(keys)
    for (start, end, metric, period), idx in _grouped(keys).items():
        try:
            first, last = service.breach_range(start, end, where="")
        except Problem as exc:
            for i in idx:
                out[i] = exc
            continue
        found = await service.shop_breaches(session, [keys[i][0] for i in idx], first, last, metric, period)
        for i, items in zip(idx, found, strict=True):
            out[i] = items
    return out


async def _batch_policies(session: AsyncSession, keys: list[tuple]) -> list[Any]:
    out: list[Any] = [None] * len(keys)
    for (on,), idx in _grouped(keys).items():
        found = await service.policies_in_force(session, [keys[i][0] for i in idx], on)
        for i, terms in zip(idx, found, strict=True):
            out[i] = terms
    return out


async def resolve_shop_sla(root: Any, info: Info, from_: FromArg = None, to: ToArg = None,
                           granularity: GranularityEnum = Granularity.day) -> ReportType:
    key = (_shop_ref(root), from_, to, Granularity(granularity).value)
    return ReportType.of(await info.context.loader("sla_report", _batch_reports).load(key))


async def resolve_shop_breaches(root: Any, info: Info, from_: FromDay = None, to: ToDay = None,
                                metric: MetricEnum | None = None, period: PeriodEnum | None = None
                                ) -> list[BreachType]:
    key = (_shop_ref(root), from_, to, metric.value if metric else None, period.value if period else None)
    return [BreachType.of(b) for b in await info.context.loader("sla_breaches", _batch_breaches).load(key)]


async def resolve_shop_policy(root: Any, info: Info, on: Annotated[date | None, strawberry.argument(
        description="Shop-local day (default: today)")] = None) -> SlaPolicyType:
    shop = _shop_ref(root)
    terms = await info.context.loader("sla_policy", _batch_policies).load((shop, on))
    return SlaPolicyType.from_pydantic(SlaPolicyRead.of(shop.id, terms))


shop_sla = strawberry.field(resolver=resolve_shop_sla, permission_classes=[READ],
                            description="SLA report per bucket of the shop's local time.")
shop_breaches = strawberry.field(resolver=resolve_shop_breaches, permission_classes=[READ],
                                 description="The shop's daily and monthly breaches.")
shop_sla_policy = strawberry.field(resolver=resolve_shop_policy, permission_classes=[READ],
                                   description="The SLA policy in force on a day (else the platform default).")


# --- root fields ----------------------------------------------------------------------------------


@strawberry.type
class SlaQuery:
    @strawberry.field(permission_classes=[READ], description="Daily and monthly breaches of the shops you may "
                      "see (a client: its own; naming another brand or shop gives an empty list).")
    async def breaches(self, info: Info, from_: FromDay = None, to: ToDay = None, tenant: str | None = None,
                       shop: uuid.UUID | None = None, metric: MetricEnum | None = None,
                       period: PeriodEnum | None = None, first: int = 50, after: str | None = None) -> BreachPage:
        filters = service.BreachFilter(start=from_, end=to, tenant=tenant, shop=shop,
                                       metric=metric.value if metric else None,
                                       period=period.value if period else None)
        page = PageRequest(limit=check_limit(first))
        async with info.context.tx() as session:
            items, cursor = await service.list_breaches(session, info.context.principal, filters, page, after,
                                                        where="")
        return BreachPage(items=[BreachType.of(b) for b in items], next_cursor=cursor)

    @strawberry.field(permission_classes=[READ], description="A shop's policy versions by effective date.")
    async def sla_policies(self, info: Info, shop_id: uuid.UUID, first: int = 50,
                           after: str | None = None) -> PolicyPage:
        async with info.context.tx() as session:
            shop, items, cursor = await service.list_policies(session, info.context.principal, shop_id,
                                                              check_limit(first), after)
        return PolicyPage(items=[SlaPolicyType.from_pydantic(SlaPolicyRead.of(shop.id, service.Terms.of(p))) for p in items],
                          next_cursor=cursor)

    @strawberry.field(permission_classes=[READ], description="A brand's shops with their month-to-date SLA "
                      "attainment (a client: its own brand).")
    async def sla_summary(self, info: Info, tenant: str, as_of: date | None = None) -> SummaryType:
        async with info.context.tx() as session:
            read = TenantSummaryRead.of(await service.tenant_summary(session, info.context.principal, tenant, as_of))
        return SummaryType(tenant_id=read.tenant_id, slug=read.slug, name=read.name, as_of=read.as_of,
                           shops=[_figures(AttainmentType, a) for a in read.shops])


def _policy(policy) -> SlaPolicyType:
    return SlaPolicyType.from_pydantic(SlaPolicyRead.of(policy.shop_id, service.Terms.of(policy)))


@strawberry.type
class SlaMutation:
    @strawberry.mutation(permission_classes=[WRITE], description="Add a policy version applying from a "
                         "shop-local date (assessed hours default to the platform's).")
    async def create_sla_policy(self, info: Info, shop_id: uuid.UUID, input: PolicyCreateInput) -> SlaPolicyType:
        data = validated(SlaPolicyCreate, input_dict(input))
        async with info.context.tx() as session:
            return _policy(await service.create_policy(session, info.context.principal, shop_id, data))

    @strawberry.mutation(permission_classes=[WRITE], description="Change a policy version (fields given).")
    async def update_sla_policy(self, info: Info, shop_id: uuid.UUID, effective_from: date,
                                input: PolicyUpdateInput) -> SlaPolicyType:
        data = validated(SlaPolicyUpdate, input_dict(input))
        async with info.context.tx() as session:
            return _policy(await service.update_policy(session, info.context.principal, shop_id, effective_from,
                                                       data))
