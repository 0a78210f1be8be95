"""Pure volume and AHT forecasting for capacity plans (DESIGN.md section 4): the very functions the plan
runs. No I/O.

Time is in 15-minute intervals. An interval-of-week slot runs 0..671 from Monday 00:00 in the shop's local
time (DST-aware: `local_slots`); arrays put shops first and time last.

forecast = baseline(local slot) x uplift, where the baseline is a robust average (median by default) of the
recent weeks at each local interval of the week (`weekly_history`, `baseline`, `laid_over`), and the uplift
is last year's same promotion over its own baseline (`learned_uplift`, from `uplift_curve` pooled over the
shops and `shop_intensity` per shop) or a given curve (`given_uplift`). AHT per shop is the handle time over
the handled contacts of the baseline weeks (`mean_aht`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, cast
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.kit.time import INTERVAL, INTERVAL_S

SLOTS_PER_DAY = 96
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY
DEFAULT_AHT_S = 300.0

Method = Literal["median", "trimmed", "mean"]


@dataclass
class Volumes:
    """Dense per-shop history over n consecutive intervals from `start`."""

    start: datetime
    offered: np.ndarray  # (S, n)
    present: np.ndarray  # (S, n) bool: a rollup row exists
    handled: np.ndarray  # (S,)
    handle_sum_s: np.ndarray  # (S,)
    covered: np.ndarray  # (n,) bool: intervals read (the others are unknown, not zero)


def local_slots(tz: str, start: datetime, n: int) -> np.ndarray:
    """Interval-of-week (0 = Monday 00:00 local time) of n consecutive 15-minute intervals from start."""
    zone = ZoneInfo(tz)
    q0 = int(start.timestamp()) // INTERVAL_S

    def offset(j: int) -> int:
        delta = (start + j * INTERVAL).astimezone(zone).utcoffset()
        assert delta is not None  # a ZoneInfo time always has an offset
        return int(delta.total_seconds()) // INTERVAL_S

    # Most windows see one UTC offset (check every 6 hours and the end); a DST change costs a full pass.
    probes = {offset(j) for j in [*range(0, n, 24), n - 1]}
    off = np.full(n, probes.pop(), np.int64) if len(probes) == 1 else np.array([offset(j) for j in range(n)])
    # 1970-01-01 was a Thursday: slot 3 * 96 of the week.
    return (q0 + np.arange(n) + off + 3 * SLOTS_PER_DAY) % SLOTS_PER_WEEK


def same_slots(target_start: datetime, n_target: int, start: datetime, n: int, margin: int = 4) -> np.ndarray:
    """(n,) bool: which of n intervals from START share a time of week with an interval of the target window,
    give or take MARGIN quarter hours (a DST shift). The same UTC time of week is the same local time of week
    in every timezone with a fixed offset, so one answer serves every shop. A baseline only needs these."""
    phases = (int(target_start.timestamp()) // INTERVAL_S + np.arange(n_target)) % SLOTS_PER_WEEK
    need = np.zeros(SLOTS_PER_WEEK, bool)
    for d in range(-margin, margin + 1):
        need[(phases + d) % SLOTS_PER_WEEK] = True
    return need[(int(start.timestamp()) // INTERVAL_S + np.arange(n)) % SLOTS_PER_WEEK]


def weekly_history(v: Volumes, tzs: Sequence[str], weeks: int, mask: np.ndarray | None = None) -> np.ndarray:
    """(S, weeks, 672) by local interval-of-week. Missing (NaN): intervals under MASK (other promotions:
    a baseline is ordinary days), and whole weeks without any rollup of the shop (no data is not zero)."""
    s, n = v.offered.shape
    unknown = ~v.covered[None, :] if mask is None else (mask | ~v.covered[None, :])
    offered, present = np.where(unknown, np.nan, v.offered), v.present & ~unknown
    hist = np.zeros((s, weeks, SLOTS_PER_WEEK))
    week = np.minimum(np.arange(n) // SLOTS_PER_WEEK, weeks - 1)
    for tz in set(tzs):
        g = np.flatnonzero(np.asarray(tzs) == tz)
        slot = local_slots(tz, v.start, n)
        hist[g[:, None], week[None, :], slot[None, :]] = offered[g]
    has_week = np.zeros((s, weeks), bool)
    for w in range(weeks):
        has_week[:, w] = present[:, week == w].any(axis=1)
    hist[~has_week] = np.nan
    return hist


def baseline(history: ArrayLike, method: Method = "median", trim: float = 0.2) -> NDArray[np.float64]:
    """Per-slot level over the weeks axis (-2) of (..., weeks, slots); NaN (missing) weeks are ignored.

    median and trimmed (drop `trim` of the weeks at each end, then average) resist a one-off spike or an
    outage week; slots with no history at all give 0.
    """
    h = np.asarray(history, float)
    if h.ndim < 2:
        raise ValueError("history must be (..., weeks, slots)")
    has = np.any(~np.isnan(h), axis=-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": empty slots are handled below
        if method == "median":
            out = _nanmedian(h)
        elif method == "mean":
            out = np.nanmean(h, axis=-2)
        elif method == "trimmed":
            if not 0 <= trim < 0.5:
                raise ValueError("trim must be in [0, 0.5)")
            out = _trimmed_mean(h, trim)
        else:
            raise ValueError("method must be median, trimmed or mean")
    return np.where(has, out, 0.0)


def laid_over(base: np.ndarray, tzs: Sequence[str], start: datetime, n: int) -> np.ndarray:
    """A (S, 672) weekly baseline read at each shop's local slots of n intervals from start: (S, n)."""
    out = np.zeros((base.shape[0], n))
    for tz in set(tzs):
        g = np.flatnonzero(np.asarray(tzs) == tz)
        out[g] = base[g][:, local_slots(tz, start, n)]
    return out


