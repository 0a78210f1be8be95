"""The SLA maths the reports run, vectorised over the buckets of a report. No I/O.

Rollups hold additive counters (service.conversations.rollups), so the metrics of any set of intervals (an
hour, day, week or month of the shop's local time) are exact sums divided at the end, and the FRT
histogram gives the service level for any integer T <= 600 s exactly and the percentiles within max(1 s,
2 %). :func:`metrics_of_merged_sets` computes every bucket of a report at once; :func:`judge` compares the
metrics with a policy's targets; :func:`bucket_start` places an interval in its local hour, day, week or
month. The straightforward scalar computation these must reproduce is tests/sla/reference.py.

Local hour buckets in SQL: ``interval_start - make_interval(mins => extract(minute from interval_start AT
TIME ZONE tz)::int)`` gives the UTC instant of the hour start, which keeps the two repeated hours of a DST
fall-back apart (``date_trunc('hour', local)`` would merge them); it matches :func:`bucket_start` in every
zone whose clock changes happen on the hour (all but Australia/Lord_Howe's half-hour shift). Day, week and
month bucket starts are ``date_trunc(unit, interval_start AT TIME ZONE tz) AT TIME ZONE tz``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from service.conversations.rollups import INT_COUNTERS, bin_bounds, bin_upper
from service.kit.time import INTERVAL, local_day_start, next_month, zone
from service.sla.figures import (
    TARGETED_METRICS,
    Granularity,
    Metric,
    SlaMetrics,
    SlaTargets,
    Verdict,
    check_answer_target,
)

PERCENTILE_REL_TOL = 0.02
PERCENTILE_ABS_TOL_S = 1.0
CENT = Decimal("0.01")
_NO_BINS: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
_GRANULARITIES = tuple(g.value for g in Granularity)


def _tolerance(x: float) -> float:
    return max(PERCENTILE_ABS_TOL_S, PERCENTILE_REL_TOL * x)


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def aov(gmv: Decimal, converted: int) -> Decimal | None:
    """Average order value, rounded half away from zero to the fen."""
    return (gmv / converted).quantize(CENT, rounding=ROUND_HALF_UP) if converted else None


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
    def of(cls, sparse: Sequence[tuple[Sequence[int] | np.ndarray, Sequence[int] | np.ndarray]]
           ) -> FrtHistograms:
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


def metrics_of_merged_sets(
    counters: Sequence[Mapping[str, Any]],
    histograms: FrtHistograms,
    answer_targets_s: Sequence[float],
    assessed: Sequence[tuple[int, int] | None] | None = None,
) -> list[SlaMetrics]:
    """Metrics of several merged sets of conversations at once (the buckets of a report and its total).

    Set i has the summed counters ``counters[i]`` (the rollups.COUNTERS of its intervals), the FRT
    histogram ``histograms`` set i, the answer target T ``answer_targets_s[i]`` and ``assessed[i]``: the
    (rounds, rounds within 180 s) inside the assessed window, or None for every round. The histogram reads
    of all the sets are vectorized; the scalar reads they reproduce are count_within and
    percentile_from_histogram in tests/sla/reference.py.
    """
    m = len(counters)
    if len(histograms) != m or len(answer_targets_s) != m or (assessed is not None and len(assessed) != m):
        raise ValueError("one histogram, answer target (and assessed pair) per set")
    for t in set(answer_targets_s):
        check_answer_target(t)
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
        if any(c[name] < 0 for name in INT_COUNTERS):
            raise ValueError("counters must be >= 0")
    within = _counts_within(bins, offsets, cum, base, answer_targets_s)
    p50, p90 = _percentiles(bins, counts, cum, base.tolist(), n, (50.0, 90.0))
    out = []
    for i, c in enumerate(counters):
        pair = assessed[i] if assessed is not None else None
        rounds, ok = (c["rounds"], c["rounds_within_180"]) if pair is None else pair
        out.append(SlaMetrics.model_construct(
            offered=c["offered"],
            answered=c["answered"],
            abandon_rate=ratio(c["offered"] - c["answered"], c["offered"]),
            service_level=ratio(within[i], c["offered"]),
            frt_mean_s=ratio(c["frt_sum_s"], c["answered"]),
            frt_p50_s=p50[i],
            frt_p90_s=p90[i],
            response_rate_3min=ratio(ok, rounds),
            avg_response_s=ratio(c["response_capped_sum_s"], c["rounds"]),
            handle_mean_s=ratio(c["handle_sum_s"], c["handled"]),
            csat=ratio(c["csat_good"], c["csat_count"]),
            dsat=ratio(c["csat_bad"], c["csat_count"]),
            conversion_rate=ratio(c["presale_converted"], c["presale_offered"]),
            gmv=c["gmv"],
            aov=aov(c["gmv"], c["converted"]),
        ))
    return out


def _counts_within(bins: np.ndarray, offsets: np.ndarray, cum: np.ndarray, base: np.ndarray,
                   targets: Sequence[float]) -> list[int]:
    """FRTs <= T of each set, as the reference count_within: the bins 0..K whose upper bound is <= T
    (bin_upper increases with k), found for all the sets with one search on (set, bin) keys."""
    sets = offsets.size - 1
    if bins.size == 0:
        return [0] * sets
    width = int(bins.max()) + 1
    last = np.searchsorted(bin_upper(np.arange(width)), np.asarray(targets, dtype=np.float64),
                           side="right") - 1
    row = np.arange(sets, dtype=np.int64) * width
    keys = np.repeat(row, np.diff(offsets)) + bins
    return cast("list[int]", (cum[np.searchsorted(keys, row + last, side="right")] - base).tolist())


def _percentiles(bins: np.ndarray, counts: np.ndarray, cum: np.ndarray, base: list[int], n: list[int],
                 ps: Sequence[float]) -> list[list[float | None]]:
    """Each percentile of PS for every set, as tests/sla/reference.py's percentile_from_histogram: the
    j-th FRT of set i is in the first element whose cumulative count exceeds base[i] + j, one search for
    them all."""
    out: list[list[float | None]] = [[None] * len(n) for _ in ps]
    plan = []  # (set, percentile, f, j, j1)
    targets: list[int] = []
    for i, k in enumerate(n):
        if k:
            for q, p in enumerate(ps):
                j, j1, f = ranks(k, p)
                plan.append((i, q, f, j, j1))
                targets += (base[i] + j, base[i] + j1)
    if not plan:
        return out
    at = np.searchsorted(cum[1:], targets, side="right")
    b, c, before = bins[at].tolist(), counts[at].tolist(), cum[at].tolist()
    for k, (i, q, f, j, j1) in enumerate(plan):
        x, y = 2 * k, 2 * k + 1
        out[q][i] = interpolated(f, order_stat(b[x], c[x], base[i] + j - before[x]),
                                  order_stat(b[y], c[y], base[i] + j1 - before[y]))
    return out


def ranks(n: int, p: float) -> tuple[int, int, float]:
    """numpy's 'linear' method on N sorted values: the order statistics j, j1 around rank (n-1)·p/100,
    and the fraction f of the way from x[j] to x[j1]."""
    h = (n - 1) * (p / 100.0)
    j = min(int(math.floor(h)), n - 1)
    return j, min(j + 1, n - 1), h - j


def order_stat(k: int, c: int, m: int) -> tuple[float, float, float]:
    """Estimate of the m-th (from 0) of the c FRTs in bin k, and the bin's bounds (see
    tests/sla/reference.py's percentile_from_histogram)."""
    lo, hi = bin_bounds(k)
    return lo + (hi - lo) * (m + 1) / c, lo, hi


