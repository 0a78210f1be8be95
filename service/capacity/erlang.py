"""Erlang C and Erlang A (M/M/N+M) staffing maths, vectorised with numpy over cells.

A *cell* is one (interval, shop) pair. Every public function broadcasts its array arguments together, so
a `volume` of shape (96, 500) with a scalar `aht_s` gives (96, 500) results.

Units: `volume` is contacts offered per interval; `aht_s`, `interval_s`, `answer_s` and `patience_s` are
seconds. With chat concurrency k an agent is k servers, each working one chat for `aht_s` (per-chat handle
time): servers = agents * k, offered load A = volume * aht_s / interval_s in chat-slot Erlangs, occupancy
A / (agents * k).

Conventions (documented here rather than chosen silently):
- Erlang C with servers <= load is unstable (the queue grows without bound): service level 0, wait
  probability 1, ASA = inf, occupancy min(1, A / servers).
- Erlang A: service level is the share of ALL arrivals answered within `answer_s` (abandons are misses);
  ASA is the mean wait of answered contacts (immediate answers count as 0 s); abandon rate is the share
  of arrivals that abandon; occupancy is the carried (answered) load per server.
- Zero volume: zero agents are needed; service level 1, ASA 0, occupancy 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

Model = Literal["erlang_c", "erlang_a"]
MODELS: tuple[str, ...] = ("erlang_c", "erlang_a")


@cache
def scipy_special() -> Any:
    """scipy.special, imported on first use: a process that computes no staffing (a server starting, most
    CLI commands) never pays for loading SciPy."""
    from scipy import special

    return special


# Float slack for "A/N <= cap" and "x / (1 - s)": 10 / 0.8 or 14 / 0.7 must not cost an extra agent.
_SLACK = 1e-9
# Weights below this share of the distribution are skipped when integrating the Erlang A queue.
_NEGLIGIBLE = 1e-18
# Elements per padded block in the Erlang A evaluation: bounds memory, keeps numpy calls large.
_BLOCK = 1 << 20
# Erlang A treats patience beyond this many handle times as exactly this long. The queue's spread grows
# like sqrt(patience) when it is overloaded, and past here the answer no longer changes in practice
# (~2e-4 in service level one server above the load, far less elsewhere); patience_s = inf gives Erlang C.
_MAX_PATIENCE_AHT = 1e6

# The private helpers work on flat float arrays over cells (agent counts too, until they are returned).
_Floats: TypeAlias = NDArray[np.float64]


@dataclass(frozen=True)
class QueueMetrics:
    """Per-cell staffing and the queue's expected behaviour with that staffing."""

    agents: NDArray[np.int64]
    load: NDArray[np.float64]  # offered load, Erlangs (chat slots)
    service_level: NDArray[np.float64]  # share of arrivals answered within answer_s
    asa_s: NDArray[np.float64]  # mean wait of answered contacts, seconds
    wait_probability: NDArray[np.float64]
    abandon_rate: NDArray[np.float64]  # 0 in Erlang C
    occupancy: NDArray[np.float64]


def offered_load(volume: ArrayLike, aht_s: ArrayLike, interval_s: ArrayLike) -> NDArray[np.float64]:
    """Offered load A in Erlangs: arrivals per second x handle time."""
    return np.asarray(volume, np.float64) * np.asarray(aht_s, np.float64) / np.asarray(interval_s, np.float64)


def scheduled(agents: ArrayLike, shrinkage: ArrayLike) -> NDArray[np.int64]:
    """Agents to schedule so that `agents` remain after shrinkage: ceil(agents / (1 - s))."""
    n = np.asarray(agents, np.float64)
    s = np.asarray(shrinkage, np.float64)
    if np.any((s < 0) | (s >= 1)):
        raise ValueError("shrinkage must be in [0, 1)")
    # Round away float noise first: 14 / 0.7 is 20.000000000000004 and must stay 20.
    return np.ceil(np.round(n / (1 - s), 9)).astype(np.int64)