def uplift_curve(
    actual: ArrayLike,
    base: ArrayLike,
    by: Literal["interval", "day"] = "interval",
    min_base: float = 1.0,
) -> NDArray[np.float64]:
    """Uplift of a past promotion over its own baseline; actual and base are (..., days, 96).

    by="day" gives (..., days): the day's total over the baseline's total. by="interval" gives
    (..., days, 96) ratios, falling back to the day's ratio where the baseline is below `min_base`
    contacts (a ratio of near-zero counts is noise). Pool shops (sum them) before calling to share one
    curve. A day without baseline volume has uplift 1.
    """
    act = np.asarray(actual, float)
    b = np.asarray(base, float)
    if act.shape != b.shape or act.shape[-1] != SLOTS_PER_DAY:
        raise ValueError("actual and base must share a (..., days, 96) shape")
    tot_a, tot_b = act.sum(axis=-1), b.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        day = np.where(tot_b > 0, tot_a / tot_b, 1.0)
        if by == "day":
            return day
        if by != "interval":
            raise ValueError("by must be interval or day")
        return np.where(b >= min_base, act / b, day[..., None])


def shop_intensity(actual_total: ArrayLike, base_total: ArrayLike, prior_count: float = 100.0
                   ) -> NDArray[np.float64]:
    """Each shop's uplift relative to the pooled one, shrunk toward 1 for shops with little history.

    actual_total and base_total are per-shop sums over a past promotion's window (actual volume and its own
    baseline). The pooled ratio R is sum(actual) / sum(base); a shop's intensity is
    (actual + prior) / (R * base + prior), i.e. its own ratio over R as if `prior_count` contacts had run
    exactly at R. Multiply the pooled curve by it: a brand that promoted twice as hard as the others gets
    about twice the pooled uplift, a shop with no history last year gets the pooled curve as is.
    """
    act = np.asarray(actual_total, float)
    b = np.asarray(base_total, float)
    if act.shape != b.shape:
        raise ValueError("actual_total and base_total must share a shape")
    if np.any(act < 0) or np.any(b < 0) or prior_count <= 0:
        raise ValueError("totals must be >= 0 and prior_count > 0")
    pooled = act.sum() / b.sum() if b.sum() > 0 else 1.0
    return (act + prior_count) / (pooled * b + prior_count)


