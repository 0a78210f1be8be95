"""Seat allocation under scarcity: invariants, optimality on concave curves, Erlang curves, speed."""

from __future__ import annotations

import heapq
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.capacity import allocation
from service.capacity.allocation import allocate_interval, allocate_plan, erlang_curve
from service.capacity.erlang import erlang_c_metrics, required_agents


def table_curve(tables):
    """Curve over per-(interval, shop) SL tables: tables[t][s][n]; ASA is 1 - SL (any number works)."""

    def curve(t, s, n):
        sl = np.array([tables[a][b][c] for a, b, c in zip(t, s, n, strict=True)], float)
        return sl, 1 - sl

    return curve


def concave(gains):
    return np.concatenate(([0.0], np.cumsum(sorted(gains, reverse=True))))


def objective(alloc, weights, curves):
    return sum(w * c[n] for n, w, c in zip(alloc, weights, curves, strict=True))


def brute_best(seats, req, weights, curves):
    best = -1.0
    for combo in itertools.product(*(range(r + 1) for r in req)):
        if sum(combo) == min(seats, sum(req)):
            best = max(best, objective(combo, weights, curves))
    return best


def heap_greedy(seats, req, weights, curves):
    """The textbook one-seat-at-a-time heap on actual marginal gains."""
    n = [0] * len(req)
    heap = [
        (-w * (c[1] - c[0]), i) for i, (w, c) in enumerate(zip(weights, curves, strict=True)) if req[i] > 0
    ]
    heapq.heapify(heap)
    for _ in range(seats):
        if not heap:
            break
        _, i = heapq.heappop(heap)
        n[i] += 1
        if n[i] < req[i]:
            heapq.heappush(heap, (-weights[i] * (curves[i][n[i] + 1] - curves[i][n[i]]), i))
    return n


def test_everything_fits():
    req = np.array([[3, 2, 5], [1, 0, 4]])
    curves = [[concave([0.5, 0.3, 0.1, 0.05, 0.02])] * 3] * 2
    res = allocate_plan([20, 5], req, [0, 1, 2], [1, 1, 1], table_curve(curves))
    assert np.array_equal(res.allocated, req)
    assert np.all(res.shortfall == 0) and list(res.missing_seats) == [0, 0]
    assert res.service_level[0, 0] == pytest.approx(curves[0][0][3])


def test_tiers_served_in_order():
    g = concave([0.4, 0.3, 0.2, 0.1])
    curves = [[g, g, g, g]]
    # KA (4) fits, standard (4 + 4) does not: standard shares the 5 left, long-tail gets nothing.
    res = allocate_interval(
        9, [4, 4, 4, 2], [0, 1, 1, 2], [1, 1, 1, 1], lambda s, n: table_curve(curves)(0 * s, s, n)
    )
    assert list(res.allocated[[0, 3]]) == [4, 0]
    assert res.allocated[1:3].sum() == 5
    assert res.shortfall.sum() == 14 - 9
    # KA itself short: everybody else gets nothing.
    res = allocate_interval(
        3, [4, 4, 4, 2], [0, 1, 1, 2], [1, 1, 1, 1], lambda s, n: table_curve(curves)(0 * s, s, n)
    )
    assert list(res.allocated) == [3, 0, 0, 0]


def test_weights_steer_the_greedy():
    g = concave([0.4, 0.3, 0.2, 0.1])
    curves = [[g, g]]
    res = allocate_interval(4, [4, 4], [1, 1], [1.0, 3.0], lambda s, n: table_curve(curves)(0 * s, s, n))
    # Weighted gains: shop 1 gets seats while 3 x its gain beats shop 0's: 1.2, 0.9, 0.6 > 0.4.
    assert list(res.allocated) == [1, 3]


@st.composite
def plans(draw):
    n_t = draw(st.integers(1, 3))
    n_s = draw(st.integers(1, 5))
    req = draw(st.lists(st.lists(st.integers(0, 5), min_size=n_s, max_size=n_s), min_size=n_t, max_size=n_t))
    seats = draw(st.lists(st.integers(0, 20), min_size=n_t, max_size=n_t))
    tier = draw(st.lists(st.integers(0, 2), min_size=n_s, max_size=n_s))
    weight = draw(st.lists(st.floats(0.1, 5), min_size=n_s, max_size=n_s))
    gains = st.lists(st.floats(0.0, 0.5), min_size=5, max_size=5)
    curves = [[concave(draw(gains)) for _ in range(n_s)] for _ in range(n_t)]
    return np.array(req), np.array(seats), np.array(tier), np.array(weight), curves


