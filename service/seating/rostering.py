"""A roster from a capacity plan: the fast deterministic path.

`build_roster(problem)` always answers: the best roster it finds plus what is still uncovered. Two stages,
as schedulers do, interleaved day by day (local days, in order):

1. Choose shifts. Agents who are interchangeable on a day (same site, skills, rules and level, the same
   room for normal and overtime minutes, the same unavailability and preferences inside the day) form a
   group; agents within a group differ only in their earliest start (rest after their previous shift).
   For a group, every shift shape is scored at once with numpy: any quarter-hour start of the day, every
   length its rules allow, the meal break (on long shifts) at the best place of its window. A shape's
   score is the sum over its worked intervals of the best tier weight among the shop classes the group
   can serve that still lack agents there, minus a small cost per interval and an overtime premium; shapes
   over a full site (seats) or meeting unavailability score nothing. Groups are served in order: those
   that can serve KA shops first, seniors before juniors (so KA shops get senior agents first), then the
   least flexible (fewest shops they can serve) first. Each day runs twice: first with shapes without
   overtime, then with overtime for the agents still free.
2. Assign named agents and shops. The best shape goes to the group's most constrained agent that can
   start it (the latest earliest start, then the cheapest); the shift's worked time is split into
   assignments by walking it: at each point the agent takes, among the shops of the highest tier that
   still lack agents, the one that lacks them the longest, and switches only when that shop is covered
   or a higher tier needs it (few switches, KA first at every interval). As long as every shop of the
   walk still lacks several agents, the same shape and walk go to several agents at once, their breaks
   staggered over the best break positions. Scores only fall as agents are placed, so a shape whose
   score did not drop is still the group's best and is reused without rescoring.

Shop classes aggregate shops with the same required skills and tier (the score only needs to know
whether some eligible shop of a tier still lacks agents). Residual demand is kept per shop and per class.

Labour rules are respected as they are built: a shape is offered only if its length and meal break fit
the rules, its day stays within the daily cap and the month's overtime cap (the builder keeps its own
ledger of normal and overtime minutes per agent: a second implementation of `rules`' definition, which
the tests compare), it starts after the rest from the agent's previous shift (history or pinned
included) and ends before the rest needed by its next pinned shift, and the day keeps the consecutive
days and weekly rest days within bounds. Pinned shifts are kept as they are, their coverage, seats and
hours counted first.

`summarise(problem, shifts, ...)` computes the result of any roster (coverage, what is uncovered,
summaries per tier and shop, hours, overtime by pay class, cost, the bound); the optimiser uses it too.
`compute_bound(problem)` is the bound described on `problem.Bound`.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from numpy.typing import NDArray

from service.seating.calendar import DayKind, PayClass
from service.seating.problem import (
    INTERVAL_MINUTES,
    Agent,
    Assignment,
    Bound,
    CoverageSummary,
    RosterProblem,
    RosterResult,
    Shift,
    SolverReport,
    Span,
)
from service.seating.rules import LabourRules, period_allowance, period_bounds

__all__ = [
    "RosterProblem",
    "RosterResult",
    "build_roster",
    "compute_bound",
    "objective",
    "summarise",
]

# Score units are tier weights of one seat-interval, scaled by the smallest tier weight.
_INTERVAL_COST = 0.01  # per interval of span: among equally useful shapes, the shorter
_OVERTIME_PREMIUM = 0.2  # per overtime interval at 150 %, proportionally more at 200 % and 300 %
_PREFERENCE_BONUS = 0.05  # relative bonus of intervals inside an agent's preferred windows
_MIN_SCORE = 0.5  # a shape must cover at least about one seat-interval of the lowest tier
_STRETCH = 4  # an agent leaves its shop for a higher tier only if that lacks agents this long (1 h)
_FAR = -(10**6)  # "long ago" in intervals


def _iv_ceil(minutes: int) -> int:
    return -(-minutes // INTERVAL_MINUTES)


@dataclass(frozen=True)
class _RuleShapes:
    """A rule set in intervals: the shift lengths it allows and their breaks."""

    lengths: NDArray[np.int64]  # allowed spans, ascending
    worked: NDArray[np.int64]  # worked intervals of each length
    needs_break: NDArray[np.bool_]
    break_len: int
    break_earliest: int  # intervals after the start
    break_latest_end: int  # intervals before the end
    rest: int

    @staticmethod
    def of(rules: LabourRules) -> _RuleShapes:
        lo = _iv_ceil(rules.shift_min)
        hi = rules.shift_max // INTERVAL_MINUTES
        brk = _iv_ceil(rules.meal_break_min)
        if brk * INTERVAL_MINUTES > rules.meal_break_max:
            brk = 0  # no quarter-hour break fits: long shifts are impossible
        early = _iv_ceil(rules.meal_break_earliest)
        late = _iv_ceil(rules.meal_break_latest_end)
        lengths, worked, needs = [], [], []
        for length in range(lo, hi + 1):
            need = length * INTERVAL_MINUTES > rules.meal_break_after
            if need and (brk == 0 or early + brk + late > length):
                continue
            lengths.append(length)
            needs.append(need)
            worked.append(length - (brk if need else 0))
        return _RuleShapes(
            np.array(lengths, np.int64),
            np.array(worked, np.int64),
            np.array(needs, bool),
            brk,
            early,
            late,
            _iv_ceil(rules.min_rest_between_shifts),
        )


class _Ledger:
    """One agent's normal and overtime minutes, applied shift by shift in time order.

    The builder's own implementation of the overtime definition in `rules` (same results, tested)."""

    __slots__ = (
        "rules", "week", "week_normal", "month", "month_ot", "period", "cum", "recognised",
        "day", "day_worked", "day_normal", "ot", "worked",
    )

    def __init__(self, agent: Agent, first_day: date) -> None:
        rules = agent.rules
        history = agent.history
        self.rules = rules
        self.week = first_day.isocalendar()[:2]
        wn = history.normal_minutes_this_week
        self.week_normal = (
            min(history.days_worked_this_week * rules.normal_per_day, rules.normal_per_week) if wn is None else wn
        )
        self.month = (first_day.year, first_day.month)
        self.month_ot = history.overtime_minutes_this_month
        self.period: tuple[date, date] | None = None
        self.cum = 0
        self.recognised = 0
        if rules.comprehensive:
            self.period = period_bounds(rules, first_day)
            before = period_allowance(rules, first_day, through=False)
            pw = history.period_worked_minutes
            self.cum = before if pw is None else pw
            self.recognised = max(0, self.cum - before)
        self.day: date | None = None
        self.day_worked = 0
        self.day_normal = 0
        self.ot = {PayClass.workday: 0, PayClass.rest_day: 0, PayClass.holiday: 0}
        self.worked = 0

    def _roll(self, day: date) -> None:
        if day == self.day:
            return
        self.day, self.day_worked, self.day_normal = day, 0, 0
        week = day.isocalendar()[:2]
        if week != self.week:
            self.week, self.week_normal = week, 0
        month = (day.year, day.month)
        if month != self.month:
            self.month, self.month_ot = month, 0
        if self.rules.comprehensive:
            period = period_bounds(self.rules, day)
            if period != self.period:
                self.period, self.cum, self.recognised = period, 0, 0

    def room(self, day: date, kind: DayKind) -> tuple[int, int]:
        """(minutes workable on `day` without overtime, most minutes workable on it) from here on."""
        self._roll(day)
        rules = self.rules
        budget = max(0, rules.overtime_cap_per_month - self.month_ot)
        if rules.comprehensive:
            if kind is DayKind.holiday:
                return 0, budget
            normal = max(0, period_allowance(rules, day, through=True) + self.recognised - self.cum)
            return normal, normal + budget
        normal = 0
        if kind is DayKind.workday:
            normal = max(0, min(rules.normal_per_day - self.day_normal, rules.normal_per_week - self.week_normal))
        cap = rules.normal_per_day + rules.overtime_cap_per_day - self.day_worked
        return min(normal, cap), max(0, min(cap, normal + budget))

    def add(self, day: date, kind: DayKind, minutes: int) -> None:
        self._roll(day)
        rules = self.rules
        self.worked += minutes
        self.day_worked += minutes
        if kind is DayKind.holiday:
            self.ot[PayClass.holiday] += minutes
            self.month_ot += minutes
            return
        if rules.comprehensive:
            self.cum += minutes
            excess = max(0, self.cum - period_allowance(rules, day, through=True))
            new = max(0, excess - self.recognised)
            self.recognised = max(self.recognised, excess)
            self.ot[PayClass.workday] += new
            self.month_ot += new
            return
        if kind is DayKind.rest_day:
            self.ot[PayClass.rest_day] += minutes
            self.month_ot += minutes
            return
        normal = max(0, min(minutes, rules.normal_per_day - self.day_normal, rules.normal_per_week - self.week_normal))
        self.day_normal += normal
        self.week_normal += normal
        self.ot[PayClass.workday] += minutes - normal
        self.month_ot += minutes - normal


