"""The optimise path: CP-SAT improves on the fast roster, within a time limit, and falls back to it.

`optimise(problem, start_from, time_limit_s, workers=1, seed=0, deterministic_time=None)`.

The model keeps the fast answer's shift shapes (start, end, meal break) and optimises the rest:
- which of the fast shifts to keep (a shift may be dropped: it costs its pay and may cover little once the
  others are reassigned); pinned shifts are fixed, with their assignments;
- new shifts for agents the fast answer left without any: agents alike (same eligible classes, site, rules,
  history, unavailability, preferences) form a type with an integer count per candidate shape (every half
  hour of each day they may start, 4 h, 6 h and 8.5 h with the break in the middle of its window, each
  checked against the type's rules and day, and kept only if it meets some need); at most one new shift
  per agent;
- the assignment of working agents to shops, aggregated: agents with the same eligible shop classes form
  a pool, and x[pool, interval, class] counts the pool's agents working a class (shops with the same
  required skills and tier). Within a class shops are interchangeable and weigh the same, so this loses
  nothing for the objective; shops are split inside classes afterwards, as in the fast path.

Constraints: per pool and interval, the agents assigned <= the pool's agents working (kept shifts and
new ones, breaks excluded); per class and interval, assigned + uncovered == demand (after pinned
coverage); per site and interval, shifts present (breaks included) <= seats. Rules hold by construction:
dropping a shift never breaks one (rest, days in a row, hours only shrink) and new shifts go to agents
with no other shift, checked as the fast path checks them.

Objective, lexicographic, in two solves: first the tier-weighted uncovered seat-intervals, then, holding
that at the best value found, the labour cost in cents (each kept shift at its cost in the fast answer,
overtime premium included; each new one at its rate and overtime class).

With the shifts fixed, the assignment alone is a flow problem per interval (pools' working agents to
classes' need), solved exactly as a min-cost flow (OR-Tools): first the tier-weighted coverage, then as
many of the fast answer's own counts as can stay (so its agents keep their shops; few new switches). The
hint of the first solve is the fast shifts, all kept, with that flow's assignment; it is already at least
as good as the fast answer (and is the candidate answer when CP-SAT finds nothing in time, as on large
instances where presolve alone takes the limit). CP-SAT then searches drops and new shifts. The answer's
counts are the same flow on the shifts CP-SAT keeps and adds.

Multi-threaded search is not deterministic and a hint need not come back (OR-Tools' own issue tracker
says so), so the answer is rebuilt as a roster, summarised and checked with `rules.check_roster`, and its
objective compared with the fast one: the better is returned (ties keep the fast one). Status: "optimal"
(better, both solves proven optimal), "improved" (better), "kept_fast". `SolverReport.gap` is the relative
gap (objective - bound) / max(1, |objective|) of the first solve, or of the second when the first is
proven optimal. With one worker, a fixed seed and `deterministic_time` (CP-SAT's deterministic time
limit, split 70/30 between the solves) the result is reproducible; a part of `time_limit_s` (15 %, at
most 3 s) is kept for rebuilding the answer.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from service.seating.problem import (
    INTERVAL_MINUTES,
    Assignment,
    RosterProblem,
    RosterResult,
    Shift,
    SolverReport,
)
from service.seating.rostering import _Builder, _Draft, _Ledger, _split_shops, summarise
from service.seating.rules import check_roster

_NEW_LENGTHS = (16, 24, 34)  # 4 h, 6 h (no break), 8.5 h (8 h and the break)
_SHARE_FIRST = 0.7  # of the time limit for the first solve


@dataclass
class _NewType:
    agents: list[int]
    sig: int
    site: int
    shapes: list[tuple[int, int, int | None, int]]  # (start, end, break start or None, cost in cents)


def optimise(
    problem: RosterProblem,
    start_from: RosterResult,
    time_limit_s: float = 30.0,
    workers: int = 1,
    seed: int = 0,
    deterministic_time: float | None = None,
) -> RosterResult:
    """A roster at least as good as `start_from` (see the module docstring)."""
    started = time.perf_counter()
    b = _Builder(problem)
    T, C = problem.n_intervals, b.C
    pinned = [s for s in start_from.shifts if s.pinned]
    movable = [s for s in start_from.shifts if not s.pinned]

    # Demand left for the model, per class: shops' demand after pinned coverage.
    residual = problem.demand.astype(np.int64).copy()
    occupied = np.zeros((len(problem.sites), T), np.int64)
    for s in pinned:
        for a in s.assignments:
            residual[max(0, a.start) : min(T, a.end), a.shop] -= 1
        occupied[s.site, max(0, s.start) : min(T, s.end)] += 1
    residual = np.maximum(residual, 0)
    need = np.zeros((T, C), np.int64)
    np.add.at(need.T, b.class_of_shop, residual.T)
    weight_scale = _integer_scale(b.class_w)
    class_weight = np.round(b.class_w * weight_scale).astype(np.int64)

    costs = _shift_costs(problem, b, start_from.shifts)
    new_types = _new_types(problem, b, start_from, need)

    model = cp_model.CpModel()
    keep = [model.new_bool_var(f"keep{i}") for i in range(len(movable))]
    new_vars: list[list[cp_model.IntVar]] = []
    for ti, nt in enumerate(new_types):
        row = [model.new_int_var(0, len(nt.agents), f"new{ti}_{j}") for j in range(len(nt.shapes))]
        new_vars.append(row)
        if row:
            model.add(sum(row) <= len(nt.agents))

    # Pools: who works when.
    working: dict[tuple[int, int], list[cp_model.LinearExprT]] = defaultdict(list)
    seats: dict[tuple[int, int], list[cp_model.LinearExprT]] = defaultdict(list)
    for i, s in enumerate(movable):
        sig = b.agent_sig[s.agent]
        for t in _worked(s):
            working[(sig, t)].append(keep[i])
        for t in range(max(0, s.start), min(T, s.end)):
            seats[(s.site, t)].append(keep[i])
    for ti, nt in enumerate(new_types):
        for j, (s0, s1, brk, _) in enumerate(nt.shapes):
            var = new_vars[ti][j]
            for t in range(s0, s1):
                seats[(nt.site, t)].append(var)
                if brk is None or not brk <= t < brk + _break_len(b, nt):
                    working[(nt.sig, t)].append(var)
    x: dict[tuple[int, int, int], cp_model.IntVar] = {}
    x_top: dict[tuple[int, int, int], int] = {}  # upper bounds (the proto's repeated fields refuse [-1])
    by_cell: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (sig, t), people in sorted(working.items(), key=lambda kv: kv[0]):
        cells = [int(c) for c in b.sig_classes[sig] if need[t, c] > 0]
        if not cells:
            continue
        row = []
        for c in cells:
            top = int(min(need[t, c], len(people)))
            var = model.new_int_var(0, top, f"x{sig}_{t}_{c}")
            x[(sig, t, c)] = var
            x_top[(sig, t, c)] = top
            by_cell[(t, c)].append(var)
            row.append(var)
        model.add(sum(row) <= sum(people))
    uncovered: dict[tuple[int, int], cp_model.IntVar] = {}
    for t, c in zip(*np.nonzero(need), strict=True):
        t, c = int(t), int(c)
        u = model.new_int_var(0, int(need[t, c]), f"u{t}_{c}")
        uncovered[(t, c)] = u
        model.add(sum(by_cell.get((t, c), [])) + u == int(need[t, c]))
    for (k, t), present in seats.items():
        model.add(sum(present) <= int(problem.sites[k].seat_capacity - occupied[k, t]))

    # The hint: the fast shifts, all kept, with the best assignment they allow (a flow per interval, which
    # is at least as good as the fast answer's own assignment, and stays near it).
    fast_x = _fast_counts(b, movable, need)
    hint_x = _assign(
        _capacity(b, movable, [True] * len(movable), new_types, []), need, class_weight, x_top, fast_x
    )
    for i in range(len(movable)):
        model.add_hint(keep[i], 1)
    for row in new_vars:
        for var in row:
            model.add_hint(var, 0)
    covered: dict[tuple[int, int], int] = defaultdict(int)
    for key, var in x.items():
        h = hint_x.get(key, 0)
        model.add_hint(var, h)
        covered[(key[1], key[2])] += h
    for (t, c), u in uncovered.items():
        model.add_hint(u, int(need[t, c]) - covered[(t, c)])

    under_expr = sum(int(class_weight[c]) * u for (t, c), u in uncovered.items())
    cost_expr = sum(costs[s] * keep[i] for i, s in enumerate(movable)) + sum(
        nt.shapes[j][3] * var for ti, nt in enumerate(new_types) for j, var in enumerate(new_vars[ti])
    )
    stats = model.proto
    variables, constraints = len(stats.variables), len(stats.constraints)

    def solve(limit: float, det: float | None) -> tuple[cp_model.CpSolver, Any]:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = seed
        solver.parameters.max_time_in_seconds = max(0.1, limit)
        if det is not None:
            solver.parameters.max_deterministic_time = det
        return solver, solver.solve(model)

    # Rebuilding the answer (counts near the fast ones, shops, checks) takes time too: keep some for it.
    reserve = min(3.0, 0.15 * time_limit_s)
    budget = time_limit_s - reserve - (time.perf_counter() - started)
    model.minimize(under_expr)
    first, status1 = solve(
        budget * _SHARE_FIRST, None if deterministic_time is None else deterministic_time * _SHARE_FIRST
    )

    def finish(kept: list[bool], added: list[list[int]], report: SolverReport, proven: bool) -> RosterResult:
        """The answer for these kept and added shifts, if it beats the fast one and passes the checker."""
        counts = _assign(_capacity(b, movable, kept, new_types, added), need, class_weight, x_top, fast_x)
        shifts = _rebuild(problem, b, pinned, movable, new_types, kept, added, counts, residual)
        candidate = summarise(
            problem, shifts, status="improved", started=started, bound=start_from.bound, solver=report
        )
        better = (candidate.under_coverage, candidate.labour_cost) < (
            start_from.under_coverage,
            start_from.labour_cost,
        )
        if not better or check_roster(candidate, problem):
            return replace(
                start_from, status="kept_fast", solver=report, seconds=time.perf_counter() - started
            )
        return replace(
            candidate, status="optimal" if proven else "improved", seconds=time.perf_counter() - started
        )

    if status1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # No answer from CP-SAT in time: the hint itself (every fast shift, the best assignment of them)
        # may still beat the fast roster.
        report = _report(first, status1, started, variables, constraints)
        return finish([True] * len(movable), [[0] * len(r) for r in new_vars], report, False)
    under_value = int(round(first.objective_value))
    under_bound = float(first.best_objective_bound)
    values = {
        id(v): first.value(v)
        for v in [*keep, *[v for r in new_vars for v in r], *x.values(), *uncovered.values()]
    }
    model.clear_hints()  # type: ignore[no-untyped-call]
    for var in [*keep, *[v for r in new_vars for v in r], *x.values(), *uncovered.values()]:
        model.add_hint(var, values[id(var)])
    model.add(under_expr <= under_value)
    model.minimize(cost_expr)
    budget = time_limit_s - reserve - (time.perf_counter() - started)
    second, status2 = solve(
        budget, None if deterministic_time is None else deterministic_time * (1 - _SHARE_FIRST)
    )
    solver = second if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE) else first
    cost_value = float(second.value(cost_expr)) if solver is second else math.nan
    cost_bound = float(second.best_objective_bound) if solver is second else math.nan
    proven = status1 == cp_model.OPTIMAL and status2 == cp_model.OPTIMAL
    if status1 != cp_model.OPTIMAL:
        gap = (under_value - under_bound) / max(1.0, abs(under_value))
    else:
        gap = (cost_value - cost_bound) / max(1.0, abs(cost_value)) if solver is second else math.nan
    report = SolverReport(
        status=solver.status_name(status2 if solver is second else status1),
        under_coverage_objective=under_value / weight_scale,
        under_coverage_bound=under_bound / weight_scale,
        cost_objective=cost_value,
        cost_bound=cost_bound,
        gap=gap,
        wall_seconds=time.perf_counter() - started,
        variables=variables,
        constraints=constraints,
    )
    kept = [bool(solver.value(v)) for v in keep]
    added = [[int(solver.value(v)) for v in row] for row in new_vars]
    return finish(kept, added, report, proven)


def _report(
    solver: cp_model.CpSolver, status: Any, started: float, variables: int, constraints: int
) -> SolverReport:
    """A report for a solve that found nothing."""
    return SolverReport(
        status=solver.status_name(status),
        under_coverage_objective=math.nan,
        under_coverage_bound=math.nan,
        cost_objective=math.nan,
        cost_bound=math.nan,
        gap=math.nan,
        wall_seconds=time.perf_counter() - started,
        variables=variables,
        constraints=constraints,
    )


def _integer_scale(weights: NDArray[np.float64]) -> float:
    """A factor making the tier weights integers (1 when they already are)."""
    for scale in (1.0, 10.0, 100.0, 1000.0):
        scaled = weights * scale
        if np.allclose(scaled, np.round(scaled)):
            return scale
    return 1000.0


def _worked(s: Shift) -> list[int]:
    out = []
    for t in range(s.start, s.end):
        if not any(b0 <= t < b1 for b0, b1 in s.breaks):
            out.append(t)
    return out


def _break_len(b: _Builder, nt: _NewType) -> int:
    return b.shapes[b.agent_rtype[nt.agents[0]]].break_len


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _shift_costs(problem: RosterProblem, b: _Builder, shifts: Sequence[Shift]) -> dict[Shift, int]:
    """Each shift's pay in cents: its normal minutes at the agent's rate, its overtime at the multiplier
    (overtime attributed by the fast path's ledger, shifts in time order)."""
    by_agent: dict[int, list[Shift]] = defaultdict(list)
    for s in shifts:
        by_agent[s.agent].append(s)
    out: dict[Shift, int] = {}
    clock = b.clock
    for a, its in by_agent.items():
        agent = problem.agents[a]
        ledger = _Ledger(agent, clock.first_day[agent.site])
        for s in sorted(its, key=lambda s: (s.start, s.end)):
            d = int(clock.day_of[agent.site][min(max(s.start, 0), problem.n_intervals - 1)])
            cls, ot = ledger.add(clock.days[d], clock.kinds[agent.site][d], s.worked_minutes)
            minutes = s.worked_minutes
            pay = agent.hourly_cost * (Decimal(minutes - ot) + Decimal(ot) * problem.multipliers[cls]) / 60
            out[s] = _cents(pay)
    return out


def _new_types(
    problem: RosterProblem, b: _Builder, fast: RosterResult, need: NDArray[np.int64]
) -> list[_NewType]:
    """Agents the fast answer left without a shift, in types, with their candidate shapes."""
    busy = {s.agent for s in fast.shifts}
    clock = b.clock
    T = problem.n_intervals
    types: dict[tuple[object, ...], _NewType] = {}
    b.worked_days = [set() for _ in problem.agents]
    useful: dict[int, NDArray[np.int64]] = {}  # per pool: prefix counts of intervals where it is needed
    for a, agent in enumerate(problem.agents):
        if a in busy:
            continue
        sig, rt = b.agent_sig[a], b.agent_rtype[a]
        if not b.sig_classes[sig].size:
            continue
        key = (sig, agent.site, agent.rules, agent.history, agent.unavailable, agent.preferred)
        if key in types:
            types[key].agents.append(a)
            continue
        shapes_of_rules = b.shapes[rt]
        rules = agent.rules
        out: list[tuple[int, int, int | None, int]] = []
        if sig not in useful:
            wanted = need[:, b.sig_classes[sig]].any(axis=1)
            useful[sig] = np.concatenate(([0], np.cumsum(wanted)))
        prefix = useful[sig]
        for d, (t0, t1) in sorted(clock.ranges[agent.site].items()):
            if not b._may_work(agent, a, d):
                continue
            last = agent.history.last_shift_end
            earliest = t0 if last is None else max(t0, last + shapes_of_rules.rest)
            ledger = _Ledger(agent, clock.first_day[agent.site])
            kind = clock.kinds[agent.site][d]
            normal_min, max_min = ledger.room(clock.days[d], kind)
            overtime_multiplier = problem.multipliers[rules.overtime_class(kind)]
            lengths = {
                int(x): (bool(nb), int(w))
                for x, nb, w in zip(
                    shapes_of_rules.lengths.tolist(),
                    shapes_of_rules.needs_break.tolist(),
                    shapes_of_rules.worked.tolist(),
                    strict=True,
                )
            }
            for length in _NEW_LENGTHS:
                if length not in lengths:
                    continue
                needs_break, worked = lengths[length]
                if worked * INTERVAL_MINUTES > max_min:
                    continue
                ot = max(0, worked * INTERVAL_MINUTES - normal_min)
                pay = (
                    agent.hourly_cost
                    * (Decimal(worked * INTERVAL_MINUTES - ot) + Decimal(ot) * overtime_multiplier)
                    / 60
                )
                for s0 in range(earliest + (earliest - t0) % 2, t1, 2):
                    s1 = s0 + length
                    if s1 > T or any(u0 < s1 and s0 < u1 for u0, u1 in agent.unavailable):
                        continue
                    brk = None
                    if needs_break:
                        lo = s0 + shapes_of_rules.break_earliest
                        hi = s1 - shapes_of_rules.break_latest_end - shapes_of_rules.break_len
                        brk = (lo + hi) // 2
                    if prefix[s1] == prefix[s0]:
                        continue
                    out.append((s0, s1, brk, _cents(pay)))
        types[key] = _NewType([a], sig, agent.site, out)
    return [nt for nt in types.values() if nt.shapes]


def _fast_counts(
    b: _Builder, movable: Sequence[Shift], need: NDArray[np.int64]
) -> dict[tuple[int, int, int], int]:
    """The fast answer's agents per (pool, interval, class), within the need."""
    counts: dict[tuple[int, int, int], int] = defaultdict(int)
    for s in movable:
        sig = b.agent_sig[s.agent]
        for a in s.assignments:
            c = int(b.class_of_shop[a.shop])
            for t in range(a.start, a.end):
                counts[(sig, t, c)] += 1
    total: dict[tuple[int, int], int] = defaultdict(int)
    out: dict[tuple[int, int, int], int] = {}
    for (sig, t, c), n in sorted(counts.items()):
        n = min(n, int(need[t, c]) - total[(t, c)])
        if n > 0:
            out[(sig, t, c)] = n
            total[(t, c)] += n
    return out


def _capacity(
    b: _Builder,
    movable: Sequence[Shift],
    kept: Sequence[bool],
    new_types: Sequence[_NewType],
    added: Sequence[Sequence[int]],
) -> dict[tuple[int, int], int]:
    """Agents working (not on a break) per (pool, interval): the kept shifts and the new ones."""
    out: dict[tuple[int, int], int] = defaultdict(int)
    for i, s in enumerate(movable):
        if kept[i]:
            sig = b.agent_sig[s.agent]
            for t in _worked(s):
                out[(sig, t)] += 1
    for ti, nt in enumerate(new_types):
        if ti >= len(added):
            continue
        bl = _break_len(b, nt)
        for j, (s0, s1, brk, _) in enumerate(nt.shapes):
            n = added[ti][j]
            if n:
                for t in range(s0, s1):
                    if brk is None or not brk <= t < brk + bl:
                        out[(nt.sig, t)] += n
    return out


def _assign(
    capacity: dict[tuple[int, int], int],
    need: NDArray[np.int64],
    class_weight: NDArray[np.int64],
    cells: dict[tuple[int, int, int], int],
    fast: dict[tuple[int, int, int], int],
) -> dict[tuple[int, int, int], int]:
    """The best class counts per (pool, interval, class) for given working agents, interval by interval:
    a min-cost flow from pools (their agents at work) to classes (their need) that first maximises the
    tier-weighted seat-intervals covered, then keeps as many of the fast answer's counts as it can (the
    first units of a pool's fast count on a class are rewarded), so that its agents stay on their shops.
    `cells` gives the (pool, interval, class) that may be used, with their upper bounds."""
    by_t: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for key in cells:
        by_t[key[1]].append(key)
    out: dict[tuple[int, int, int], int] = {}
    for t in sorted(by_t):
        keys = [k for k in sorted(by_t[t]) if capacity.get((k[0], t), 0) > 0]
        if not keys:
            continue
        pools = sorted({k[0] for k in keys})
        classes = sorted({k[2] for k in keys})
        pool_node = {p: 2 + i for i, p in enumerate(pools)}
        class_node = {c: 2 + len(pools) + i for i, c in enumerate(classes)}
        supply = sum(capacity[(p, t)] for p in pools)
        big = supply + 1  # a seat-interval of the lowest tier outweighs every reward for staying
        flow = min_cost_flow.SimpleMinCostFlow()
        source, sink = 0, 1
        flow.add_arc_with_capacity_and_unit_cost(source, sink, supply, 0)  # agents left idle
        for p in pools:
            flow.add_arc_with_capacity_and_unit_cost(source, pool_node[p], capacity[(p, t)], 0)
        arcs = []
        for k in keys:
            h = min(fast.get(k, 0), cells[k])
            near = flow.add_arc_with_capacity_and_unit_cost(pool_node[k[0]], class_node[k[2]], h, -1)
            rest = flow.add_arc_with_capacity_and_unit_cost(
                pool_node[k[0]], class_node[k[2]], cells[k] - h, 0
            )
            arcs.append((k, near, rest))
        for c in classes:
            flow.add_arc_with_capacity_and_unit_cost(
                class_node[c], sink, int(need[t, c]), -int(class_weight[c]) * big
            )
        flow.set_node_supply(source, supply)
        flow.set_node_supply(sink, -supply)
        if flow.solve() != flow.OPTIMAL:
            raise RuntimeError("the assignment flow has no optimum")  # it always has one: idling is free
        for k, near, rest in arcs:
            n = flow.flow(near) + flow.flow(rest)
            if n:
                out[k] = n
    return out


def _rebuild(
    problem: RosterProblem,
    b: _Builder,
    pinned: Sequence[Shift],
    movable: Sequence[Shift],
    new_types: Sequence[_NewType],
    kept: Sequence[bool],
    added: Sequence[Sequence[int]],
    x: dict[tuple[int, int, int], int],
    residual: NDArray[np.int64],
) -> list[Shift]:
    """The model's answer as named shifts: pools' class counts go to their agents interval by interval,
    keeping each where it was (or where the fast answer had it), then shops inside classes."""
    T = problem.n_intervals
    drafts: list[_Draft] = []
    fast_class: list[dict[int, int]] = []
    for i, s in enumerate(movable):
        if kept[i]:
            drafts.append(_Draft(s.agent, s.site, s.start, s.end, s.breaks, [], []))
            fast_class.append(
                {t: int(b.class_of_shop[a.shop]) for a in s.assignments for t in range(a.start, a.end)}
            )
    for ti, nt in enumerate(new_types):
        free = list(nt.agents)
        bl = _break_len(b, nt)
        for j, (s0, s1, brk, _) in enumerate(nt.shapes):
            for _ in range(added[ti][j]):
                agent = free.pop(0)
                breaks = () if brk is None else ((brk, brk + bl),)
                drafts.append(_Draft(agent, nt.site, s0, s1, breaks, [], []))
                fast_class.append({})
    counts = x
    # Interval by interval, per pool.
    by_pool: dict[int, list[int]] = defaultdict(list)
    for di, dr in enumerate(drafts):
        by_pool[b.agent_sig[dr.agent]].append(di)
    classes_of: list[list[int]] = [[-1] * (dr.end - dr.start) for dr in drafts]
    for sig, members in sorted(by_pool.items()):
        current: dict[int, int] = {}
        for t in range(T):
            present = [
                di
                for di in members
                if drafts[di].start <= t < drafts[di].end
                and not any(b0 <= t < b1 for b0, b1 in drafts[di].breaks)
            ]
            if not present:
                current.clear()
                continue
            left = {c: counts[(sig, t, c)] for c in b.sig_classes[sig].tolist() if (sig, t, c) in counts}
            chosen: dict[int, int] = {}
            for di in present:  # stay where it was
                c = current.get(di, -1)
                if left.get(c, 0) > 0:
                    chosen[di] = c
                    left[c] -= 1
            for di in present:  # else where the fast answer had it
                c = fast_class[di].get(t, -1)
                if di not in chosen and left.get(c, 0) > 0:
                    chosen[di] = c
                    left[c] -= 1
            for di in present:  # else where most is left
                if di not in chosen and left:
                    c = max(sorted(left), key=lambda k: left[k])
                    if left[c] > 0:
                        chosen[di] = c
                        left[c] -= 1
            current = dict(chosen)
            for di, c in chosen.items():
                classes_of[di][t - drafts[di].start] = c
    for di, dr in enumerate(drafts):
        row = classes_of[di]
        i = 0
        while i < len(row):
            if row[i] < 0:
                i += 1
                continue
            j = i + 1
            while j < len(row) and row[j] == row[i]:
                j += 1
            dr.pieces.append((row[i], dr.start + i, dr.start + j))
            i = j
    _split_shops(drafts, residual.astype(np.int32), b.shops_of_class, T)
    shifts = list(pinned)
    for dr in drafts:
        shifts.append(
            Shift(dr.agent, dr.site, dr.start, dr.end, dr.breaks, tuple(Assignment(*p) for p in dr.shops))
        )
    return shifts