@settings(max_examples=150, deadline=None)
@given(plans())
def test_invariants_and_optimality_on_concave_curves(plan):
    req, seats, tier, weight, curves = plan
    res = allocate_plan(seats, req, tier, weight, table_curve(curves))
    alloc = res.allocated
    assert np.all(alloc >= 0) and np.all(alloc <= req)
    assert np.all(alloc.sum(axis=1) <= seats)
    assert np.array_equal(alloc.sum(axis=1), np.minimum(seats, req.sum(axis=1)))  # no seat idles while short
    assert np.array_equal(res.shortfall, req - alloc)
    for t in range(req.shape[0]):
        short = [g for g in sorted(set(tier)) if alloc[t, tier == g].sum() < req[t, tier == g].sum()]
        if short:
            g = short[0]
            assert np.all(alloc[t, tier < g] == req[t, tier < g])  # higher tiers in full
            assert np.all(alloc[t, tier > g] == 0)  # lower tiers nothing while a higher one is short
            # Inside the short tier the greedy is optimal for concave curves.
            members = np.flatnonzero(tier == g)
            left = seats[t] - req[t, tier < g].sum()
            cs = [curves[t][s] for s in members]
            got = objective(alloc[t, members], weight[members], cs)
            assert got == pytest.approx(brute_best(left, req[t, members], weight[members], cs), abs=1e-9)
            want = heap_greedy(left, list(req[t, members]), list(weight[members]), cs)
            assert got == pytest.approx(objective(want, weight[members], cs), abs=1e-9)
        for s in range(req.shape[1]):
            assert res.service_level[t, s] == pytest.approx(curves[t][s][alloc[t, s]])


def test_s_shaped_erlang_curves_beat_the_plain_greedy():
    # Erlang C SL is 0 until the servers exceed the load, so a plain greedy sees no gain in a big shop's
    # first seats and pours them into a shop with small steady gains instead. The envelope greedy sees
    # the big shop's block is worth more per seat.
    big = erlang_c_metrics(40.0, 180, 900, np.arange(13), 20).service_level  # 8 Erlangs
    steady = np.linspace(0, 0.48, 13)  # 0.04 per seat
    curves = [[big, steady]]
    res = allocate_plan([12], [[12, 12]], [1, 1], [1, 1], table_curve(curves))
    assert list(res.allocated[0]) == [12, 0]
    got = objective(res.allocated[0], [1, 1], curves[0])
    plain = objective(heap_greedy(12, [12, 12], [1, 1], curves[0]), [1, 1], curves[0])
    assert plain == pytest.approx(0.48)
    assert got == pytest.approx(brute_best(12, [12, 12], [1, 1], curves[0]))
    assert got > plain + 0.4


@settings(max_examples=40, deadline=None)
@given(
    loads=st.lists(st.floats(0.2, 12), min_size=1, max_size=4),
    seats=st.integers(0, 40),
    weights=st.lists(st.floats(0.2, 3), min_size=4, max_size=4),
)
def test_erlang_curves_small_intervals_are_exact(loads, seats, weights):
    vol = np.array([loads]) * 900 / 180
    n_s = len(loads)
    w = np.array(weights[:n_s])
    req = required_agents("erlang_c", vol, 180, 900, 0.8, 20).agents
    res = allocate_plan([seats], req, np.ones(n_s, int), w, erlang_curve(vol, 180, 900, 20))
    alloc = res.allocated[0]
    assert np.all(alloc <= req[0]) and alloc.sum() == min(seats, req.sum())
    tables = [
        erlang_c_metrics(v, 180, 900, np.arange(int(r) + 1), 20).service_level
        for v, r in zip(vol[0], req[0], strict=True)
    ]
    got = objective(alloc, w, tables)
    if np.prod(req[0] + 1) <= 20_000:
        assert got == pytest.approx(brute_best(seats, list(req[0]), list(w), tables), abs=1e-9)
    m = erlang_c_metrics(vol[0], 180, 900, alloc, 20)
    assert np.allclose(res.service_level[0], m.service_level)
    assert np.allclose(res.asa_s[0], m.asa_s)


