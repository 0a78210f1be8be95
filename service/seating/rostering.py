"""A roster from a capacity plan: the fast deterministic path.

`build_roster(problem) -> RosterResult` always answers: the best roster it finds plus what is still
uncovered. Two stages, as schedulers do, run local day by local day (in order), each day twice: first with
shifts without overtime, then with overtime for the agents still free.

Shop classes: shops with the same required skills and tier are interchangeable for every agent, so stage 1
works on classes (83 for the Double 11 instance's 500 shops) and stage 2 splits them into shops. Residual
demand is kept per class and interval; a class "lacks agents" where its residual is positive.

1. Choose shifts and what they serve. The agents free to start a shift on the day are candidates, in order
   of importance: those who can serve KA shops first, seniors before juniors (so KA shops get senior agents
   first), then the least flexible (fewest shops they can serve); within that, eligible-class sets take
   turns (consecutive candidates rarely want the same agent-intervals), the latest earliest start first.
   Candidates are scored in chunks, all at once with numpy, on the same residual:
   - a shape is a start (every half hour the candidate may start: after the rest from its previous shift,
     history or pinned included) and a length from its rules' menu (every hour, the longest, the longest
     without a meal break, 8 h plus the break), ending before the rest its next pinned shift needs; shapes
     over a full site or the candidate's unavailability are out;
   - its score is the sum over its intervals of the best tier weight among the candidate's classes still
     lacking agents (one lookup per interval: per eligible-class set, the sum of codes (classes + 1)^tier of
     its lacking classes is kept up to date, and its size tells the highest tier present), minus a small
     cost per interval and a premium per overtime interval (by pay class); preferred windows weigh a bit
     more;
   - along the best shape, each interval goes to the class of the highest tier lacking agents, then the one
     lacking them longest from there (switches only when it is covered or a longer need starts); the meal
     break goes where the least weight is lost, near the middle of its window.
   The chunk is then committed in order: a candidate whose shape would need seats, or more than two
   agent-intervals, that an earlier candidate of the chunk already took is deferred to the next chunk (the
   first one never is, so every chunk makes progress; chunks grow while conflicts are rare and shrink when
   they are not). A candidate with no useful shape left waits for the overtime pass, then the next day.
2. Assign shops inside classes (`_split_shops`): per class, time runs forward; pieces that end leave their
   shop, a shop whose demand fell sends its latest arrivals elsewhere, arrivals go back to their shop
   after a break if it has room, else to the shop with the most room: agents stay on a shop for stretches.

Labour rules are respected as the roster is built: a shape is offered only if its length and meal break
fit the rules, its day stays within the daily cap and the month's overtime cap (the builder keeps its own
ledger of normal and overtime minutes per agent: a second implementation of `rules`' definition, which the
tests compare), it starts after the rest from the agent's previous shift and ends before the rest its
next pinned shift needs, and the day keeps the consecutive days and weekly rest days within bounds. Pinned
shifts are kept as they are, their coverage, seats and hours counted first. Shifts start on the half hour
(the rules and the checker allow any quarter hour: manual moves may use them).

`summarise(problem, shifts, ...)` computes the result of any roster (coverage, what is uncovered, summaries
per tier and shop, hours, overtime by pay class, cost, the bound); the optimiser uses it too.
`compute_bound(problem)` is the bound described on `problem.Bound`. `agent_hours`, `labour_cost`,
`coverage_of` and `objective` are the pieces it uses.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from service.kit import collector
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
_BLOCKED = -1e9  # score of an interval a shift may not cover
_LANES = 4
_CHUNK, _CHUNK_MAX, _CHUNK_SHRINK = 32, 128, 3  # chunk sizes: first, largest; halve past 1/3 deferred
_START_STEP = 2  # shifts start on the half hour (the rules allow any quarter hour)
_TOLERATED = 2  # agent-intervals of a chunk's candidate left idle (taken by an earlier one) before deferring
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


@lru_cache(maxsize=4096)
def _day_keys(day: date) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ISO week and the month of a day."""
    return day.isocalendar()[:2], (day.year, day.month)