def interpolated(f: float, s0: tuple[float, float, float], s1: tuple[float, float, float]) -> float:
    """The percentile between order statistics S0 and S1 (estimate, lower, upper bound each), clamped to
    the range that keeps it within tolerance of every possible true value."""
    x0, lo0, hi0 = s0
    x1, lo1, hi1 = s1 if f > 0 else s0
    estimate = x0 + f * (x1 - x0)
    lower = lo0 + f * (lo1 - lo0)
    upper = hi0 + f * (hi1 - hi0)
    estimate = min(max(estimate, upper - _tolerance(upper)), lower + _tolerance(lower))
    return min(max(estimate, lower), upper)


# --- local-time buckets ----------------------------------------------------------------------------


def local_interval(u: datetime, z: tzinfo) -> datetime:
    """Local time of an interval start; the zone's offset must be whole quarter hours, which makes
    a 15-minute interval lie within one local hour and one local day (true of every zone in use
    today, e.g. +05:45; not of historical local mean times)."""
    local = u.astimezone(z)
    offset = local.utcoffset()
    if offset is None or offset % INTERVAL:
        raise ValueError(f"UTC offset {offset} of {z} at {u.isoformat()} is not whole quarter hours")
    return local


def bucket_start_utc(u: datetime, granularity: str, z: tzinfo) -> datetime:
    local = local_interval(u, z)
    if granularity == "interval":
        return u
    if granularity == "hour":
        # The local hour is keyed by its UTC offset as well: the hour repeated at a DST fall-back
        # (01:00 EDT, then 01:00 EST) is two buckets, each a real hour.
        key = (local.date(), local.hour, local.utcoffset())
        start = u
        for _ in range(3):
            prev_local = (start - INTERVAL).astimezone(z)
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
        raise ValueError(f"granularity must be one of {_GRANULARITIES}, got {granularity!r}")
    return local_day_start(d, z)


