"""GraphQL: SLA policies, reports, breaches and the tenant summary. Thin, over sla.service; shapes from
sla.figures and sla.schemas, roles from sla.auth.

`ShopSlaFields` are the SLA domain's fields of the Shop type (`sla`, `breaches`, `slaPolicy`):
service/schema.py adds them to shops' Shop type, so neither domain imports the other's door. Each is
batched by a per-request DataLoader: a list of shops costs one aggregate query, not one per shop.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from service.kit import gql
from service.kit.access import Caller, Session
from service.kit.errors import Problem
from service.sla import auth, service
from service.sla.figures import (
    BrandShopReport,
    BrandSlaReport,
    Breach,
    Bucket,
    Granularity,
    JudgedMetrics,
    Metric,
    PeriodKind,
    ShopAttainment,
    SlaReport,
    TenantSummary,
    Total,
    Verdict,
)
from service.sla.periods import parse_day
from service.sla.schemas import SlaPolicyCreate, SlaPolicyRead, SlaPolicyUpdate
from service.sla.service import shop_ref

strawberry.enum(Granularity, name="SlaGranularity")
strawberry.enum(Metric, name="SlaMetric", description="A metric a policy can target")
strawberry.enum(PeriodKind, name="SlaPeriod")


@gql.read_type(SlaPolicyRead, name="SlaPolicy", description="A policy version, or the platform default "
               "(isDefault).")
class SlaPolicyType: ...


gql.nested_types((Verdict, "SlaVerdict"))


@gql.read_type(JudgedMetrics, name="SlaFigures", interface=True)
class FiguresType: ...


@gql.read_type(Bucket, name="SlaBucket")
class BucketType(FiguresType): ...


@gql.read_type(Total, name="SlaTotal")
class TotalType(FiguresType): ...


@gql.read_type(SlaReport, name="SlaReport")
class ReportType: ...


gql.nested_types((BrandShopReport, "SlaBrandShop", "One shop of a brand's report."))


@gql.read_type(BrandSlaReport, name="SlaBrandReport")
class BrandReportType: ...


@gql.read_type(Breach, name="SlaBreach")
class BreachType: ...


@gql.read_type(ShopAttainment, name="SlaShopAttainment")
class AttainmentType(FiguresType): ...


@gql.read_type(TenantSummary, name="SlaSummary")
class SummaryType: ...


# Assessed hours travel as text in both doors (HH:MM, 24:00 ends the day): GraphQL's Time has no 24:00.
_TEXT_TIMES = {"assessed_start": (str | None, None), "assessed_end": (str | None, None)}
PolicyCreateInput = gql.create_input(SlaPolicyCreate, name="SlaPolicyCreateInput", replace=_TEXT_TIMES)
PolicyUpdateInput = gql.update_input(SlaPolicyUpdate, name="SlaPolicyUpdateInput", replace=_TEXT_TIMES)

FromArg = Annotated[str | None, strawberry.argument(
    name="from", description="Inclusive: a date (YYYY-MM-DD) or a shop-local datetime (YYYY-MM-DDTHH:MM) on "
    "a quarter hour. Default: the start of the local month holding `to`.")]
ToArg = Annotated[str | None, strawberry.argument(description="Exclusive, like `from`. Default: the end of "
                                                              "the shop's local today.")]
# Days travel as text like the report's `from`/`to` (which also take datetimes), so a variable declared
# `String` serves both.
FromDay = Annotated[str | None, strawberry.argument(
    name="from", description="First local day, YYYY-MM-DD (default: the first of this month)")]
ToDay = Annotated[str | None, strawberry.argument(
    description="Local day after the last, YYYY-MM-DD (default: tomorrow)")]
OnDay = Annotated[date | None, strawberry.argument(description="Shop-local day (default: today)")]


# --- Shop fields (batched) ------------------------------------------------------------------------

Batch = Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]


def _grouped(batch: Callable[[AsyncSession, list[Any], tuple[Any, ...]], Awaitable[list[Any]]]) -> Batch:
    """A DataLoader batch over (shop, *arguments) keys: one call of BATCH per distinct arguments, with the
    shops sharing them; a Problem for one group is that group's answer."""
    async def load(session: AsyncSession, keys: list[Any]) -> list[Any]:
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            groups[key[1:]].append(i)
        out: list[Any] = [None] * len(keys)
        for args, idx in groups.items():
            try:
                found = await batch(session, [keys[i][0] for i in idx], args)
            except Problem as exc:
                found = [exc] * len(idx)
            for i, value in zip(idx, found, strict=True):
                out[i] = value
        return out

    return load


async def _reports(session: AsyncSession, shops: Sequence[Any], args: tuple[Any, ...]) -> list[Any]:
    return list(await service.shop_reports(session, shops, *args))


