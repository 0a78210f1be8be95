"""Benchmark: the seating maths, pure compute (no database, no HTTP).

    uv run python -m tests.bench.roster_maths [--runs 3] [--limit 30] [--workers 1] [--seed 0]

1. The Double 11 instance (service.seating.instances.double11: 500 shops x 288 intervals, 2026-11-09..11-11,
   4,000 agents on 3 sites): the fast roster, best of `--runs`, wall and CPU (the process's own time: on a
   shared machine the wall time also counts other people's work); its violations by the independent checker
   (rules.check_roster); coverage against the bound; the process's peak RSS.
2. The optimiser's instance (50 shops x 96 intervals x 400 agents, 11-11): the fast roster, then CP-SAT with
   a `--limit` second limit: coverage and cost against the fast roster's, the gap to CP-SAT's bound.

The last line prints the figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time

from service.seating import instances
from service.seating.optimise import optimise
from service.seating.problem import RosterResult
from service.seating.rostering import build_roster
from service.seating.rules import check_roster


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def describe(name: str, r: RosterResult) -> None:
    tiers = ", ".join(f"tier {t} {s.ratio:.1%}" for t, s in sorted(r.tiers.items()))
    print(
        f"{name}: {len(r.shifts):,} shifts, {r.agents_used:,} agents, covered {r.total.covered:,} of "
        f"{r.total.allocated:,} allocated seat-intervals ({r.total.ratio:.1%}; {tiers}); "
        f"bound {r.bound.value:,} "
        f"({r.bound.kind}: per interval {r.bound.per_interval:,}, overall {r.bound.overall:,}), "
        f"coverage vs bound {r.coverage_vs_bound:.2%}; {r.switches:,} switches; "
        f"overtime {sum(r.overtime_minutes.values()) / 60:,.0f} h; labour cost {r.labour_cost:,} CNY"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t = time.perf_counter()
    problem = instances.double11(args.seed)
    made = time.perf_counter() - t
    print(
        f"Double 11 instance: {len(problem.shops)} shops x {problem.n_intervals} intervals, "
        f"{len(problem.agents):,} agents, {len(problem.sites)} sites "
        f"({', '.join(f'{s.id} {s.seat_capacity}' for s in problem.sites)} seats), "
        f"demand {int(problem.demand.sum()):,} seat-intervals "
        f"(peak {int(problem.demand.sum(axis=1).max()):,}, "
        f"required peak {int(problem.required.sum(axis=1).max()):,}); generated in {made:.2f} s"
    )
    times = []
    cpu = []
    result = None
    for _ in range(args.runs):
        result = None
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        result = build_roster(problem)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    assert result is not None
    fast_s = min(times)
    cpu_s = min(cpu)
    describe("fast roster", result)
    t = time.perf_counter()
    violations = check_roster(result, problem)
    check_s = time.perf_counter() - t
    rss = peak_rss_mb()
    print(
        f"fast path: best of {args.runs} {fast_s:.3f} s wall (runs {', '.join(f'{x:.3f}' for x in times)}), "
        f"{cpu_s:.3f} s CPU (the process's own time; load average {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} cores); "
        f"{len(violations)} violations (checked in {check_s:.2f} s); peak RSS {rss:.0f} MB"
    )

    small = instances.optimise_instance(args.seed)
    fast = build_roster(small)
    describe("optimise instance, fast", fast)
    t = time.perf_counter()
    opt = optimise(small, fast, time_limit_s=args.limit, workers=args.workers, seed=args.seed)
    opt_s = time.perf_counter() - t
    describe("optimise instance, CP-SAT", opt)
    report = opt.solver
    assert report is not None
    opt_violations = len(check_roster(opt, small))
    print(
        f"optimiser: {opt.status} in {opt_s:.1f} s (limit {args.limit:.0f} s, {args.workers} worker(s)); "
        f"CP-SAT {report.status}, {report.variables:,} variables, {report.constraints:,} constraints; "
        f"weighted under-coverage {fast.under_coverage:,.0f} -> {opt.under_coverage:,.0f} "
        f"(CP-SAT bound {report.under_coverage_bound:,.0f}, gap {report.gap:.2%}); "
        f"covered {fast.total.covered:,} -> {opt.total.covered:,}; "
        f"cost {fast.labour_cost:,} -> {opt.labour_cost:,} CNY; "
        f"{opt_violations} violations"
    )
    print(
        f"SUMMARY fast_s={fast_s:.3f} fast_cpu_s={cpu_s:.3f} violations={len(violations)} "
        f"coverage_vs_bound={result.coverage_vs_bound:.4f} "
        f"bound={result.bound.value} bound_kind={result.bound.kind} covered={result.total.covered} "
        f"peak_rss_mb={rss:.0f} opt_status={opt.status} opt_s={opt_s:.1f} "
        f"opt_coverage_vs_bound={opt.coverage_vs_bound:.4f} "
        f"fast_coverage_vs_bound={fast.coverage_vs_bound:.4f} "
        f"opt_cost={opt.labour_cost} fast_cost={fast.labour_cost} opt_gap={report.gap:.4f} "
        f"opt_violations={opt_violations}"
    )


if __name__ == "__main__":
    main()
