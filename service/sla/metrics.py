"""SLA maths for one shop: interval rollups, metrics, local-time buckets, targets. No I/O.

Conversations are rolled up per shop per 15-minute interval, the UTC interval containing
``started_at``. A rollup row (:class:`IntervalRollup`) holds only additive counters, so the metrics
of any set of intervals (an hour, day, week or month in the shop's timezone) are computed exactly by
summing rows (:func:`merge`) and dividing at the end (:func:`metrics_from_rollups`).
:func:`reference_metrics` is the straightforward computation over raw records that the rollup path
must reproduce; the tests hold the two together.

Conventions (GLOSSARY.md has the definitions):

* **Rounds.** A record's rounds are its ``response_times_s`` when given; when absent, an answered
  conversation is one round whose response time is its FRT. An unanswered conversation without
  ``response_times_s`` is one round that was *not* answered within 180 s and adds the full 600 s cap
  to the average response time: the platform convention is that an unanswered round is a miss.
  A round "within 180 s" means response time <= 180 s.
* **Assessed hours.** The 3-minute response rate counts only conversations started inside the
  policy's assessed window of local wall-clock time, ``[start, end)``; ``end < start`` crosses
  midnight, ``start == end`` is the whole day, ``None`` means no window. Window bounds must be whole
  quarter hours, and every UTC offset of the supported zones is a multiple of 15 minutes, so a
  15-minute interval lies entirely inside or outside a window and the filter applies per rollup row
  exactly (:func:`in_assessed_window`). The average response time is not restricted to the window.
* **FRT histogram.** Bin 0 holds FRT == 0; bin k = 1..600 holds FRT in (k-1, k]; above 600 s the
  bins are geometric with ratio 1.02: bin 600 + ceil(ln(frt/600)/ln(1.02)), which holds
  (600*1.02**(j-1), 600*1.02**j] for j = k - 600. Hence the service level SL(T) is exact for every
  integer T <= 600 and FRT percentiles are within max(1 s, 2 %) of numpy's 'linear' percentile.
* **Money.** Amounts are Decimal with 2 places; AOV is rounded half away from zero to 0.01.

SQL parity for the PostgreSQL path:

* interval: :data:`INTERVAL_START_SQL` (``date_bin``, PostgreSQL >= 14);
* FRT in seconds: :data:`FRT_SQL` (the epoch difference is exact numeric, then one rounding to
  double precision, like ``timedelta.total_seconds()``);
* FRT bin: :data:`FRT_BIN_SQL` (on a double precision column or expression named ``frt``; use
  :func:`frt_bin_sql` for another expression);
* local hour buckets: ``interval_start - make_interval(mins => extract(minute from interval_start
  AT TIME ZONE tz)::int)`` gives the UTC instant of the hour start, which keeps the two repeated
  hours of a DST fall-back apart (``date_trunc('hour', local)`` would merge them); it matches
  :func:`bucket_start` in every zone whose clock changes happen on the hour (all but
  Australia/Lord_Howe's half-hour shift). Day, week and month bucket starts are
  ``date_trunc(unit, interval_start AT TIME ZONE tz) AT TIME ZONE tz``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Literal, overload
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np

from service.sla.records import ConversationRecord

__all__ = [
    "COUNTERS",
    "ConversationRecord",
    "DEFAULT_ANSWER_TARGET_S",
    "DEFAULT_TZ",
    "FRT_BIN_SQL",
    "FRT_SQL",
    "FrtHistograms",
    "GRANULARITIES",
    "INTERVAL",
    "INTERVAL_START_SQL",
    "IntervalRollup",
    "MetricVerdict",
    "SlaMetrics",
    "SlaTargets",
    "bin_lower",
    "bin_upper",
    "bucket_start",
    "bucketed_metrics",
    "count_within",
    "frt_bin",
    "frt_bin_sql",
    "in_assessed_window",
    "interval_start_of",
    "judge",
    "local_day_start",
    "merge",
    "metrics_from_merged",
    "metrics_of_merged_sets",
    "metrics_from_rollups",
    "percentile_from_histogram",
    "reference_metrics",
    "rollup_of",
    "rounds_of",
]

INTERVAL = timedelta(minutes=15)
DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_ANSWER_TARGET_S = 30
ROUND_TARGET_S = 180  # the 3-minute response rule
RESPONSE_CAP_S = 600  # response times are capped at 600 s in the average response time
LINEAR_BINS = 600  # bins 1..600 are one second wide
GEOMETRIC_RATIO = 1.02
_LN_RATIO = math.log(GEOMETRIC_RATIO)
PERCENTILE_REL_TOL = 0.02
PERCENTILE_ABS_TOL_S = 1.0
CENT = Decimal("0.01")
ZERO_MONEY = Decimal("0.00")

Granularity = Literal["interval", "hour", "day", "week", "month"]
GRANULARITIES: tuple[str, ...] = ("interval", "hour", "day", "week", "month")
AssessedWindow = tuple[time, time]

INTERVAL_START_SQL = "date_bin('15 minutes', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
FRT_SQL = "EXTRACT(EPOCH FROM (first_response_at - started_at))::double precision"
FRT_BIN_SQL = (
    "(CASE WHEN frt <= 600 THEN ceil(frt)::integer"
    " ELSE 600 + ceil(ln(frt / 600::double precision) / ln(1.02::double precision))::integer END)"
)


def frt_bin_sql(expr: str = "frt") -> str:
    """:data:`FRT_BIN_SQL` on another double precision SQL expression (trusted code, not input)."""
    return FRT_BIN_SQL.replace("frt", f"({expr})")


# --- FRT histogram ---------------------------------------------------------------------------------


@overload
def frt_bin(frt_s: float) -> int: ...
@overload
def frt_bin(frt_s: np.ndarray | Sequence[float]) -> np.ndarray: ...
def frt_bin(frt_s: Any) -> Any:
    """Histogram bin of a first response time in seconds (a scalar gives an int, an array an
    int64 array). Matches :data:`FRT_BIN_SQL` evaluated by PostgreSQL on the same double."""
    if np.ndim(frt_s) == 0:
        f = float(frt_s)
        if not math.isfinite(f) or f < 0:
            raise ValueError(f"first response time must be finite and >= 0, got {frt_s!r}")
        if f <= LINEAR_BINS:
            return math.ceil(f)
        return LINEAR_BINS + math.ceil(math.log(f / LINEAR_BINS) / _LN_RATIO)
    a = np.asarray(frt_s, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError("first response times must be finite and >= 0")
    out = np.ceil(np.minimum(a, float(LINEAR_BINS))).astype(np.int64)
    big = np.flatnonzero(a > LINEAR_BINS)
    if big.size:
        vals = a[big]
        q = np.log(vals / LINEAR_BINS) / _LN_RATIO
        k = np.ceil(q)
        # numpy's log may differ from the C library's log (used by math.log and by PostgreSQL's
        # ln) in the last bit; that can only change the ceiling when q is next to an integer, so
        # those few are recomputed the scalar way.
        for i in np.flatnonzero(np.abs(q - np.rint(q)) < 1e-9):
            k[i] = math.ceil(math.log(float(vals[i]) / LINEAR_BINS) / _LN_RATIO)
        out[big] = LINEAR_BINS + k.astype(np.int64)
    return out


def _check_bins(k: np.ndarray) -> None:
    if np.any(k < 0):
        raise ValueError("histogram bins are >= 0")


@overload
def bin_upper(k: int) -> float: ...
@overload
def bin_upper(k: np.ndarray | Sequence[int]) -> np.ndarray: ...
def bin_upper(k: Any) -> Any:
    """Upper bound (inclusive) of bin k in seconds."""
    arr = np.asarray(k, dtype=np.int64)
    _check_bins(arr)
    geo = LINEAR_BINS * GEOMETRIC_RATIO ** (np.maximum(arr, LINEAR_BINS) - LINEAR_BINS).astype(np.float64)
    out = np.where(arr <= LINEAR_BINS, arr.astype(np.float64), geo)
    return float(out) if np.ndim(k) == 0 else out


@overload
def bin_lower(k: int) -> float: ...
@overload
def bin_lower(k: np.ndarray | Sequence[int]) -> np.ndarray: ...
def bin_lower(k: Any) -> Any:
    """Lower bound (exclusive, except bin 0 which is the single point 0) of bin k in seconds."""
    arr = np.asarray(k, dtype=np.int64)
    _check_bins(arr)
    geo = LINEAR_BINS * GEOMETRIC_RATIO ** (np.maximum(arr, LINEAR_BINS + 1) - LINEAR_BINS - 1).astype(
        np.float64
    )
    out = np.where(arr <= LINEAR_BINS, np.maximum(arr - 1, 0).astype(np.float64), geo)
    return float(out) if np.ndim(k) == 0 else out


def count_within(bins: Sequence[int] | np.ndarray, counts: Sequence[int] | np.ndarray, t_s: float) -> int:
    """Number of FRTs <= t_s, counting the bins whose upper bound is <= t_s.

    Exact for an integer t_s <= 600. Otherwise a lower bound that misses only FRTs in
    (floor(t_s), t_s] below 600 s, or in the part of one geometric bin below t_s (FRTs in at most
    (t_s / 1.02, t_s]) above 600 s: the service level is never overstated.
    """
    b = np.asarray(bins, dtype=np.int64)
    c = np.asarray(counts, dtype=np.int64)
    if b.size == 0:
        return 0
    return int(c[bin_upper(b) <= t_s].sum())


def _bounds(k: int) -> tuple[float, float]:
    """(bin_lower(k), bin_upper(k)) of one bin in plain floats (no numpy overhead per call)."""
    if k <= LINEAR_BINS:
        return float(max(k - 1, 0)), float(k)
    return LINEAR_BINS * GEOMETRIC_RATIO ** float(k - LINEAR_BINS - 1), LINEAR_BINS * GEOMETRIC_RATIO ** float(
        k - LINEAR_BINS)


def _tolerance(x: float) -> float:
    return max(PERCENTILE_ABS_TOL_S, PERCENTILE_REL_TOL * x)


def percentile_from_histogram(
    bins: Sequence[int] | np.ndarray, counts: Sequence[int] | np.ndarray, p: float
) -> float | None:
    """Percentile p (0..100) of the FRTs in a histogram, None when it is empty.

    Follows numpy's 'linear' method: rank h = (n-1)·p/100 between the sorted values x[j] and
    x[j+1]. Each of those order statistics is estimated inside its bin by linear interpolation
    (the m-th of the c values of a bin, from 0, is read at lower + (upper-lower)·(m+1)/c: a lone
    value is read at its bin's upper bound, exact for whole-second FRTs, and otherwise the estimate
    leans high, the conservative side for a response time), then the two are interpolated. Since the true value lies in
    [L, U] (the same interpolation of the bin bounds), the estimate is finally clamped to
    [U - tol(U), L + tol(L)] with tol(x) = max(1 s, 2 % of x): that range is never empty for this
    binning, and any estimate inside it is within tol of every value in [L, U].
    """
    if not 0 <= p <= 100:
        raise ValueError("percentile must be within 0..100")
    b = np.asarray(bins, dtype=np.int64)
    c = np.asarray(counts, dtype=np.int64)
    n = int(c.sum())
    if n == 0:
        return None
    cum = np.cumsum(c)
    j, j1, f = _ranks(n, p)
    at = np.searchsorted(cum, (j, j1), side="right").tolist()  # the bins of order statistics j, j1
    s0, s1 = (_order_stat(int(b[i]), int(c[i]), rank - (int(cum[i]) - int(c[i])))
              for i, rank in zip(at, (j, j1), strict=True))
    return _interpolated(f, s0, s1)


def _ranks(n: int, p: float) -> tuple[int, int, float]:
    """numpy's 'linear' method on N sorted values: the order statistics j, j1 around rank (n-1)·p/100,
    and the fraction f of the way from x[j] to x[j1]."""
    h = (n - 1) * (p / 100.0)
    j = min(int(math.floor(h)), n - 1)
    return j, min(j + 1, n - 1), h - j


def _order_stat(k: int, c: int, m: int) -> tuple[float, float, float]:
    """Estimate of the m-th (from 0) of the c FRTs in bin k, and the bin's bounds (see
    :func:`percentile_from_histogram`)."""
    lo, hi = _bounds(k)
    return lo + (hi - lo) * (m + 1) / c, lo, hi


def _interpolated(f: float, s0: tuple[float, float, float], s1: tuple[float, float, float]) -> float:
    """The percentile between order statistics S0 and S1 (estimate, lower, upper bound each), clamped to
    the range that keeps it within tolerance of every possible true value."""
    x0, lo0, hi0 = s0
    x1, lo1, hi1 = s1 if f > 0 else s0
    estimate = x0 + f * (x1 - x0)
    lower = lo0 + f * (lo1 - lo0)
    upper = hi0 + f * (hi1 - hi0)
    estimate = min(max(estimate, upper - _tolerance(upper)), lower + _tolerance(lower))
    return min(max(estimate, lower), upper)


# --- rounds and intervals --------------------------------------------------------------------------


def rounds_of(record: ConversationRecord) -> tuple[int, int, float]:
    """(rounds, rounds answered within 180 s, sum over rounds of min(response time, 600 s))."""
    if record.response_times_s is not None:
        times: Sequence[float] = record.response_times_s
    elif record.first_response_at is not None:
        times = (record.frt_s,)  # type: ignore[assignment]
    else:
        # Unanswered, no per-round data: one round that the platform counts as a miss (not within
        # 180 s) and that adds the full 600 s cap to the average response time.
        return 1, 0, float(RESPONSE_CAP_S)
    within = sum(1 for t in times if t <= ROUND_TARGET_S)
    return len(times), within, math.fsum(min(t, RESPONSE_CAP_S) for t in times)


def interval_start_of(ts: datetime) -> datetime:
    """Start (UTC) of the 15-minute interval containing an aware timestamp."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    u = ts.astimezone(UTC)
    return u.replace(minute=u.minute - u.minute % 15, second=0, microsecond=0)


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _check_interval_start(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"interval start must be timezone-aware, got {ts!r}")
    u = ts.astimezone(UTC)
    if u.minute % 15 or u.second or u.microsecond:
        raise ValueError(f"interval start must be on a quarter hour, got {ts.isoformat()}")
    return u


