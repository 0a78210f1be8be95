"""The fast roster builder: rules (by the independent checker), KA first, seniors on KA, pinned shifts,
determinism, over-demanded peaks, the bound and the summaries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.seating import instances
from service.seating.calendar import CHINA_2026, PayClass
from service.seating.problem import AgentHistory, RosterProblem, RosterResult, Shop
from service.seating.rostering import build_roster, compute_bound, labour_cost
from service.seating.rules import PriorWork, check_roster, overtime_by_class
from tests.seating.helpers import agent, problem


@cache
def small() -> tuple[RosterProblem, RosterResult]:
    p = instances.small(seed=1)
    return p, build_roster(p)


@cache
def medium() -> tuple[RosterProblem, RosterResult]:
    p = instances.medium(seed=2)
    return p, build_roster(p)


@pytest.mark.parametrize("case", [small, medium], ids=["small", "medium"])
def test_generated_rosters_break_no_rule(case) -> None:
    p, r = case()
    assert r.shifts
    assert check_roster(r, p) == []
    assert r.status == "fast"


@pytest.mark.parametrize("case", [small, medium], ids=["small", "medium"])
def test_summaries_add_up(case) -> None:
    p, r = case()
    covered = np.minimum(r.coverage, p.demand)
    assert r.total.covered == covered.sum()
    assert r.total.allocated == p.demand.sum() and r.total.required == p.required.sum()
    assert sum(s.covered for s in r.shops) == r.total.covered
    assert sum(s.covered for s in r.tiers.values()) == r.total.covered
    missing = {(shop, t): m for shop, t, m in r.uncovered}
    assert sum(missing.values()) == r.total.allocated - r.total.covered
    for (shop, t), m in list(missing.items())[:200]:
        assert m == p.demand[t, shop] - r.coverage[t, shop] > 0
    # Coverage counts the assignments, which lie outside breaks.
    again = np.zeros_like(r.coverage)
    for s in r.shifts:
        for a in s.assignments:
            again[a.start : a.end, a.shop] += 1
    assert np.array_equal(again, r.coverage)
    assert r.agents_used == len({s.agent for s in r.shifts})
    assert r.worked_minutes == sum(s.worked_minutes for s in r.shifts)


@pytest.mark.parametrize("case", [small, medium], ids=["small", "medium"])
def test_the_bound_bounds(case) -> None:
    p, r = case()
    b = r.bound
    assert r.total.covered <= b.value <= r.total.allocated
    assert b.kind in ("per_interval", "overall")
    assert 0 < r.coverage_vs_bound <= 1
    assert r.coverage_vs_bound == pytest.approx(r.total.covered / b.value)


def test_overtime_and_cost_follow_the_rules() -> None:
    p, r = medium()
    zone = ZoneInfo("Asia/Shanghai")
    by_agent = defaultdict(list)
    for s in r.shifts:
        by_agent[s.agent].append(s)
    total = {c: 0 for c in PayClass}
    for a, shifts in by_agent.items():
        ag = p.agents[a]
        h = ag.history
        prior = PriorWork(
            date(2026, 11, 10),
            min(h.days_worked_this_week * ag.rules.normal_per_day, ag.rules.normal_per_week),
            h.overtime_minutes_this_month,
            h.period_worked_minutes,
        )
        for c, m in overtime_by_class(
            [s.span(p.start) for s in shifts], ag.rules, CHINA_2026, zone, prior
        ).items():
            total[c] += m
    assert dict(r.overtime_minutes) == total
    # The cost: every worked hour at the loaded rate, overtime hours at the multiplier instead.
    assert r.labour_cost > 0
    assert labour_cost(p, {}, {}) == 0


def test_deterministic() -> None:
    p, r = small()
    again = build_roster(p)
    assert again.shifts == r.shifts
    assert np.array_equal(again.coverage, r.coverage)


def test_pinned_shifts_are_kept_as_they_are() -> None:
    p, r = medium()
    first_day = [s for s in r.shifts if s.start < 96]
    pinned = tuple(s._replace(pinned=True) for s in first_day[::3])
    p2 = RosterProblem(
        p.start, p.n_intervals, p.shops, p.demand, p.required, p.agents, p.sites, pinned=pinned
    )
    r2 = build_roster(p2)
    assert set(pinned) <= set(r2.shifts)
    assert sum(1 for s in r2.shifts if s.pinned) == len(pinned)
    assert check_roster(r2, p2) == []
    # Pinned agents get nothing else on their pinned day.
    for s in pinned:
        others = [x for x in r2.shifts if x.agent == s.agent and x != s]
        assert all(x.start >= 96 for x in others)


def test_ka_first_when_agents_are_short() -> None:
    # Two shops any agent may serve, the same demand all day; four agents for eight seats.
    shops = (Shop("ka", 0, frozenset({"tmall"})), Shop("lt", 2, frozenset({"tmall"})))
    demand = np.zeros((96, 2), np.int64)
    demand[32:88] = 4
    p = problem([agent(("tmall",), id=f"a{i}") for i in range(4)], shops=shops, days=1, demand=demand)
    r = build_roster(p)
    assert check_roster(r, p) == []
    cov = r.coverage
    assert (cov[:, 0] >= cov[:, 1]).all()
    assert r.shops[0].ratio > r.shops[1].ratio
    assert r.shops[0].ratio > 0.5


@given(
    n_agents=st.integers(1, 12),
    ka=st.integers(1, 6),
    other=st.integers(1, 6),
    tier=st.sampled_from([1, 2]),
    peak=st.integers(0, 60),
)
@settings(max_examples=15, deadline=None)
def test_ka_coverage_never_below_a_lower_tier_on_the_same_agents(n_agents, ka, other, tier, peak) -> None:
    shops = (Shop("ka", 0, frozenset({"jd"})), Shop("other", tier, frozenset({"jd"})))
    demand = np.zeros((96, 2), np.int64)
    demand[20 + peak // 2 : 80, 0] = ka
    demand[20:90, 1] = other
    p = problem(
        [agent(("jd",), id=f"a{i}", level=i % 4) for i in range(n_agents)], shops=shops, days=1, demand=demand
    )
    r = build_roster(p)
    assert check_roster(r, p) == []
    cov = np.minimum(r.coverage, demand)
    both = (demand[:, 0] > 0) & (demand[:, 1] > 0)
    # Wherever the KA shop lacks agents, nobody eligible for it works the other shop.
    assert not ((cov[:, 0] < demand[:, 0]) & (cov[:, 1] > 0) & both).any()


def test_seniors_go_to_ka_first() -> None:
    shops = (Shop("ka", 0, frozenset({"tmall"})), Shop("std", 1, frozenset({"tmall"})))
    demand = np.zeros((96, 2), np.int64)
    demand[36:70] = 2
    people = [agent(("tmall",), id=f"j{i}", level=1) for i in range(2)] + [
        agent(("tmall",), id=f"s{i}", level=3) for i in range(2)
    ]
    p = problem(people, shops=shops, days=1, demand=demand)
    r = build_roster(p)
    on_ka: dict[int, int] = defaultdict(int)
    for s in r.shifts:
        for a in s.assignments:
            if a.shop == 0:
                on_ka[s.agent] += a.end - a.start
    # The seniors work the KA shop; juniors only cover it during the seniors' breaks.
    assert on_ka[2] + on_ka[3] >= 0.85 * sum(on_ka.values())
    assert r.shops[0].ratio == 1.0


def test_an_over_demanded_peak_yields_a_partial_roster_and_what_is_missing() -> None:
    p = instances.small(seed=3, peak_agents=200)
    r = build_roster(p)
    assert check_roster(r, p) == []
    assert r.uncovered and r.shifts
    assert r.total.covered < r.total.allocated
    for shop, t, missing in r.uncovered[:500]:
        assert missing == p.demand[t, shop] - r.coverage[t, shop]


def test_it_always_answers() -> None:
    empty = problem([], days=1)
    r = build_roster(empty)
    assert r.shifts == () and r.total.covered == 0 and r.coverage_vs_bound == 1.0
    nobody = problem([], days=1, demand=np.ones((96, 3), np.int64))
    r = build_roster(nobody)
    assert r.total.covered == 0 and len(r.uncovered) == 96 * 3 and r.bound.value == 0
    idle = problem([agent()], days=1)
    assert build_roster(idle).shifts == ()


def test_simple_bounds() -> None:
    demand = np.zeros((96, 3), np.int64)
    demand[:, 1] = 10
    p = problem([agent(history=AgentHistory(last_shift_end=-10))], days=1, demand=demand)
    b = compute_bound(p)
    # Per interval: one agent, available once its 11-hour rest is over (interval 34 on).
    assert b.per_interval == 96 - 34
    # Overall: the longest day of the rules, 11 hours.
    assert b.overall == 44 and b.kind == "overall" and b.value == 44