def test_big_intervals_greedy_is_near_exact(monkeypatch):
    # Above the exact budget the envelope greedy (with its repair of the last seats) decides; compare
    # it with the exact programme on instances small enough to solve both ways.
    rng = np.random.default_rng(5)
    worst = 1.0
    for _ in range(25):
        n_s = int(rng.integers(5, 60))
        vol = rng.lognormal(1.0, 1.0, (1, n_s)) * 5
        w = rng.uniform(0.5, 2, n_s)
        req = required_agents("erlang_c", vol, 180, 900, 0.8, 20).agents
        seats = [int(req.sum() * rng.uniform(0.3, 0.95))]
        curve = erlang_curve(vol, 180, 900, 20)
        exact = allocate_plan(seats, req, np.ones(n_s, int), w, curve)
        monkeypatch.setattr(allocation, "_EXACT_BUDGET", 0)
        greedy = allocate_plan(seats, req, np.ones(n_s, int), w, curve)
        monkeypatch.undo()
        assert greedy.allocated.sum() == exact.allocated.sum() == seats[0]
        assert np.all(greedy.allocated <= req)
        ratio = (greedy.service_level * w).sum() / (exact.service_level * w).sum()
        assert ratio <= 1 + 1e-9
        worst = min(worst, ratio)
    assert worst > 0.93  # measured ~0.956 at worst, usually exact


def test_known_metrics_are_reused():
    rng = np.random.default_rng(4)
    vol = rng.uniform(0, 300, (6, 20))
    req = required_agents("erlang_c", vol, 200, 900, 0.8, 20)
    curve = erlang_curve(vol, 200, 900, 20)
    tier = rng.integers(0, 3, 20)
    seats = np.full(6, int(req.agents.sum(axis=1).mean() * 0.8))
    a = allocate_plan(seats, req.agents, tier, 1.0, curve)
    b = allocate_plan(
        seats, req.agents, tier, 1.0, curve, sl_at_required=req.service_level, asa_at_required=req.asa_s
    )
    assert np.array_equal(a.allocated, b.allocated)
    assert np.allclose(a.service_level, b.service_level)
    assert np.allclose(a.asa_s, b.asa_s)


def test_non_concave_tables(monkeypatch):
    # A curve that jumps, flattens and jumps again after its first envelope vertex.
    bumpy = np.array([0, 0.5, 0.5, 0.5, 0.9, 0.9])
    smooth = concave([0.2, 0.15, 0.1, 0.05, 0.01])
    curves = [[bumpy, smooth]]
    for seats in range(0, 11):
        res = allocate_plan([seats], [[5, 5]], [0, 0], [1, 1], table_curve(curves))
        got = objective(res.allocated[0], [1, 1], curves[0])
        assert got == pytest.approx(brute_best(seats, [5, 5], [1, 1], curves[0]))
        # The greedy path builds that curve's envelope exactly and is never worse than the plain heap.
        monkeypatch.setattr(allocation, "_EXACT_BUDGET", 0)
        res = allocate_plan([seats], [[5, 5]], [0, 0], [1, 1], table_curve(curves))
        monkeypatch.undo()
        got = objective(res.allocated[0], [1, 1], curves[0])
        assert got >= objective(heap_greedy(seats, [5, 5], [1, 1], curves[0]), [1, 1], curves[0]) - 1e-12
        assert res.allocated[0].sum() == min(seats, 10)


def test_validation():
    with pytest.raises(ValueError):
        allocate_plan([1], [[-1]], [0], [1], table_curve([[[0, 1]]]))
    with pytest.raises(ValueError):
        allocate_plan([1], [1], [0], [1], table_curve([[[0, 1]]]))


def test_full_plan_invariants():
    # 288 intervals x 500 shops, 4,000 seats, peaks far beyond the seats (most intervals short). Its speed is
    # a benchmark's figure (tests/bench/capacity_plan.py), not an assertion here.
    rng = np.random.default_rng(3)
    n_t, n_s = 288, 500
    size = rng.lognormal(0, 1.0, n_s)
    size /= size.sum()
    h = np.arange(n_t) / 12
    profile = 0.1 + np.maximum(np.exp(-(((h - 10.5) / 2.5) ** 2)), 0.9 * np.exp(-(((h - 20.5) / 2) ** 2)))
    vol = np.round(60_000 * profile[:, None] * size[None, :] * rng.uniform(0.8, 1.2, (n_t, n_s)))
    aht = rng.uniform(120, 300, n_s)
    tier = rng.choice([0, 1, 2], n_s, p=[0.1, 0.4, 0.5])
    weight = rng.uniform(0.5, 2, n_s)
    req = required_agents("erlang_c", vol, aht, 900, 0.8, 30)
    curve = erlang_curve(vol, aht, 900, 30)
    res = allocate_plan(
        4000, req.agents, tier, weight, curve, sl_at_required=req.service_level, asa_at_required=req.asa_s
    )
    short = res.missing_seats > 0
    assert short.sum() > 100
    assert np.all(res.allocated.sum(axis=1)[short] == 4000)
    assert np.all(res.allocated <= req.agents)
    assert not np.isnan(res.service_level).any()