def _local(u: datetime, zone: tzinfo) -> datetime:
    """Local time of an interval start; the zone's offset must be whole quarter hours, which makes
    a 15-minute interval lie within one local hour and one local day (true of every zone in use
    today, e.g. +05:45; not of historical local mean times)."""
    local = u.astimezone(zone)
    offset = local.utcoffset()
    if offset is None or offset % INTERVAL:
        raise ValueError(f"UTC offset {offset} of {zone} at {u.isoformat()} is not whole quarter hours")
    return local


# --- rollups ---------------------------------------------------------------------------------------

_INT_COUNTERS = (
    "offered",
    "answered",
    "presale_offered",
    "presale_converted",
    "converted",
    "rounds",
    "rounds_within_180",
    "handled",
    "csat_count",
    "csat_good",
    "csat_bad",
)
_FLOAT_COUNTERS = ("frt_sum_s", "response_capped_sum_s", "handle_sum_s")


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalRollup:
    """Additive counters of one shop's conversations started in one 15-minute interval.

    ``interval_start`` (aware, UTC quarter hour) and ``shop_id`` identify the row; :func:`merge`
    keeps them when all merged rows agree and sets them to None otherwise. The FRT histogram is
    sparse: ``frt_bins`` strictly increasing, ``frt_counts`` > 0 and summing to ``answered``
    (lists from the database are accepted and stored as tuples).
    """

    interval_start: datetime | None = None
    shop_id: UUID | None = None
    offered: int = 0
    answered: int = 0
    presale_offered: int = 0
    presale_converted: int = 0
    converted: int = 0
    gmv: Decimal = ZERO_MONEY
    frt_sum_s: float = 0.0
    frt_bins: tuple[int, ...] = ()
    frt_counts: tuple[int, ...] = ()
    rounds: int = 0
    rounds_within_180: int = 0
    response_capped_sum_s: float = 0.0
    handled: int = 0
    handle_sum_s: float = 0.0
    csat_count: int = 0
    csat_good: int = 0
    csat_bad: int = 0

    def __post_init__(self) -> None:
        if self.interval_start is not None:
            object.__setattr__(self, "interval_start", _check_interval_start(self.interval_start))
        if isinstance(self.frt_bins, np.ndarray) or isinstance(self.frt_counts, np.ndarray):
            # Merged histograms (hundreds of bins) arrive as arrays: the same checks, vectorized.
            b = np.asarray(self.frt_bins, dtype=np.int64)
            c = np.asarray(self.frt_counts, dtype=np.int64)
            if b.ndim != 1 or b.shape != c.shape:
                raise ValueError("frt_bins and frt_counts differ in length")
            if b.size and (b[0] < 0 or np.any(b[1:] <= b[:-1])):
                raise ValueError("frt_bins must be >= 0 and strictly increasing")
            if np.any(c <= 0):
                raise ValueError("frt_counts must be > 0")
            bins, counts = tuple(b.tolist()), tuple(c.tolist())
        else:
            bins = tuple(int(b) for b in self.frt_bins)
            counts = tuple(int(c) for c in self.frt_counts)
            if len(bins) != len(counts):
                raise ValueError("frt_bins and frt_counts differ in length")
            if any(b < 0 for b in bins) or any(b2 <= b1 for b1, b2 in zip(bins, bins[1:], strict=False)):
                raise ValueError("frt_bins must be >= 0 and strictly increasing")
            if any(c <= 0 for c in counts):
                raise ValueError("frt_counts must be > 0")
        if sum(counts) != self.answered:
            raise ValueError(f"FRT histogram holds {sum(counts)} conversations, answered is {self.answered}")
        if any(getattr(self, name) < 0 for name in _INT_COUNTERS):
            raise ValueError("counters must be >= 0")
        object.__setattr__(self, "frt_bins", bins)
        object.__setattr__(self, "frt_counts", counts)
        if isinstance(self.gmv, float | bool) or not isinstance(self.gmv, Decimal | int | str):
            raise ValueError("gmv must be a Decimal (never a float)")
        object.__setattr__(self, "gmv", Decimal(self.gmv))