class _Clock:
    """Local days: a contiguous list of dates, and per site the day index of every interval."""

    def __init__(self, problem: RosterProblem) -> None:
        T = problem.n_intervals
        per_site: list[list[date]] = []
        for k in range(len(problem.sites)):
            zone = problem.zones[k]
            per_site.append([problem.at(t).astimezone(zone).date() for t in range(T)])
        if T == 0:
            first = problem.start.date()
            self.days: list[date] = [first]
        else:
            lo = min(ds[0] for ds in per_site) if per_site else problem.start.date()
            hi = max(ds[-1] for ds in per_site) if per_site else lo
            self.days = [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]
        index = {d: i for i, d in enumerate(self.days)}
        self.day_of = [np.array([index[d] for d in ds], np.int64) for ds in per_site]
        # Start range [t0, t1) of each day at each site.
        self.ranges: list[dict[int, tuple[int, int]]] = []
        for k in range(len(problem.sites)):
            r: dict[int, tuple[int, int]] = {}
            for t, d in enumerate(self.day_of[k].tolist()):
                lo_hi = r.get(d)
                r[d] = (t, t + 1) if lo_hi is None else (lo_hi[0], t + 1)
            self.ranges.append(r)
        self.kinds = [[problem.calendar.kind(d) for d in self.days] for _ in problem.sites]
        self.first_index = [int(self.day_of[k][0]) if T else 0 for k in range(len(problem.sites))]
        self.first_day = [self.days[int(self.day_of[k][0])] if T else self.days[0] for k in range(len(problem.sites))]


@dataclass
class _Group:
    site: int
    classes: NDArray[np.int64]  # shop classes the members may serve
    shapes: _RuleShapes
    normal_iv: int
    max_iv: int
    ot_penalty: float  # per overtime interval
    day_start: int
    day_end: int  # starts lie in [day_start, day_end)
    latest_end: int
    unavailable: tuple[Span, ...]
    preferred: tuple[Span, ...]
    members: list[tuple[int, int, float, int]]  # (earliest start, level, -cost, -agent), ascending
    order: tuple[object, ...]


@dataclass
class _Draft:
    """A shift being built: its class pieces (stage 1), then its shop pieces (stage 2)."""

    agent: int
    site: int
    start: int
    end: int
    breaks: tuple[Span, ...]
    pieces: list[tuple[int, int, int]]  # (class, start, end), outside the break
    shops: list[tuple[int, int, int]]  # (shop, start, end)