def erlang_b(servers: ArrayLike, load: ArrayLike) -> NDArray[np.float64]:
    """Erlang B blocking probability B(N, A), exact for N in the tens of thousands."""
    c, a = (x.astype(float) for x in np.broadcast_arrays(np.asarray(servers), np.asarray(load)))
    out = np.ones(c.shape)
    out[c > 0] = 0.0
    pos = (a > 0) & (c > 0)
    out[pos] = np.exp(_log_erlang_b(c[pos], a[pos]))
    return out


def erlang_c(servers: ArrayLike, load: ArrayLike) -> NDArray[np.float64]:
    """Erlang C probability of waiting C(N, A); 1 when N <= A (unstable queue), 0 when A = 0."""
    c, a = (x.astype(float) for x in np.broadcast_arrays(np.asarray(servers), np.asarray(load)))
    out = np.where(a > 0, 1.0, 0.0)
    stable = (a > 0) & (c > a)
    b = np.exp(_log_erlang_b(c[stable], a[stable]))
    out[stable] = _c_from_b(c[stable], a[stable], b)
    return out


def erlang_c_metrics(
    volume: ArrayLike,
    aht_s: ArrayLike,
    interval_s: ArrayLike,
    agents: ArrayLike,
    answer_s: ArrayLike,
    concurrency: ArrayLike = 1,
) -> QueueMetrics:
    """Erlang C (M/M/N, infinite patience) metrics for the given agents per cell."""
    vol, aht, iv, n, t, k = _broadcast(volume, aht_s, interval_s, agents, answer_s, concurrency)
    _check_queue(vol, aht, iv, t, k)
    _check_agents(n)
    a = vol * aht / iv
    sl, asa, pw, occ = _erlang_c_core((n * k).ravel(), a.ravel(), aht.ravel(), t.ravel())
    return _metrics(n, a, sl, asa, pw, np.zeros(a.size), occ)


def erlang_a_metrics(
    volume: ArrayLike,
    aht_s: ArrayLike,
    interval_s: ArrayLike,
    agents: ArrayLike,
    answer_s: ArrayLike,
    patience_s: ArrayLike,
    concurrency: ArrayLike = 1,
) -> QueueMetrics:
    """Erlang A (M/M/N+M, exponential patience with mean patience_s) metrics per cell.

    patience_s = inf gives the Erlang C limit.
    """
    vol, aht, iv, n, t, k, pat = _broadcast(
        volume, aht_s, interval_s, agents, answer_s, concurrency, patience_s
    )
    _check_queue(vol, aht, iv, t, k)
    _check_agents(n)
    _check_patience(pat)
    a = vol * aht / iv
    sl, asa, pw, pab, occ = _erlang_a_core((n * k).ravel(), a.ravel(), aht.ravel(), t.ravel(), pat.ravel())
    return _metrics(n, a, sl, asa, pw, pab, occ)