def merge(rollups: Iterable[IntervalRollup]) -> IntervalRollup:
    """Sum the counters of rollup rows (histograms merged bin by bin)."""
    rows = list(rollups)
    if not rows:
        return IntervalRollup()
    starts = {r.interval_start for r in rows}
    shops = {r.shop_id for r in rows}
    ints = {name: sum(getattr(r, name) for r in rows) for name in _INT_COUNTERS}
    floats = {name: math.fsum(getattr(r, name) for r in rows) for name in _FLOAT_COUNTERS}
    hist: dict[int, int] = defaultdict(int)
    for r in rows:
        for b, c in zip(r.frt_bins, r.frt_counts, strict=True):
            hist[b] += c
    bins = sorted(hist)
    return IntervalRollup(
        interval_start=starts.pop() if len(starts) == 1 else None,
        shop_id=shops.pop() if len(shops) == 1 else None,
        gmv=sum((r.gmv for r in rows), ZERO_MONEY),
        frt_bins=tuple(bins),
        frt_counts=tuple(hist[b] for b in bins),
        **ints,
        **floats,
    )


def rollup_of(records: Iterable[ConversationRecord]) -> dict[tuple[UUID, datetime], IntervalRollup]:
    """Reference rollup: one row per (shop_id, UTC interval start) holding the records' counters."""
    groups: dict[tuple[UUID, datetime], list[ConversationRecord]] = defaultdict(list)
    for rec in records:
        groups[(rec.shop_id, interval_start_of(rec.started_at))].append(rec)
    out: dict[tuple[UUID, datetime], IntervalRollup] = {}
    for (shop_id, start), recs in groups.items():
        frts = [r.frt_s for r in recs if r.frt_s is not None]
        handles = [r.handle_s for r in recs if r.handle_s is not None]
        rounds = [rounds_of(r) for r in recs]
        converted = [r for r in recs if r.converted]
        csats = [r.csat for r in recs if r.csat is not None]
        hist: dict[int, int] = defaultdict(int)
        for f in frts:
            hist[frt_bin(f)] += 1
        bins = sorted(hist)
        out[(shop_id, start)] = IntervalRollup(
            interval_start=start,
            shop_id=shop_id,
            offered=len(recs),
            answered=len(frts),
            presale_offered=sum(1 for r in recs if r.kind == "presale"),
            presale_converted=sum(1 for r in converted if r.kind == "presale"),
            converted=len(converted),
            gmv=sum((r.order_amount or ZERO_MONEY for r in converted), ZERO_MONEY),
            frt_sum_s=math.fsum(frts),
            frt_bins=tuple(bins),
            frt_counts=tuple(hist[b] for b in bins),
            rounds=sum(r[0] for r in rounds),
            rounds_within_180=sum(r[1] for r in rounds),
            response_capped_sum_s=math.fsum(r[2] for r in rounds),
            handled=len(handles),
            handle_sum_s=math.fsum(handles),
            csat_count=len(csats),
            csat_good=sum(1 for c in csats if c >= 4),
            csat_bad=sum(1 for c in csats if c <= 2),
        )
    return out