def bucket_start(interval_start_utc: datetime, granularity: str, tz: str | tzinfo) -> datetime:
    """Start of the local interval/hour/day/week (Monday)/month holding a 15-minute interval.

    The answer is an aware datetime in ``tz`` (``fold`` set for the second of two repeated wall
    times). Note that Python compares two datetimes of the same zone by wall time, ignoring
    ``fold``: compare or group bucket starts by ``.astimezone(UTC)`` or ``.timestamp()``.
    A local day starts at midnight, or where a DST gap that swallows midnight ends.
    """
    if granularity not in _GRANULARITIES:
        raise ValueError(f"granularity must be one of {_GRANULARITIES}, got {granularity!r}")
    z = zone(tz)
    if interval_start_utc.tzinfo is None or interval_start_utc.utcoffset() is None:
        raise ValueError(f"interval start must be timezone-aware, got {interval_start_utc!r}")
    u = interval_start_utc.astimezone(UTC)
    if u.minute % 15 or u.second or u.microsecond:
        raise ValueError(f"interval start must be on a quarter hour, got {interval_start_utc.isoformat()}")
    return bucket_start_utc(u, granularity, z).astimezone(z)


def bucket_end(start: datetime, granularity: str, tz: str | tzinfo) -> datetime:
    """The exclusive end of the bucket starting at START (a `bucket_start`): the next interval, local hour,
    day, week or month, in ``tz``."""
    z = zone(tz)
    u = start.astimezone(UTC)
    if granularity == "interval":
        return (u + INTERVAL).astimezone(z)
    if granularity == "hour":
        end = u + INTERVAL
        while bucket_start_utc(end, "hour", z) == u:
            end += INTERVAL
        return end.astimezone(z)
    d = start.astimezone(z).date()
    following = {"day": d + timedelta(days=1), "week": d + timedelta(days=7), "month": next_month(d)}
    if granularity not in following:
        raise ValueError(f"granularity must be one of {_GRANULARITIES}, got {granularity!r}")
    return local_day_start(following[granularity], z).astimezone(z)


# --- targets and verdicts --------------------------------------------------------------------------


def judge(metrics: SlaMetrics, targets: SlaTargets) -> list[Verdict]:
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
        verdicts.append(Verdict.model_construct(metric=Metric(metric), target=target, actual=actual, met=met))
    return verdicts
