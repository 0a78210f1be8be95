"""The reference SLA maths: straightforward, scalar computations from raw records and single rollups, written
independently of the vectorised code the service runs (service.sla.metrics, service.conversations.rollups).
The tests hold the two together; nothing in the service imports this module.

Its rollup row (IntervalRollup) mirrors shop_interval_stats; the conventions (rounds, assessed windows,
FRT bins) are those of service.conversations.rollups.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from decimal import Decimal
from uuid import UUID

import numpy as np

from service.conversations.records import ConversationRecord
from service.conversations.rollups import (
    FLOAT_COUNTERS,
    GEOMETRIC_RATIO,
    INT_COUNTERS,
    LINEAR_BINS,
    RESPONSE_CAP_S,
    ROUND_TARGET_S,
    bin_upper,
)
from service.kit.time import zone as _zone
from service.sla.figures import DEFAULT_ANSWER_TARGET_S, SlaMetrics
from service.sla.figures import check_answer_target as _check_target
from service.sla.metrics import (
    FrtHistograms,
    bucket_start_utc,
    interpolated,
    local_interval,
    metrics_of_merged_sets,
    order_stat,
    ranks,
)

DEFAULT_TZ = "Asia/Shanghai"
ZERO_MONEY = Decimal("0.00")
_LN_RATIO = math.log(GEOMETRIC_RATIO)
_INT_COUNTERS = INT_COUNTERS
_FLOAT_COUNTERS = FLOAT_COUNTERS
AssessedWindow = tuple[time, time]
GRANULARITIES = ("interval", "hour", "day", "week", "month")
COUNTERS = (*INT_COUNTERS, *FLOAT_COUNTERS, "gmv")


def _check_bins(k: np.ndarray) -> None:
    if np.any(k < 0):
        raise ValueError("histogram bins are >= 0")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _aov(gmv: Decimal, converted: int) -> Decimal | None:
    from service.sla.metrics import aov

    return aov(gmv, converted)


def _check_interval_start(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"interval start must be timezone-aware, got {ts!r}")
    u = ts.astimezone(UTC)
    if u.minute % 15 or u.second or u.microsecond:
        raise ValueError(f"interval start must be on a quarter hour, got {ts.isoformat()}")
    return u


def frt_bin(frt_s: float | np.ndarray | Sequence[float]) -> int | np.ndarray:
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


def bin_lower(k: int | np.ndarray | Sequence[int]) -> float | np.ndarray:
    """Lower bound (exclusive, except bin 0 which is the single point 0) of bin k in seconds (a float for
    an int, an array for an array)."""
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

def percentile_from_histogram(bins: Sequence[int] | np.ndarray, counts: Sequence[int] | np.ndarray,
                              p: float) -> float | None:
    """Percentile p (0..100) of the FRTs in a histogram, None when it is empty.

    Follows numpy's 'linear' method: rank h = (n-1)·p/100 between the sorted values x[j] and
    x[j+1]. Each of those order statistics is estimated inside its bin by linear interpolation
    (the m-th of the c values of a bin, from 0, is read at lower + (upper-lower)·(m+1)/c: a lone
    value is read at its bin's upper bound, exact for whole-second FRTs, and otherwise the estimate
    leans high, the conservative side for a response time), then the two are interpolated. Since the
    true value lies in [L, U] (the same interpolation of the bin bounds), the estimate is finally clamped to
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
    j, j1, f = ranks(n, p)
    at = np.searchsorted(cum, (j, j1), side="right").tolist()  # the bins of order statistics j, j1
    s0, s1 = (order_stat(int(b[i]), int(c[i]), rank - (int(cum[i]) - int(c[i])))
              for i, rank in zip(at, (j, j1), strict=True))
    return interpolated(f, s0, s1)

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


def metrics_from_rollups(rows: Iterable[IntervalRollup], answer_target_s: float = DEFAULT_ANSWER_TARGET_S,
                         assessed_window: AssessedWindow | None = None,
                         tz: str | tzinfo = DEFAULT_TZ) -> SlaMetrics:
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
        if in_assessed_window(local_interval(r.interval_start, zone).time(), *assessed_window):
            assessed_rounds += r.rounds
            assessed_within += r.rounds_within_180
    return metrics_from_merged(total, answer_target_s, assessed_rounds, assessed_within)


def metrics_from_merged(total: IntervalRollup, answer_target_s: float = DEFAULT_ANSWER_TARGET_S,
                        assessed_rounds: int | None = None, assessed_within: int | None = None) -> SlaMetrics:
    """Metrics of rollup rows already merged into one (by :func:`merge`, or summed in SQL).

    ``assessed_rounds`` / ``assessed_within`` are the rounds, and rounds answered within 180 s, of
    the rows inside the assessed window (the caller filtered them, e.g. in SQL with the local time
    of ``interval_start``); both None means no window: every round of ``total`` counts.
    """
    if (assessed_rounds is None) != (assessed_within is None):
        raise ValueError("give both assessed_rounds and assessed_within, or neither")
    assessed = (None if assessed_rounds is None or assessed_within is None
                else (assessed_rounds, assessed_within))
    counters = {name: getattr(total, name) for name in COUNTERS}
    return metrics_of_merged_sets([counters], FrtHistograms.of([(total.frt_bins, total.frt_counts)]),
                                  [answer_target_s], [assessed])[0]


def reference_metrics(records: Iterable[ConversationRecord], answer_target_s: float = DEFAULT_ANSWER_TARGET_S,
                      assessed_window: AssessedWindow | None = None,
                      tz: str | tzinfo = DEFAULT_TZ) -> SlaMetrics:
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


def bucketed_metrics(rows: Iterable[IntervalRollup], granularity: str, tz: str | tzinfo,
                     answer_target_s: float = DEFAULT_ANSWER_TARGET_S,
                     assessed_window: AssessedWindow | None = None) -> list[tuple[datetime, SlaMetrics]]:
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
        groups[bucket_start_utc(r.interval_start, granularity, zone)].append(r)
    return [
        (start.astimezone(zone), metrics_from_rollups(groups[start], answer_target_s, assessed_window, zone))
        for start in sorted(groups)
    ]