# --- metrics ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaMetrics:
    """SLA metrics of a set of conversations; a rate or mean is None when its denominator is 0."""

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


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _aov(gmv: Decimal, converted: int) -> Decimal | None:
    return (gmv / converted).quantize(CENT, rounding=ROUND_HALF_UP) if converted else None


def _check_window(window: AssessedWindow | None) -> None:
    if window is None:
        return
    if len(window) != 2:
        raise ValueError("assessed window is (start, end)")
    for t in window:
        if not isinstance(t, time) or t.tzinfo is not None:
            raise ValueError("assessed window bounds are naive local times")
        if t.minute % 15 or t.second or t.microsecond:
            raise ValueError(f"assessed window bound {t} is not a whole quarter hour")


def in_assessed_window(local_interval_start: time, window_start: time, window_end: time) -> bool:
    """Whether a local wall-clock time lies in the window [window_start, window_end).

    ``window_end < window_start`` crosses midnight (22:00-02:00); equal bounds are the whole day.
    Bounds must be whole quarter hours (so a 15-minute interval is entirely in or out).
    """
    _check_window((window_start, window_end))
    t = local_interval_start.replace(tzinfo=None, fold=0)
    if window_start == window_end:
        return True
    if window_start < window_end:
        return window_start <= t < window_end
    return t >= window_start or t < window_end