async def _breaches(session: AsyncSession, shops: Sequence[Any], args: tuple[Any, ...]) -> list[Any]:
    return await service.breaches_of_shops(session, shops, *args)


async def _policies(session: AsyncSession, shops: Sequence[Any], args: tuple[Any, ...]) -> list[Any]:
    return list(await service.shop_policies(session, shops, *args))


_load_reports, _load_breaches, _load_policies = _grouped(_reports), _grouped(_breaches), _grouped(_policies)


@strawberry.type
class ShopSlaFields:
    """The SLA fields of Shop (added to shops' type by service/schema.py)."""

    @gql.field(auth.read, description="SLA report per bucket of the shop's local time.")
    async def sla(self, info: Info, from_: FromArg = None, to: ToArg = None,
                  granularity: Granularity = Granularity.day) -> ReportType:
        key = (shop_ref(self), from_, to, Granularity(granularity).value)
        return gql.of(ReportType, await info.context.loader("sla_report", _load_reports).load(key))

    @gql.field(auth.read, description="The shop's daily and monthly breaches.")
    async def breaches(self, info: Info, from_: FromDay = None, to: ToDay = None,
                       metric: Metric | None = None, period: PeriodKind | None = None) -> list[BreachType]:
        key = (shop_ref(self), parse_day(from_, "from"), parse_day(to, "to"), metric, period)
        found = await info.context.loader("sla_breaches", _load_breaches).load(key)
        return [gql.of(BreachType, b) for b in found]

    @gql.field(auth.read, description="The SLA policy in force on a day (else the platform default).")
    async def sla_policy(self, info: Info, on: OnDay = None) -> SlaPolicyType:
        policy = await info.context.loader("sla_policy", _load_policies).load((shop_ref(self), on))
        return gql.of(SlaPolicyType, policy)


# --- root fields ----------------------------------------------------------------------------------


@strawberry.type
class SlaQuery:
    @gql.field(auth.read, description="Daily and monthly breaches of the shops you may see (a client: its "
               "own; naming another brand or shop gives an empty list).")
    async def breaches(self, session: Session, caller: Caller, from_: FromDay = None, to: ToDay = None,
                       tenant: str | None = None, shop: uuid.UUID | None = None, metric: Metric | None = None,
                       period: PeriodKind | None = None, first: int = 50,
                       after: str | None = None) -> gql.Page[BreachType]:
        filters = service.BreachFilter(start=parse_day(from_, "from"), end=parse_day(to, "to"), tenant=tenant,
                                       shop=shop, metric=metric, period=period)
        return gql.page(BreachType, await service.list_breaches(session, caller, filters,
                                                                gql.page_request(first, after)))

    @gql.field(auth.read, description="A brand's SLA report: every shop per bucket of its local time and in "
               "total, in one call (a client: its own brand).")
    async def brand_sla(self, session: Session, caller: Caller, tenant: str, from_: FromArg = None,
                        to: ToArg = None, granularity: Granularity = Granularity.month) -> BrandReportType:
        found = await service.brand_report(session, caller, tenant, from_, to, Granularity(granularity))
        return gql.of(BrandReportType, found)

    @gql.field(auth.read, description="A shop's policy versions by effective date.")
    async def sla_policies(self, session: Session, caller: Caller, shop_id: uuid.UUID, first: int = 50,
                           after: str | None = None) -> gql.Page[SlaPolicyType]:
        return gql.page(SlaPolicyType, await service.list_policies(session, caller, shop_id,
                                                                   gql.page_request(first, after)))

    @gql.field(auth.read, description="A brand's shops with their month-to-date SLA attainment (a client: "
               "its own brand).")
    async def sla_summary(self, session: Session, caller: Caller, tenant: str,
                          as_of: date | None = None) -> SummaryType:
        return gql.of(SummaryType, await service.tenant_summary(session, caller, tenant, as_of))


@strawberry.type
class SlaMutation:
    @gql.mutation(auth.write, description="Add a policy version applying from a shop-local date (assessed "
                  "hours default to the platform's).")
    async def create_sla_policy(self, session: Session, caller: Caller, shop_id: uuid.UUID,
                                input: PolicyCreateInput) -> SlaPolicyType:
        data = gql.validated(SlaPolicyCreate, input, ["input"])
        return gql.of(SlaPolicyType, await service.create_policy(session, caller, shop_id, data))

    @gql.mutation(auth.write, description="Change a policy version (fields given; null clears a target).")
    async def update_sla_policy(self, session: Session, caller: Caller, shop_id: uuid.UUID,
                                effective_from: date, input: PolicyUpdateInput) -> SlaPolicyType:
        data = gql.validated(SlaPolicyUpdate, input, ["input"])
        return gql.of(SlaPolicyType,
                      await service.update_policy(session, caller, shop_id, effective_from, data))