class _Ledger:
    """One agent's normal and overtime minutes, applied shift by shift in time order.

    The builder's own implementation of the overtime definition in `rules` (same results, tested)."""

    __slots__ = (
        "rules",
        "comprehensive",
        "week",
        "week_normal",
        "month",
        "month_ot",
        "period",
        "cum",
        "recognised",
        "day",
        "day_worked",
        "day_normal",
        "ot",
        "worked",
    )

    def __init__(self, agent: Agent, first_day: date) -> None:
        rules = agent.rules
        history = agent.history
        self.rules = rules
        self.comprehensive = rules.comprehensive
        self.week = first_day.isocalendar()[:2]
        wn = history.normal_minutes_this_week
        self.week_normal = (
            min(history.days_worked_this_week * rules.normal_per_day, rules.normal_per_week)
            if wn is None
            else wn
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
        week, month = _day_keys(day)
        if week != self.week:
            self.week, self.week_normal = week, 0
        if month != self.month:
            self.month, self.month_ot = month, 0
        if self.comprehensive:
            period = period_bounds(self.rules, day)
            if period != self.period:
                self.period, self.cum, self.recognised = period, 0, 0

    def room(self, day: date, kind: DayKind) -> tuple[int, int]:
        """(minutes workable on `day` without overtime, most minutes workable on it) from here on."""
        self._roll(day)
        rules = self.rules
        budget = max(0, rules.overtime_cap_per_month - self.month_ot)
        if self.comprehensive:
            if kind is DayKind.holiday:
                return 0, budget
            normal = max(0, period_allowance(rules, day, through=True) + self.recognised - self.cum)
            return normal, normal + budget
        normal = 0
        if kind is DayKind.workday:
            normal = max(
                0, min(rules.normal_per_day - self.day_normal, rules.normal_per_week - self.week_normal)
            )
        cap = rules.normal_per_day + rules.overtime_cap_per_day - self.day_worked
        return min(normal, cap), max(0, min(cap, normal + budget))

    def add(self, day: date, kind: DayKind, minutes: int) -> tuple[PayClass, int]:
        """Book worked minutes on `day`; returns the pay class and minutes of the overtime among them."""
        self._roll(day)
        rules = self.rules
        self.worked += minutes
        self.day_worked += minutes
        if kind is DayKind.holiday:
            cls, ot = PayClass.holiday, minutes
        elif self.comprehensive:
            self.cum += minutes
            excess = max(0, self.cum - period_allowance(rules, day, through=True))
            cls, ot = PayClass.workday, max(0, excess - self.recognised)
            self.recognised = max(self.recognised, excess)
        elif kind is DayKind.rest_day:
            cls, ot = PayClass.rest_day, minutes
        else:
            normal = max(
                0,
                min(
                    minutes, rules.normal_per_day - self.day_normal, rules.normal_per_week - self.week_normal
                ),
            )
            self.day_normal += normal
            self.week_normal += normal
            cls, ot = PayClass.workday, minutes - normal
        self.ot[cls] += ot
        self.month_ot += ot
        return cls, ot


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
        self.first_day = [
            self.days[int(self.day_of[k][0])] if T else self.days[0] for k in range(len(problem.sites))
        ]


@dataclass
class _Candidate:
    """An agent free to start a shift on the day being built, with what the day allows it."""

    agent: int
    site: int
    sig: int  # index of its set of eligible classes
    rtype: int  # index of its rules
    earliest: int  # first start
    latest: int  # end limit (window end, rest before a pinned shift)
    normal_iv: int  # intervals workable without overtime
    max_iv: int  # intervals workable at all
    ot_penalty: float  # per overtime interval
    unavailable: tuple[Span, ...]
    preferred: tuple[Span, ...]


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


@dataclass(frozen=True)
class _Menu:
    """Shift lengths offered, over the union of every rule set's lengths (columns)."""

    lengths: NDArray[np.int64]  # (L,)
    offered: NDArray[np.bool_]  # (R, L) per rule set
    worked: NDArray[np.int64]  # (R, L)
    needs_break: NDArray[np.bool_]  # (R, L)
    break_len: NDArray[np.int64]  # (R,)
    break_earliest: NDArray[np.int64]  # (R,)
    break_latest_end: NDArray[np.int64]  # (R,)


def _menu(shapes: Sequence[_RuleShapes]) -> _Menu:
    """Every hour of each rule set's lengths, plus its shortest, its longest, its longest without a meal
    break and the 8-hour day with its half-hour break (the rules allow any quarter hour; the builder
    offers this menu)."""
    chosen: list[set[int]] = []
    for sh in shapes:
        ls = sh.lengths.tolist()
        keep = {x for x in ls if x % 4 == 0}
        if ls:
            keep |= {ls[0], ls[-1]}
            breaks = dict(zip(ls, sh.needs_break.tolist(), strict=True))
            no_break = [x for x in ls if not breaks[x]]
            if no_break:
                keep.add(no_break[-1])
            day = 32 + sh.break_len  # 8 h worked and the break
            if day in breaks:
                keep.add(day)
        chosen.append(keep)
    lengths = np.array(sorted(set().union(*chosen)) if chosen else [], np.int64)
    R, L = len(shapes), lengths.size
    offered = np.zeros((R, L), bool)
    worked = np.zeros((R, L), np.int64)
    needs = np.zeros((R, L), bool)
    for r, sh in enumerate(shapes):
        pos = {x: i for i, x in enumerate(sh.lengths.tolist())}
        for j, x in enumerate(lengths.tolist()):
            if x in chosen[r]:
                offered[r, j] = True
                worked[r, j] = int(sh.worked[pos[x]])
                needs[r, j] = bool(sh.needs_break[pos[x]])
    return _Menu(
        lengths,
        offered,
        worked,
        needs,
        np.array([sh.break_len for sh in shapes], np.int64),
        np.array([sh.break_earliest for sh in shapes], np.int64),
        np.array([sh.break_latest_end for sh in shapes], np.int64),
    )


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
        self.C = C = len(class_index)
        self.class_w = np.zeros(C)
        self.class_w[self.class_of_shop] = shop_w
        self.class_skills = [k[0] for k in class_index]
        self.shops_of_class = [np.flatnonzero(self.class_of_shop == c) for c in range(C)]
        # Tiers of classes, lowest weight first, for the encoded score (see _evaluate).
        self.weights = sorted(set(self.class_w.tolist()))
        self.base = float(C + 1)
        exponent = np.array([self.weights.index(w) for w in self.class_w.tolist()], np.int64)
        self.code = self.base ** exponent.astype(float)
        # digitize(sum of codes, steps) - 1 is the highest tier present (0: none): its weight, 0 for none.
        self.code_steps = np.array([0.5, *[self.base**i for i in range(1, len(self.weights))]])
        self.weight_of_code = np.array([0.0, *self.weights])
        self.R = problem.demand.astype(np.int32, copy=True)  # residual per shop (T, S), after pinned shifts
        self.occupancy = np.zeros((len(problem.sites), T), np.int32)
        self.cap = np.array([s.seat_capacity for s in problem.sites], np.int32)
        self.full = np.zeros((len(problem.sites), T), bool)
        # Rule sets and eligible-class sets, indexed.
        rule_index: dict[LabourRules, int] = {}
        sig_index: dict[bytes, int] = {}
        sig_rows: list[NDArray[np.int64]] = []
        by_skills: dict[frozenset[str], int] = {}
        self.agent_rtype: list[int] = []
        self.agent_sig: list[int] = []
        for agent in problem.agents:
            self.agent_rtype.append(rule_index.setdefault(agent.rules, len(rule_index)))
            sig = by_skills.get(agent.skills)
            if sig is None:
                classes = np.array(
                    [c for c, need in enumerate(self.class_skills) if need <= agent.skills], np.int64
                )
                sig = sig_index.get(classes.tobytes())
                if sig is None:
                    sig = sig_index[classes.tobytes()] = len(sig_rows)
                    sig_rows.append(classes)
                by_skills[agent.skills] = sig
            self.agent_sig.append(sig)
        self.rules_list = list(rule_index)
        self.shapes = [_RuleShapes.of(r) for r in self.rules_list]
        self.menu = _menu(self.shapes)
        self.sig_classes = sig_rows
        self.eligible = np.zeros((len(sig_rows), C))
        for i, classes in enumerate(sig_rows):
            self.eligible[i, classes] = 1.0
        self.sig_code = self.eligible * self.code[None, :]
        if self.base ** len(self.weights) < 2**24:
            self.sig_code = self.sig_code.astype(np.float32)  # exact, and twice as fast
        self.sig_width = np.array([c.size for c in sig_rows], np.int64)
        self.sig_pad = np.full((len(sig_rows), int(self.sig_width.max(initial=1)) or 1), C, np.int64)
        for i, classes in enumerate(sig_rows):
            self.sig_pad[i, : classes.size] = classes
        top = float(self.class_w.max()) if C else 0.0
        self.sig_top = np.array([float(self.class_w[c].max()) if c.size else 0.0 for c in sig_rows])
        self.sig_flex = [int(sum(self.shops_of_class[c].size for c in cl.tolist())) for cl in sig_rows]
        self.sig_ka = [bool(cl.size) and float(self.class_w[cl].max()) >= top for cl in sig_rows]
        self.max_len = int(self.menu.lengths.max(initial=0))
        self.tables: dict[tuple[int, int], tuple[NDArray[np.int64], NDArray[np.int64]]] = {}
        lanes = np.arange(_LANES)[:, None] * 7919 + np.arange(C + 1)[None, :] * 104729
        self.jitter = ((lanes % 97) / 200.0).astype(np.float32)  # (lanes, classes + 1): see _chunk
        self.drafts: list[_Draft] = []

    # ------------------------------------------------------------ the day loop

    def run(self) -> list[Shift]:
        p = self.p
        clock = self.clock
        A = len(p.agents)
        self.ledgers = [_Ledger(a, clock.first_day[a.site]) for a in p.agents]
        self.last_end = [
            _FAR if a.history.last_shift_end is None else a.history.last_shift_end for a in p.agents
        ]
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
        # Per eligible-class set and interval, the sum of the codes of its classes lacking agents (kept up to
        # date as classes stop lacking: residual only falls).
        # Summed class by class, not as a matrix product: OpenBLAS's threads keep spinning after one and take
        # a core from the build on a busy machine.
        self.code_rows = np.ascontiguousarray(self.sig_code.T)  # (C, signatures)
        self.enc = np.zeros((self.T, len(self.sig_classes)), self.sig_code.dtype)  # (T, signatures)
        lacking_now = self.Rc > 0
        for c in range(self.C):
            rows = np.flatnonzero(lacking_now[:, c])
            if rows.size:
                self.enc[rows] += self.code_rows[c]
        self.static = self._statics()

        for d in range(len(clock.days)):
            for agent in sorted(pinned_on[d]):
                for shift in sorted(pinned_on[d][agent], key=lambda s: s.start):
                    self._book(agent, d, shift)
            by_range: dict[tuple[int, int], list[_Candidate]] = defaultdict(list)
            for cand in self._candidates(d, set(pinned_on[d])):
                by_range[clock.ranges[cand.site][d]].append(cand)
            for (t0, t1), cands in sorted(by_range.items()):
                for overtime in (False, True):
                    cands = self._serve(d, t0, t1, cands, overtime)
        self._split_classes()
        shifts = list(p.pinned)
        for dr in self.drafts:
            shifts.append(
                Shift(dr.agent, dr.site, dr.start, dr.end, dr.breaks, tuple(Assignment(*x) for x in dr.shops))
            )
        return shifts

    def _book(self, agent: int, d: int, shift: Shift) -> None:
        """Record a pinned shift in the agent's state (rest, hours)."""
        k = self.p.agents[agent].site
        self.ledgers[agent].add(self.clock.days[d], self.clock.kinds[k][d], shift.worked_minutes)
        self.last_end[agent] = max(self.last_end[agent], shift.end)

    def _statics(self) -> list[tuple[int, int, int, int, int, int, tuple[float, int, int, int], int, float]]:
        """Per agent, what never changes: site, rules, eligible-class set, rest, shortest length and its
        worked intervals, the importance prefix of its order, level and cost."""
        out = []
        for a, agent in enumerate(self.p.agents):
            rt, sig = self.agent_rtype[a], self.agent_sig[a]
            shapes = self.shapes[rt]
            usable = bool(shapes.lengths.size) and bool(self.sig_classes[sig].size)
            band = (2 if agent.level >= 2 else 1) if self.sig_ka[sig] else 0
            prefix = (-float(self.sig_top[sig]), -band, self.sig_flex[sig], sig)
            out.append(
                (
                    agent.site,
                    rt,
                    sig,
                    shapes.rest,
                    int(shapes.lengths[0]) if usable else 0,
                    int(shapes.worked[0]) if usable else 0,
                    prefix,
                    agent.level,
                    float(agent.hourly_cost),
                )
            )
        return out

    def _penalties(self, d: int) -> dict[tuple[int, int], float]:
        """Score premium per overtime interval on day d, per (site, rules): its pay class's multiplier."""
        out = {}
        for k in range(len(self.p.sites)):
            kind = self.clock.kinds[k][d]
            for rt, rules in enumerate(self.rules_list):
                mult = float(self.p.multipliers[rules.overtime_class(kind)])
                out[(k, rt)] = _OVERTIME_PREMIUM * max(0.0, mult - 1.0) / 0.5
        return out

    def _may_work(self, agent: Agent, a: int, d: int) -> bool:
        """Consecutive days and weekly rest days allow a shift on day d."""
        rules = agent.rules
        days = self.worked_days[a]
        history = agent.history
        if not days:  # nothing in the window yet: only the history counts
            return (
                history.consecutive_days + 1 <= rules.max_consecutive_days or d > self.first_index[agent.site]
            ) and (
                history.days_worked_this_week + 1 <= 7 - rules.min_rest_days_per_week
                or d - self.clock.days[d].weekday() > self.first_index[agent.site]
            )
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
        monday = d - self.clock.days[d].weekday()
        count = sum(1 for x in days if monday <= x < monday + 7)
        if monday <= self.first_index[agent.site]:  # the window's first week: days before it count
            count += agent.history.days_worked_this_week
        return count + 1 <= 7 - rules.min_rest_days_per_week

    def _candidates(self, d: int, busy: set[int]) -> list[_Candidate]:
        """Agents who may start a shift on day d, most important first: those who can serve KA shops, seniors
        before juniors (KA shops get senior agents first), then the least flexible; then the latest earliest
        start (the most constrained), the most senior, the cheapest."""
        p = self.p
        clock = self.clock
        T = self.T
        day = clock.days[d]
        penalties = self._penalties(d)
        out: list[tuple[tuple[object, ...], _Candidate]] = []
        last_end, ledgers, static = self.last_end, self.ledgers, self.static
        for a, agent in enumerate(p.agents):
            if a in busy:
                continue
            k, rt, sig, rest, first_len, first_worked, prefix, level, cost = static[a]
            rng = clock.ranges[k].get(d)
            if rng is None or first_len == 0:
                continue
            t0, t1 = rng
            earliest = max(t0, last_end[a] + rest)
            if earliest >= t1 or not self._may_work(agent, a, d):
                continue
            latest = T
            pins = self.pinned_starts[a]
            if pins:
                i = bisect.bisect_left(pins, t1)
                if i < len(pins):
                    latest = min(latest, pins[i] - rest)
            if latest - earliest < first_len:
                continue
            kind = clock.kinds[k][d]
            normal_min, max_min = ledgers[a].room(day, kind)
            max_iv = max_min // INTERVAL_MINUTES
            if max_iv < first_worked:
                continue
            unavailable: tuple[Span, ...] = ()
            preferred: tuple[Span, ...] = ()
            if agent.unavailable or agent.preferred:
                horizon = min(T, t1 + self.max_len)
                unavailable = tuple(
                    (max(u0, t0), min(u1, horizon))
                    for u0, u1 in agent.unavailable
                    if u0 < horizon and u1 > t0
                )
                preferred = tuple(
                    (max(u0, t0), min(u1, horizon)) for u0, u1 in agent.preferred if u0 < horizon and u1 > t0
                )
            cand = _Candidate(
                a,
                k,
                sig,
                rt,
                earliest,
                latest,
                normal_min // INTERVAL_MINUTES,
                max_iv,
                penalties[(k, rt)],
                unavailable,
                preferred,
            )
            out.append(((*prefix, -earliest, -level, cost, a), cand))
        out.sort(key=lambda x: x[0])
        # Within a segment of equal importance (tier, seniority), take the eligible-class sets in turns,
        # least flexible first: consecutive candidates then rarely want the very same agents-intervals.
        ordered: list[_Candidate] = []
        i = 0
        while i < len(out):
            seg = out[i][0][:2]
            j = i
            queues: dict[int, list[_Candidate]] = {}
            while j < len(out) and out[j][0][:2] == seg:
                queues.setdefault(out[j][1].sig, []).append(out[j][1])
                j += 1
            lanes = list(queues.values())
            depth = 0
            while lanes:
                for lane in lanes:
                    ordered.append(lane[depth])
                depth += 1
                lanes = [lane for lane in lanes if len(lane) > depth]
            i = j
        return ordered

    # ------------------------------------------------------------ stage 1: shapes and class pieces

    def _serve(self, d: int, t0: int, t1: int, todo: list[_Candidate], overtime: bool) -> list[_Candidate]:
        """Place shifts for the candidates, chunk by chunk; returns those still free."""
        chunk_size = _CHUNK
        free: list[_Candidate] = []
        while todo:
            chunk, todo = todo[:chunk_size], todo[chunk_size:]
            placed, deferred, idle = self._chunk(d, t0, t1, chunk, overtime)
            free.extend(idle)
            todo = deferred + todo
            # Few conflicts: larger chunks (cheaper); many: smaller (each sees the others' work).
            if len(deferred) * 8 < len(chunk):
                chunk_size = min(_CHUNK_MAX, chunk_size * 2)
            elif len(deferred) * _CHUNK_SHRINK > len(chunk):
                chunk_size = max(4, chunk_size // 2)
        return free

    def _table(self, ns: int, n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Starts offered in the first ns intervals of a range of n (every _START_STEP), and the end of every
        (start, length): n + 1 (which reads -inf) when past the range."""
        got = self.tables.get((ns, n))
        if got is None:
            starts = np.arange(0, ns, _START_STEP)
            ends = starts[:, None] + self.menu.lengths[None, :]
            got = self.tables[(ns, n)] = (starts, np.where(ends > n, n + 1, ends))
        return got

    def _chunk(
        self, d: int, t0: int, t1: int, chunk: list[_Candidate], overtime: bool
    ) -> tuple[list[_Candidate], list[_Candidate], list[_Candidate]]:
        """Score every candidate's shapes on the same residual, then commit them in order; a candidate whose
        shift would take agents or seats an earlier one of the chunk took is deferred (scored again on the
        residual left). The first candidate never is, so every chunk makes progress.

        Returns (placed, deferred, idle: no useful shape left for them in this pass)."""
        menu = self.menu
        B = len(chunk)
        r0 = max(t0, min(c.earliest for c in chunk))  # no candidate of the chunk starts before
        r1 = min(self.T, t1 - 1 + self.max_len)
        n = r1 - r0
        ns = t1 - r0
        sig = np.array([c.sig for c in chunk])
        rt = np.array([c.rtype for c in chunk])
        site = np.array([c.site for c in chunk])
        earliest = np.array([c.earliest - r0 for c in chunk])
        latest = np.array([min(c.latest, r1) - r0 for c in chunk])
        normal = np.array([c.normal_iv for c in chunk])
        limit = np.array([c.max_iv if overtime else c.normal_iv for c in chunk])
        ot_pen = np.array([c.ot_penalty for c in chunk])

        # Score per interval: the best tier weight among the candidate's classes still lacking agents. One
        # product gives it for all: class codes are powers of (classes + 1) by tier, so the sum's magnitude
        # tells the highest tier present.
        Lw = self.Lw[r0:r1]
        lacking = Lw > 0
        enc = self.enc[r0:r1, sig].T  # (B, n)
        tier = np.zeros((B, n), np.int64)
        for step in self.code_steps:
            tier += enc >= step
        v = self.weight_of_code.take(tier)
        bonus_rows = [b for b, c in enumerate(chunk) if c.preferred]
        for b in bonus_rows:
            for u0, u1 in chunk[b].preferred:
                v[b, max(0, u0 - r0) : max(0, u1 - r0)] *= 1 + _PREFERENCE_BONUS
        # Intervals a candidate may not cover (a full site, its unavailability) weigh so much against a
        # shape that no shape over one wins.
        blocked = self.full[site, r0:r1]
        for b, c in enumerate(chunk):
            for u0, u1 in c.unavailable:
                blocked[b, max(0, u0 - r0) : max(0, u1 - r0)] = True
        if blocked.any():
            v[blocked] = _BLOCKED
        # Prefix sums; an end past the candidate's latest end reads -inf, a start before its earliest +inf.
        csum = np.empty((B, n + 2))
        csum[:, 0] = 0.0
        np.cumsum(v, axis=1, out=csum[:, 1 : n + 1])
        csum[np.arange(n + 2)[None, :] > latest[:, None]] = -np.inf
        offered, ends = self._table(ns, n)
        first = np.where(offered[None, :] < earliest[:, None], np.inf, csum[:, offered])

        worked = menu.worked[rt]  # (B, L)
        usable = menu.offered[rt] & (worked <= limit[:, None])
        cols = np.flatnonzero(usable.any(axis=0))  # lengths someone in the chunk may work
        if not cols.size:
            return [], [], list(chunk)
        worked, usable = worked[:, cols], usable[:, cols]
        lengths = menu.lengths[cols]
        penalty = _INTERVAL_COST * lengths[None, :] + ot_pen[:, None] * np.maximum(
            0, worked - normal[:, None]
        )
        penalty = np.where(usable, penalty, np.inf)
        ends = ends[:, cols]
        score = csum[:, ends] - first[:, :, None] - penalty[:, None, :]  # (B, ns, L)
        flat = score.reshape(B, -1)
        pick = flat.argmax(axis=1)
        top = flat[np.arange(B), pick]
        start = offered[pick // lengths.size]  # relative to r0
        col = cols[pick % lengths.size]
        length = menu.lengths[col]
        active = top >= _MIN_SCORE

        # Classes per interval of each shape: the highest tier lacking agents, then the class lacking them the
        # longest from there (switches only when it is covered or a longer need starts); ties broken per
        # candidate so that a chunk spreads over equal classes.
        J = int(length[active].max()) if active.any() else 1
        steps = np.arange(n)
        nxt = np.where(lacking, n, steps[:, None])
        np.minimum.accumulate(nxt[::-1], axis=0, out=nxt[::-1])
        key = Lw * (n + 2) + (nxt - steps[:, None])  # (n, C)
        jj = np.arange(J)
        rows = np.minimum(start[:, None] + jj[None, :], n - 1)  # (B, J)
        # Each candidate's own classes, padded with a column that never lacks.
        width = int(self.sig_width[sig].max())
        own = self.sig_pad[sig, :width]
        key = np.concatenate((key, np.zeros((n, 1))), axis=1).astype(np.float32)
        # Ties between classes broken differently in a few lanes (self.jitter), so that a chunk spreads over
        # equal classes: only the cells the chunk reads get theirs.
        base = key.ravel().take((rows * (self.C + 1))[:, :, None] + own[:, None, :])  # (B, J, width)
        lane = np.arange(B) % _LANES
        gathered = base + (base > 0) * self.jitter[lane[:, None], own][:, None, :]
        pick_col = gathered.argmax(axis=2)
        cls = np.take_along_axis(own, pick_col, axis=1)
        found = np.take_along_axis(gathered, pick_col[:, :, None], axis=2)[:, :, 0] > 0
        cls = np.where(found, cls, 0)
        weight = np.where(found, Lw.ravel().take(rows * self.C + cls), 0.0)
        inside = jj[None, :] < length[:, None]
        work = inside & (weight > 0) & active[:, None]

        # Meal breaks: where the least weight is lost, then nearest the window's middle (staggered a little
        # across the chunk).
        needs = menu.needs_break[rt, col] & active
        brk = np.full(B, -1)
        if needs.any():
            for bl in sorted(set(menu.break_len[rt[needs]].tolist())):
                rows_b = np.flatnonzero(needs & (menu.break_len[rt] == bl))
                cw = np.zeros((rows_b.size, J + 1))
                np.cumsum(weight[rows_b] * inside[rows_b], axis=1, out=cw[:, 1:])
                lost = cw[:, bl:] - cw[:, :-bl]  # (nb, J - bl + 1)
                pos = np.arange(lost.shape[1])
                lo = menu.break_earliest[rt[rows_b]]
                hi = length[rows_b] - menu.break_latest_end[rt[rows_b]] - bl
                mid = (lo + hi) / 2 + (rows_b % 5) - 2
                k2 = lost * (4 * J) + np.abs(pos[None, :] - mid[:, None])
                k2[(pos[None, :] < lo[:, None]) | (pos[None, :] > hi[:, None])] = np.inf
                brk[rows_b] = k2.argmin(axis=1)
                on_break = (jj[None, :] >= brk[rows_b][:, None]) & (jj[None, :] < brk[rows_b][:, None] + bl)
                work[rows_b] &= ~on_break

        # Conflicts: rank each claim (class cell, seat cell) among the chunk, in order. A seat beyond the
        # site's room defers the candidate; a few agent-intervals beyond a class's need are left idle.
        wb, wj = np.nonzero(work)
        t_claim = r0 + start[wb] + wj
        c_claim = cls[wb, wj]
        cell = t_claim * self.C + c_claim
        over = _over(cell, self.Rc.ravel()[cell])
        rej = np.bincount(wb[over], minlength=B) > _TOLERATED
        sb, sj = np.nonzero(inside & active[:, None])
        t_seat = r0 + start[sb] + sj
        seat_cell = site[sb] * self.T + t_seat
        # Seats: only a site that the whole chunk could fill needs its claims ranked.
        headroom = self.cap - self.occupancy[:, r0:r1].max(axis=1)
        if (np.bincount(site, minlength=headroom.size) > headroom).any():
            room = (self.cap[site[sb]] - self.occupancy.ravel()[seat_cell]).astype(np.int64)
            rej |= np.bincount(sb[_over(seat_cell, room)], minlength=B) > 0

        keep = active & ~rej
        kw = keep[wb] & ~over
        if over.any():
            work[wb[over], wj[over]] = False
        # Commit: counts per cell (a chunk's claims of one cell add up), then the range's weights again.
        taken = np.bincount(cell[kw] - r0 * self.C, minlength=n * self.C).reshape(n, self.C)
        self.Rc[r0:r1] -= taken.astype(np.int32)
        still = self.Rc[r0:r1] > 0
        self.Lw[r0:r1] = still * self.class_w[None, :]
        gone_t, gone_c = np.nonzero(lacking & ~still)  # classes that stopped lacking (row-major: t sorted)
        if gone_t.size:
            # Row by row (no matrix product: see the note on self.enc).
            enc, code_rows = self.enc, self.code_rows
            for row, gone in zip((r0 + gone_t).tolist(), gone_c.tolist(), strict=True):
                enc[row] -= code_rows[gone]
        ks = keep[sb]
        seats = np.bincount(seat_cell[ks], minlength=self.occupancy.size).reshape(self.occupancy.shape)
        self.occupancy += seats.astype(np.int32)
        self.full = self.occupancy >= self.cap[:, None]

        # Runs of one class in each committed shift, found for all at once.
        code = np.where(work & keep[:, None], cls, -1)
        head = code >= 0
        head[:, 1:] &= code[:, 1:] != code[:, :-1]
        tail = code >= 0
        tail[:, :-1] &= code[:, :-1] != code[:, 1:]
        hb, hj = np.nonzero(head)
        _, tj = np.nonzero(tail)
        runs: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        offset = (start + r0).tolist()
        for b, j0, j1, c in zip(hb.tolist(), hj.tolist(), tj.tolist(), code[hb, hj].tolist(), strict=True):
            runs[b].append((c, offset[b] + j0, offset[b] + j1 + 1))
        placed: list[_Candidate] = []
        deferred: list[_Candidate] = []
        idle: list[_Candidate] = []
        day = self.clock.days[d]
        keep_list = keep.tolist()
        for b, cand in enumerate(chunk):
            if not active[b]:
                idle.append(cand)
                continue
            if not keep_list[b]:
                deferred.append(cand)
                continue
            s = offset[b]
            L = int(length[b])
            pieces = self._smooth(runs.get(b, []))
            breaks: tuple[Span, ...] = ()
            minutes = L
            if brk[b] >= 0:
                bl = int(menu.break_len[cand.rtype])
                breaks = ((s + int(brk[b]), s + int(brk[b]) + bl),)
                minutes -= bl
            self.drafts.append(_Draft(cand.agent, cand.site, s, s + L, breaks, pieces, []))
            self.ledgers[cand.agent].add(day, self.clock.kinds[cand.site][d], minutes * INTERVAL_MINUTES)
            self.last_end[cand.agent] = s + L
            self.worked_days[cand.agent].add(d)
            placed.append(cand)
        return placed, deferred, idle

    def _smooth(self, pieces: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """Fewer switches: a piece shorter than _STRETCH next to a piece of a tier as high goes to that
        piece's class if it still lacks agents there (its agent-intervals move to that class)."""
        if len(pieces) < 2 or all(e - a >= _STRETCH for _, a, e in pieces):
            return pieces
        out = list(pieces)
        Rc = self.Rc
        i = 0
        while i < len(out):
            c, a, e = out[i]
            if e - a >= _STRETCH:
                i += 1
                continue
            merged = False
            for j in (i - 1, i + 1):
                if not 0 <= j < len(out):
                    continue
                nc, na, ne = out[j]
                if nc == c or not (ne == a or na == e) or self.class_w[nc] < self.class_w[c]:
                    continue  # never away from a higher tier
                if not bool((Rc[a:e, nc] > 0).all()):
                    continue
                for t in range(a, e):
                    self._move(t, c, nc)
                out[j] = (nc, min(na, a), max(ne, e))
                del out[i]
                merged = True
                break
            if not merged:
                i += 1
        # Neighbours now of one class join up.
        joined: list[tuple[int, int, int]] = []
        for c, a, e in out:
            if joined and joined[-1][0] == c and joined[-1][2] == a:
                joined[-1] = (c, joined[-1][1], e)
            else:
                joined.append((c, a, e))
        return joined

    def _move(self, t: int, old: int, new: int) -> None:
        """One agent-interval moves from class `old` to class `new` (which lacks agents at t)."""
        Rc = self.Rc
        if Rc[t, old] == 0:  # old lacks again
            self.Lw[t, old] = self.class_w[old]
            self.enc[t] += self.code_rows[old]
        Rc[t, old] += 1
        Rc[t, new] -= 1
        if Rc[t, new] == 0:  # new lacks no more
            self.Lw[t, new] = 0.0
            self.enc[t] -= self.code_rows[new]

    # ------------------------------------------------------------ stage 2: shops inside classes

    def _split_classes(self) -> None:
        _split_shops(self.drafts, self.R, self.shops_of_class, self.T)


def _split_shops(
    drafts: Sequence[_Draft], demand: NDArray[np.int32], shops_of_class: Sequence[NDArray[np.int64]], T: int
) -> None:
    """Give every class piece of the drafts to the class's shops (filling each draft's `shops`), interval
    by interval, keeping agents where they are.

    Per class, time runs forward: pieces that end leave their shop; a shop whose demand fell below its
    agents sends the latest arrivals elsewhere; arrivals (new pieces, agents back from a break, those sent
    away) go to the shop they were on before the break if it has room, else to the shop with the most
    room. The pieces never put more agents on a class than its shops' `demand` (T, S), so there is room
    for all; an agent finding none waits, idle, until some frees up."""
    by_class: dict[int, list[int]] = defaultdict(list)
    flat: list[tuple[int, int, int, int]] = []  # (draft, class, start, end)
    for di, dr in enumerate(drafts):
        for c, a, b in dr.pieces:
            by_class[c].append(len(flat))
            flat.append((di, c, a, b))
    for c in sorted(by_class):
        shops = shops_of_class[c]
        if shops.size == 1:
            shop = int(shops[0])
            for pi in by_class[c]:
                di, _, a, b = flat[pi]
                drafts[di].shops.append((shop, a, b))
            continue
        _split_class(drafts, flat, by_class[c], shops, demand[:, shops], T)


def _split_class(
    drafts: Sequence[_Draft],
    flat: list[tuple[int, int, int, int]],
    mine: list[int],
    shops: NDArray[np.int64],
    demand: NDArray[np.int32],
    T: int,
) -> None:
    """`_split_shops` for one class of several shops: `mine` indexes its pieces in `flat`."""
    rows = demand.tolist()
    starts: dict[int, list[int]] = defaultdict(list)
    ends: dict[int, list[int]] = defaultdict(list)
    for pi in mine:
        _, _, a, b = flat[pi]
        starts[a].append(pi)
        ends[b].append(pi)
    changes = set(np.flatnonzero(np.any(demand[1:] != demand[:-1], axis=1)).tolist())
    drops = {t + 1 for t in np.flatnonzero(np.any(demand[1:] < demand[:-1], axis=1)).tolist()}
    times = sorted(set(starts) | set(ends) | {t + 1 for t in changes})
    m = shops.size
    on: list[dict[int, None]] = [{} for _ in range(m)]  # pieces on each shop, in arrival order
    where: dict[int, tuple[int, int]] = {}  # piece -> (shop position, since)
    last_shop: dict[int, int] = {}  # draft -> shop position of its last piece of this class
    waiting: dict[int, None] = {}

    def close(pi: int, t: int) -> None:
        j, since = where.pop(pi)
        del on[j][pi]
        di = flat[pi][0]
        if t > since:
            pieces = drafts[di].shops
            shop = int(shops[j])
            if pieces and pieces[-1][0] == shop and pieces[-1][2] == since:
                pieces[-1] = (shop, pieces[-1][1], t)
            else:
                pieces.append((shop, since, t))
        last_shop[di] = j

    for t in times:
        if t >= T:
            for pi in list(where):
                close(pi, t)
            break
        for pi in ends.get(t, ()):
            if pi in where:
                close(pi, t)
            else:
                waiting.pop(pi, None)
        arrivals = starts.get(t, ())
        if not arrivals and not waiting and t not in drops:
            continue  # only departures: nobody to place, nobody to send away
        room = [want - len(x) for want, x in zip(rows[t], on, strict=True)]
        movers: list[int] = []
        for j in range(m):
            while room[j] < 0 and on[j]:
                pi = next(reversed(on[j]))
                close(pi, t)
                movers.append(pi)
                room[j] += 1
        for pi in [*waiting, *movers, *arrivals]:
            back = last_shop.get(flat[pi][0])
            j = back if back is not None and room[back] > 0 else room.index(max(room))
            if room[j] <= 0:
                waiting[pi] = None
                continue
            waiting.pop(pi, None)
            on[j][pi] = None
            where[pi] = (j, t)
            room[j] -= 1


def _over(cell: NDArray[np.int64], room: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which claims (listed in their claimants' priority order) fall beyond their cell's room."""
    over = np.zeros(cell.size, bool)
    if not cell.size:
        return over
    order = np.argsort(cell, kind="stable")  # claims come in claimant order
    sorted_cells = cell[order]
    first = np.ones(order.size, bool)
    first[1:] = sorted_cells[1:] != sorted_cells[:-1]
    starts = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
    rank = np.arange(order.size) - starts
    over[order] = rank >= room[order]
    return over


# ---------------------------------------------------------------- results


def build_roster(problem: RosterProblem) -> RosterResult:
    """The fast deterministic roster (see the module docstring). Always answers."""
    started = time.perf_counter()
    with collector.paused():
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


def labour_cost(
    problem: RosterProblem, overtime: Mapping[int, Mapping[PayClass, int]], worked: Mapping[int, int]
) -> Decimal:
    """Loaded rate per worked hour, overtime minutes at their class multiplier instead."""
    total = Decimal(0)
    for a, minutes in worked.items():
        ot = overtime[a]
        normal = minutes - sum(ot.values())
        weighted = Decimal(normal) + sum(
            (Decimal(m) * problem.multipliers[c] for c, m in ot.items()), Decimal(0)
        )
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
                d
                for d, (t0, t1) in sorted(clock.ranges[k].items())
                if _fully_unavailable(agent.unavailable, t0, t1)
            )
        h = agent.history
        key = (agent.rules, h.consecutive_days, h.days_worked_this_week, k, full_days)
        got = cache.get(key)
        if got is None:
            got = cache[key] = _most_minutes(clock, agent, set(full_days), problem.n_intervals)
        by_day, normal = got
        minutes: int = by_day
        if not agent.rules.comprehensive:
            months = {(clock.days[d].year, clock.days[d].month) for d in clock.ranges[k]}
            month_cap = agent.rules.overtime_cap_per_month
            budget = month_cap * len(months) - min(h.overtime_minutes_this_month, month_cap)
            minutes = min(minutes, int(normal) + max(0, budget))
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