def _check_target(answer_target_s: float) -> None:
    if not math.isfinite(answer_target_s) or answer_target_s < 0:
        raise ValueError("answer target must be a finite number of seconds >= 0")


def metrics_from_rollups(
    rows: Iterable[IntervalRollup],
    answer_target_s: float = DEFAULT_ANSWER_TARGET_S,
    assessed_window: AssessedWindow | None = None,
    tz: str | tzinfo = DEFAULT_TZ,
) -> SlaMetrics:
    """Metrics of a set of rollup rows (normally one shop over a period).

    The service level counts FRTs <= answer_target_s through the histogram: exact for an integer
    target <= 600 s, else see :func:`count_within`. With an assessed window every row needs its
    ``interval_start``; the window is read in ``tz``, the shop's timezone.
    """
    _check_target(answer_target_s)
    _check_window(assessed_window)
    rows = list(rows)
    total = merge(rows)
    if assessed_window is None:
        return metrics_from_merged(total, answer_target_s)
    zone = _zone(tz)
    assessed_rounds = assessed_within = 0
    for r in rows:
        if r.interval_start is None:
            raise ValueError("an assessed window needs the interval_start of every row")
        if in_assessed_window(_local(r.interval_start, zone).time(), *assessed_window):
            assessed_rounds += r.rounds
            assessed_within += r.rounds_within_180
    return metrics_from_merged(total, answer_target_s, assessed_rounds, assessed_within)


def metrics_from_merged(
    total: IntervalRollup,
    answer_target_s: float = DEFAULT_ANSWER_TARGET_S,
    assessed_rounds: int | None = None,
    assessed_within: int | None = None,
) -> SlaMetrics:
    """Metrics of rollup rows already merged into one (by :func:`merge`, or summed in SQL).

    ``assessed_rounds`` / ``assessed_within`` are the rounds, and rounds answered within 180 s, of
    the rows inside the assessed window (the caller filtered them, e.g. in SQL with the local time
    of ``interval_start``); both None means no window: every round of ``total`` counts.
    """
    if (assessed_rounds is None) != (assessed_within is None):
        raise ValueError("give both assessed_rounds and assessed_within, or neither")
    assessed = None if assessed_rounds is None or assessed_within is None else (assessed_rounds, assessed_within)
    counters = {name: getattr(total, name) for name in COUNTERS}
    return metrics_of_merged_sets([counters], FrtHistograms.of([(total.frt_bins, total.frt_counts)]),
                                  [answer_target_s], [assessed])[0]


#: The summed counters that :func:`metrics_of_merged_sets` reads (fields of :class:`IntervalRollup`).
COUNTERS: tuple[str, ...] = (*_INT_COUNTERS, *_FLOAT_COUNTERS, "gmv")