class _Builder:
    def __init__(self, problem: RosterProblem) -> None:
        self.p = problem
        self.T = T = problem.n_intervals
        self.S = len(problem.shops)
        self.clock = _Clock(problem)
        self.first_index = self.clock.first_index
        w_min = min(problem.tier_weights.values()) if problem.tier_weights else 1.0
        scale = 1.0 / w_min if w_min > 0 else 1.0
        shop_w = np.array([problem.tier_weights[s.tier] * scale for s in problem.shops], float)
        # Shop classes: same required skills and tier, so interchangeable for every agent.
        class_index: dict[tuple[frozenset[str], int], int] = {}
        self.class_of_shop = np.zeros(self.S, np.int64)
        for i, shop in enumerate(problem.shops):
            key = (shop.required_skills, shop.tier)
            self.class_of_shop[i] = class_index.setdefault(key, len(class_index))
        self.C = len(class_index)
        self.class_w = np.zeros(self.C)
        self.class_w[self.class_of_shop] = shop_w
        self.class_skills = [k[0] for k in class_index]
        self.shops_of_class = [np.flatnonzero(self.class_of_shop == c) for c in range(self.C)]
        self.R = problem.demand.astype(np.int32, copy=True)  # residual per shop (T, S), after pinned shifts
        self.occupancy = np.zeros((len(problem.sites), T), np.int32)
        self.cap = np.array([s.seat_capacity for s in problem.sites], np.int32)
        self.full = np.zeros((len(problem.sites), T), bool)
        self.shapes: dict[LabourRules, _RuleShapes] = {}
        self.eligible: dict[frozenset[str], NDArray[np.int64]] = {}
        self.tables: dict[tuple[object, ...], tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
        self.drafts: list[_Draft] = []
        self.max_len = max((int(self._shapes(a.rules).lengths.max(initial=0)) for a in problem.agents), default=0)

    def _shapes(self, rules: LabourRules) -> _RuleShapes:
        got = self.shapes.get(rules)
        if got is None:
            got = self.shapes[rules] = _RuleShapes.of(rules)
        return got

    def _eligible(self, skills: frozenset[str]) -> NDArray[np.int64]:
        """Shop classes an agent with these skills may serve."""
        got = self.eligible.get(skills)
        if got is None:
            got = self.eligible[skills] = np.array(
                [c for c, need in enumerate(self.class_skills) if need <= skills], np.int64
            )
        return got

    # ------------------------------------------------------------ the day loop

    def run(self) -> list[Shift]:
        p = self.p
        clock = self.clock
        A = len(p.agents)
        self.ledgers = [_Ledger(a, clock.first_day[a.site]) for a in p.agents]
        self.last_end = [_FAR if a.history.last_shift_end is None else a.history.last_shift_end for a in p.agents]
        self.worked_days: list[set[int]] = [set() for _ in range(A)]
        pinned_on: dict[int, dict[int, list[Shift]]] = defaultdict(lambda: defaultdict(list))
        self.pinned_starts: list[list[int]] = [[] for _ in range(A)]
        for shift in p.pinned:
            d = int(clock.day_of[p.agents[shift.agent].site][min(max(shift.start, 0), self.T - 1)])
            pinned_on[d][shift.agent].append(shift)
            self.worked_days[shift.agent].add(d)
            self.pinned_starts[shift.agent].append(shift.start)
            for a in shift.assignments:
                self.R[max(0, a.start) : min(self.T, a.end), a.shop] -= 1
            self.occupancy[shift.site, max(0, shift.start) : min(self.T, shift.end)] += 1
        for starts in self.pinned_starts:
            starts.sort()
        np.maximum(self.R, 0, out=self.R)  # over-coverage by pinned shifts is no credit elsewhere
        self.full = self.occupancy >= self.cap[:, None]
        self.Rc = np.zeros((self.T, self.C), np.int32)
        np.add.at(self.Rc.T, self.class_of_shop, self.R.T)
        # Tier weight of every class where it still lacks agents, 0 where it does not.
        self.Lw = np.where(self.Rc > 0, self.class_w[None, :], 0.0)
        self.static = self._static()

        for d in range(len(clock.days)):
            for agent in sorted(pinned_on[d]):
                for shift in sorted(pinned_on[d][agent], key=lambda s: s.start):
                    self._book(agent, d, shift)
            groups = self._groups(d, set(pinned_on[d]))
            for allow_overtime in (False, True):
                for g in groups:
                    if g.members:
                        self._serve(g, d, allow_overtime)
        self._split_classes()
        shifts = list(p.pinned)
        for dr in self.drafts:
            shifts.append(
                Shift(dr.agent, dr.site, dr.start, dr.end, dr.breaks, tuple(Assignment(*x) for x in dr.shops))
            )
        return shifts

    def _book(self, agent: int, d: int, shift: Shift) -> None:
        """Record a pinned shift in the agent's state (rest, days, hours)."""
        k = self.p.agents[agent].site
        self.ledgers[agent].add(self.clock.days[d], self.clock.kinds[k][d], shift.worked_minutes)
        self.last_end[agent] = max(self.last_end[agent], shift.end)

    def _may_work(self, agent: Agent, a: int, d: int) -> bool:
        """Consecutive days and weekly rest days allow a shift on day d."""
        rules = agent.rules
        days = self.worked_days[a]
        left = 0
        x = d - 1
        while x in days:
            left += 1
            x -= 1
        if x == self.first_index[agent.site] - 1:  # the run reaches the window's start: history continues it
            left += agent.history.consecutive_days
        right = 0
        x = d + 1
        while x in days:
            right += 1
            x += 1
        if left + 1 + right > rules.max_consecutive_days:
            return False
        day = self.clock.days[d]
        monday = d - day.weekday()
        count = sum(1 for x in days if monday <= x < monday + 7)
        if monday <= self.first_index[agent.site]:  # the window's first week: days before it count
            count += agent.history.days_worked_this_week
        return count + 1 <= 7 - rules.min_rest_days_per_week

    def _static(self) -> list[tuple[_RuleShapes, NDArray[np.int64], bytes, int, int]]:
        """Per agent: its shapes, classes (and their key), seniority band and flexibility."""
        top = float(self.class_w.max()) if self.C else 0.0
        by_skills: dict[frozenset[str], tuple[NDArray[np.int64], bytes, bool, int]] = {}
        out = []
        for agent in self.p.agents:
            got = by_skills.get(agent.skills)
            if got is None:
                classes = self._eligible(agent.skills)
                ka = bool(classes.size) and float(self.class_w[classes].max()) >= top
                flex = int(sum(self.shops_of_class[c].size for c in classes.tolist()))
                got = by_skills[agent.skills] = (classes, classes.tobytes(), ka, flex)
            classes, key, ka, flex = got
            band = (2 if agent.level >= 2 else 1) if ka else 0  # seniority matters for KA work only
            out.append((self._shapes(agent.rules), classes, key, band, flex))
        return out

    def _groups(self, d: int, busy: set[int]) -> list[_Group]:
        p = self.p
        clock = self.clock
        T = self.T
        groups: dict[tuple[object, ...], _Group] = {}
        day = clock.days[d]
        static = self.static
        last_end = self.last_end
        for a, agent in enumerate(p.agents):
            if a in busy:
                continue
            k = agent.site
            rng = clock.ranges[k].get(d)
            if rng is None:
                continue
            t0, t1 = rng
            shapes, classes, ckey, band, flex = static[a]
            if not shapes.lengths.size or not classes.size:
                continue
            earliest = max(t0, last_end[a] + shapes.rest)
            if earliest >= t1 or not self._may_work(agent, a, d):
                continue
            latest = T
            pins = self.pinned_starts[a]
            if pins:
                i = bisect.bisect_left(pins, t1)
                if i < len(pins):
                    latest = min(latest, pins[i] - shapes.rest)
            if latest - earliest < int(shapes.lengths[0]):
                continue
            kind = clock.kinds[k][d]
            normal_min, max_min = self.ledgers[a].room(day, kind)
            normal_iv, max_iv = normal_min // INTERVAL_MINUTES, max_min // INTERVAL_MINUTES
            if max_iv < int(shapes.worked[0]):
                continue
            unavailable: tuple[Span, ...] = ()
            preferred: tuple[Span, ...] = ()
            if agent.unavailable or agent.preferred:
                horizon = min(T, t1 + self.max_len)
                unavailable = tuple(
                    (max(u0, t0), min(u1, horizon)) for u0, u1 in agent.unavailable if u0 < horizon and u1 > t0
                )
                preferred = tuple(
                    (max(u0, t0), min(u1, horizon)) for u0, u1 in agent.preferred if u0 < horizon and u1 > t0
                )
            if kind is DayKind.holiday:
                ot_class = PayClass.holiday
            elif kind is DayKind.rest_day and not agent.rules.comprehensive:
                ot_class = PayClass.rest_day
            else:
                ot_class = PayClass.workday
            key = (k, ckey, agent.rules, band, normal_iv, max_iv, ot_class, latest, unavailable, preferred)
            g = groups.get(key)
            if g is None:
                mult = float(p.multipliers[ot_class])
                g = groups[key] = _Group(
                    site=k,
                    classes=classes,
                    shapes=shapes,
                    normal_iv=normal_iv,
                    max_iv=max_iv,
                    ot_penalty=_OVERTIME_PREMIUM * max(0.0, mult - 1.0) / 0.5,
                    day_start=t0,
                    day_end=t1,
                    latest_end=latest,
                    unavailable=unavailable,
                    preferred=preferred,
                    members=[],
                    order=(
                        -float(self.class_w[classes].max()),
                        -band,
                        flex,
                        k,
                        tuple(classes.tolist()),
                        agent.rules.name,
                        -normal_iv,
                        -max_iv,
                        latest,
                        unavailable,
                        preferred,
                        str(ot_class),
                    ),
                )
            g.members.append((earliest, agent.level, -float(agent.hourly_cost), -a))
        out = sorted(groups.values(), key=lambda g: g.order)  # type: ignore[arg-type, return-value]
        for g in out:
            g.members.sort()
        return out

    # ------------------------------------------------------------ stage 1: shapes and class pieces

    def _serve(self, g: _Group, d: int, allow_overtime: bool) -> None:
        shapes = g.shapes
        limit = g.max_iv if allow_overtime else g.normal_iv
        usable = shapes.worked <= limit
        if not usable.any():
            return
        lengths = shapes.lengths[usable]
        needs = shapes.needs_break[usable]
        overtime = np.maximum(0, shapes.worked[usable] - g.normal_iv)
        penalty = _INTERVAL_COST * lengths + g.ot_penalty * overtime
        best: tuple[float, int, int] | None = None
        while g.members:
            if best is not None:
                # Scores only fall as agents are placed: a shape that kept its score is still the best.
                s, col = best[1], best[2]
                if s < g.members[0][0] or self._score_one(g, s, int(lengths[col])) - penalty[col] < best[0] - 1e-9:
                    best = None
            if best is None:
                best = self._best(g, lengths, penalty, allow_overtime)
                if best is None or best[0] < _MIN_SCORE:
                    return
            s, col = best[1], best[2]
            able = bisect.bisect_right(g.members, (s, 1 << 30))
            if not self._place(g, d, s, int(lengths[col]), bool(needs[col]), able):
                return

    def _profile(self, g: _Group, r0: int, r1: int) -> NDArray[np.float64]:
        """Per interval of [r0, r1): the best tier weight among the group's classes still lacking agents."""
        v = self.Lw[r0:r1, g.classes].max(axis=1)
        if g.preferred:
            bonus = np.ones(r1 - r0)
            for u0, u1 in g.preferred:
                bonus[max(0, u0 - r0) : max(0, u1 - r0)] += _PREFERENCE_BONUS
            v *= bonus
        return v

    def _blocked(self, g: _Group, r0: int, r1: int) -> NDArray[np.bool_] | None:
        """Intervals of [r0, r1) a shift of the group may not cover (full site, unavailability); None if none."""
        full = self.full[g.site, r0:r1]
        if not g.unavailable and not full.any():
            return None
        blocked = full.copy()
        for u0, u1 in g.unavailable:
            blocked[max(0, u0 - r0) : max(0, u1 - r0)] = True
        return blocked

    def _best(
        self, g: _Group, lengths: NDArray[np.int64], penalty: NDArray[np.float64], overtime: bool
    ) -> tuple[float, int, int] | None:
        """The best (score, start, length column) for the group's most flexible member.

        The meal break is left out of the score (it goes where it costs least, see `_breaks`)."""
        s_lo = max(g.day_start, g.members[0][0])
        r1 = min(g.latest_end, g.day_end - 1 + int(lengths[-1]))
        n = r1 - s_lo
        ns = g.day_end - s_lo
        if n < int(lengths[0]) or ns <= 0:
            return None
        key = (id(g.shapes), overtime, g.normal_iv, g.max_iv, g.ot_penalty, ns, n)
        table = self.tables.get(key)
        if table is None:
            ends = np.arange(ns)[:, None] + lengths[None, :]
            cost = np.where(ends <= n, penalty[None, :], np.inf) + np.zeros((ns, 1))
            table = self.tables[key] = (np.minimum(ends, n), cost)
        ends, cost = table
        csum = np.zeros(n + 1)
        np.cumsum(self._profile(g, s_lo, r1), out=csum[1:])
        score = csum[ends] - (csum[:ns, None] + cost)
        blocked = self._blocked(g, s_lo, r1)
        if blocked is not None:
            bsum = np.zeros(n + 1, np.int64)
            np.cumsum(blocked, out=bsum[1:])
            score[bsum[ends] != bsum[:ns, None]] = -np.inf
        flat = int(np.argmax(score))
        i, j = divmod(flat, lengths.size)
        top = float(score[i, j])
        if not math.isfinite(top):
            return None
        return top, s_lo + i, j

    def _score_one(self, g: _Group, s: int, length: int) -> float:
        if self._blocked(g, s, s + length) is not None and bool(self._blocked(g, s, s + length).any()):  # type: ignore[union-attr]
            return -math.inf
        return float(self._profile(g, s, s + length).sum())

    def _breaks(self, g: _Group, s: int, length: int, want: int) -> list[int]:
        """Up to `want` break starts, best first: least score lost, then fewest agents lacking there (the
        copies' breaks are staggered over these)."""
        bl = g.shapes.break_len
        key = self._profile(g, s, s + length) * 1e6 + self.Rc[s : s + length, g.classes].sum(axis=1)
        c = np.zeros(length + 1)
        np.cumsum(key, out=c[1:])
        lo = g.shapes.break_earliest
        hi = length - g.shapes.break_latest_end - bl + 1
        lost = c[lo + bl : hi + bl] - c[lo:hi]
        order = np.argsort(lost, kind="stable")[:want]
        return (order + (s + lo)).tolist()

    def _walk(self, g: _Group, s: int, e: int) -> list[tuple[int, int, int]]:
        """Split [s, e) into (class, start, end) pieces: the highest tier lacking agents first, then the class
        that lacks them longest; stay until it is covered, or until a higher tier lacks agents for a stretch
        (at least _STRETCH intervals, or to the end of the shift)."""
        sub = self.Lw[s:e, g.classes]  # (n, m): weight where lacking, else 0
        n = e - s
        steps = np.arange(n)
        nxt = np.where(sub > 0, n, steps[:, None])
        np.minimum.accumulate(nxt[::-1], axis=0, out=nxt[::-1])
        run = nxt - steps[:, None]  # intervals each class keeps lacking from each point
        best = (sub * (n + 1) + run).argmax(axis=1).tolist()  # top tier first, then the longest run
        top = sub.max(axis=1).tolist()
        classes = g.classes.tolist()
        out: list[tuple[int, int, int]] = []
        pos = 0
        while pos < n:
            w = top[pos]
            if w <= 0:
                pos += 1
                continue
            c = best[pos]
            stop = pos + int(run[pos, c])
            h = pos + 1
            while h < stop:
                if top[h] > w:
                    higher = int(run[h, best[h]])
                    if higher >= _STRETCH or h + higher >= n:
                        stop = h
                        break
                h += 1
            out.append((classes[c], s + pos, s + stop))
            pos = stop
        return out

    def _place(self, g: _Group, d: int, s: int, length: int, need_break: bool, able: int) -> bool:
        e = s + length
        pieces = self._walk(g, s, e)
        if not pieces or able <= 0:
            return False
        k = g.site
        room = int(self.cap[k] - self.occupancy[k, s:e].max())
        depth = min(int(self.Rc[a:b, c].min()) for c, a, b in pieces)
        copies = max(1, min(able, room, depth))
        bl = g.shapes.break_len
        breaks = self._breaks(g, s, length, copies) if need_break else []
        Rc, Lw = self.Rc, self.Lw
        for c, a, b in pieces:
            Rc[a:b, c] -= copies
        self.occupancy[k, s:e] += copies
        self.full[k, s:e] = self.occupancy[k, s:e] >= self.cap[k]
        day = self.clock.days[d]
        kind = self.clock.kinds[k][d]
        worked = (length - (bl if need_break else 0)) * INTERVAL_MINUTES
        for i in range(copies):
            idx = bisect.bisect_right(g.members, (s, 1 << 30)) - 1
            agent = -g.members.pop(idx)[3]
            if breaks:
                b0 = breaks[i % len(breaks)]
                b1 = b0 + bl
                own: list[tuple[int, int, int]] = []
                for c, a, b in pieces:
                    lo, hi = max(a, b0), min(b, b1)
                    if lo >= hi:
                        own.append((c, a, b))
                        continue
                    Rc[lo:hi, c] += 1  # the break gives this copy's share back
                    if a < lo:
                        own.append((c, a, lo))
                    if hi < b:
                        own.append((c, hi, b))
                self.drafts.append(_Draft(agent, k, s, e, ((b0, b1),), own, []))
            else:
                self.drafts.append(_Draft(agent, k, s, e, (), list(pieces), []))
            self.ledgers[agent].add(day, kind, worked)
            self.last_end[agent] = e
            self.worked_days[agent].add(d)
        for c, a, b in pieces:
            Lw[a:b, c] = (Rc[a:b, c] > 0) * self.class_w[c]
        return True

    # ------------------------------------------------------------ stage 2: shops inside classes

    def _split_classes(self) -> None:
        """Give every class piece to the class's shops, interval by interval, keeping agents where they are.

        Per class, time runs forward: pieces that end leave their shop; a shop whose demand fell below its
        agents sends the latest arrivals elsewhere; arrivals (new pieces, agents back from a break, those
        sent away) go to the shop they were on before the break if it has room, else to the shop with the
        most room. Stage 1 never put more agents on a class than its shops lack, so there is room for all."""
        T = self.T
        by_class: dict[int, list[int]] = defaultdict(list)
        flat: list[tuple[int, int, int, int]] = []  # (draft, class, start, end)
        for di, dr in enumerate(self.drafts):
            for c, a, b in dr.pieces:
                by_class[c].append(len(flat))
                flat.append((di, c, a, b))
        for c in sorted(by_class):
            shops = self.shops_of_class[c]
            if shops.size == 1:
                shop = int(shops[0])
                for pi in by_class[c]:
                    di, _, a, b = flat[pi]
                    self.drafts[di].shops.append((shop, a, b))
                continue
            demand = self.R[:, shops]
            rows = demand.tolist()
            starts: dict[int, list[int]] = defaultdict(list)
            ends: dict[int, list[int]] = defaultdict(list)
            for pi in by_class[c]:
                _, _, a, b = flat[pi]
                starts[a].append(pi)
                ends[b].append(pi)
            changes = set(np.flatnonzero(np.any(demand[1:] != demand[:-1], axis=1)).tolist())
            times = sorted(set(starts) | set(ends) | {t + 1 for t in changes})
            m = shops.size
            on: list[list[int]] = [[] for _ in range(m)]
            where: dict[int, tuple[int, int]] = {}  # piece -> (shop position, since)
            last_shop: dict[int, int] = {}  # draft -> shop position of its last piece of this class
            waiting: list[int] = []
            for t in times:
                if t >= T:
                    for pi in list(where):
                        self._close(flat, shops, where, pi, t, on, last_shop)
                    break
                for pi in ends.get(t, ()):
                    if pi in where:
                        self._close(flat, shops, where, pi, t, on, last_shop)
                    elif pi in waiting:
                        waiting.remove(pi)
                room = [want - len(x) for want, x in zip(rows[t], on, strict=True)]
                movers: list[int] = []
                for j in range(m):
                    while room[j] < 0 and on[j]:
                        pi = on[j][-1]
                        self._close(flat, shops, where, pi, t, on, last_shop)
                        movers.append(pi)
                        room[j] += 1
                for pi in [*waiting, *movers, *starts.get(t, ())]:
                    di = flat[pi][0]
                    back = last_shop.get(di)
                    j = back if back is not None and room[back] > 0 else room.index(max(room))
                    if room[j] <= 0:
                        if pi not in waiting:
                            waiting.append(pi)
                        continue
                    if pi in waiting:
                        waiting.remove(pi)
                    on[j].append(pi)
                    where[pi] = (j, t)
                    room[j] -= 1

    def _close(
        self,
        flat: list[tuple[int, int, int, int]],
        shops: NDArray[np.int64],
        where: dict[int, tuple[int, int]],
        pi: int,
        t: int,
        on: list[list[int]],
        last_shop: dict[int, int],
    ) -> None:
        j, since = where.pop(pi)
        on[j].remove(pi)
        di = flat[pi][0]
        if t > since:
            shop_pieces = self.drafts[di].shops
            shop = int(shops[j])
            if shop_pieces and shop_pieces[-1][0] == shop and shop_pieces[-1][2] == since:
                shop_pieces[-1] = (shop, shop_pieces[-1][1], t)
            else:
                shop_pieces.append((shop, since, t))
        last_shop[di] = j


# ---------------------------------------------------------------- results


def build_roster(problem: RosterProblem) -> RosterResult:
    """The fast deterministic roster (see the module docstring). Always answers."""
    started = time.perf_counter()
    builder = _Builder(problem)
    shifts = builder.run()
    worked = {a: led.worked for a, led in enumerate(builder.ledgers) if led.worked}
    overtime = {a: dict(builder.ledgers[a].ot) for a in worked}
    return summarise(problem, shifts, status="fast", started=started, hours=(overtime, worked))


def _cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def agent_hours(
    problem: RosterProblem, shifts: Iterable[Shift]
) -> tuple[dict[int, dict[PayClass, int]], dict[int, int]]:
    """Overtime minutes by pay class and worked minutes per agent, by the builder's ledger."""
    clock = _Clock(problem)
    by_agent: dict[int, list[Shift]] = defaultdict(list)
    for s in shifts:
        by_agent[s.agent].append(s)
    overtime: dict[int, dict[PayClass, int]] = {}
    worked: dict[int, int] = {}
    for a in sorted(by_agent):
        agent = problem.agents[a]
        k = agent.site
        ledger = _Ledger(agent, clock.first_day[k])
        for s in sorted(by_agent[a], key=lambda s: (s.start, s.end)):
            d = int(clock.day_of[k][min(max(s.start, 0), problem.n_intervals - 1)])
            ledger.add(clock.days[d], clock.kinds[k][d], s.worked_minutes)
        overtime[a] = dict(ledger.ot)
        worked[a] = ledger.worked
    return overtime, worked


def labour_cost(problem: RosterProblem, overtime: Mapping[int, Mapping[PayClass, int]], worked: Mapping[int, int]) -> Decimal:
    """Loaded rate per worked hour, overtime minutes at their class multiplier instead."""
    total = Decimal(0)
    for a, minutes in worked.items():
        ot = overtime[a]
        normal = minutes - sum(ot.values())
        weighted = Decimal(normal) + sum((Decimal(m) * problem.multipliers[c] for c, m in ot.items()), Decimal(0))
        total += problem.agents[a].hourly_cost * weighted / 60
    return _cents(total)


def coverage_of(problem: RosterProblem, shifts: Iterable[Shift]) -> NDArray[np.int64]:
    """Agents rostered per (interval, shop): the assignments, which lie outside breaks."""
    T, S = problem.n_intervals, len(problem.shops)
    diff = np.zeros((T + 1, S), np.int64)
    rows: list[int] = []
    cols: list[int] = []
    sign: list[int] = []
    for s in shifts:
        for a in s.assignments:
            lo, hi = max(0, a.start), min(T, a.end)
            if lo < hi:
                rows += (lo, hi)
                cols += (a.shop, a.shop)
                sign += (1, -1)
    if rows:
        np.add.at(diff, (np.array(rows), np.array(cols)), np.array(sign))
    return np.cumsum(diff[:T], axis=0)


def objective(result: RosterResult) -> tuple[float, Decimal]:
    """The lexicographic objective the optimiser compares: tier-weighted under-coverage, then cost."""
    return result.under_coverage, result.labour_cost


def summarise(
    problem: RosterProblem,
    shifts: Sequence[Shift],
    *,
    status: str,
    started: float | None = None,
    bound: Bound | None = None,
    solver: SolverReport | None = None,
    hours: tuple[Mapping[int, Mapping[PayClass, int]], Mapping[int, int]] | None = None,
) -> RosterResult:
    """The result of any roster of the problem (`hours`: overtime and worked minutes per agent, when the
    caller has them already; otherwise they are computed)."""
    shifts = tuple(sorted(shifts, key=lambda s: (s.agent, s.start, s.end)))
    coverage = coverage_of(problem, shifts)
    demand = problem.demand
    covered = np.minimum(coverage, demand)
    missing = demand - covered
    tt, ss = np.nonzero(missing)
    uncovered = tuple(zip(ss.tolist(), tt.tolist(), missing[tt, ss].tolist(), strict=True))
    tiers_of = np.array([s.tier for s in problem.shops], np.int64)

    def summary(cols: NDArray[np.bool_] | slice) -> CoverageSummary:
        return CoverageSummary(
            int(problem.required[:, cols].sum()),
            int(demand[:, cols].sum()),
            int(coverage[:, cols].sum()),
            int(covered[:, cols].sum()),
        )

    req_s = problem.required.sum(axis=0)
    dem_s = demand.sum(axis=0)
    cov_s = coverage.sum(axis=0)
    cvd_s = covered.sum(axis=0)
    shops = tuple(
        CoverageSummary(int(a), int(b), int(c), int(d))
        for a, b, c, d in zip(req_s.tolist(), dem_s.tolist(), cov_s.tolist(), cvd_s.tolist(), strict=True)
    )
    tiers = {int(t): summary(tiers_of == t) for t in sorted(set(tiers_of.tolist()))}
    weights = np.array([problem.tier_weights[s.tier] for s in problem.shops], float)
    under = float((missing.sum(axis=0) * weights).sum())
    overtime, worked = hours if hours is not None else agent_hours(problem, shifts)
    totals = {c: sum(o[c] for o in overtime.values()) for c in PayClass}
    cost = labour_cost(problem, overtime, worked)
    bound = bound or compute_bound(problem)
    total = summary(slice(None))
    return RosterResult(
        shifts=shifts,
        coverage=coverage,
        uncovered=uncovered,
        total=total,
        tiers=tiers,
        shops=shops,
        agents_used=len({s.agent for s in shifts}),
        worked_minutes=sum(worked.values()),
        overtime_minutes=totals,
        labour_cost=cost,
        under_coverage=under,
        switches=sum(max(0, len(s.assignments) - 1) for s in shifts),
        bound=bound,
        coverage_vs_bound=total.covered / bound.value if bound.value else 1.0,
        status=status,
        seconds=time.perf_counter() - started if started is not None else 0.0,
        solver=solver,
    )


# ---------------------------------------------------------------- the bound


def compute_bound(problem: RosterProblem) -> Bound:
    """The simple bounds (see `problem.Bound`)."""
    T = problem.n_intervals
    K = len(problem.sites)
    clock = _Clock(problem)
    demand_t = problem.demand.sum(axis=1)
    diff = np.zeros((K, T + 1), np.int64)
    for agent in problem.agents:
        k = agent.site
        diff[k, 0] += 1
        diff[k, T] -= 1
        rest = _iv_ceil(agent.rules.min_rest_between_shifts)
        blocked: list[Span] = list(agent.unavailable)
        if agent.history.last_shift_end is not None:
            blocked.append((_FAR, agent.history.last_shift_end + rest))
        for u0, u1 in _merge_spans(blocked):
            lo, hi = max(0, u0), min(T, u1)
            if lo < hi:
                diff[k, lo] -= 1
                diff[k, hi] += 1
    available = np.cumsum(diff[:, :T], axis=1)
    cap = np.array([s.seat_capacity for s in problem.sites], np.int64)[:, None]
    seats = np.minimum(available, cap).sum(axis=0)
    per_interval = int(np.minimum(demand_t, seats).sum())
    cache: dict[tuple[object, ...], tuple[int, int]] = {}
    most = 0
    for agent in problem.agents:
        k = agent.site
        full_days: tuple[int, ...] = ()
        if agent.unavailable:
            full_days = tuple(
                d for d, (t0, t1) in sorted(clock.ranges[k].items()) if _fully_unavailable(agent.unavailable, t0, t1)
            )
        h = agent.history
        key = (agent.rules, h.consecutive_days, h.days_worked_this_week, k, full_days)
        got = cache.get(key)
        if got is None:
            got = cache[key] = _most_minutes(clock, agent, set(full_days), problem.n_intervals)
        by_day, normal = got
        minutes = by_day
        if not agent.rules.comprehensive:
            months = {(clock.days[d].year, clock.days[d].month) for d in clock.ranges[k]}
            cap = agent.rules.overtime_cap_per_month
            budget = cap * len(months) - min(h.overtime_minutes_this_month, cap)
            minutes = min(minutes, normal + max(0, budget))
        most += minutes // INTERVAL_MINUTES
    overall = int(min(int(demand_t.sum()), most))
    return Bound(per_interval, overall)


def _merge_spans(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        elif b > a:
            out.append((a, b))
    return out


def _fully_unavailable(spans: Iterable[Span], t0: int, t1: int) -> bool:
    return any(a <= t0 and b >= t1 for a, b in _merge_spans(spans))


def _most_minutes(clock: _Clock, agent: Agent, off: set[int], T: int) -> tuple[int, int]:
    """Upper bounds on the minutes one agent may work in the window: by day, and by the normal minutes of
    the days (to which the months' overtime caps are added, standard hours).

    Each local day holds at most the rules' longest day (standard hours; comprehensive hours: as many
    longest shifts as fit in a day with the rest between them), days fully unavailable nothing, the last
    days only what fits before the window ends; the days worked are chosen by a dynamic programme over
    runs of days (max consecutive, history included) and days per ISO week."""
    rules = agent.rules
    k = agent.site
    shapes = _RuleShapes.of(rules)
    if not shapes.lengths.size:
        return 0, 0
    longest = int(shapes.worked.max()) * INTERVAL_MINUTES
    per_day = 1 + (24 * 60) // (rules.shift_min + rules.min_rest_between_shifts)
    days = sorted(clock.ranges[k].items())
    cap_day: list[int] = []
    normal_day: list[int] = []
    for d, (t0, _t1) in days:
        room = (T - t0) * INTERVAL_MINUTES
        day_cap = longest * per_day
        if rules.max_day_minutes is not None:
            day_cap = min(day_cap, rules.max_day_minutes)
        normal = rules.normal_per_day if clock.kinds[k][d] is DayKind.workday else 0
        cap = 0 if d in off else min(day_cap, room)
        cap_day.append(cap)
        normal_day.append(min(normal, cap))
    order = [d for d, _ in days]
    return _best_days(clock, agent, order, cap_day), _best_days(clock, agent, order, normal_day)


def _best_days(clock: _Clock, agent: Agent, days: list[int], value: list[int]) -> int:
    """Most total value over a choice of days under max consecutive days and days per ISO week."""
    rules = agent.rules
    m = rules.max_consecutive_days
    per_week = 7 - rules.min_rest_days_per_week
    first_week = clock.first_day[agent.site].isocalendar()[:2] if days else None
    # State: (run length ending at the previous day, days worked this week) -> best value.
    states: dict[tuple[int, int], int] = {}
    prev: int | None = None
    week = None
    for d, v in zip(days, value, strict=True):
        this_week = clock.days[d].isocalendar()[:2]
        if prev is None:
            run0 = agent.history.consecutive_days
            count0 = agent.history.days_worked_this_week if this_week == first_week else 0
            states = {(run0, count0): 0}
        else:
            if d != prev + 1:
                states = {(0, c): x for (_, c), x in states.items()}
            if this_week != week:
                merged: dict[tuple[int, int], int] = {}
                for (r, _), x in states.items():
                    merged[(r, 0)] = max(merged.get((r, 0), -1), x)
                states = merged
        nxt: dict[tuple[int, int], int] = {}
        for (r, c), x in states.items():
            rest_key = (0, c)
            nxt[rest_key] = max(nxt.get(rest_key, -1), x)
            if v > 0 and r + 1 <= m and c + 1 <= per_week:
                work_key = (r + 1, c + 1)
                nxt[work_key] = max(nxt.get(work_key, -1), x + v)
        states = nxt
        prev, week = d, this_week
    return max(states.values(), default=0)
