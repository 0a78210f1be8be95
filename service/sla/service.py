"""SLA use cases: policies (versioned per shop), reports per local bucket, breaches, tenant summary.

Reports read the 15-minute rollups (shop_interval_stats), never conversations. One SQL statement per
report does the heavy lifting: it groups the rollup rows of the range by shop and local bucket, sums
the counters, sums the rounds of the 3-minute rate once per distinct assessed window in play (the
window of a bucket depends on its policy, so every window is a column and Python picks the bucket's),
and concatenates each bucket's FRT histogram records, which numpy merges bin by bin (see _histograms
for why not in SQL). Day, week and month buckets of whole local days take their histograms from the
per-day table instead (shop_day_frt: ~30 histograms a shop-month, not ~3,000). Python then turns each
bucket's merged counters into metrics with service.sla.metrics (the one place the formulas live) and
judges them.

Which policy judges what:
- a bucket (interval, hour, day, week or month) is judged by the policy in force on its first
  local day; a week or month bucket thus keeps the policy in force at its start for all of it;
- a report's total is judged by the policy in force at the start of the requested range;
- breaches: a day by the policy of that day, a month by the policy in force on its first day.
The answer target T (service level) and the assessed window (3-minute rate) are part of the policy,
so they follow the same rule. A shop with no version in force gets its platform's default.
"""

from __future__ import annotations

import base64
import bisect
import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Select, TextClause, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.crud import apply_changes, flush, one_or_404
from service.kit.errors import Invalid, NotFound
from service.kit.pagination import PageRequest
from service.shops.models import Platform, Shop
from service.shops.service import get_shop, shops_visible_to, visible_shops
from service.sla.metrics import (
    INTERVAL,
    FrtHistograms,
    MetricVerdict,
    SlaMetrics,
    SlaTargets,
    bucket_start,
    judge,
    local_day_start,
    metrics_of_merged_sets,
)
from service.sla.models import SlaPolicy
from service.sla.schemas import Granularity, SlaPolicyCreate, SlaPolicyUpdate
from tenants.auth import Principal
from tenants.models import Tenant
from tenants.service import find_tenant, get_tenant

# --- policies -------------------------------------------------------------------------------------

WHOLE_DAY = (time(0), time(0))
# GLOSSARY.md: Tmall/Taobao and Douyin assess the 3-minute rate over 08:00-23:00, JD over 09:00-23:00
# (with T = 30 s). Pinduoduo and other platforms: the whole day. No targets: nothing is judged until
# a policy sets some.
PLATFORM_WINDOWS: dict[str, tuple[time, time]] = {
    Platform.tmall: (time(8), time(23)),
    Platform.taobao: (time(8), time(23)),
    Platform.jd: (time(9), time(23)),
    Platform.douyin: (time(8), time(23)),
}
DEFAULT_ANSWER_TARGET_S = 30


