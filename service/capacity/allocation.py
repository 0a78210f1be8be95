"""Seat allocation under scarcity (DESIGN.md section 4), vectorised over the intervals of a plan.

Per interval: tiers are served in rank order (0 = KA, 1 = standard, 2 = long-tail). A tier whose total
requirement fits in the seats left gets every requirement in full; the first tier that does not fit shares
the remaining seats, and every lower tier gets nothing for that interval.

Inside the short tier seats go one at a time to the shop with the largest weighted marginal gain in
service level, never above its requirement: the objective is sum_i weight_i * SL_i(n_i), so pass
weight = priority x volume to maximise contacts answered in time. That greedy is optimal when every
curve is concave, but Erlang curves are S-shaped (SL is 0 until the servers exceed the load), and a plain
greedy would then see zero gain for a first seat everywhere. So the greedy runs on each curve's upper
concave envelope: the first seats of a shop form a block worth its average gain. Handing out seats one
at a time by envelope gain is a heap greedy; because envelope gains never rise along a shop, it equals
picking the largest gains overall, which is what the code does with one sort for the whole plan. On
S-shaped curves no greedy is exact (the last seats are a small knapsack problem): an interval small
enough is then solved exactly by dynamic programming (within a time budget per plan), and a big one whose
seats ran out inside a block tries a few alternatives for its last seats (see _repair).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.capacity.erlang import erlang_a_metrics, erlang_c_metrics

# curve(interval_index, shop_index, agents) -> (service_level, asa_s), all flat arrays of one length.
Curve = Callable[[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]],
                 tuple[NDArray[np.float64], NDArray[np.float64]]]

_TIE = 1e-12  # gains closer than this are ties (float noise must not break concavity checks)
# Dynamic programmes (seats x curve points) solved exactly for intervals with S-shaped curves: the
# largest for one interval (~3 ms) and the total for a plan (~0.3 s), so a plan's time stays bounded.
_EXACT_BUDGET = 250_000
_EXACT_PLAN_BUDGET = 20_000_000


@dataclass(frozen=True)
class Allocation:
    """Seats per (interval, shop) and the expected service with them."""

    allocated: NDArray[np.int64]
    service_level: NDArray[np.float64]
    asa_s: NDArray[np.float64]
    shortfall: NDArray[np.int64]  # required - allocated

    @property
    def missing_seats(self) -> NDArray[np.int64]:
        """Seats still missing per interval (summed over the last axis, the shops)."""
        return cast("NDArray[np.int64]", self.shortfall.sum(axis=-1))  # numpy types a reduction as Any


def erlang_curve(
    volume: ArrayLike,
    aht_s: ArrayLike,
    interval_s: ArrayLike,
    answer_s: ArrayLike,
    concurrency: ArrayLike = 1,
    patience_s: ArrayLike | None = None,
) -> Curve:
    """A Curve over (interval, shop) parameter grids; Erlang A where patience_s is finite, else Erlang C.

    Arguments broadcast to the (intervals, shops) shape of `volume`.
    """
    vol = np.asarray(volume, float)
    shape = vol.shape
    aht, iv, ans, k = (
        np.broadcast_to(np.asarray(x, float), shape) for x in (aht_s, interval_s, answer_s, concurrency)
    )
    pat = None if patience_s is None else np.broadcast_to(np.asarray(patience_s, float), shape)

    def curve(t: NDArray[np.int64], s: NDArray[np.int64], n: NDArray[np.int64]
              ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        args = (vol[t, s], aht[t, s], iv[t, s], n, ans[t, s])
        if pat is None:
            m = erlang_c_metrics(*args, k[t, s])
        else:
            m = erlang_a_metrics(*args, pat[t, s], k[t, s])
        return m.service_level, m.asa_s

    return curve


def allocate_interval(
    seats: int,
    required: ArrayLike,
    tier: ArrayLike,
    weight: ArrayLike,
    curve: Callable[[NDArray[np.int64], NDArray[np.int64]], tuple[NDArray[np.float64], NDArray[np.float64]]],
) -> Allocation:
    """One interval: `curve(shop_index, agents) -> (service_level, asa_s)`. Returns per-shop arrays."""
    req = np.asarray(required)[None, :]
    res = allocate_plan(np.array([seats]), req, tier, weight, lambda t, s, n: curve(s, n))
    return Allocation(res.allocated[0], res.service_level[0], res.asa_s[0], res.shortfall[0])


def allocate_plan(
    seats: ArrayLike,
    required: ArrayLike,
    tier: ArrayLike,
    weight: ArrayLike,
    curve: Curve,
    *,
    sl_at_required: ArrayLike | None = None,
    asa_at_required: ArrayLike | None = None,
) -> Allocation:
    """Allocate seats[t] among shops for every interval t.

    required: (T, S) agents per interval and shop; tier: (S,) rank, lower served first; weight: (S,) or
    (T, S) priority. sl_at_required / asa_at_required: the (T, S) metrics already known at the required
    staffing (from required_agents), so cells served in full need no new curve evaluation.
    """
    req = np.asarray(required).astype(np.int64)
    if req.ndim != 2:
        raise ValueError("required must be (intervals, shops)")
    n_t, n_s = req.shape
    cap = np.broadcast_to(np.asarray(seats), (n_t,)).astype(np.int64)
    rank = np.broadcast_to(np.asarray(tier), (n_s,)).astype(np.int64)
    w = np.broadcast_to(np.asarray(weight, float), (n_t, n_s))
    if np.any(req < 0) or np.any(cap < 0) or np.any(w < 0):
        raise ValueError("seats, required and weight must be >= 0")

    # Tier totals per interval, in rank order; the first tier that does not fit is the short one.
    ranks = np.unique(rank)
    pos = np.searchsorted(ranks, rank)
    totals = np.zeros((n_t, ranks.size), np.int64)
    np.add.at(totals.T, pos, req.T)
    before = np.cumsum(totals, axis=1) - totals  # seats taken by higher tiers
    fits = before + totals <= cap[:, None]
    short = np.where(fits.all(axis=1), ranks.size, np.argmin(fits, axis=1))  # ranks.size: nobody short
    left = np.where(
        short < ranks.size,
        cap - np.take_along_axis(before, np.minimum(short, ranks.size - 1)[:, None], 1)[:, 0],
        0,
    )

    alloc = np.where(pos[None, :] < short[:, None], req, 0)
    in_short = (pos[None, :] == short[:, None]) & (req > 0)
    sl = np.full((n_t, n_s), np.nan)
    asa = np.full((n_t, n_s), np.nan)

    if in_short.any():
        _share(alloc, sl, asa, in_short, left, req, w, curve)

    # Expected service everywhere else (full requirement, or nothing for the tiers below the short one).
    todo = np.isnan(sl)
    if sl_at_required is not None and asa_at_required is not None:
        full = todo & (alloc == req)
        sl[full] = np.broadcast_to(np.asarray(sl_at_required, float), (n_t, n_s))[full]
        asa[full] = np.broadcast_to(np.asarray(asa_at_required, float), (n_t, n_s))[full]
        todo &= ~full
    if todo.any():
        t, s = np.nonzero(todo)
        sl[t, s], asa[t, s] = curve(t, s, alloc[t, s])
    return Allocation(alloc, sl, asa, req - alloc)


def _share(alloc: NDArray[np.int64], sl: NDArray[np.float64], asa: NDArray[np.float64],
           in_short: NDArray[np.bool_], left: NDArray[np.int64], req: NDArray[np.int64],
           w: NDArray[np.float64], curve: Curve) -> None:
    """Greedy on concave envelopes for the short tier of every short interval, in place."""
    seg_t, seg_s = np.nonzero(in_short)  # one segment per (interval, shop), ordered by interval then shop
    r = req[seg_t, seg_s]
    n_seg = r.size
    # Every point n = 0..r of every segment's curve, evaluated in one call.
    start = np.concatenate(([0], np.cumsum(r + 1)[:-1]))
    pt_seg = np.repeat(np.arange(n_seg), r + 1)
    pt_n = np.arange(pt_seg.size) - start[pt_seg]
    f_sl, f_asa = curve(seg_t[pt_seg], seg_s[pt_seg], pt_n)
    f_sl = np.asarray(f_sl, float)
    f_asa = np.asarray(f_asa, float)
    f = f_sl * w[seg_t, seg_s][pt_seg]  # weighted curve

    # Seats m = 1..r per segment: slope of the chord from 0, and the actual marginal gain.
    seat = pt_n > 0
    s_seg, s_m = pt_seg[seat], pt_n[seat]
    f0 = f[start][s_seg]
    chord = (f[seat] - f0) / s_m
    gain = f[seat] - f[np.flatnonzero(seat) - 1]
    s_start = start - np.arange(n_seg)  # first seat of each segment in the seat arrays
    best = np.maximum.reduceat(chord, s_start)
    # The first envelope vertex: the smallest m whose chord slope is (within float noise) the best.
    is_best = chord >= best[s_seg] - _TIE * np.maximum(1.0, np.abs(best[s_seg]))
    head = np.minimum.reduceat(np.where(is_best, s_m, np.iinfo(np.int64).max), s_start)

    # Beyond the first vertex the curve is its own envelope if gains never rise; otherwise build the
    # envelope exactly for that segment (rare: Erlang curves are concave past the load).
    after = s_m > head[s_seg]
    rise = after[1:] & after[:-1] & (s_seg[1:] == s_seg[:-1]) & (gain[1:] > gain[:-1] + _TIE)
    slope = np.where(after, gain, best[s_seg])
    vertex = np.zeros(s_m.size, bool)  # is seat m an envelope vertex (a clean place to stop)?
    vertex[:] = s_m >= head[s_seg]
    for g in np.unique(s_seg[1:][rise]):
        lo, hi = s_start[g], s_start[g] + r[g]
        slope[lo:hi], vertex[lo:hi] = _envelope(f[start[g] : start[g] + r[g] + 1])

    # Entries to rank: one per run of equal envelope slope (a block), plus one per seat after it.
    # A run starts at seat 1 or right after a vertex.
    run_start = np.ones(s_m.size, bool)
    run_start[1:] = (s_seg[1:] != s_seg[:-1]) | vertex[:-1]
    e_first = np.flatnonzero(run_start)
    e_size = np.diff(np.append(e_first, s_m.size))
    e_seg = s_seg[e_first]
    e_t = seg_t[e_seg]
    e_slope = slope[e_first]
    # Heap order: interval, then slope descending, then shop, then seat; envelope slopes never rise
    # within a segment, so the chosen entries of a segment are always a prefix.
    order = np.lexsort((s_m[e_first], e_seg, -e_slope, e_t))
    size = e_size[order]
    t_sorted = e_t[order]
    cum = np.cumsum(size)
    first_of_t = np.searchsorted(t_sorted, t_sorted, side="left")
    taken_before = cum - size - np.where(first_of_t > 0, cum[first_of_t - 1], 0)
    take = np.clip(left[t_sorted] - taken_before, 0, size)
    n_alloc = np.zeros(n_seg, np.int64)
    np.add.at(n_alloc, e_seg[order], take)

    # The greedy is exact when every envelope entry is a single seat (concave curves). An interval with
    # blocks that is small enough is solved exactly by dynamic programming instead; a big one keeps the
    # greedy, with _repair when its seats ran out inside a block (at most one entry per interval).
    blocky = np.zeros(left.size, bool)
    blocky[e_t[e_size > 1]] = True
    partial = (take > 0) & (take < size)
    cut_at = dict(zip(t_sorted[partial].tolist(), np.flatnonzero(partial).tolist(), strict=True))
    sorted_seg = e_seg[order]
    budget = _EXACT_PLAN_BUDGET
    for t in np.flatnonzero(blocky):
        first, stop = seg_t.searchsorted([t, t + 1])  # the interval's segments are contiguous
        segs = slice(first, stop)
        cost = (left[t] + 1) * (r[segs] + 1).sum()
        if cost <= min(_EXACT_BUDGET, budget):
            budget -= cost
            n_alloc[segs] = _exact(f, start[segs], r[segs], int(left[t]))
        elif t in cut_at:
            p: int = cut_at[t]
            n_alloc[segs] = _repair(
                n_alloc[segs], r[segs], f, start[segs], sorted_seg[p] - first, size[p], take[p]
            )

    idx = start + n_alloc
    alloc[seg_t, seg_s] = n_alloc
    sl[seg_t, seg_s] = f_sl[idx]
    asa[seg_t, seg_s] = f_asa[idx]


def _envelope(f: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Upper concave envelope of points (m, f[m]), m = 0..r: per-seat slopes and vertex flags (seats 1..r)."""
    hull = [0]
    for m in range(1, f.size):
        # Pop while the last hull point lies on or under the chord from its predecessor to m.
        while len(hull) >= 2 and (f[hull[-1]] - f[hull[-2]]) * (m - hull[-2]) <= (f[m] - f[hull[-2]]) * (
            hull[-1] - hull[-2]
        ):
            hull.pop()
        hull.append(m)
    slope = np.empty(f.size - 1)
    vertex = np.zeros(f.size - 1, bool)
    for a, b in zip(hull[:-1], hull[1:], strict=True):
        slope[a:b] = (f[b] - f[a]) / (b - a)
        vertex[b - 1] = True
    return slope, vertex