@dataclass(frozen=True, eq=False)
class FrtHistograms:
    """The sparse FRT histograms of several sets of conversations, end to end: set i holds the bins
    ``bins[offsets[i]:offsets[i + 1]]`` (strictly increasing, >= 0) with the counts at the same
    places (> 0). Checked once, for all the sets, when made."""

    bins: np.ndarray  # int64
    counts: np.ndarray  # int64
    offsets: np.ndarray  # int64, one more than there are sets: 0 ... len(bins)

    def __post_init__(self) -> None:
        b, c, o = (np.asarray(x, dtype=np.int64) for x in (self.bins, self.counts, self.offsets))
        if b.ndim != 1 or b.shape != c.shape:
            raise ValueError("bins and counts differ in length")
        if o.ndim != 1 or o.size < 1 or o[0] != 0 or o[-1] != b.size or np.any(o[1:] < o[:-1]):
            raise ValueError("offsets must rise from 0 to the number of bins")
        if b.size and (np.any(b < 0) or np.any(c <= 0)):
            raise ValueError("bins must be >= 0 and counts > 0")
        # Bins may only fall where a set starts.
        if b.size > 1:
            starts = np.zeros(b.size, dtype=bool)
            starts[o[:-1][o[:-1] < b.size]] = True
            if np.any((b[1:] <= b[:-1]) & ~starts[1:]):
                raise ValueError("the bins of a set must be strictly increasing")
        object.__setattr__(self, "bins", b)
        object.__setattr__(self, "counts", c)
        object.__setattr__(self, "offsets", o)

    @classmethod
    def of(cls, sparse: Sequence[tuple[Sequence[int] | np.ndarray, Sequence[int] | np.ndarray]]) -> FrtHistograms:
        """From one (bins, counts) pair per set."""
        pairs = [(np.asarray(b, dtype=np.int64), np.asarray(c, dtype=np.int64)) for b, c in sparse]
        if any(b.ndim != 1 or b.shape != c.shape for b, c in pairs):
            raise ValueError("bins and counts differ in length")
        offsets = np.zeros(len(pairs) + 1, dtype=np.int64)
        np.cumsum([b.size for b, _ in pairs], out=offsets[1:])
        if not pairs:
            return cls(_NO_BINS, _NO_BINS, offsets)
        return cls(np.concatenate([b for b, _ in pairs]), np.concatenate([c for _, c in pairs]), offsets)

    def __len__(self) -> int:
        return self.offsets.size - 1


_NO_BINS = np.zeros(0, dtype=np.int64)


def metrics_of_merged_sets(
    counters: Sequence[Mapping[str, Any]],
    histograms: FrtHistograms,
    answer_targets_s: Sequence[float],
    assessed: Sequence[tuple[int, int] | None] | None = None,
) -> list[SlaMetrics]:
    """Metrics of several merged sets of conversations at once (the buckets of a report and its total).

    Set i has the summed counters ``counters[i]`` (the :data:`COUNTERS` fields of an
    :class:`IntervalRollup`), the FRT histogram ``histograms`` set i, the answer target T
    ``answer_targets_s[i]`` and ``assessed[i]``: the (rounds, rounds within 180 s) inside the assessed
    window, or None for every round. The formulas of :func:`metrics_from_merged` (which is this on one
    set), with the histogram reads of all the sets vectorized: the counts within T as
    :func:`count_within`, the percentiles as :func:`percentile_from_histogram`.
    """
    m = len(counters)
    if len(histograms) != m or len(answer_targets_s) != m or (assessed is not None and len(assessed) != m):
        raise ValueError("one histogram, answer target (and assessed pair) per set")
    for t in set(answer_targets_s):
        _check_target(t)
    bins, counts, offsets = histograms.bins, histograms.counts, histograms.offsets
    # cum[k]: the FRTs before element k of all the histograms end to end; set i spans cum[offsets[i]] ..
    # cum[offsets[i + 1]], an increasing sequence (counts > 0) in which every search of a set stays in it.
    cum = np.zeros(bins.size + 1, dtype=np.int64)
    np.cumsum(counts, out=cum[1:])
    base = cum[offsets[:-1]]
    n = (cum[offsets[1:]] - base).tolist()
    for c, answered in zip(counters, n, strict=True):
        if answered != c["answered"]:
            raise ValueError(f"FRT histogram holds {answered} conversations, answered is {c['answered']}")
        if any(c[name] < 0 for name in _INT_COUNTERS):
            raise ValueError("counters must be >= 0")
    within = _counts_within(bins, offsets, cum, base, answer_targets_s)
    p50, p90 = _percentiles(bins, counts, cum, base.tolist(), n, (50.0, 90.0))
    out = []
    for i, c in enumerate(counters):
        pair = assessed[i] if assessed is not None else None
        rounds, ok = (c["rounds"], c["rounds_within_180"]) if pair is None else pair
        out.append(SlaMetrics(
            offered=c["offered"],
            answered=c["answered"],
            abandon_rate=_ratio(c["offered"] - c["answered"], c["offered"]),
            service_level=_ratio(within[i], c["offered"]),
            frt_mean_s=_ratio(c["frt_sum_s"], c["answered"]),
            frt_p50_s=p50[i],
            frt_p90_s=p90[i],
            response_rate_3min=_ratio(ok, rounds),
            avg_response_s=_ratio(c["response_capped_sum_s"], c["rounds"]),
            handle_mean_s=_ratio(c["handle_sum_s"], c["handled"]),
            csat=_ratio(c["csat_good"], c["csat_count"]),
            dsat=_ratio(c["csat_bad"], c["csat_count"]),
            conversion_rate=_ratio(c["presale_converted"], c["presale_offered"]),
            gmv=c["gmv"],
            aov=_aov(c["gmv"], c["converted"]),
        ))
    return out


