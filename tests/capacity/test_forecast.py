"""Forecasting: weekly baselines, promotion uplift learned and re-applied, AHT profiles."""

from __future__ import annotations

import numpy as np
import pytest

from service.capacity.forecast import (
    SLOTS_PER_DAY,
    SLOTS_PER_WEEK,
    aht_profile,
    apply_uplift,
    baseline,
    fold_weeks,
    forecast_window,
    uplift_curve,
    window,
)


def weekly_shape(shops: int, seed: int = 0) -> np.ndarray:
    """A plausible (shops, 672) profile: quiet nights, two daily peaks, busier weekends."""
    rng = np.random.default_rng(seed)
    h = np.arange(SLOTS_PER_DAY) / 4
    day = 0.1 + np.exp(-(((h - 10.5) / 2.5) ** 2)) + 0.8 * np.exp(-(((h - 21) / 1.5) ** 2))
    week = np.concatenate([day * (1.3 if d >= 5 else 1.0) for d in range(7)])
    return rng.uniform(20, 100, (shops, 1)) * week


def test_fold_weeks_aligns_to_monday():
    series = np.arange(10.0)
    folded = fold_weeks(series, start_slot=SLOTS_PER_WEEK - 4)  # Sunday 23:00
    assert folded.shape == (2, SLOTS_PER_WEEK)
    assert list(folded[0, -4:]) == [0, 1, 2, 3]
    assert list(folded[1, :6]) == [4, 5, 6, 7, 8, 9]
    assert np.isnan(folded[0, 0]) and np.isnan(folded[1, 6])
    two_shops = fold_weeks(np.ones((2, 3 * SLOTS_PER_WEEK)))
    assert two_shops.shape == (2, 3, SLOTS_PER_WEEK) and not np.isnan(two_shops).any()


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


def test_window_wraps_over_the_week_end():
    base = np.arange(float(SLOTS_PER_WEEK))
    w = window(base, start_slot=6 * SLOTS_PER_DAY, days=2)  # Sunday, then Monday
    assert w.shape == (2, SLOTS_PER_DAY)
    assert w[0, 0] == 6 * SLOTS_PER_DAY and w[1, 0] == 0 and w[1, -1] == SLOTS_PER_DAY - 1


def test_known_uplift_is_recovered_and_reapplied():
    shops, days = 4, 3
    base_week = weekly_shape(shops)
    start = 3 * SLOTS_PER_DAY  # Thursday
    base = window(base_week, start, days)
    h = np.arange(SLOTS_PER_DAY) / 4
    # Midnight kick-off spike on day 0, then a slow decay: per-interval uplift on a per-day level.
    per_day = np.array([3.0, 1.8, 1.2])
    uplift = per_day[:, None] * (1 + 2 * np.exp(-h / 1.5))[None, :]
    actual = base * uplift
    learned = uplift_curve(actual, base)
    assert learned.shape == (shops, days, SLOTS_PER_DAY)
    assert np.allclose(learned, uplift)
    by_day = uplift_curve(actual, base, by="day")
    assert by_day.shape == (shops, days)
    assert np.allclose(by_day, (actual.sum(-1) / base.sum(-1)))
    # Pool shops to share one curve, then forecast a new window from fresh history.
    pooled = uplift_curve(actual.sum(0), base.sum(0))
    assert np.allclose(pooled, uplift)
    history = np.repeat(base_week[:, None, :], 5, axis=1)
    fc = forecast_window(history, start, days, pooled)
    assert np.allclose(fc, base * uplift)
    assert np.allclose(apply_uplift(base, by_day), base * by_day[..., None])


def test_uplift_is_recovered_from_noisy_counts():
    rng = np.random.default_rng(7)
    base_week = weekly_shape(200, seed=3)
    start = 0
    true = np.array([4.0, 2.0])
    base = window(base_week, start, 2)
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


def test_aht_profile():
    rng = np.random.default_rng(2)
    handled = rng.integers(50, 200, (2, 4, SLOTS_PER_WEEK)).astype(float)
    aht = np.array([150.0, 240.0])[:, None, None]
    prof = aht_profile(handled * aht, handled)
    assert np.allclose(prof, aht[:, 0])
    # A quiet slot with three long chats leans on the shop's overall AHT instead of its own 900 s.
    handled[0, :, 10] = [1, 1, 1, 0]
    handle = handled * aht
    handle[0, :, 10] = [900, 900, 900, 0]
    prof = aht_profile(handle, handled, prior_count=30)
    assert 150 < prof[0, 10] < 250
    assert np.isnan(aht_profile(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)))).all()
    with pytest.raises(ValueError):
        aht_profile(np.ones((2, 3)), np.ones((2, 4)))