def _exact(f: NDArray[np.float64], start: NDArray[np.int64], r: NDArray[np.int64], seats: int
           ) -> NDArray[np.int64]:
    """max sum_i f_i(n_i) subject to sum n_i = seats, 0 <= n_i <= r_i, by max-plus convolution per shop."""
    best = np.full(seats + 1, -np.inf)
    best[0] = 0.0
    used = np.arange(seats + 1)[:, None]
    choices = []
    for g in range(r.size):
        m = np.arange(min(r[g], seats) + 1)
        prev = np.where(used >= m, best[np.maximum(used - m, 0)], -np.inf)
        total = prev + f[start[g] + m]
        pick = np.argmax(total, axis=1)
        best = total[np.arange(seats + 1), pick]
        choices.append(pick)
    n = np.zeros(r.size, np.int64)
    v = seats
    for g in range(r.size - 1, -1, -1):
        n[g] = choices[g][v]
        v -= n[g]
    return n


def _repair(n: NDArray[np.int64], r: NDArray[np.int64], f: NDArray[np.float64], start: NDArray[np.int64],
            cut_seg: int, cut_size: int, taken: int) -> NDArray[np.int64]:
    """Improve one interval's allocation whose seats ran out inside a block of segment `cut_seg` (it got
    `taken` of the block's `cut_size` seats). That tail is a small knapsack problem where no greedy is
    exact, so two alternatives are tried and the best objective wins (ties keep the allocation as is):

    - complete the block with seats taken one at a time where they are worth least;
    - from the block's start, hand the `taken` seats out by the best chord slope that still fits: each
      shop offers max over m <= seats left of (f(n + m) - f(n)) / m. A lazy heap keeps it cheap: a
      shop's offer can only fall as the seats left shrink, so a stale offer is an upper bound and is
      recomputed only when popped with a block that no longer fits.
    """

    def at(g: int, m: int) -> float:
        return cast(float, f[start[g] + m])  # np.float64, a float subclass

    candidates = [n]

    steal = n.copy()
    steal[cut_seg] += cut_size - taken
    need = cut_size - taken
    heap = [
        (at(h, steal[h]) - at(h, steal[h] - 1), h) for h in range(n.size) if h != cut_seg and steal[h] > 0
    ]
    heapq.heapify(heap)
    while need and heap:
        _, h = heapq.heappop(heap)
        steal[h] -= 1
        need -= 1
        if steal[h] > 0:
            heapq.heappush(heap, (at(h, steal[h]) - at(h, steal[h] - 1), h))
    if not need:
        candidates.append(steal)

    fit = n.copy()
    fit[cut_seg] -= taken  # back to the block's start, an envelope vertex
    pool = taken

    def offer(g: int) -> tuple[float, int, int]:
        room = min(r[g] - fit[g], pool)
        base = start[g] + fit[g]
        slopes = (f[base + 1 : base + room + 1] - f[base]) / np.arange(1, room + 1)
        m = int(np.argmax(slopes))
        return (-slopes[m], g, m + 1)

    offers = [offer(g) for g in range(n.size) if fit[g] < r[g]]
    heapq.heapify(offers)
    while pool and offers:
        _, g, m = heapq.heappop(offers)
        if m > pool:
            heapq.heappush(offers, offer(g))
            continue
        fit[g] += m
        pool -= m
        if fit[g] < r[g] and pool:
            heapq.heappush(offers, offer(g))
    candidates.append(fit)

    values = [float(f[start + x].sum()) for x in candidates]
    best = int(np.argmax(values))
    return candidates[best] if values[best] > values[0] + _TIE else n