def _counts_within(bins: np.ndarray, offsets: np.ndarray, cum: np.ndarray, base: np.ndarray,
                   targets: Sequence[float]) -> list[int]:
    """FRTs <= T of each set, as :func:`count_within`: the bins 0..K whose upper bound is <= T (bin_upper
    increases with k), found for all the sets with one search on (set, bin) keys."""
    sets = offsets.size - 1
    if bins.size == 0:
        return [0] * sets
    width = int(bins.max()) + 1
    last = np.searchsorted(bin_upper(np.arange(width)), np.asarray(targets, dtype=np.float64), side="right") - 1
    row = np.arange(sets, dtype=np.int64) * width
    keys = np.repeat(row, np.diff(offsets)) + bins
    return (cum[np.searchsorted(keys, row + last, side="right")] - base).tolist()


def _percentiles(bins: np.ndarray, counts: np.ndarray, cum: np.ndarray, base: list[int], n: list[int],
                 ps: Sequence[float]) -> list[list[float | None]]:
    """Each percentile of PS for every set, as :func:`percentile_from_histogram`: the j-th FRT of set i
    is in the first element whose cumulative count exceeds base[i] + j, one search for them all."""
    out: list[list[float | None]] = [[None] * len(n) for _ in ps]
    plan = []  # (set, percentile, f, j, j1)
    targets = []
    for i, k in enumerate(n):
        if k:
            for q, p in enumerate(ps):
                j, j1, f = _ranks(k, p)
                plan.append((i, q, f, j, j1))
                targets += (base[i] + j, base[i] + j1)
    if not plan:
        return out
    at = np.searchsorted(cum[1:], targets, side="right")
    b, c, before = bins[at].tolist(), counts[at].tolist(), cum[at].tolist()
    for k, (i, q, f, j, j1) in enumerate(plan):
        x, y = 2 * k, 2 * k + 1
        out[q][i] = _interpolated(f, _order_stat(b[x], c[x], base[i] + j - before[x]),
                                  _order_stat(b[y], c[y], base[i] + j1 - before[y]))
    return out


def reference_metrics(
    records: Iterable[ConversationRecord],
    answer_target_s: float = DEFAULT_ANSWER_TARGET_S,
    assessed_window: AssessedWindow | None = None,
    tz: str | tzinfo = DEFAULT_TZ,
) -> SlaMetrics:
    """The straightforward computation over raw records, written independently of the rollups.

    Exact everywhere: the service level counts FRT <= answer_target_s directly and the
    percentiles are numpy's 'linear' percentiles of the FRTs.
    """
    _check_target(answer_target_s)
    _check_window(assessed_window)
    zone = _zone(tz)
    recs = list(records)
    offered = len(recs)
    frts = [r.frt_s for r in recs if r.frt_s is not None]
    rounds = within = assessed_rounds = assessed_within = 0
    capped: list[float] = []
    for r in recs:
        if r.response_times_s is not None:
            times = list(r.response_times_s)
            n, ok = len(times), sum(1 for t in times if t <= 180)
            capped.extend(min(t, 600.0) for t in times)
        elif r.frt_s is not None:
            n, ok = 1, int(r.frt_s <= 180)
            capped.append(min(r.frt_s, 600.0))
        else:  # unanswered round: a miss, counted at the 600 s cap (see module doc)
            n, ok = 1, 0
            capped.append(600.0)
        rounds += n
        within += ok
        if assessed_window is None or in_assessed_window(
            r.started_at.astimezone(zone).time(), *assessed_window
        ):
            assessed_rounds += n
            assessed_within += ok
    handles = [r.handle_s for r in recs if r.handle_s is not None]
    csats = [r.csat for r in recs if r.csat is not None]
    presale = [r for r in recs if r.kind == "presale"]
    converted = [r for r in recs if r.converted]
    gmv = sum((r.order_amount or ZERO_MONEY for r in converted), ZERO_MONEY)
    return SlaMetrics(
        offered=offered,
        answered=len(frts),
        abandon_rate=_ratio(offered - len(frts), offered),
        service_level=_ratio(sum(1 for f in frts if f <= answer_target_s), offered),
        frt_mean_s=_ratio(math.fsum(frts), len(frts)),
        frt_p50_s=float(np.percentile(frts, 50)) if frts else None,
        frt_p90_s=float(np.percentile(frts, 90)) if frts else None,
        response_rate_3min=_ratio(assessed_within, assessed_rounds),
        avg_response_s=_ratio(math.fsum(capped), rounds),
        handle_mean_s=_ratio(math.fsum(handles), len(handles)),
        csat=_ratio(sum(1 for c in csats if c >= 4), len(csats)),
        dsat=_ratio(sum(1 for c in csats if c <= 2), len(csats)),
        conversion_rate=_ratio(sum(1 for r in presale if r.converted), len(presale)),
        gmv=gmv,
        aov=_aov(gmv, len(converted)),
    )