def required_agents(
    model: Model,
    volume: ArrayLike,
    aht_s: ArrayLike,
    interval_s: ArrayLike,
    target_sl: ArrayLike,
    answer_s: ArrayLike,
    concurrency: ArrayLike = 1,
    max_occupancy: ArrayLike = 1.0,
    target_asa_s: ArrayLike | None = None,
    max_abandon: ArrayLike | None = None,
    patience_s: ArrayLike | None = None,
) -> QueueMetrics:
    """Smallest agents per cell meeting every target, with the metrics at that staffing.

    Targets: service level >= target_sl within answer_s, ASA <= target_asa_s (if given), abandon rate <=
    max_abandon (Erlang A, if given), occupancy A / (N k) <= max_occupancy. Erlang C only considers
    N k > A (a stable queue); Erlang A searches from one agent and may staff below the load.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}")
    if model == "erlang_a" and patience_s is None:
        raise ValueError("erlang_a needs patience_s")
    inf = np.inf
    vol, aht, iv, tsl, t, k, cap, tasa, tab, pat = _broadcast(
        volume,
        aht_s,
        interval_s,
        target_sl,
        answer_s,
        concurrency,
        max_occupancy,
        inf if target_asa_s is None else target_asa_s,
        inf if max_abandon is None else max_abandon,
        inf if patience_s is None else patience_s,
    )
    _check_queue(vol, aht, iv, t, k)
    if np.any((tsl < 0) | (tsl >= 1) | np.isnan(tsl)):
        raise ValueError("target_sl must be in [0, 1)")
    if np.any((cap <= 0) | (cap > 1) | np.isnan(cap)):
        raise ValueError("max_occupancy must be in (0, 1]")
    if np.any((tasa <= 0) | np.isnan(tasa)):
        raise ValueError("target_asa_s must be > 0")
    if np.any((tab <= 0) | np.isnan(tab)):
        raise ValueError("max_abandon must be > 0")
    _check_patience(pat)

    shape = vol.shape
    a = (vol * aht / iv).ravel()
    cols = [x.ravel() for x in (aht, t, k, tsl, tasa, cap, tab, pat)]
    m = a.size
    n = np.zeros(m, np.int64)
    sl, asa, pw, pab = np.ones(m), np.zeros(m), np.zeros(m), np.zeros(m)
    occ = np.zeros(m)
    busy = np.flatnonzero(a > 0)  # zero volume needs zero agents
    if busy.size:
        sub = [x[busy] for x in cols]
        if model == "erlang_c":
            n[busy], sl[busy], asa[busy], pw[busy], occ[busy] = _required_c(a[busy], *sub[:6])
        else:
            n[busy], sl[busy], asa[busy], pw[busy], pab[busy], occ[busy] = _required_a(a[busy], *sub)
    return _metrics(n.reshape(shape), a.reshape(shape), sl, asa, pw, pab, occ)


# ---------------------------------------------------------------- Erlang B / C


def _log_erlang_b(c: _Floats, a: _Floats) -> _Floats:
    """log B(c, a) for integer-valued c >= 0 and a > 0 (flat arrays), O(1) per cell.

    B is the Poisson pmf over the cdf at c: log space, so no factorial ever overflows.
    """
    out = np.empty(a.shape)
    cdf = scipy_special().pdtr(c, a)
    ok = cdf > 1e-280
    co, ao = c[ok], a[ok]
    out[ok] = co * np.log(ao) - ao - scipy_special().gammaln(co + 1) - np.log(cdf[ok])
    if not ok.all():
        # Far below the load the cdf underflows; there 1/B = sum_m prod_{i<m} (c - i) / a converges fast
        # because every ratio is <= c/a, which is well below 1.
        cc, aa = c[~ok], a[~ok]
        term, total, i = np.ones(aa.shape), np.ones(aa.shape), 0
        while np.any(term > 1e-17 * total):
            term = term * np.maximum(cc - i, 0) / aa
            total += term
            i += 1
        out[~ok] = -np.log(total)
    return out


def _c_from_b(c: _Floats, a: _Floats, b: _Floats) -> _Floats:
    return c * b / (c - a * (1 - b))


def _erlang_c_core(c: _Floats, a: _Floats, aht: _Floats, t: _Floats
                   ) -> tuple[_Floats, _Floats, _Floats, _Floats]:
    """Service level, ASA, wait probability and occupancy for flat cells (c = servers)."""
    sl = np.zeros(a.shape)
    asa = np.full(a.shape, np.inf)
    pw = np.ones(a.shape)
    idle = a <= 0
    sl[idle], asa[idle], pw[idle] = 1.0, 0.0, 0.0
    st = (c > a) & ~idle
    if st.any():
        cs, as_, hs = c[st], a[st], aht[st]
        cw = _c_from_b(cs, as_, np.exp(_log_erlang_b(cs, as_)))
        sl[st] = 1 - cw * np.exp(-(cs - as_) * t[st] / hs)
        asa[st] = cw * hs / (cs - as_)
        pw[st] = cw
    return sl, asa, pw, _occupancy(a, c)


def _occupancy(a: _Floats, c: _Floats) -> _Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.minimum(1.0, a / c)
    return np.where(c > 0, occ, np.where(a > 0, 1.0, 0.0))


def _hw_beta(a: _Floats, aht: _Floats, t: _Floats, tsl: _Floats, tasa: _Floats) -> _Floats:
    """Halfin-Whitt safety factor beta (servers ~ A + beta sqrt(A)) meeting the targets, approximately.

    Only a starting point for the exact search, so a dozen bisection steps are plenty.
    """
    sa = np.sqrt(a)
    lo, hi = np.zeros(a.shape), np.full(a.shape, 8.0)
    for _ in range(12):
        beta = (lo + hi) / 2
        # C ~ 1 / (1 + beta Phi(beta) / phi(beta)) in the quality-and-efficiency-driven regime.
        cw = 1 / (1 + beta * scipy_special().ndtr(beta) * np.sqrt(2 * np.pi) * np.exp(beta * beta / 2))
        ok = (1 - cw * np.exp(-beta * sa * t / aht) >= tsl) & (cw * aht / (beta * sa) <= tasa)
        hi = np.where(ok, beta, hi)
        lo = np.where(ok, lo, beta)
    return hi


def _required_c(a: _Floats, aht: _Floats, t: _Floats, k: _Floats, tsl: _Floats, tasa: _Floats, cap: _Floats
                ) -> tuple[NDArray[np.int64], _Floats, _Floats, _Floats, _Floats]:
    """Exact Erlang C search (flat arrays, a > 0): closed-form B at a start just below the answer, then
    the upward Erlang B recurrence one server at a time, only for cells still short."""
    n_min = np.maximum(np.floor(a / k) + 1, np.ceil(np.round(a / (k * cap), 9)))
    beta = _hw_beta(a, aht, t, tsl, tasa)
    # Over 200,000 random cells the answer was 0 to 3 agents above the Halfin-Whitt estimate; the
    # margin keeps the start below it so the upward walk finds the smallest N. Should a start already
    # meet the targets, it backs off further and checks again.
    margin = 2 + np.ceil(0.05 * np.sqrt(a))
    n0 = np.maximum(n_min, np.floor((a + beta * np.sqrt(a)) / k) - margin)
    todo = np.ones(a.shape, bool)
    logb = np.empty(a.shape)
    while True:
        c = n0[todo] * k[todo]
        logb[todo] = _log_erlang_b(c, a[todo])
        c = n0 * k
        b = np.exp(logb)
        sl, asa, cw = _c_step_metrics(c, a, aht, t, b)
        ok = (sl >= tsl) & (asa <= tasa)
        back = ok & (n0 > n_min)
        if not back.any():
            break
        n0[back] = np.maximum(n_min[back], n0[back] - 4 * margin[back])
        todo = back

    out_n, out_sl, out_asa, out_pw = n0.copy(), sl, asa, cw
    idx = np.flatnonzero(~ok)
    c, b = c[idx], b[idx]
    aa, hh, tt, kk, ts, ta = a[idx], aht[idx], t[idx], k[idx], tsl[idx], tasa[idx]
    while idx.size:
        # Upward recurrence B(n) = A B(n-1) / (n + A B(n-1)): stable, one multiply-add per cell.
        c = c + 1
        ab = aa * b
        b = ab / (c + ab)
        sl, asa, cw = _c_step_metrics(c, aa, hh, tt, b)
        ok = (sl >= ts) & (asa <= ta) & (c % kk == 0)
        if ok.any():
            hit = idx[ok]
            out_n[hit], out_sl[hit], out_asa[hit], out_pw[hit] = c[ok] / kk[ok], sl[ok], asa[ok], cw[ok]
            keep = ~ok
            idx, c, b = idx[keep], c[keep], b[keep]
            aa, hh, tt, kk, ts, ta = aa[keep], hh[keep], tt[keep], kk[keep], ts[keep], ta[keep]
    occ = a / (out_n * k)
    return out_n.astype(np.int64), out_sl, out_asa, out_pw, occ


def _c_step_metrics(c: _Floats, a: _Floats, aht: _Floats, t: _Floats, b: _Floats
                    ) -> tuple[_Floats, _Floats, _Floats]:
    cw = _c_from_b(c, a, b)
    gap = c - a
    return 1 - cw * np.exp(-gap * t / aht), cw * aht / gap, cw


# ---------------------------------------------------------------- Erlang A


def _erlang_a_core(c: _Floats, a: _Floats, aht: _Floats, t: _Floats, pat: _Floats
                   ) -> tuple[_Floats, _Floats, _Floats, _Floats, _Floats]:
    """Service level, ASA, wait probability, abandon rate and occupancy for flat cells."""
    m = a.size
    sl, asa, pw, pab, occ = np.ones(m), np.zeros(m), np.zeros(m), np.zeros(m), np.zeros(m)
    busy = a > 0
    none = busy & (c <= 0)  # nobody to answer: everyone abandons
    sl[none], asa[none], pw[none], pab[none], occ[none] = 0.0, np.inf, 1.0, 1.0, 1.0
    limit = busy & (c > 0) & np.isinf(pat)  # infinite patience is Erlang C
    if limit.any():
        sl[limit], asa[limit], pw[limit], occ[limit] = _erlang_c_core(
            c[limit], a[limit], aht[limit], t[limit]
        )
    work = np.flatnonzero(busy & (c > 0) & np.isfinite(pat))
    if work.size:
        patience = np.minimum(pat[work], _MAX_PATIENCE_AHT * aht[work])
        res = _erlang_a_windowed(c[work], a[work], aht[work], t[work], patience)
        sl[work], asa[work], pw[work], pab[work], occ[work] = res
    return sl, asa, pw, pab, occ


def _erlang_a_windowed(c: _Floats, a: _Floats, aht: _Floats, t: _Floats, pat: _Floats
                       ) -> tuple[_Floats, ...]:
    """M/M/c+M by its stationary birth-death distribution in log space (c >= 1, a > 0, finite patience).

    States n <= c have weight a^n / n!; state c + j has that of c times t_j = prod_{i=1..j} y / (x + i),
    with x = c mu / theta and y = lambda / theta. Only the window of states carrying non-negligible mass
    is summed: the mass is Poisson-like around its mode with width ~ sqrt(load), so 9 standard
    deviations either side loses less than e^-40 and the cost does not grow with c.

    An arrival finding c + j in the system needs j + 1 departures from the head of the queue, at rates
    c mu + i theta (i = j..0), and is answered only if that time V beats its own patience. Tilting by its
    patience gives P(answered within T) = x / (x + j + 1) * I_p(j + 1, x + 1) with p = 1 - exp(-theta T)
    (regularised incomplete beta) and E[V; answered] = x / (x + j + 1) * sum_{i=1..j+1} 1 / (theta (x + i)).
    """
    x = c * pat / aht
    y = a * pat / aht
    fa = np.floor(a)
    # States below c: Poisson(a) truncated at c, mode min(c, a).
    wa = np.ceil(9 * np.sqrt(a) + 25)
    lo = np.maximum(0.0, np.minimum(c, fa) - wa)
    hi = np.minimum(c - 1, fa + wa)
    nl = (hi - lo + 1).astype(np.int64)
    # Queue states: t_j rises while y > x + j, then falls; the width is ~ sqrt(x + mode) on the right
    # (or geometric with ratio rho when that is sharper) and ~ sqrt(y) on the left.
    jstar = np.maximum(0.0, np.ceil(y - x - 1))
    rho = y / (x + jstar + 1)
    with np.errstate(divide="ignore"):
        geometric = np.where(rho < 1, np.ceil(41 / -np.log(rho)) + 25, np.inf)
    right = np.minimum(np.ceil(9 * np.sqrt(x + jstar + 1) + 25), geometric)
    jlo = np.maximum(0.0, jstar - np.ceil(9 * np.sqrt(y) + 25))
    nt = (jstar + right - jlo + 1).astype(np.int64)
    p = -np.expm1(-t / pat)

    out = np.empty((5, a.size))
    # Cells of similar width share a padded block so that padding wastes little.
    order = np.argsort(nl + nt, kind="stable")
    start = 0
    while start < order.size:
        width = nl[order[start]] + nt[order[start]]
        stop = start + 1
        while stop < order.size and (stop - start + 1) * (nl[order[stop]] + nt[order[stop]]) <= max(
            _BLOCK, width
        ):
            stop += 1
        sel = order[start:stop]
        out[:, sel] = _erlang_a_block(
            c[sel], a[sel], x[sel], y[sel], lo[sel], nl[sel], jlo[sel], nt[sel], p[sel], pat[sel]
        )
        start = stop
    return tuple(out)


def _erlang_a_block(c: _Floats, a: _Floats, x: _Floats, y: _Floats, lo: _Floats, nl: NDArray[np.int64],
                    jlo: _Floats, nt: NDArray[np.int64], p: _Floats, pat: _Floats
                    ) -> tuple[_Floats, _Floats, _Floats, _Floats, _Floats]:
    col = c[:, None]
    # Log weights relative to state c, for states lo..lo+nl-1 (all < c).
    kl = np.arange(nl.max())
    n = lo[:, None] + kl
    valid = kl < nl[:, None]
    lw = scipy_special().gammaln(col + 1) - scipy_special().gammaln(n + 1) - (col - n) * np.log(a)[:, None]
    lw = np.where(valid, lw, -np.inf)
    # Queue states c + j, j = jlo.., as a running sum of log(y / (x + j)), started from log t_jlo.
    kt = np.arange(nt.max())
    j = jlo[:, None] + kt
    valid = kt < nt[:, None]
    xc, yc = x[:, None], y[:, None]
    steps = np.log(yc / (xc + j))
    steps[:, 0] = np.where(
        jlo > 0, jlo * np.log(y) - scipy_special().gammaln(x + jlo + 1) + scipy_special().gammaln(x + 1), 0.0
    )
    lt = np.where(valid, np.cumsum(np.where(valid, steps, 0.0), axis=1), -np.inf)

    top = np.maximum(lw.max(axis=1), lt.max(axis=1))[:, None]
    pl = np.exp(lw - top)
    pt = np.exp(lt - top)
    z = pl.sum(axis=1) + pt.sum(axis=1)
    p_now = pl.sum(axis=1) / z
    pt /= z[:, None]
    served = xc / (xc + j + 1)  # P(answered eventually | arrived to c + j)
    p_wait = pt.sum(axis=1)
    p_ab = (pt * (1 - served)).sum(axis=1)
    p_served = p_now + (pt * served).sum(axis=1)

    rows, cols = np.nonzero(pt > _NEGLIGIBLE)
    within = np.zeros(pt.shape)
    within[rows, cols] = scipy_special().betainc(j[rows, cols] + 1, x[rows] + 1, p[rows])
    sl = np.clip(p_now + (pt * served * within).sum(axis=1), 0.0, 1.0)

    # sum_{i=1..j+1} 1 / (x + i): running sum along the row, offset by digammas when jlo > 0.
    first = np.where(jlo > 0, scipy_special().digamma(x + jlo + 1) - scipy_special().digamma(x + 1), 0.0)
    harmonic = np.cumsum(1 / (xc + j + 1), axis=1) + first[:, None]
    asa = (pt * served * harmonic).sum(axis=1) * pat / p_served
    occ = np.minimum(1.0, a * p_served / c)  # <= 1 exactly; clip the rounding
    # Shares summed in floats can overshoot [0, 1] by an ulp.
    return sl, asa, np.clip(p_wait, 0.0, 1.0), np.clip(p_ab, 0.0, 1.0), occ


def _required_a(a: _Floats, aht: _Floats, t: _Floats, k: _Floats, tsl: _Floats, tasa: _Floats, cap: _Floats,
                tab: _Floats, pat: _Floats
                ) -> tuple[NDArray[np.int64], _Floats, _Floats, _Floats, _Floats, _Floats]:
    """Erlang A search (flat arrays, a > 0): gallop from the load in steps of ~sqrt(load), then bisect.

    Every metric is monotone in N, so the bracket [fails, meets] always holds the smallest N.
    """

    def meets(idx: NDArray[np.intp], n: _Floats) -> NDArray[np.bool_]:
        sl, asa, _, pab, occ = _erlang_a_core(n * k[idx], a[idx], aht[idx], t[idx], pat[idx])
        return (
            (n >= 1) & (sl >= tsl[idx]) & (asa <= tasa[idx]) & (pab <= tab[idx]) & (occ <= cap[idx] + _SLACK)
        )

    m = a.size
    guess = np.maximum(1.0, np.round(a / k))
    step = np.maximum(1.0, np.ceil(np.sqrt(a) / k))
    ok = meets(np.arange(m), guess)
    lo = np.where(ok, 0.0, guess)  # largest N known to fail (0 agents always fails)
    hi = np.where(ok, guess, np.inf)  # smallest N known to meet
    # Gallop: failing cells walk up, meeting cells walk down, doubling the stride each time.
    idx = np.arange(m)
    while idx.size:
        probe = np.where(np.isinf(hi[idx]), lo[idx] + step[idx], hi[idx] - step[idx])
        down = np.isfinite(hi[idx])
        live = ~down | (probe > lo[idx])
        idx, probe, down = idx[live], probe[live], down[live]
        if not idx.size:
            break
        ok = meets(idx, probe)
        hi[idx[ok]] = probe[ok]
        lo[idx[~ok]] = probe[~ok]
        step[idx] *= 2
        # Done once bracketed: an upward walker that met, or a downward walker that failed.
        idx = idx[np.where(down, ok, ~ok)]
    # Bisect the brackets.
    idx = np.flatnonzero(hi - lo > 1)
    while idx.size:
        mid = np.floor((lo[idx] + hi[idx]) / 2)
        ok = meets(idx, mid)
        hi[idx[ok]] = mid[ok]
        lo[idx[~ok]] = mid[~ok]
        idx = idx[hi[idx] - lo[idx] > 1]
    sl, asa, pw, pab, occ = _erlang_a_core(hi * k, a, aht, t, pat)
    return hi.astype(np.int64), sl, asa, pw, pab, occ


# ---------------------------------------------------------------- plumbing


def _broadcast(*args: ArrayLike) -> list[NDArray[np.float64]]:
    return [np.array(x, dtype=float) for x in np.broadcast_arrays(*(np.asarray(v) for v in args))]


def _check_queue(vol: _Floats, aht: _Floats, iv: _Floats, t: _Floats, k: _Floats) -> None:
    if not np.all(np.isfinite(vol) & (vol >= 0)):
        raise ValueError("volume must be finite and >= 0")
    if not np.all(np.isfinite(aht) & (aht > 0)):
        raise ValueError("aht_s must be finite and > 0")
    if not np.all(np.isfinite(iv) & (iv > 0)):
        raise ValueError("interval_s must be finite and > 0")
    if not np.all(t >= 0):
        raise ValueError("answer_s must be >= 0")
    if not np.all((k >= 1) & (k == np.floor(k)) & np.isfinite(k)):
        raise ValueError("concurrency must be an integer >= 1")


def _check_agents(n: _Floats) -> None:
    if not np.all((n >= 0) & (n == np.floor(n)) & np.isfinite(n)):
        raise ValueError("agents must be integers >= 0")


def _check_patience(pat: _Floats) -> None:
    if not np.all(pat > 0):
        raise ValueError("patience_s must be > 0 (inf for no abandonment)")


def _metrics(n: NDArray[np.int64] | _Floats, a: _Floats, sl: _Floats, asa: _Floats, pw: _Floats, pab: _Floats,
             occ: _Floats) -> QueueMetrics:
    shape = np.shape(a)
    return QueueMetrics(
        agents=np.asarray(n).astype(np.int64).reshape(shape),
        load=np.asarray(a, float).reshape(shape),
        service_level=np.asarray(sl).reshape(shape),
        asa_s=np.asarray(asa).reshape(shape),
        wait_probability=np.asarray(pw).reshape(shape),
        abandon_rate=np.asarray(pab).reshape(shape),
        occupancy=np.asarray(occ).reshape(shape),
    )
