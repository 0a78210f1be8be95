"""What a conversation adds to its shop's 15-minute rollup: the counters, the FRT histogram's bins and
the response rules, declared once. Ingest computes them in SQL (the *_SQL fragments below); the SLA maths
reads them back (service.sla.metrics). No I/O.

* **Interval.** The UTC quarter hour holding ``started_at``: :data:`INTERVAL_START_SQL`.
* **Rounds.** A record's rounds are its ``response_times_s`` when given; when absent, an answered
  conversation is one round whose response time is its FRT. An unanswered conversation without
  ``response_times_s`` is one round that was *not* answered within :data:`ROUND_TARGET_S` and adds the
  full :data:`RESPONSE_CAP_S` to the average response time: the platform convention is that an
  unanswered round is a miss. "Within 180 s" means response time <= 180 s.
* **FRT histogram.** Bin 0 holds FRT == 0; bin k = 1..600 holds FRT in (k-1, k]; above 600 s the bins
  are geometric with ratio 1.02: bin 600 + ceil(ln(frt/600)/ln(1.02)), which holds
  (600*1.02**(j-1), 600*1.02**j] for j = k - 600. Hence the service level SL(T) is exact for every
  integer T <= 600 and FRT percentiles are within max(1 s, 2 %) of numpy's 'linear' percentile.
* **FRT in seconds** (:data:`FRT_SQL`): the epoch difference is exact numeric, then one rounding to
  double precision, like ``timedelta.total_seconds()``.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

ROUND_TARGET_S = 180  # the 3-minute response rule
RESPONSE_CAP_S = 600  # response times are capped at 600 s in the average response time
LINEAR_BINS = 600  # bins 1..600 are one second wide
GEOMETRIC_RATIO = 1.02

#: Additive counters of a rollup row (shop_interval_stats), summed over any set of intervals.
INT_COUNTERS: tuple[str, ...] = (
    "offered", "answered", "presale_offered", "presale_converted", "converted", "rounds", "rounds_within_180",
    "handled", "csat_count", "csat_good", "csat_bad",
)
FLOAT_COUNTERS: tuple[str, ...] = ("frt_sum_s", "response_capped_sum_s", "handle_sum_s")
MONEY_COUNTERS: tuple[str, ...] = ("gmv",)
COUNTERS: tuple[str, ...] = (*INT_COUNTERS, *FLOAT_COUNTERS, *MONEY_COUNTERS)

INTERVAL_START_SQL = "date_bin('15 minutes', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
FRT_SQL = "EXTRACT(EPOCH FROM (first_response_at - started_at))::double precision"
FRT_BIN_SQL = (
    "(CASE WHEN frt <= 600 THEN ceil(frt)::integer"
    " ELSE 600 + ceil(ln(frt / 600::double precision) / ln(1.02::double precision))::integer END)"
)


def frt_bin_sql(expr: str = "frt") -> str:
    """:data:`FRT_BIN_SQL` on another double precision SQL expression (trusted code, not input)."""
    return FRT_BIN_SQL.replace("frt", f"({expr})")


def _check_bins(k: NDArray[np.int64]) -> None:
    if np.any(k < 0):
        raise ValueError("histogram bins are >= 0")


@overload
def bin_upper(k: int) -> float: ...
@overload
def bin_upper(k: NDArray[np.int64]) -> NDArray[np.float64]: ...
def bin_upper(k: Any) -> Any:
    """Upper bound (inclusive) of bin k in seconds."""
    arr = np.asarray(k, dtype=np.int64)
    _check_bins(arr)
    geo = LINEAR_BINS * GEOMETRIC_RATIO ** (np.maximum(arr, LINEAR_BINS) - LINEAR_BINS).astype(np.float64)
    out = np.where(arr <= LINEAR_BINS, arr.astype(np.float64), geo)
    return float(out) if np.ndim(k) == 0 else out


def bin_bounds(k: int) -> tuple[float, float]:
    """(lower, upper) bound of one bin in plain floats: lower exclusive (bin 0 is the single point 0)."""
    if k <= LINEAR_BINS:
        return float(max(k - 1, 0)), float(k)
    return (LINEAR_BINS * GEOMETRIC_RATIO ** float(k - LINEAR_BINS - 1),
            LINEAR_BINS * GEOMETRIC_RATIO ** float(k - LINEAR_BINS))
