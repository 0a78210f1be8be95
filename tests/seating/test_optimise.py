"""The CP-SAT optimiser on a small instance, one worker, a fixed seed and a deterministic time limit."""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from service.seating import instances
from service.seating.optimise import optimise
from service.seating.problem import RosterProblem, RosterResult, Shop
from service.seating.rostering import build_roster, objective
from service.seating.rules import check_roster
from tests.seating.helpers import agent, problem


@cache
def case() -> tuple[RosterProblem, RosterResult, RosterResult]:
    p = instances.small(seed=1, n_shops=8, n_agents=30, peak_agents=20)
    fast = build_roster(p)
    return p, fast, optimise(p, fast, time_limit_s=20, workers=1, seed=0, deterministic_time=0.05)


def test_never_worse_than_the_fast_answer_and_clean() -> None:
    p, fast, opt = case()
    assert objective(opt) <= objective(fast)
    assert check_roster(opt, p) == []
    assert opt.total.covered >= fast.total.covered or opt.under_coverage < fast.under_coverage


def test_status_bound_and_gap_are_reported() -> None:
    _, fast, opt = case()
    assert opt.status in ("optimal", "improved", "kept_fast")
    report = opt.solver
    assert report is not None
    assert report.status in ("OPTIMAL", "FEASIBLE")
    assert report.under_coverage_bound <= report.under_coverage_objective + 1e-9
    assert math.isfinite(report.gap) and report.gap >= 0
    assert report.variables > 0 and report.constraints > 0
    assert opt.bound == fast.bound


def test_it_improves_this_instance() -> None:
    _, fast, opt = case()
    assert opt.status in ("optimal", "improved")
    assert opt.under_coverage < fast.under_coverage


def test_reproducible_with_one_worker_a_seed_and_deterministic_time() -> None:
    p, fast, opt = case()
    again = optimise(p, fast, time_limit_s=20, workers=1, seed=0, deterministic_time=0.05)
    assert again.shifts == opt.shifts and again.status == opt.status


def test_without_an_answer_from_cp_sat_the_best_assignment_of_the_fast_shifts_stands() -> None:
    p, fast, _ = case()
    hinted = optimise(p, fast, time_limit_s=20, workers=1, seed=0, deterministic_time=1e-9)
    assert hinted.solver is not None and hinted.solver.status not in ("OPTIMAL", "FEASIBLE")
    assert objective(hinted) <= objective(fast)
    assert check_roster(hinted, p) == []
    # The same shifts, only assigned better.
    assert sorted((s.agent, s.start, s.end, s.breaks) for s in hinted.shifts) == sorted(
        (s.agent, s.start, s.end, s.breaks) for s in fast.shifts
    )


def test_keeps_the_fast_answer_when_it_cannot_do_better() -> None:
    # Two agents who can each cover one shop's whole day exactly: nothing to gain.
    shops = (Shop("a", 0, frozenset({"tmall"})), Shop("b", 1, frozenset({"jd"})))
    demand = np.zeros((96, 2), np.int64)
    demand[36:70, :] = 1
    demand[48:50, :] = 0  # where their breaks go
    p = problem([agent(("tmall",), id="x"), agent(("jd",), id="y")], shops=shops, days=1, demand=demand)
    fast = build_roster(p)
    assert fast.under_coverage == 0
    kept = optimise(p, fast, time_limit_s=10, workers=1, seed=0, deterministic_time=0.05)
    assert kept.status == "kept_fast"
    assert kept.shifts == fast.shifts
    assert kept.solver is not None