def learned_uplift(actual: NDArray[np.float64], base: NDArray[np.float64], n_target: int
                   ) -> NDArray[np.float64]:
    """(S, n_target) uplift from last year's (S, n_prev) actual volume and its own baseline, aligned on the
    last interval; target intervals before last year's first day reuse its first day's time of day."""
    s, n_prev = actual.shape
    days = -(-n_prev // SLOTS_PER_DAY)
    pad = days * SLOTS_PER_DAY - n_prev

    def whole_days(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.pad(x, (0, pad)).reshape(days, SLOTS_PER_DAY)

    pooled = uplift_curve(whole_days(actual.sum(0)), whole_days(base.sum(0))).ravel()[:n_prev]
    intensity = shop_intensity(actual.sum(1), base.sum(1))
    idx: NDArray[np.intp] = np.arange(n_target) + (n_prev - n_target)
    idx = np.where(idx < 0, idx % SLOTS_PER_DAY, idx)
    idx = np.clip(idx, 0, n_prev - 1)
    return intensity[:, None] * pooled[idx][None, :]


def given_uplift(curve: Sequence[float | Sequence[float]], start: datetime, n: int, first_day: date,
                 tz: str) -> NDArray[np.float64]:
    """(n,) factors over n intervals from START of a promotion's given curve: one factor per local day from
    FIRST_DAY, or per day 96 factors (one per local interval); 1 outside the curve."""
    zone = ZoneInfo(tz)
    out = np.ones(n)
    for t in range(n):
        local = (start + t * INTERVAL).astimezone(zone)
        day = (local.date() - first_day).days
        if 0 <= day < len(curve):
            entry = curve[day]
            out[t] = entry[local.hour * 4 + local.minute // 15] if isinstance(entry, Sequence) else entry
    return out


def mean_aht(handle_sum_s: NDArray[np.float64], handled: NDArray[np.float64],
             default: float = DEFAULT_AHT_S) -> NDArray[np.float64]:
    """Each shop's AHT over its history: handle time over handled contacts, DEFAULT where none were
    handled."""
    return np.where(handled > 0, handle_sum_s / np.maximum(handled, 1), default)


def _nanmedian(h: NDArray[np.float64]) -> NDArray[np.float64]:
    """np.nanmedian over the weeks axis (-2), by one sort: NaN sorts last, so the middle valid values sit at
    known ranks. ~10x faster than np.nanmedian on a (shops, weeks, 672) array; all-NaN slots give NaN."""
    s = np.sort(h, axis=-2)
    valid = np.sum(~np.isnan(h), axis=-2)
    lo = np.maximum((valid - 1) // 2, 0)[..., None, :]
    hi = np.maximum(valid // 2, 0)[..., None, :]
    return ((np.take_along_axis(s, lo, axis=-2) + np.take_along_axis(s, hi, axis=-2)) / 2)[..., 0, :]


def _trimmed_mean(h: NDArray[np.float64], trim: float) -> NDArray[np.float64]:
    # Sort NaN to the end, then average the middle of the valid weeks of each slot.
    s = np.sort(h, axis=-2)
    valid = np.sum(~np.isnan(h), axis=-2)
    cut = np.floor(valid * trim).astype(int)
    rank = np.arange(h.shape[-2]).reshape((-1, 1))
    keep = (rank >= cut[..., None, :]) & (rank < (valid - cut)[..., None, :])
    mean = np.where(keep, s, 0.0).sum(axis=-2) / np.maximum(keep.sum(axis=-2), 1)
    return cast("NDArray[np.float64]", mean)  # numpy types a reduction as Any