@dataclass(frozen=True)
class ShopRef:
    """What the SLA use cases need of a shop the caller may see."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    name: str
    platform: str
    timezone: str

    @classmethod
    def of(cls, shop: Shop) -> ShopRef:
        return cls(shop.tenant_id, shop.id, shop.name, str(shop.platform), shop.timezone)


@dataclass(frozen=True)
class Terms:
    """A policy as applied: a stored version (id set) or a platform default (id None)."""

    id: uuid.UUID | None
    effective_from: date | None
    targets: SlaTargets
    window: tuple[time, time]

    @classmethod
    def of(cls, p: SlaPolicy) -> Terms:
        return cls(p.id, p.effective_from, SlaTargets(
            answer_target_s=p.answer_target_s, service_level=p.service_level_target,
            response_rate_3min=p.response_rate_3min_target, frt_mean_s=p.frt_mean_target_s, csat=p.csat_target,
            conversion_rate=p.conversion_rate_target, max_abandon_rate=p.max_abandon_rate),
            (p.assessed_start, p.assessed_end))

    @property
    def has_targets(self) -> bool:
        t = self.targets
        return any(v is not None for v in (t.service_level, t.response_rate_3min, t.frt_mean_s, t.csat,
                                           t.conversion_rate, t.max_abandon_rate))


def platform_default(platform: str) -> Terms:
    return Terms(None, None, SlaTargets(answer_target_s=DEFAULT_ANSWER_TARGET_S),
                 PLATFORM_WINDOWS.get(platform, WHOLE_DAY))


class PolicyBook:
    """Every version of some shops, answering 'which terms are in force on this local day'."""

    def __init__(self, shops: Sequence[ShopRef], policies: Sequence[SlaPolicy]):
        self._default = {s.id: platform_default(s.platform) for s in shops}
        self._days: dict[uuid.UUID, list[date]] = defaultdict(list)
        self._terms: dict[uuid.UUID, list[Terms]] = defaultdict(list)
        for p in sorted(policies, key=lambda p: (p.shop_id, p.effective_from)):
            self._days[p.shop_id].append(p.effective_from)
            self._terms[p.shop_id].append(Terms.of(p))

    def on(self, shop_id: uuid.UUID, day: date) -> Terms:
        i = bisect.bisect_right(self._days.get(shop_id, []), day)
        return self._terms[shop_id][i - 1] if i else self._default[shop_id]

    def between(self, shop_id: uuid.UUID, first: date, last: date) -> list[Terms]:
        """The terms in force on some day of [first, last]."""
        days = self._days.get(shop_id, [])
        lo, hi = bisect.bisect_right(days, first), bisect.bisect_right(days, last)
        return [self.on(shop_id, first), *self._terms[shop_id][lo:hi]]


async def load_book(session: AsyncSession, shops: Sequence[ShopRef]) -> PolicyBook:
    if not shops:
        return PolicyBook([], [])
    stmt = select(SlaPolicy).where(SlaPolicy.tenant_id.in_({s.tenant_id for s in shops}),
                                   SlaPolicy.shop_id.in_({s.id for s in shops}))
    return PolicyBook(shops, list((await session.execute(stmt)).scalars().all()))


def _local_today(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


async def policy_in_force(session: AsyncSession, principal: Principal, shop_id: uuid.UUID,
                          on: date | None = None) -> tuple[ShopRef, Terms]:
    shop = ShopRef.of(await get_shop(session, principal, shop_id))
    return shop, (await policies_in_force(session, [shop], on))[0]


async def policies_in_force(session: AsyncSession, shops: Sequence[ShopRef], on: date | None = None) -> list[Terms]:
    """The terms in force on day ON (default: each shop's local today), one per shop, in one query."""
    book = await load_book(session, shops)
    return [book.on(s.id, on or _local_today(s.timezone)) for s in shops]


def _policy_cursor(day: date) -> str:
    return base64.urlsafe_b64encode(day.isoformat().encode()).decode().rstrip("=")


def _policy_after(cursor: str) -> date:
    try:
        return date.fromisoformat(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise Invalid("query.cursor", "not a cursor returned by this API") from None


async def list_policies(session: AsyncSession, principal: Principal, shop_id: uuid.UUID, limit: int = 50,
                        cursor: str | None = None) -> tuple[ShopRef, list[SlaPolicy], str | None]:
    """A shop's stored versions by effective_from (the platform default is not a version)."""
    after = _policy_after(cursor) if cursor else None
    shop = ShopRef.of(await get_shop(session, principal, shop_id))
    stmt = select(SlaPolicy).where(SlaPolicy.tenant_id == shop.tenant_id, SlaPolicy.shop_id == shop.id)
    if after is not None:
        stmt = stmt.where(SlaPolicy.effective_from > after)
    rows = list((await session.execute(stmt.order_by(SlaPolicy.effective_from).limit(limit + 1))).scalars())
    if len(rows) > limit:
        return shop, rows[:limit], _policy_cursor(rows[limit - 1].effective_from)
    return shop, rows, None


def _check_window_pair(start: time | None, end: time | None) -> None:
    if (start is None) != (end is None):
        raise Invalid("assessed_end" if end is None else "assessed_start",
                      "give assessed_start and assessed_end together")


async def create_policy(session: AsyncSession, principal: Principal, shop_id: uuid.UUID,
                        data: SlaPolicyCreate) -> SlaPolicy:
    _check_window_pair(data.assessed_start, data.assessed_end)
    shop = await get_shop(session, principal, shop_id)
    values = data.model_dump()
    if data.assessed_start is None:
        values["assessed_start"], values["assessed_end"] = platform_default(shop.platform).window
    policy = SlaPolicy(tenant_id=shop.tenant_id, shop_id=shop.id, **values)
    session.add(policy)
    await flush(session, f"a policy version effective from {data.effective_from} for this shop")
    return policy


async def update_policy(session: AsyncSession, principal: Principal, shop_id: uuid.UUID, effective_from: date,
                        changes: SlaPolicyUpdate) -> SlaPolicy:
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
    return policy


# --- periods --------------------------------------------------------------------------------------

# Longest range per granularity: enough for a year-on-year view by day, week or month.
MAX_SPAN = {"interval": timedelta(days=7), "hour": timedelta(days=62), "day": timedelta(days=400),
            "week": timedelta(days=400), "month": timedelta(days=400)}
_EARLIEST, _LATEST = date(2000, 1, 1), date(2999, 12, 31)
_FORMAT = "a date (YYYY-MM-DD) or a datetime (YYYY-MM-DDTHH:MM, shop-local unless it has an offset)"


def _utc_quarter(u: datetime) -> bool:
    return not (u.minute % 15 or u.second or u.microsecond)


def parse_moment(value: str, field: str, tz: str) -> datetime:
    """A date (local midnight) or a datetime (local unless it carries an offset), as a UTC instant that
    must be a whole quarter hour (rollups are 15-minute intervals)."""
    raw = value.strip()
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            if not _EARLIEST <= d <= _LATEST:
                raise Invalid(field, f"out of range ({_EARLIEST.year}-{_LATEST.year})")
            return local_day_start(d, tz)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(field, f"not {_FORMAT}") from None
    if not _EARLIEST <= moment.date() <= _LATEST:
        raise Invalid(field, f"out of range ({_EARLIEST.year}-{_LATEST.year})")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    u = moment.astimezone(UTC)
    if not _utc_quarter(u):
        raise Invalid(field, "must be a whole quarter hour (reports add up 15-minute intervals)")
    return u


def period_of(tz: str, granularity: str, start: str | None, end: str | None, where: str = "query.",
              now: datetime | None = None) -> tuple[datetime, datetime]:
    """[from, to) as UTC instants. Defaults: to = the end of the shop's local today, from = the start of
    the local month holding the last instant before to (month to date)."""
    zone = ZoneInfo(tz)
    hi = parse_moment(end, f"{where}to", tz) if end else \
        local_day_start((now or datetime.now(UTC)).astimezone(zone).date() + timedelta(days=1), tz)
    if start:
        lo = parse_moment(start, f"{where}from", tz)
    else:
        lo = local_day_start((hi - INTERVAL).astimezone(zone).date().replace(day=1), tz)
    if hi <= lo:
        raise Invalid(f"{where}to", "must be after from")
    if hi - lo > MAX_SPAN[granularity]:
        raise Invalid(f"{where}to", f"the range may span at most {MAX_SPAN[granularity].days} days "
                      f"with granularity {granularity}")
    return lo, hi


# --- the aggregate query --------------------------------------------------------------------------

_INT_SUMS = ("offered", "answered", "presale_offered", "presale_converted", "converted", "rounds",
             "rounds_within_180", "handled", "csat_count", "csat_good", "csat_bad")
_FLOAT_SUMS = ("frt_sum_s", "response_capped_sum_s", "handle_sum_s")
_BUCKET_SQL = {
    "interval": "r.interval_start",
    # The UTC instant of the local hour's start: keeps the two repeated hours of a DST fall-back apart.
    "hour": "r.interval_start - make_interval(mins => extract(minute FROM r.local)::int)",
    "day": "date_trunc('day', r.local)",
    "week": "date_trunc('week', r.local)",
    "month": "date_trunc('month', r.local)",
}
# FRT histograms travel as the bytes of PostgreSQL's binary array format: after the 20-byte header of a
# one-dimensional array, one (int4 length, value) record per element, big-endian. Concatenating those
# bytes per bucket is a memcpy in PostgreSQL, where unnesting and summing per (bucket, bin) costs a
# hash lookup per element (about 3x slower for a busy shop-month); numpy then merges the bins.
_ARRAY_HEADER = 20
_BIN_RECORD = np.dtype([("n", ">i4"), ("v", ">i2")])  # frt_bins: smallint[]
_COUNT_RECORD = np.dtype([("n", ">i4"), ("v", ">i4")])  # frt_counts: integer[]
_NO_BINS = np.zeros(0, np.int64)


def _window_sql(k: int, window: tuple[time, time]) -> str:
    start, end = window
    if start == end:
        return "true"
    joint = "AND" if start < end else "OR"
    return f"(r.local::time >= :ws{k} {joint} r.local::time < :we{k})"


_SPANS = """unnest(CAST(:tenant_ids AS uuid[]), CAST(:shop_ids AS uuid[]), CAST(:tzs AS text[]),
              CAST(:los AS timestamptz[]), CAST(:his AS timestamptz[])) AS q(tenant_id, shop_id, tz, lo, hi)"""
_HISTOGRAMS = ("frt_bins", "frt_counts")
# The spans with FIXED, the zone's UTC offset when it is the same all over the span (NULL otherwise):
# rows are then shifted by it (AT TIME ZONE an interval is arithmetic) instead of converted with the zone
# (a lookup per row, some 15 % of the query), which gives the same local times. The offset is sampled,
# with PostgreSQL's own zone data, at the start, every 24 hours and the last quarter hour: in the tz
# database no two offset changes since 2000 are less than 7 days apart. OFFSET 0: once per span.
_SPANS_WITH_OFFSET = f"""(
  SELECT u.*, (
    SELECT CASE WHEN min(x.o) = max(x.o) THEN min(x.o) END
    FROM (SELECT (t AT TIME ZONE u.tz) - (t AT TIME ZONE 'UTC') AS o
          FROM generate_series(u.lo, u.hi - interval '15 minutes', interval '24 hours') AS g(t)
          UNION ALL
          SELECT ((u.hi - interval '15 minutes') AT TIME ZONE u.tz)
                 - ((u.hi - interval '15 minutes') AT TIME ZONE 'UTC')) x) AS fixed
  FROM {_SPANS.replace(" AS q(", " AS u(")}
  OFFSET 0) q"""
_LOCAL_SQL = ("CASE WHEN q.fixed IS NULL THEN s.interval_start AT TIME ZONE q.tz "
              "ELSE s.interval_start AT TIME ZONE q.fixed END")


def _concatenated(alias: str, where: str = "") -> list[str]:
    having = f" FILTER (WHERE {where})" if where else ""
    return [f"string_agg(substring(array_send({alias}.{c}) FROM {_ARRAY_HEADER + 1}), ''::bytea){having} AS {c}"
            for c in _HISTOGRAMS]


def _aggregate_sql(granularity: str, windows: Sequence[tuple[time, time]], day_histograms: bool = False) -> str:
    """The aggregate of the spans per shop and bucket. DAY_HISTOGRAMS (day, week or month buckets of spans
    that start and end at local day starts): the histograms come from shop_day_frt, one row a day, and
    only the counters from the interval rows."""
    sums = [f"sum(r.{c})::bigint AS {c}" for c in _INT_SUMS] + \
        [f"sum(r.{c}) AS {c}" for c in ("gmv", *_FLOAT_SUMS)]
    for k, w in enumerate(windows):
        pred = _window_sql(k, w)
        sums.append(f"COALESCE(sum(r.rounds) FILTER (WHERE {pred}), 0)::bigint AS rounds_w{k}")
        sums.append(f"COALESCE(sum(r.rounds_within_180) FILTER (WHERE {pred}), 0)::bigint AS within_w{k}")
    read = (*_INT_SUMS, "gmv", *_FLOAT_SUMS)
    if not day_histograms:
        sums += _concatenated("r", "r.answered > 0")
        read += _HISTOGRAMS
    columns = ", ".join(f"s.{c}" for c in read)
    # OFFSET 0 keeps the subquery: each row's local time is computed once, not once per use.
    counters = f"""
SELECT r.shop_id, {_BUCKET_SQL[granularity]} AS b, min(r.interval_start) AS first_start, {", ".join(sums)}
FROM (
  SELECT s.shop_id, s.interval_start, {_LOCAL_SQL} AS local, {columns}
  FROM {_SPANS_WITH_OFFSET}
  JOIN shop_interval_stats s ON s.tenant_id = q.tenant_id AND s.shop_id = q.shop_id
   AND s.interval_start >= q.lo AND s.interval_start < q.hi
  OFFSET 0
) r
GROUP BY r.shop_id, b
"""
    if not day_histograms:
        return counters
    # A bucket's key is its local start (timestamp): the day's, or its week's or month's.
    return f"""
WITH c AS ({counters}), h AS (
  SELECT d.shop_id, date_trunc('{granularity}', d.day::timestamp) AS b, {", ".join(_concatenated("d"))}
  FROM {_SPANS}
  JOIN shop_day_frt d ON d.tenant_id = q.tenant_id AND d.shop_id = q.shop_id
   AND d.day >= (q.lo AT TIME ZONE q.tz)::date AND d.day < (q.hi AT TIME ZONE q.tz)::date
  GROUP BY 1, 2
)
SELECT c.*, h.frt_bins, h.frt_counts FROM c LEFT JOIN h ON h.shop_id = c.shop_id AND h.b = c.b
"""


def _histograms(rows: Sequence[tuple[bytes | None, bytes | None]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The merged histogram (bins, counts) of each bucket from its concatenated array records, all the
    buckets at once: one decode, one check, one merge of the (bucket, bin) keys."""
    bins = [b or b"" for b, _ in rows]
    counts = [c or b"" for _, c in rows]
    sizes = [len(x) // _BIN_RECORD.itemsize for x in bins]
    for x, y, k in zip(bins, counts, sizes, strict=True):
        if len(x) % _BIN_RECORD.itemsize or len(y) != k * _COUNT_RECORD.itemsize:
            raise ValueError("a rollup holds a malformed FRT histogram")
    b = np.frombuffer(b"".join(bins), _BIN_RECORD)
    c = np.frombuffer(b"".join(counts), _COUNT_RECORD)
    if np.any(b["n"] != 2) or np.any(c["n"] != 4) or np.any(b["v"] < 0):
        raise ValueError("a rollup holds a malformed FRT histogram")
    if not b.size:
        return [(_NO_BINS, _NO_BINS)] * len(rows)
    width = int(b["v"].max()) + 1
    keys = np.repeat(np.arange(len(rows), dtype=np.int64) * width, sizes) + b["v"]
    values = c["v"].astype(np.int64)
    if np.any(keys[1:] <= keys[:-1]):  # several records a bucket (not a day of one day histogram): merge
        keys, at = np.unique(keys, return_inverse=True)
        values = np.bincount(at, weights=values, minlength=keys.size)
        values = np.rint(values).astype(np.int64)
    nz = values != 0
    keys, values = keys[nz], values[nz]
    ends = np.searchsorted(keys, np.arange(1, len(rows) + 1, dtype=np.int64) * width).tolist()
    bins_of = keys % width
    out, lo = [], 0
    for hi in ends:
        out.append((bins_of[lo:hi], values[lo:hi]))
        lo = hi
    return out


@dataclass(frozen=True)
class _Span:
    shop: ShopRef
    lo: datetime
    hi: datetime


_DAY_BUCKETS = ("day", "week", "month")


def _whole_days(span: _Span) -> bool:
    """Whether the span starts and ends where local days start (then its days' histograms cover it)."""
    zone = ZoneInfo(span.shop.timezone)
    return all(t == local_day_start(t.astimezone(zone).date(), zone) for t in (span.lo, span.hi))


@dataclass
class _Merged:
    """One bucket's merged counters (metrics.COUNTERS) and histogram, and its rounds per window column."""

    shop_id: uuid.UUID
    first_start: datetime
    counters: dict[str, int | float | Decimal]
    bins: np.ndarray
    counts: np.ndarray
    rounds: list[int]
    within: list[int]

    @classmethod
    def combine(cls, parts: Sequence[_Merged], n_windows: int) -> _Merged:
        """The sum of several buckets (a report's total, a month from its days); none: all zero."""
        if not parts:
            return cls(uuid.UUID(int=0), datetime.min, {**dict.fromkeys(_INT_SUMS, 0), "gmv": Decimal("0.00"),
                                                        **dict.fromkeys(_FLOAT_SUMS, 0.0)},
                       _NO_BINS, _NO_BINS, [0] * n_windows, [0] * n_windows)
        counters: dict[str, int | float | Decimal] = {c: sum(p.counters[c] for p in parts) for c in _INT_SUMS}
        counters["gmv"] = sum((p.counters["gmv"] for p in parts), Decimal("0.00"))
        counters.update({c: math.fsum(p.counters[c] for p in parts) for c in _FLOAT_SUMS})
        bins = np.concatenate([p.bins for p in parts])
        merged = np.bincount(bins, weights=np.concatenate([p.counts for p in parts])) if bins.size else bins
        nz = np.flatnonzero(merged)
        return cls(parts[0].shop_id, min(p.first_start for p in parts), counters, nz,
                   np.rint(merged[nz]).astype(np.int64),
                   [sum(col) for col in zip(*(p.rounds for p in parts), strict=True)],
                   [sum(col) for col in zip(*(p.within for p in parts), strict=True)])


async def _aggregate(session: AsyncSession, spans: Sequence[_Span], granularity: str,
                     windows: Sequence[tuple[time, time]]) -> list[_Merged]:
    """Every non-empty bucket of the spans, one query: counters summed in SQL, rounds summed once per
    window (the predicate on each row's local time), histograms concatenated for numpy."""
    if not spans:
        return []
    day_histograms = granularity in _DAY_BUCKETS and all(_whole_days(s) for s in spans)
    params: dict = {
        "tenant_ids": [s.shop.tenant_id for s in spans], "shop_ids": [s.shop.id for s in spans],
        "tzs": [s.shop.timezone for s in spans], "los": [s.lo for s in spans], "his": [s.hi for s in spans]}
    for k, (start, end) in enumerate(windows):
        params[f"ws{k}"], params[f"we{k}"] = start, end
    result = await session.execute(_aggregate_text(granularity, tuple(windows), day_histograms), params)
    at = {name: i for i, name in enumerate(result.keys())}
    rows = result.all()
    n = len(windows)
    ints, floats = [(c, at[c]) for c in _INT_SUMS], [(c, at[c]) for c in _FLOAT_SUMS]
    i_shop, i_first, i_gmv = at["shop_id"], at["first_start"], at["gmv"]
    i_rounds, i_within = [at[f"rounds_w{k}"] for k in range(n)], [at[f"within_w{k}"] for k in range(n)]
    hists = _histograms([(row[at["frt_bins"]], row[at["frt_counts"]]) for row in rows])
    out = []
    for row, (bins, counts) in zip(rows, hists, strict=True):
        counters = {c: row[i] for c, i in ints}
        counters["gmv"] = row[i_gmv]
        counters.update({c: float(row[i]) for c, i in floats})
        out.append(_Merged(row[i_shop], row[i_first], counters, bins, counts, [row[i] for i in i_rounds],
                           [row[i] for i in i_within]))
    return out


@lru_cache(maxsize=256)
def _aggregate_text(granularity: str, windows: tuple[tuple[time, time], ...], day_histograms: bool) -> TextClause:
    """The aggregate statement, built and parsed for its parameters once per shape."""
    return text(_aggregate_sql(granularity, windows, day_histograms))


@dataclass(frozen=True)
class BucketResult:
    start: datetime | None  # shop-local bucket start; None for a total
    terms: Terms
    metrics: SlaMetrics
    verdicts: list[MetricVerdict]


def _judged(items: Sequence[tuple[datetime | None, _Merged, Terms]],
            slot: dict[tuple[time, time], int]) -> list[BucketResult]:
    """Metrics of merged buckets, each under its terms: T for the service level, the window's rounds for
    the 3-minute rate (the one formula, in metrics.py, all the buckets at once), then the verdicts."""
    metrics = metrics_of_merged_sets(
        [m.counters for _, m, _ in items], FrtHistograms.of([(m.bins, m.counts) for _, m, _ in items]),
        [t.targets.answer_target_s for _, _, t in items],
        [(m.rounds[slot[t.window]], m.within[slot[t.window]]) for _, m, t in items])
    return [BucketResult(start, t, mm, judge(mm, t.targets)) for (start, _, t), mm in zip(items, metrics, strict=True)]


def _windows_of(terms: Sequence[Terms]) -> list[tuple[time, time]]:
    return list(dict.fromkeys(t.window for t in terms))


# --- reports --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    shop: ShopRef
    granularity: str
    start: datetime  # shop-local
    end: datetime
    buckets: list[BucketResult]
    total: BucketResult


async def shop_report(session: AsyncSession, principal: Principal, shop_id: uuid.UUID, start: str | None,
                      end: str | None, granularity: str = "day") -> Report:
    """GET /v1/shops/{id}/sla: the shop's metrics per local bucket of [start, end), and in total.
    Another tenant's shop is not found (checked before the parameters)."""
    shop, book = await _shop_and_book(session, principal, shop_id)
    lo, hi = period_of(shop.timezone, granularity, start, end)
    return (await reports(session, [(shop, lo, hi)], granularity, book))[0]


async def _shop_and_book(session: AsyncSession, principal: Principal,
                         shop_id: uuid.UUID) -> tuple[ShopRef, PolicyBook]:
    """A shop the caller may see and its policy versions, in one statement (404 when not visible)."""
    params = {"shop_id": shop_id} if principal.is_staff else {"shop_id": shop_id, "tenant_id": principal.tenant_id}
    rows = (await session.execute(_shop_and_policies(principal.is_staff), params)).all()
    if not rows:
        raise NotFound("shop not found")
    shop = ShopRef.of(rows[0][0])
    return shop, PolicyBook([shop], [policy for _, policy in rows if policy is not None])


@lru_cache(maxsize=2)
def _shop_and_policies(staff: bool) -> Select:
    """A visible shop (parameters: shop_id, and tenant_id for a client) with its policy versions. Built once:
    building the statement cost as much as running it."""
    return shops_visible_to(staff, bindparam("tenant_id")).where(Shop.id == bindparam("shop_id")).add_columns(
        SlaPolicy).outerjoin(SlaPolicy, (SlaPolicy.tenant_id == Shop.tenant_id) & (SlaPolicy.shop_id == Shop.id))


async def reports(session: AsyncSession, ranges: Sequence[tuple[ShopRef, datetime, datetime]],
                  granularity: str, book: PolicyBook | None = None) -> list[Report]:
    """Reports of several shops, each over its [lo, hi) (UTC instants, whole quarter hours, e.g. from
    period_of), in one query: GraphQL batches Shop.sla through this."""
    granularity = Granularity(granularity).value
    if book is None:
        book = await load_book(session, [s for s, _, _ in ranges])
    terms: list[Terms] = []
    for s, lo, hi in ranges:
        zone = ZoneInfo(s.timezone)
        first_day = bucket_start(lo, granularity, zone).date()  # a week or month may start before lo
        terms += book.between(s.id, first_day, (hi - INTERVAL).astimezone(zone).date())
    windows = _windows_of(terms)
    slot = {w: k for k, w in enumerate(windows)}
    merged = await _aggregate(session, [_Span(s, lo, hi) for s, lo, hi in ranges], granularity, windows)
    by_shop: dict[uuid.UUID, list[_Merged]] = defaultdict(list)
    for m in merged:
        by_shop[m.shop_id].append(m)
    out = []
    for s, lo, hi in ranges:
        zone = ZoneInfo(s.timezone)
        items: list[tuple[datetime | None, _Merged, Terms]] = []
        for m in by_shop[s.id]:
            start = bucket_start(m.first_start, granularity, zone)
            items.append((start, m, book.on(s.id, start.date())))
        items.append((None, _Merged.combine(by_shop[s.id], len(windows)), book.on(s.id, lo.astimezone(zone).date())))
        *buckets, total = _judged(items, slot)
        buckets.sort(key=lambda b: b.start.astimezone(UTC))
        out.append(Report(s, granularity, lo.astimezone(zone), hi.astimezone(zone), buckets, total))
    return out


# --- breaches -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    shop: ShopRef
    period: str  # day | month
    period_start: date
    metric: str
    target: float
    actual: float
    policy_effective_from: date | None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (str(self.shop.id), self.period_start.isoformat(), self.period, self.metric)


@dataclass(frozen=True)
class BreachFilter:
    start: date | None = None
    end: date | None = None
    tenant: str | None = None
    shop: uuid.UUID | None = None
    metric: str | None = None
    period: str | None = None


MAX_BREACH_DAYS = 400
_BATCH = 50


def breach_range(start: date | None, end: date | None, where: str = "query.") -> tuple[date, date]:
    """[from, to) in local dates. Default: the month to date (UTC today)."""
    today = datetime.now(UTC).date()
    end = end or today + timedelta(days=1)
    start = start or (end - timedelta(days=1)).replace(day=1)
    for name, d in (("from", start), ("to", end)):
        if not _EARLIEST <= d <= _LATEST:
            raise Invalid(f"{where}{name}", f"out of range ({_EARLIEST.year}-{_LATEST.year})")
    if end <= start:
        raise Invalid(f"{where}to", "must be after from")
    if (end - start).days > MAX_BREACH_DAYS:
        raise Invalid(f"{where}to", f"the range may span at most {MAX_BREACH_DAYS} days")
    return start, end


def _month_after(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


async def shop_breaches(session: AsyncSession, shops: Sequence[ShopRef], start: date, end: date,
                        metric: str | None = None, period: str | None = None) -> list[list[Breach]]:
    """Breaches of each shop: every local day in [start, end), judged by that day's policy, and every
    month whose first day lies in [start, end), judged over the whole month by the policy in force on
    its first day. One query for all the shops (days; months are merged from the days)."""
    book = await load_book(session, shops)
    first_month = start if start.day == 1 else _month_after(start)
    months_end = _month_after(end - timedelta(days=1))  # the end of the last month starting before end
    with_months = period != "day" and first_month < end
    with_days = period != "month"
    lo_day = min(start if with_days else first_month, first_month if with_months else start)
    hi_day = max(end if with_days else months_end, months_end if with_months else end)
    spans, terms = [], []
    for s in shops:
        relevant = book.between(s.id, lo_day, hi_day - timedelta(days=1))
        if not any(t.has_targets for t in relevant):
            continue  # nothing can be breached
        terms += relevant
        spans.append(_Span(s, local_day_start(lo_day, s.timezone), local_day_start(hi_day, s.timezone)))
    windows = _windows_of(terms)
    slot = {w: k for k, w in enumerate(windows)}
    zones = {sp.shop.id: ZoneInfo(sp.shop.timezone) for sp in spans}
    days: dict[uuid.UUID, list[tuple[date, _Merged]]] = defaultdict(list)
    for m in await _aggregate(session, spans, "day", windows):
        days[m.shop_id].append((m.first_start.astimezone(zones[m.shop_id]).date(), m))

    periods: list[tuple[int, str, date]] = []  # (shop, kind, first day) of each judged period
    items: list[tuple[datetime | None, _Merged, Terms]] = []
    for i, s in enumerate(shops):
        per_month: dict[date, list[_Merged]] = defaultdict(list)
        for day, m in sorted(days.get(s.id, []), key=lambda x: x[0]):
            if with_days and start <= day < end:
                periods.append((i, "day", day))
                items.append((None, m, book.on(s.id, day)))
            if with_months and first_month <= day < months_end:
                per_month[day.replace(day=1)].append(m)
        for month, members in sorted(per_month.items()):
            periods.append((i, "month", month))
            items.append((None, _Merged.combine(members, len(windows)), book.on(s.id, month)))
    out: list[list[Breach]] = [[] for _ in shops]
    for (i, kind, first), result in zip(periods, _judged(items, slot), strict=True):
        out[i] += [Breach(shops[i], kind, first, v.metric, v.target, v.actual, result.terms.effective_from)
                   for v in result.verdicts if not v.met and (metric is None or v.metric == metric)]
    for found in out:
        found.sort(key=lambda b: b.key)
    return out


def _breach_cursor(key: tuple[str, ...]) -> str:
    return base64.urlsafe_b64encode("|".join(key).encode()).decode().rstrip("=")


def _breach_after(cursor: str) -> tuple[str, str, str, str]:
    try:
        parts = tuple(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|"))
        uuid.UUID(parts[0])
        date.fromisoformat(parts[1])
        if len(parts) != 4:
            raise ValueError(cursor)
        return parts  # type: ignore[return-value]
    except (ValueError, UnicodeDecodeError, IndexError):
        raise Invalid("query.cursor", "not a cursor returned by this API") from None


async def list_breaches(session: AsyncSession, principal: Principal, filters: BreachFilter,
                        page: PageRequest | None = None, cursor: str | None = None,
                        where: str = "query.") -> tuple[list[Breach], str | None]:
    """Breaches of the shops the caller may see (a client: its own; naming another tenant or shop
    gives an empty list), ordered by shop, period start, period kind and metric."""
    limit = page.limit if page else 50
    after = _breach_after(cursor) if cursor else None
    start, end = breach_range(filters.start, filters.end, where)
    stmt = visible_shops(principal)
    if filters.tenant:
        tenant = await find_tenant(session, filters.tenant)
        if tenant is None:
            return [], None
        stmt = stmt.where(Shop.tenant_id == tenant.id)
    if filters.shop:
        stmt = stmt.where(Shop.id == filters.shop)
    if after:
        stmt = stmt.where(Shop.id >= uuid.UUID(after[0]))
    found: list[Breach] = []
    last: uuid.UUID | None = None
    while len(found) <= limit:
        batch_stmt = stmt.where(Shop.id > last) if last else stmt
        shops = [ShopRef.of(s) for s in (await session.execute(batch_stmt.order_by(Shop.id).limit(_BATCH))).scalars()]
        if not shops:
            break
        for items in await shop_breaches(session, shops, start, end, filters.metric, filters.period):
            found += [b for b in items if after is None or b.key > after]
        last = shops[-1].id
        if len(shops) < _BATCH:
            break
    if len(found) > limit:
        return found[:limit], _breach_cursor(found[limit - 1].key)
    return found, None


# --- tenant summary -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopAttainment:
    shop: ShopRef
    period_start: date
    period_end: date
    result: BucketResult


@dataclass(frozen=True)
class TenantSummary:
    tenant: Tenant
    as_of: date | None
    shops: list[ShopAttainment]


async def tenant_summary(session: AsyncSession, principal: Principal, tenant_key: str,
                         as_of: date | None = None) -> TenantSummary:
    """Each of a brand's shops with its month-to-date attainment: the local month holding AS_OF
    (default: the shop's local today) up to the end of that day, judged by the policy in force on
    the month's first day. A client sees its own brand only (another: not found)."""
    tenant = await get_tenant(session, tenant_key)
    if not principal.is_staff and tenant.id != principal.tenant_id:
        raise NotFound("tenant not found")  # RLS hides it too: never confirm another brand exists
    if as_of is not None and not _EARLIEST <= as_of <= _LATEST:
        raise Invalid("query.as_of", f"out of range ({_EARLIEST.year}-{_LATEST.year})")
    stmt = select(Shop).where(Shop.tenant_id == tenant.id).order_by(Shop.name, Shop.id)
    shops = [ShopRef.of(s) for s in (await session.execute(stmt)).scalars()]
    return TenantSummary(tenant, as_of, await attainments(session, shops, as_of))


async def attainments(session: AsyncSession, shops: Sequence[ShopRef], as_of: date | None = None
                      ) -> list[ShopAttainment]:
    book = await load_book(session, shops)
    spans, days = [], {}
    for s in shops:
        day = as_of or _local_today(s.timezone)
        days[s.id] = (day.replace(day=1), day + timedelta(days=1))
        spans.append(_Span(s, local_day_start(days[s.id][0], s.timezone), local_day_start(days[s.id][1], s.timezone)))
    terms = [book.on(s.id, days[s.id][0]) for s in shops]
    windows = _windows_of(terms)
    slot = {w: k for k, w in enumerate(windows)}
    merged = {m.shop_id: m for m in await _aggregate(session, spans, "month", windows)}
    results = _judged([(None, merged[s.id] if s.id in merged else _Merged.combine([], len(windows)), t)
                       for s, t in zip(shops, terms, strict=True)], slot)
    return [ShopAttainment(s, *days[s.id], r) for s, r in zip(shops, results, strict=True)]
