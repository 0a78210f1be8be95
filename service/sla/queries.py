"""The SLA domain's reads: one aggregate statement per report or breach list, its binary decoding, and the
policy versions of some shops.

One SQL statement per report does the heavy lifting: it groups the rollup rows of the range by shop and
local bucket, sums the counters, sums the rounds of the 3-minute rate once per distinct assessed window in
play (the window of a bucket depends on its policy, so every window is a column and the use case picks the
bucket's), and concatenates each bucket's FRT histogram records, which numpy merges bin by bin (see
_histograms for why not in SQL). Day, week and month buckets of whole local days take their histograms from
the per-day table instead (shop_day_frt: ~30 histograms a shop-month, not ~3,000).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Select, TextClause, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.conversations.rollups import FLOAT_COUNTERS, INT_COUNTERS
from service.kit.errors import NotFound
from service.kit.identity import Principal
from service.kit.pgbinary import ARRAY_HEADER, INT2, INT4, record_type
from service.kit.pgbinary import values as array_values
from service.kit.time import local_day_start
from service.shops.models import Shop
from service.shops.service import shops_visible_to
from service.sla.models import ShopReportVersion, SlaPolicy
from service.sla.policies import PolicyBook, ShopRef


def shop_ref(shop: Any) -> ShopRef:
    """The SLA view of a shop row (or of any object with its fields: a GraphQL Shop)."""
    return ShopRef(shop.tenant_id, shop.id, shop.name, str(getattr(shop.platform, "value", shop.platform)),
                   shop.timezone)


_BUCKET_SQL = {
    "interval": "r.interval_start",
    # The UTC instant of the local hour's start: keeps the two repeated hours of a DST fall-back apart.
    "hour": "r.interval_start - make_interval(mins => extract(minute FROM r.local)::int)",
    "day": "date_trunc('day', r.local)",
    "week": "date_trunc('week', r.local)",
    "month": "date_trunc('month', r.local)",
}
# FRT histograms travel as PostgreSQL binary array records (service.kit.pgbinary), concatenated per bucket:
# a memcpy in PostgreSQL, where unnesting and summing per (bucket, bin) costs a hash lookup per element
# (about 3x slower for a busy shop-month); numpy then merges the bins.
_NO_BINS = np.zeros(0, np.int64)
_BIN_BYTES = record_type(INT2).itemsize  # frt_bins: smallint[]
_COUNT_BYTES = record_type(INT4).itemsize  # frt_counts: integer[]


def _window_sql(k: int, window: tuple[time, time]) -> str:
    start, end = window
    if start == end:
        return "true"
    joint = "AND" if start < end else "OR"
    return f"(r.local::time >= :ws{k} {joint} r.local::time < :we{k})"


_SPANS = """unnest(CAST(:tenant_ids AS uuid[]), CAST(:shop_ids AS uuid[]), CAST(:tzs AS text[]),
              CAST(:los AS timestamptz[]), CAST(:his AS timestamptz[]))
           AS q(tenant_id, shop_id, tz, lo, hi)"""
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
    return [f"string_agg(substring(array_send({alias}.{c}) FROM {ARRAY_HEADER + 1}), "
            f"''::bytea){having} AS {c}"
            for c in _HISTOGRAMS]


def _aggregate_sql(granularity: str, windows: Sequence[tuple[time, time]],
                   day_histograms: bool = False) -> str:
    """The aggregate of the spans per shop and bucket. DAY_HISTOGRAMS (day, week or month buckets of spans
    that start and end at local day starts): the histograms come from shop_day_frt, one row a day, and
    only the counters from the interval rows."""
    sums = [f"sum(r.{c})::bigint AS {c}" for c in INT_COUNTERS] + \
        [f"sum(r.{c}) AS {c}" for c in ("gmv", *FLOAT_COUNTERS)]
    for k, w in enumerate(windows):
        pred = _window_sql(k, w)
        sums.append(f"COALESCE(sum(r.rounds) FILTER (WHERE {pred}), 0)::bigint AS rounds_w{k}")
        sums.append(f"COALESCE(sum(r.rounds_within_180) FILTER (WHERE {pred}), 0)::bigint AS within_w{k}")
    read = (*INT_COUNTERS, "gmv", *FLOAT_COUNTERS)
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
    sizes = [len(x) // _BIN_BYTES for x in bins]
    if any(len(y) != k * _COUNT_BYTES for y, k in zip(counts, sizes, strict=True)):
        raise ValueError("a rollup holds a malformed FRT histogram")
    try:
        b = array_values(b"".join(bins), INT2, header=False)
        values = array_values(b"".join(counts), INT4, header=False)
    except ValueError:
        raise ValueError("a rollup holds a malformed FRT histogram") from None
    if np.any(b < 0):
        raise ValueError("a rollup holds a malformed FRT histogram")
    if not b.size:
        return [(_NO_BINS, _NO_BINS)] * len(rows)
    width = int(b.max()) + 1
    keys = np.repeat(np.arange(len(rows), dtype=np.int64) * width, sizes) + b
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
class Span:
    shop: ShopRef
    lo: datetime
    hi: datetime


_DAY_BUCKETS = ("day", "week", "month")


def _whole_days(span: Span) -> bool:
    """Whether the span starts and ends where local days start (then its days' histograms cover it)."""
    zone = ZoneInfo(span.shop.timezone)
    return all(t == local_day_start(t.astimezone(zone).date(), zone) for t in (span.lo, span.hi))


@dataclass
class Merged:
    """One bucket's merged counters (metrics.COUNTERS) and histogram, and its rounds per window column."""

    shop_id: uuid.UUID
    first_start: datetime
    counters: dict[str, int | float | Decimal]
    bins: np.ndarray
    counts: np.ndarray
    rounds: list[int]
    within: list[int]

    @classmethod
    def combine(cls, parts: Sequence[Merged], n_windows: int) -> Merged:
        """The sum of several buckets (a report's total, a month from its days); none: all zero."""
        if not parts:
            zero = {**dict.fromkeys(INT_COUNTERS, 0), "gmv": Decimal("0.00"),
                    **dict.fromkeys(FLOAT_COUNTERS, 0.0)}
            return cls(uuid.UUID(int=0), datetime.min, zero, _NO_BINS, _NO_BINS, [0] * n_windows,
                       [0] * n_windows)
        counters: dict[str, int | float | Decimal] = {c: sum(p.counters[c] for p in parts)
                                                      for c in INT_COUNTERS}
        counters["gmv"] = sum((p.counters["gmv"] for p in parts), Decimal("0.00"))
        counters.update({c: math.fsum(p.counters[c] for p in parts) for c in FLOAT_COUNTERS})
        bins = np.concatenate([p.bins for p in parts])
        merged = np.bincount(bins, weights=np.concatenate([p.counts for p in parts])) if bins.size else bins
        nz = np.flatnonzero(merged)
        return cls(parts[0].shop_id, min(p.first_start for p in parts), counters, nz,
                   np.rint(merged[nz]).astype(np.int64),
                   [sum(col) for col in zip(*(p.rounds for p in parts), strict=True)],
                   [sum(col) for col in zip(*(p.within for p in parts), strict=True)])


async def aggregate(session: AsyncSession, spans: Sequence[Span], granularity: str,
                     windows: Sequence[tuple[time, time]]) -> list[Merged]:
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
    ints, floats = [(c, at[c]) for c in INT_COUNTERS], [(c, at[c]) for c in FLOAT_COUNTERS]
    i_shop, i_first, i_gmv = at["shop_id"], at["first_start"], at["gmv"]
    i_rounds, i_within = [at[f"rounds_w{k}"] for k in range(n)], [at[f"within_w{k}"] for k in range(n)]
    hists = _histograms([(row[at["frt_bins"]], row[at["frt_counts"]]) for row in rows])
    out = []
    for row, (bins, counts) in zip(rows, hists, strict=True):
        counters = {c: row[i] for c, i in ints}
        counters["gmv"] = row[i_gmv]
        counters.update({c: float(row[i]) for c, i in floats})
        out.append(Merged(row[i_shop], row[i_first], counters, bins, counts, [row[i] for i in i_rounds],
                           [row[i] for i in i_within]))
    return out


@lru_cache(maxsize=256)
def _aggregate_text(granularity: str, windows: tuple[tuple[time, time], ...],
                    day_histograms: bool) -> TextClause:
    """The aggregate statement, built and parsed for its parameters once per shape."""
    return text(_aggregate_sql(granularity, windows, day_histograms))


async def load_book(session: AsyncSession, shops: Sequence[ShopRef]) -> PolicyBook:
    if not shops:
        return PolicyBook([], [])
    stmt = select(SlaPolicy).where(SlaPolicy.tenant_id.in_({s.tenant_id for s in shops}),
                                   SlaPolicy.shop_id.in_({s.id for s in shops}))
    return PolicyBook(shops, list((await session.execute(stmt)).scalars().all()))


async def shop_and_book(session: AsyncSession, principal: Principal,
                        shop_id: uuid.UUID) -> tuple[ShopRef, PolicyBook, uuid.UUID | None]:
    """A shop the caller may see, its policy versions and its report version, in one statement (404 when not
    visible)."""
    params = ({"shop_id": shop_id} if principal.is_staff
              else {"shop_id": shop_id, "tenant_id": principal.tenant_id})
    rows = (await session.execute(_shop_and_policies(principal.is_staff), params)).all()
    if not rows:
        raise NotFound("shop not found")
    shop = shop_ref(rows[0][0])
    return shop, PolicyBook([shop], [policy for _, policy, _ in rows if policy is not None]), rows[0][2]


def with_report_version(stmt: Select) -> Select:
    """STMT (selecting Shop) with each shop's report version (NULL before anything was written for it)."""
    return stmt.outerjoin(ShopReportVersion, (ShopReportVersion.tenant_id == Shop.tenant_id)
                          & (ShopReportVersion.shop_id == Shop.id)).add_columns(ShopReportVersion.version)


@lru_cache(maxsize=2)
def _shop_and_policies(staff: bool) -> Select:
    """A visible shop (parameters: shop_id, and tenant_id for a client) with its policy versions and its
    report version. Built once: building the statement cost as much as running it."""
    stmt = shops_visible_to(staff, bindparam("tenant_id")).where(Shop.id == bindparam("shop_id")).add_columns(
        SlaPolicy).outerjoin(SlaPolicy,
                             (SlaPolicy.tenant_id == Shop.tenant_id) & (SlaPolicy.shop_id == Shop.id))
    return with_report_version(stmt)


_VERSIONS = text("SELECT shop_id, version FROM shop_report_versions WHERE tenant_id = ANY(CAST(:tenant_ids "
                 "AS uuid[])) AND shop_id = ANY(CAST(:shop_ids AS uuid[]))")


async def report_versions(session: AsyncSession, shops: Sequence[ShopRef]) -> dict[uuid.UUID, uuid.UUID]:
    """The report version of each of SHOPS that has one (service.kit.cache), in one statement."""
    if not shops:
        return {}
    rows = await session.execute(_VERSIONS, {"tenant_ids": list({s.tenant_id for s in shops}),
                                             "shop_ids": [s.id for s in shops]})
    return {shop_id: version for shop_id, version in rows}


SHOP_BATCH = 50  # shops a breach list judges at a time


@lru_cache(maxsize=64)
def shop_batch(staff: bool, by_brand: bool, by_shop: bool, from_first: bool, after_last: bool) -> Select:
    """The next SHOP_BATCH shops of a breach list, in id order, with their report versions; built once per
    shape (building it cost a sixth of a kept list's request). Parameters: tenant_id (a client's), brand,
    shop, first (the cursor's shop: from it on), last (the previous batch's last shop: after it)."""
    stmt = shops_visible_to(staff, bindparam("tenant_id"))
    if by_brand:
        stmt = stmt.where(Shop.tenant_id == bindparam("brand"))
    if by_shop:
        stmt = stmt.where(Shop.id == bindparam("shop"))
    if from_first:
        stmt = stmt.where(Shop.id >= bindparam("first"))
    if after_last:
        stmt = stmt.where(Shop.id > bindparam("last"))
    return with_report_version(stmt.order_by(Shop.id).limit(SHOP_BATCH))
