"""SLA use cases: policies (versioned per shop), reports per local bucket, breaches, the tenant summary.

Reports read the 15-minute rollups through one aggregate statement (service.sla.queries), never
conversations; the merged counters become metrics with service.sla.metrics (the one place the formulas
live) and are judged by the terms in force (service.sla.policies says which). Answers are the read shapes
of service.sla.figures, built without re-validation.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.cache import memo_of
from service.kit.crud import apply_changes, flush, one_or_404
from service.kit.errors import Invalid, Problem
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest, keyset, page_of
from service.kit.time import INTERVAL, local_day_start, local_today, next_month
from service.shops.models import Shop
from service.shops.service import get_shop
from service.sla.figures import (
    BrandShopReport,
    BrandSlaReport,
    Breach,
    Bucket,
    Granularity,
    Metric,
    PeriodKind,
    ShopAttainment,
    SlaMetrics,
    SlaReport,
    TenantSummary,
    Total,
    Verdict,
)
from service.sla.metrics import FrtHistograms, bucket_end, bucket_start, judge, metrics_of_merged_sets
from service.sla.models import SlaPolicy
from service.sla.periods import breach_range, check_day, period_of
from service.sla.policies import PolicyBook, ShopRef, Terms, Window, platform_default, windows_of
from service.sla.queries import (
    SHOP_BATCH,
    Merged,
    Span,
    aggregate,
    load_book,
    report_versions,
    shop_and_book,
    shop_batch,
    shop_ref,
)
from service.sla.schemas import SlaPolicyCreate, SlaPolicyRead, SlaPolicyUpdate
from tenants.service import find_tenant, read_tenant

# --- policies -------------------------------------------------------------------------------------


async def policy_in_force(session: AsyncSession, principal: Principal, shop_id: uuid.UUID,
                          on: date | None = None) -> SlaPolicyRead:
    shop = shop_ref(await get_shop(session, principal, shop_id))
    return SlaPolicyRead.of(shop.id, (await policies_in_force(session, [shop], on))[0])


async def policies_in_force(session: AsyncSession, shops: Sequence[ShopRef],
                            on: date | None = None) -> list[Terms]:
    """The terms in force on day ON (default: each shop's local today), one per shop, in one query."""
    book = await load_book(session, shops)
    return [book.on(s.id, on or local_today(s.timezone)) for s in shops]


async def list_policies(session: AsyncSession, principal: Principal, shop_id: uuid.UUID,
                        page: PageRequest) -> Paged[SlaPolicyRead]:
    """A shop's stored versions by effective_from (the platform default is not a version)."""
    shop = shop_ref(await get_shop(session, principal, shop_id))
    stmt = select(SlaPolicy).where(SlaPolicy.tenant_id == shop.tenant_id, SlaPolicy.shop_id == shop.id)
    rows = list((await session.execute(keyset(stmt, [SlaPolicy.effective_from], page, [date]))).scalars())
    found = page_of(rows, page, key=lambda p: (p.effective_from,))
    return Paged([policy_read(p) for p in found.items], found.next_cursor)


def policy_read(policy: SlaPolicy) -> SlaPolicyRead:
    return SlaPolicyRead.of(policy.shop_id, Terms.of(policy))


def _check_window_pair(start: time | None, end: time | None) -> None:
    if (start is None) != (end is None):
        raise Invalid("assessed_end" if end is None else "assessed_start",
                      "give assessed_start and assessed_end together")


async def create_policy(session: AsyncSession, principal: Principal, shop_id: uuid.UUID,
                        data: SlaPolicyCreate) -> SlaPolicyRead:
    _check_window_pair(data.assessed_start, data.assessed_end)
    shop = await get_shop(session, principal, shop_id)
    values = data.model_dump()
    if data.assessed_start is None:
        values["assessed_start"], values["assessed_end"] = platform_default(shop.platform).window
    policy = SlaPolicy(tenant_id=shop.tenant_id, shop_id=shop.id, **values)
    session.add(policy)
    await flush(session, f"a policy version effective from {data.effective_from} for this shop")
    return policy_read(policy)


async def update_policy(session: AsyncSession, principal: Principal, shop_id: uuid.UUID, effective_from: date,
                        changes: SlaPolicyUpdate) -> SlaPolicyRead:
    if not changes.model_fields_set:
        raise Invalid("body", "send at least one field to change")
    for name in ("answer_target_s", "assessed_start", "assessed_end"):
        if name in changes.model_fields_set and getattr(changes, name) is None:
            raise Invalid(name, "may not be null")
    shop = await get_shop(session, principal, shop_id)
    policy = await one_or_404(session, select(SlaPolicy).where(
        SlaPolicy.tenant_id == shop.tenant_id, SlaPolicy.shop_id == shop.id,
        SlaPolicy.effective_from == effective_from), "policy version")
    apply_changes(policy, changes)
    await flush(session, "policy version")
    return policy_read(policy)


# --- judging merged buckets -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Judged:
    terms: Terms
    metrics: SlaMetrics
    verdicts: list[Verdict]

    def fields(self) -> dict[str, Any]:
        """The JudgedMetrics fields, for model_construct of a Bucket, Total or ShopAttainment."""
        return {**self.metrics.__dict__, "policy_effective_from": self.terms.effective_from,
                "answer_target_s": int(self.terms.targets.answer_target_s), "verdicts": self.verdicts}


def _judged(items: Sequence[tuple[Merged, Terms]], slot: dict[Window, int]) -> list[_Judged]:
    """Metrics of merged buckets, each under its terms: T for the service level, the window's rounds for
    the 3-minute rate (the one formula, in metrics.py, all the buckets at once), then the verdicts."""
    metrics = metrics_of_merged_sets(
        [m.counters for m, _ in items], FrtHistograms.of([(m.bins, m.counts) for m, _ in items]),
        [t.targets.answer_target_s for _, t in items],
        [(m.rounds[slot[t.window]], m.within[slot[t.window]]) for m, t in items])
    return [_Judged(t, mm, judge(mm, t.targets)) for (_, t), mm in zip(items, metrics, strict=True)]


def _slots(terms: Sequence[Terms]) -> tuple[list[Window], dict[Window, int]]:
    windows = windows_of(terms)
    return windows, {w: k for k, w in enumerate(windows)}


# --- reports --------------------------------------------------------------------------------------


async def shop_report(session: AsyncSession, principal: Principal, shop_id: uuid.UUID, start: str | None,
                      end: str | None, granularity: str = "day") -> SlaReport:
    """GET /v1/shops/{id}/sla: the shop's metrics per local bucket of [start, end), and in total.
    Another tenant's shop is not found (checked before the parameters)."""
    shop, book, version = await shop_and_book(session, principal, shop_id)
    lo, hi = period_of(shop.timezone, granularity, start, end)
    versions = {shop.id: version} if version else {}
    return (await reports(session, [(shop, lo, hi)], granularity, book, versions))[0]


async def _remembered(session: AsyncSession, shops: Sequence[ShopRef], what: Sequence[tuple[Any, ...]],
                      versions: dict[uuid.UUID, uuid.UUID] | None,
                      compute: Callable[[list[int]], Awaitable[list[Any]]]) -> list[Any]:
    """One answer per shop: kept ones found by (its WHAT, shop, its report version) in the database's memo
    (service.kit.cache), the others from COMPUTE(their indexes) and kept. VERSIONS: read by the caller in
    this transaction before anything the answers depend on (None: read here, first). A shop without a version
    has nothing that could change under a kept answer's feet recorded yet: computed every time."""
    memo = memo_of(session)
    if memo is None:
        return await compute(list(range(len(shops))))
    if versions is None:
        versions = await report_versions(session, shops)
    keys = [(*w, s, versions[s.id]) if s.id in versions else None for w, s in zip(what, shops, strict=True)]
    found = [memo.get(k) if k is not None else None for k in keys]
    todo = [i for i, answer in enumerate(found) if answer is None]
    if todo:
        for i, answer in zip(todo, await compute(todo), strict=True):
            found[i] = answer
            if keys[i] is not None:
                memo.put(keys[i], answer)
    return found


async def reports(session: AsyncSession, ranges: Sequence[tuple[ShopRef, datetime, datetime]],
                  granularity: str, book: PolicyBook | None = None,
                  versions: dict[uuid.UUID, uuid.UUID] | None = None) -> list[SlaReport]:
    """Reports of several shops, each over its [lo, hi) (UTC instants, whole quarter hours, e.g. from
    period_of), in one query (GraphQL batches Shop.sla through this), or found again in memory while the
    shops' report versions stand (VERSIONS: read before BOOK, else both are read here)."""
    granularity = Granularity(granularity).value

    async def compute(todo: list[int]) -> list[SlaReport]:
        return await _reports(session, [ranges[i] for i in todo], granularity, book)

    return await _remembered(session, [s for s, _, _ in ranges],
                             [("sla.report", granularity, lo, hi) for _, lo, hi in ranges], versions, compute)


async def _reports(session: AsyncSession, ranges: Sequence[tuple[ShopRef, datetime, datetime]],
                   granularity: str, book: PolicyBook | None) -> list[SlaReport]:
    if not ranges:
        return []
    if book is None:
        book = await load_book(session, [s for s, _, _ in ranges])
    terms: list[Terms] = []
    for s, lo, hi in ranges:
        zone = ZoneInfo(s.timezone)
        terms += book.between(s.id, lo.astimezone(zone).date(), (hi - INTERVAL).astimezone(zone).date())
    windows, slot = _slots(terms)
    merged = await aggregate(session, [Span(s, lo, hi) for s, lo, hi in ranges], granularity, windows)
    by_shop: dict[uuid.UUID, list[Merged]] = defaultdict(list)
    for m in merged:
        by_shop[m.shop_id].append(m)
    out = []
    for s, lo, hi in ranges:
        zone = ZoneInfo(s.timezone)
        spans, items = [], []
        for m in by_shop[s.id]:
            # A bucket is clipped to the range: a week or month may begin before `from` or end after `to`.
            whole = bucket_start(m.first_start, granularity, zone)
            start = max(whole, lo).astimezone(zone)
            spans.append((start, min(bucket_end(whole, granularity, zone), hi).astimezone(zone)))
            items.append((m, book.on(s.id, start.date())))
        items.append((Merged.combine(by_shop[s.id], len(windows)), book.on(s.id, lo.astimezone(zone).date())))
        *judged, total = _judged(items, slot)
        buckets = sorted((Bucket.model_construct(**j.fields(), start=start, end=end)
                          for (start, end), j in zip(spans, judged, strict=True)),
                         key=lambda b: b.start.astimezone(UTC))
        out.append(SlaReport.model_construct(
            shop_id=s.id, timezone=s.timezone, granularity=Granularity(granularity),
            from_=lo.astimezone(zone), to=hi.astimezone(zone), buckets=buckets,
            total=Total.model_construct(**total.fields())))
    return out


async def brand_report(session: AsyncSession, principal: Principal, tenant_key: str, start: str | None,
                       end: str | None, granularity: str = "month") -> BrandSlaReport:
    """GET /v1/tenants/{tenant}/sla: every shop of a brand with its report over [start, end), each shop on its
    own local dates, in one query. A client sees its own brand only (another: not found)."""
    tenant = await read_tenant(session, principal, tenant_key)
    stmt = select(Shop).where(Shop.tenant_id == tenant.id).order_by(Shop.name, Shop.id)
    shops = [shop_ref(s) for s in (await session.execute(stmt)).scalars()]
    found = await shop_reports(session, shops, start, end, granularity)
    for answer in found:
        if isinstance(answer, Problem):
            raise answer  # the same from/to for every shop: one is wrong for all
    return BrandSlaReport.model_construct(
        tenant_id=tenant.id, slug=tenant.slug, name=tenant.name, granularity=Granularity(granularity),
        shops=[BrandShopReport.model_construct(**r.__dict__, name=s.name, platform=s.platform)
               for s, r in zip(shops, found, strict=True)])


async def shop_reports(session: AsyncSession, shops: Sequence[ShopRef], start: str | None, end: str | None,
                       granularity: str) -> list[SlaReport | Problem]:
    """Each shop's report over the same [start, end) as the shop reads it (its own local dates), in one
    query: GraphQL's Shop.sla batches through this. A shop whose period is invalid gets its problem."""
    answers: list[SlaReport | Problem | None] = []
    ranges = []
    for shop in shops:
        try:
            ranges.append((shop, *period_of(shop.timezone, granularity, start, end)))
            answers.append(None)
        except Problem as exc:
            answers.append(exc)
    done = iter(await reports(session, ranges, granularity))
    return [next(done) if a is None else a for a in answers]


async def shop_policies(session: AsyncSession, shops: Sequence[ShopRef],
                        on: date | None) -> list[SlaPolicyRead]:
    """Each shop's policy in force on ON (default: its local today), in one query."""
    return [SlaPolicyRead.of(s.id, t) for s, t in zip(shops, await policies_in_force(session, shops, on),
                                                      strict=True)]


# --- breaches -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreachFilter:
    start: date | None = None
    end: date | None = None
    tenant: str | None = None
    shop: uuid.UUID | None = None
    metric: Metric | None = None
    period: PeriodKind | None = None




async def shop_breaches(session: AsyncSession, shops: Sequence[ShopRef], start: date, end: date,
                        metric: Metric | None = None, period: PeriodKind | None = None,
                        versions: dict[uuid.UUID, uuid.UUID] | None = None) -> list[list[Breach]]:
    """Breaches of each shop: every local day in [start, end), judged by that day's policy, and every
    month whose first day lies in [start, end), judged over the whole month by the policy in force on
    its first day. One query for all the shops (days; months are merged from the days), or found again in
    memory while the shops' report versions stand (VERSIONS: read before, else here)."""

    async def compute(todo: list[int]) -> list[list[Breach]]:
        return await _shop_breaches(session, [shops[i] for i in todo], start, end, metric, period)

    what = ("sla.breaches", start, end, metric, period)
    return await _remembered(session, shops, [what] * len(shops), versions, compute)


async def _shop_breaches(session: AsyncSession, shops: Sequence[ShopRef], start: date, end: date,
                         metric: Metric | None, period: PeriodKind | None) -> list[list[Breach]]:
    if not shops:
        return []
    book = await load_book(session, shops)
    first_month = start if start.day == 1 else next_month(start)
    months_end = next_month(end - timedelta(days=1))  # the end of the last month starting before end
    with_months = period != PeriodKind.day and first_month < end
    with_days = period != PeriodKind.month
    lo_day = min(start if with_days else first_month, first_month if with_months else start)
    hi_day = max(end if with_days else months_end, months_end if with_months else end)
    spans, terms = [], []
    for s in shops:
        relevant = book.between(s.id, lo_day, hi_day - timedelta(days=1))
        if not any(t.has_targets for t in relevant):
            continue  # nothing can be breached
        terms += relevant
        spans.append(Span(s, local_day_start(lo_day, s.timezone), local_day_start(hi_day, s.timezone)))
    windows, slot = _slots(terms)
    zones = {sp.shop.id: ZoneInfo(sp.shop.timezone) for sp in spans}
    days: dict[uuid.UUID, list[tuple[date, Merged]]] = defaultdict(list)
    for m in await aggregate(session, spans, "day", windows):
        days[m.shop_id].append((m.first_start.astimezone(zones[m.shop_id]).date(), m))

    periods: list[tuple[int, PeriodKind, date]] = []  # (shop, kind, first day) of each judged period
    items: list[tuple[Merged, Terms]] = []
    for i, s in enumerate(shops):
        per_month: dict[date, list[Merged]] = defaultdict(list)
        for day, m in sorted(days.get(s.id, []), key=lambda x: x[0]):
            if with_days and start <= day < end:
                periods.append((i, PeriodKind.day, day))
                items.append((m, book.on(s.id, day)))
            if with_months and first_month <= day < months_end:
                per_month[day.replace(day=1)].append(m)
        for month, members in sorted(per_month.items()):
            periods.append((i, PeriodKind.month, month))
            items.append((Merged.combine(members, len(windows)), book.on(s.id, month)))
    out: list[list[Breach]] = [[] for _ in shops]
    for (i, kind, first), result in zip(periods, _judged(items, slot), strict=True):
        shop = shops[i]
        out[i] += [Breach.model_construct(tenant_id=shop.tenant_id, shop_id=shop.id, shop_name=shop.name,
                                          period=kind, period_start=first, metric=v.metric, target=v.target,
                                          actual=v.actual, policy_effective_from=result.terms.effective_from)
                   for v in result.verdicts if not v.met and (metric is None or v.metric == metric)]
    for found in out:
        found.sort(key=lambda b: b.key)
    return out


@dataclass(frozen=True)
class JudgedDay:
    """One shop's local day judged by that day's policy: verdicts met of judged, and its counters."""

    day: date
    met: int
    judged: int
    counters: dict[str, Any]


async def judged_days(session: AsyncSession, shops: Sequence[ShopRef], start: date, end: date
                      ) -> list[list[JudgedDay]]:
    """Every local day in [start, end) of each shop with data, judged as the day breach list judges it (one
    aggregate for all the shops): the balanced scorecard's SLA attainment reads these."""
    if not shops:
        return []
    book = await load_book(session, shops)
    terms = [t for s in shops for t in book.between(s.id, start, end - timedelta(days=1))]
    windows, slot = _slots(terms)
    spans = [Span(s, local_day_start(start, s.timezone), local_day_start(end, s.timezone)) for s in shops]
    zones = {s.id: ZoneInfo(s.timezone) for s in shops}
    items: list[tuple[Merged, Terms]] = []
    keys: list[tuple[uuid.UUID, date]] = []
    for m in await aggregate(session, spans, "day", windows):
        day = m.first_start.astimezone(zones[m.shop_id]).date()
        keys.append((m.shop_id, day))
        items.append((m, book.on(m.shop_id, day)))
    out: dict[uuid.UUID, list[JudgedDay]] = defaultdict(list)
    for (shop_id, day), (m, _), j in zip(keys, items, _judged(items, slot), strict=True):
        out[shop_id].append(JudgedDay(day, sum(v.met for v in j.verdicts), len(j.verdicts), m.counters))
    return [sorted(out.get(s.id, []), key=lambda d: d.day) for s in shops]


async def breaches_of_shops(session: AsyncSession, shops: Sequence[ShopRef], start: date | None,
                            end: date | None, metric: Metric | None = None,
                            period: PeriodKind | None = None) -> list[list[Breach]]:
    """shop_breaches over a caller's [from, to) (default: the month to date)."""
    first, last = breach_range(start, end)
    return await shop_breaches(session, shops, first, last, metric, period)


_BREACH_KEY = (uuid.UUID, date, str, str)


async def list_breaches(session: AsyncSession, principal: Principal, filters: BreachFilter,
                        page: PageRequest) -> Paged[Breach]:
    """Breaches of the shops the caller may see (a client: its own; naming another tenant or shop
    gives an empty list), ordered by shop, period start, period kind and metric."""
    after = page.after(*_BREACH_KEY)
    start, end = breach_range(filters.start, filters.end)
    params: dict[str, Any] = {"tenant_id": principal.tenant_id, "shop": filters.shop,
                              "first": after[0] if after else None}
    if filters.tenant:
        tenant = await find_tenant(session, filters.tenant)
        if tenant is None:
            return Paged([])
        params["brand"] = tenant.id
    found: list[Breach] = []
    last: uuid.UUID | None = None
    while len(found) <= page.limit:
        stmt = shop_batch(principal.is_staff, bool(filters.tenant), bool(filters.shop), bool(after),
                           last is not None)
        rows = (await session.execute(stmt, {**params, "last": last})).all()
        shops = [shop_ref(s) for s, _ in rows]
        if not shops:
            break
        versions = {s.id: v for s, v in rows if v is not None}
        for items in await shop_breaches(session, shops, start, end, filters.metric, filters.period,
                                         versions):
            found += [b for b in items if after is None or b.key > after]
        last = shops[-1].id
        if len(shops) < SHOP_BATCH:
            break
    return page_of(found, page, key=lambda b: b.key)


# --- tenant summary -------------------------------------------------------------------------------


async def tenant_summary(session: AsyncSession, principal: Principal, tenant_key: str,
                         as_of: date | None = None) -> TenantSummary:
    """Each of a brand's shops with its month-to-date attainment: the local month holding AS_OF
    (default: the shop's local today) up to the end of that day, judged by the policy in force on
    the month's first day. A client sees its own brand only (another: not found)."""
    tenant = await read_tenant(session, principal, tenant_key)
    if as_of is not None:
        check_day("as_of", as_of)
    stmt = select(Shop).where(Shop.tenant_id == tenant.id).order_by(Shop.name, Shop.id)
    shops = [shop_ref(s) for s in (await session.execute(stmt)).scalars()]
    return TenantSummary.model_construct(tenant_id=tenant.id, slug=tenant.slug, name=tenant.name, as_of=as_of,
                                         shops=await attainments(session, shops, as_of))


async def attainments(session: AsyncSession, shops: Sequence[ShopRef], as_of: date | None = None
                      ) -> list[ShopAttainment]:
    book = await load_book(session, shops)
    spans, days = [], {}
    for s in shops:
        day = as_of or local_today(s.timezone)
        days[s.id] = (day.replace(day=1), day + timedelta(days=1))
        spans.append(Span(s, local_day_start(days[s.id][0], s.timezone),
                          local_day_start(days[s.id][1], s.timezone)))
    terms = [book.on(s.id, days[s.id][0]) for s in shops]
    windows, slot = _slots(terms)
    merged = {m.shop_id: m for m in await aggregate(session, spans, "month", windows)}
    results = _judged([(merged[s.id] if s.id in merged else Merged.combine([], len(windows)), t)
                       for s, t in zip(shops, terms, strict=True)], slot)
    return [ShopAttainment.model_construct(**r.fields(), shop_id=s.id, name=s.name, platform=s.platform,
                                           timezone=s.timezone, period_start=days[s.id][0],
                                           period_end=days[s.id][1])
            for s, r in zip(shops, results, strict=True)]


__all__ = ["BreachFilter", "JudgedDay", "brand_report", "judged_days",
           "breaches_of_shops", "shop_policies", "shop_reports", "attainments",
           "create_policy", "list_breaches", "list_policies", "policies_in_force", "policy_in_force",
           "policy_read", "reports", "shop_breaches", "shop_report",
           "shop_ref", "tenant_summary", "update_policy"]