# --- local-time buckets ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _day_start_utc(d: date, zone: tzinfo) -> datetime:
    """First quarter hour (UTC) whose local date is d: local midnight, or the end of a DST gap
    that swallows midnight."""
    naive = datetime.combine(d, time())
    u = min(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    u = u.replace(minute=u.minute - u.minute % 15, second=0, microsecond=0)
    for _ in range(4 * 48):
        if u.astimezone(zone).date() >= d:
            break
        u += INTERVAL
    for _ in range(4 * 48):
        if (u - INTERVAL).astimezone(zone).date() != d:
            break
        u -= INTERVAL
    return u


def local_day_start(d: date, tz: str | tzinfo) -> datetime:
    """UTC instant where the local day D starts in TZ (the start of its first quarter hour): local
    midnight, or the end of a DST gap that swallows midnight. Day, week and month buckets start here."""
    return _day_start_utc(d, _zone(tz))


def _bucket_start_utc(u: datetime, granularity: str, zone: tzinfo) -> datetime:
    local = _local(u, zone)
    if granularity == "interval":
        return u
    if granularity == "hour":
        # The local hour is keyed by its UTC offset as well: the hour repeated at a DST fall-back
        # (01:00 EDT, then 01:00 EST) is two buckets, each a real hour.
        key = (local.date(), local.hour, local.utcoffset())
        start = u
        for _ in range(3):
            prev_local = (start - INTERVAL).astimezone(zone)
            if (prev_local.date(), prev_local.hour, prev_local.utcoffset()) != key:
                break
            start -= INTERVAL
        return start
    d = local.date()
    if granularity == "week":
        d -= timedelta(days=d.weekday())  # weeks start on Monday
    elif granularity == "month":
        d = d.replace(day=1)
    elif granularity != "day":
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    return _day_start_utc(d, zone)


def bucket_start(interval_start_utc: datetime, granularity: Granularity, tz: str | tzinfo) -> datetime:
    """Start of the local interval/hour/day/week (Monday)/month holding a 15-minute interval.

    The answer is an aware datetime in ``tz`` (``fold`` set for the second of two repeated wall
    times). Note that Python compares two datetimes of the same zone by wall time, ignoring
    ``fold``: compare or group bucket starts by ``.astimezone(UTC)`` or ``.timestamp()``.
    A local day starts at midnight, or where a DST gap that swallows midnight ends.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    zone = _zone(tz)
    u = _check_interval_start(interval_start_utc)
    return _bucket_start_utc(u, granularity, zone).astimezone(zone)


def bucketed_metrics(
    rows: Iterable[IntervalRollup],
    granularity: Granularity,
    tz: str | tzinfo,
    answer_target_s: float = DEFAULT_ANSWER_TARGET_S,
    assessed_window: AssessedWindow | None = None,
) -> list[tuple[datetime, SlaMetrics]]:
    """Metrics per local bucket, in time order; buckets without rows are left out.

    Rows should be one shop's (or shops sharing ``tz``); each needs its ``interval_start``.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    zone = _zone(tz)
    groups: dict[datetime, list[IntervalRollup]] = defaultdict(list)
    for r in rows:
        if r.interval_start is None:
            raise ValueError("bucketing needs the interval_start of every row")
        groups[_bucket_start_utc(r.interval_start, granularity, zone)].append(r)
    return [
        (start.astimezone(zone), metrics_from_rollups(groups[start], answer_target_s, assessed_window, zone))
        for start in sorted(groups)
    ]


# --- targets and verdicts --------------------------------------------------------------------------


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
        _check_target(self.answer_target_s)
        for name in ("service_level", "response_rate_3min", "csat", "conversion_rate", "max_abandon_rate"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} target must be within 0..1")
        if self.frt_mean_s is not None and not (math.isfinite(self.frt_mean_s) and self.frt_mean_s >= 0):
            raise ValueError("frt_mean_s target must be >= 0 seconds")


@dataclass(frozen=True, slots=True)
class MetricVerdict:
    metric: str  # a field name of SlaMetrics
    target: float
    actual: float
    met: bool


#: (target field of SlaTargets, metric field of SlaMetrics, higher is better)
TARGETED_METRICS: tuple[tuple[str, str, bool], ...] = (
    ("service_level", "service_level", True),
    ("response_rate_3min", "response_rate_3min", True),
    ("frt_mean_s", "frt_mean_s", False),
    ("csat", "csat", True),
    ("conversion_rate", "conversion_rate", True),
    ("max_abandon_rate", "abandon_rate", False),
)
HIGHER_IS_BETTER: Mapping[str, bool] = {metric: higher for _, metric, higher in TARGETED_METRICS}


def judge(metrics: SlaMetrics, targets: SlaTargets) -> list[MetricVerdict]:
    """A verdict for every metric that has a target and data (a None metric is not judged).

    Targets are inclusive: a service level equal to its target is met, as is an FRT mean equal
    to its ceiling. The service level is assumed computed with ``targets.answer_target_s``.
    """
    verdicts = []
    for target_name, metric, higher in TARGETED_METRICS:
        target = getattr(targets, target_name)
        actual = getattr(metrics, metric)
        if target is None or actual is None:
            continue
        met = actual >= target if higher else actual <= target
        verdicts.append(MetricVerdict(metric, target, actual, met))
    return verdicts
