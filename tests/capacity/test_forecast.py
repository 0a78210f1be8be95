"""Forecasting, the functions the plan runs: local slots, weekly history, robust baselines laid over a window,
promotion uplift learned (pooled, with per-shop intensity) or given, AHT."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from service.capacity.forecast import (
    SLOTS_PER_DAY,
    SLOTS_PER_WEEK,
    Volumes,
    baseline,
    given_uplift,
    laid_over,
    learned_uplift,
    local_slots,
    mean_aht,
    same_slots,
    shop_intensity,
    uplift_curve,
    weekly_history,
)
from service.kit.time import INTERVAL, local_day_start

TZ = "Asia/Shanghai"


def weekly_shape(shops: int, seed: int = 0) -> np.ndarray:
    """A plausible (shops, 672) profile: quiet nights, two daily peaks, busier weekends."""
    rng = np.random.default_rng(seed)
    h = np.arange(SLOTS_PER_DAY) / 4
    day = 0.1 + np.exp(-(((h - 10.5) / 2.5) ** 2)) + 0.8 * np.exp(-(((h - 21) / 1.5) ** 2))
    week = np.concatenate([day * (1.3 if d >= 5 else 1.0) for d in range(7)])
    return rng.uniform(20, 100, (shops, 1)) * week


def test_baseline_is_robust_to_a_spike_and_missing_weeks():
    true = weekly_shape(3)
    rng = np.random.default_rng(1)
    history = true[:, None, :] * rng.uniform(0.97, 1.03, (3, 6, SLOTS_PER_WEEK))
    history[:, 2, :] *= 5  # a one-off campaign week
    history[0, 4, :] = np.nan  # an outage: no data
    for method in ("median", "trimmed"):
        b = baseline(history, method)
        assert b.shape == (3, SLOTS_PER_WEEK)
        assert np.allclose(b, true, rtol=0.05), method
    assert not np.allclose(baseline(history, "mean"), true, rtol=0.05)  # why robust matters


def test_baseline_empty_slots_and_validation():
    h = np.full((2, 4, SLOTS_PER_WEEK), np.nan)
    h[0, :, :] = 3.0
    b = baseline(h)
    assert np.all(b[0] == 3.0) and np.all(b[1] == 0.0)
    with pytest.raises(ValueError):
        baseline(h, "mode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        baseline(np.ones(5))


def test_trimmed_mean_drops_the_extremes():
    weeks = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    h = np.broadcast_to(weeks[:, None], (5, SLOTS_PER_WEEK))
    assert np.allclose(baseline(h, "trimmed", trim=0.2), 3.0)  # drops 1 and 100
    assert np.allclose(baseline(h, "trimmed", trim=0.0), 22.0)


def test_uplift_is_recovered_from_noisy_counts():
    rng = np.random.default_rng(7)
    base_week = weekly_shape(200, seed=3)
    start = 0
    true = np.array([4.0, 2.0])
    base = base_week[:, start:start + 2 * SLOTS_PER_DAY].reshape(-1, 2, SLOTS_PER_DAY)
    actual = rng.poisson(base * true[:, None])
    learned = uplift_curve(actual.sum(0), base.sum(0), by="day")
    assert np.allclose(learned, true, rtol=0.01)


def test_uplift_falls_back_where_the_baseline_is_tiny():
    base = np.full((1, SLOTS_PER_DAY), 10.0)
    base[0, :8] = 0.2  # night slots: ratios of near-zero counts are noise
    actual = base * 2
    actual[0, :8] = 3.0
    u = uplift_curve(actual, base)
    day = actual.sum() / base.sum()
    assert np.allclose(u[0, :8], day) and np.allclose(u[0, 8:], 2.0)
    assert np.all(uplift_curve(np.zeros((2, SLOTS_PER_DAY)), np.zeros((2, SLOTS_PER_DAY))) == 1.0)
    with pytest.raises(ValueError):
        uplift_curve(np.ones((2, 96)), np.ones((3, 96)))




def midnight(day: date, tz: str = TZ) -> datetime:
    return local_day_start(day, tz)


def test_local_slots():
    # 2026-11-09 is a Monday: local midnight in Shanghai is slot 0; UTC midnight that day is 08:00 local.
    assert list(local_slots(TZ, midnight(date(2026, 11, 9)), 3)) == [0, 1, 2]
    assert local_slots(TZ, datetime.fromisoformat("2026-11-09T00:00:00+00:00"), 1)[0] == 32
    # Sunday 23:45 wraps to Monday 00:00.
    sunday_late = midnight(date(2026, 11, 15)) + timedelta(hours=23, minutes=45)
    assert list(local_slots(TZ, sunday_late, 2)) == [671, 0]
    # Berlin leaves summer time on 2026-10-25 at 03:00 local: the quarter hours 02:00-02:45 repeat.
    slots = local_slots("Europe/Berlin", datetime.fromisoformat("2026-10-24T23:00:00+00:00"), 16)
    sunday = 6 * 96
    assert list(slots) == [sunday + 4 * 1 + i for i in range(4)] + [sunday + 8 + i for i in range(4)] * 2 + \
        [sunday + 12 + i for i in range(4)]


def test_shop_intensity():
    r = shop_intensity([2000.0, 1000.0, 0.0], [1000.0, 1000.0, 0.0])
    assert r[0] > 1.3 and r[1] < 0.8 and r[2] == pytest.approx(1.0)
    assert r[0] / r[1] == pytest.approx(2.0, rel=0.1)
    assert np.allclose(shop_intensity([300.0, 600.0], [100.0, 200.0]), 1.0)  # same ratio everywhere
    with pytest.raises(ValueError):
        shop_intensity([1.0], [1.0, 2.0])


def _volumes(offered: np.ndarray, start: datetime, covered: np.ndarray | None = None) -> Volumes:
    s, n = offered.shape
    return Volumes(start, offered.astype(float), offered > 0, np.zeros(s), np.zeros(s),
                   np.ones(n, bool) if covered is None else covered)


def test_weekly_history_by_local_slot_missing_weeks_and_masks():
    start = midnight(date(2026, 10, 19))  # a Monday
    week = weekly_shape(2)
    offered = np.concatenate([week] * 3, axis=1)
    offered[1, :SLOTS_PER_WEEK] = 0  # shop 1 has no rollup at all in week 0: missing, not zero
    mask = np.zeros_like(offered, bool)
    mask[0, SLOTS_PER_WEEK + 10] = True  # a promotion interval: not an ordinary day
    hist = weekly_history(_volumes(offered, start), [TZ, TZ], 3, mask)
    assert hist.shape == (2, 3, SLOTS_PER_WEEK)
    assert np.allclose(hist[0, 0], week[0]) and np.isnan(hist[1, 0]).all()
    assert np.isnan(hist[0, 1, 10]) and hist[0, 1, 11] == week[0, 11]
    assert np.allclose(baseline(hist), week)  # the median ignores the missing week and the masked slot


def test_the_plans_forecast_recovers_a_known_uplift():
    """Last year's promotion over its own baseline, pooled and per shop, laid over this year's window."""
    shops, days = 3, 3
    week = weekly_shape(shops, seed=5)
    last_start = midnight(date(2025, 11, 9))
    n = days * SLOTS_PER_DAY
    base_prev = laid_over(week, [TZ] * shops, last_start, n)
    h = np.arange(SLOTS_PER_DAY) / 4
    curve = (np.array([1.5, 2.0, 3.0])[:, None] * (1 + 2 * np.exp(-h / 1.5))[None, :]).ravel()
    actual = base_prev * curve * np.array([[2.0], [1.0], [1.0]])  # shop 0 promoted twice as hard
    uplift = learned_uplift(actual, base_prev, n)
    assert uplift.shape == (shops, n)
    assert uplift[0].mean() / uplift[1].mean() == pytest.approx(2.0, rel=0.1)  # it keeps its share
    assert np.allclose(uplift[1] / uplift[1].mean(), curve / curve.mean(), rtol=1e-6)  # the pooled shape
    # A longer target window than last year's reuses last year's first day for its first days.
    longer = learned_uplift(actual, base_prev, n + SLOTS_PER_DAY)
    assert np.allclose(longer[:, SLOTS_PER_DAY:], uplift)


def test_given_uplift_per_day_and_per_interval():
    start = midnight(date(2026, 12, 10))
    n = 3 * SLOTS_PER_DAY
    per_day = given_uplift([1.3, 1.6, 3.5], start - INTERVAL, n + 1, date(2026, 12, 10), TZ)
    assert per_day[0] == 1.0 and per_day[1] == 1.3 and per_day[-1] == 3.5  # 1 outside the promotion
    per_interval = given_uplift([[float(i) for i in range(96)]], start, 96, date(2026, 12, 10), TZ)
    assert list(per_interval[:3]) == [0.0, 1.0, 2.0]


def test_same_slots_reads_only_the_windows_times_of_week():
    start = midnight(date(2026, 11, 11))  # a Wednesday, one day
    history_start = start - timedelta(weeks=4)
    need = same_slots(start, SLOTS_PER_DAY, history_start, 4 * SLOTS_PER_WEEK, margin=0)
    assert need.sum() == 4 * SLOTS_PER_DAY
    assert need[:SLOTS_PER_DAY].all() and not need[SLOTS_PER_DAY:SLOTS_PER_WEEK].any()


def test_mean_aht():
    assert list(mean_aht(np.array([600.0, 0.0]), np.array([3.0, 0.0]), default=300.0)) == [200.0, 300.0]
