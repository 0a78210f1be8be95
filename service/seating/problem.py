"""The shapes of a roster problem and of its answer, shared by the builder (`rostering`), the optimiser
(`optimise`) and the checker (`rules.check_roster`).

Time is in 15-minute intervals: interval 0 starts at `RosterProblem.start` (an aware datetime on a quarter
hour, UTC by convention), interval t at start + 15 t minutes. Spans are half-open `(start, end)` pairs of
intervals. Labour rules are in minutes (`rules.LabourRules`).

References are indices, not ids: `Shift.agent` indexes `RosterProblem.agents`, `Shift.site` its `sites`,
`Assignment.shop` its `shops` (the integrator maps its ids to positions and back; every item keeps its `id`).

A shift belongs to the local day (in its site's timezone) on which it starts. Its breaks are unpaid and
hold the seat: an agent on a meal break keeps its seat for the whole shift (nobody else sits there while
the agent eats), so seat capacity counts every interval of [start, end).

Where these shapes go beyond the brief, for the integrator:
- `Site` and `Shop` carry an `id`; `Agent.history` is an `AgentHistory` with two optional fields more
  (`normal_minutes_this_week`, `period_worked_minutes`: defaults documented there);
- `RosterProblem.multipliers` (the overtime multipliers, default `calendar.OVERTIME_MULTIPLIERS`);
  `calendar` is anything with `kind(day)` (`HolidayCalendar` or `CalendarBook`, for windows over a new year);
- `Shift` and `Assignment` are named tuples (hashable, cheap); `Shift.span(origin)` gives the `WorkSpan`
  the overtime functions of `rules` take;
- `RosterResult` adds `total` (the whole plan's summary), `under_coverage` (the first objective),
  `switches`, and `solver` (the optimiser's report); worked time is `worked_minutes` (hours / 60).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from service.seating.calendar import CHINA_2026, OVERTIME_MULTIPLIERS, DayCalendar, PayClass
from service.seating.rules import CHINA_STANDARD, LabourRules, WorkSpan

INTERVAL_MINUTES = 15
Span = tuple[int, int]

DEFAULT_TIER_WEIGHTS: Mapping[int, float] = MappingProxyType({0: 100.0, 1: 10.0, 2: 1.0})


@dataclass(frozen=True)
class Shop:
    id: str
    tier: int  # 0 KA, 1 standard, 2 long-tail
    required_skills: frozenset[str]  # platform ("tmall"), optional brand certificate ("cert:x"), "presale"...


@dataclass(frozen=True)
class Site:
    id: str
    seat_capacity: int
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class AgentHistory:
    """What an agent worked before the window, as the rules need it.

    Days are local days at the agent's site; the window's first local day is the local day of
    `RosterProblem.start` (windows are expected to start at a local midnight: work earlier on that day is
    not seen).
    """

    last_shift_end: int | None = None  # end of the last shift before the window, in intervals (<= 0)
    consecutive_days: int = 0  # days worked in a row, ending the day before the window's first day
    overtime_minutes_this_month: int = 0  # every pay class, in the month of the window's first day
    days_worked_this_week: int = 0  # ISO week (Monday first) of the window's first day, days before it
    # Normal (not overtime) minutes of those days; None: days_worked_this_week normal days.
    normal_minutes_this_week: int | None = None
    # Comprehensive hours: minutes worked in the current period before the window; None: on pace (exactly
    # the pro-rata allowance of the period's days before the window).
    period_worked_minutes: int | None = None


@dataclass(frozen=True)
class Agent:
    id: str
    site: int
    level: int  # trainee 0, agent 1, senior 2, lead 3, supervisor 4, manager 5
    skills: frozenset[str]
    rules: LabourRules = CHINA_STANDARD
    hourly_cost: Decimal = Decimal("50")  # loaded, CNY per hour
    unavailable: tuple[Span, ...] = ()  # leave and other unavailability
    preferred: tuple[Span, ...] = ()  # soft: prefer shifts inside these
    history: AgentHistory = field(default_factory=AgentHistory)


class Assignment(NamedTuple):
    shop: int
    start: int
    end: int


class Shift(NamedTuple):
    """One agent's shift (a named tuple: cheap to make by the ten thousand, immutable, hashable)."""

    agent: int
    site: int
    start: int
    end: int
    breaks: tuple[Span, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    pinned: bool = False

    @property
    def length(self) -> int:
        """Span in intervals, breaks included."""
        return self.end - self.start

    @property
    def break_intervals(self) -> int:
        return sum(e - s for s, e in self.breaks)

    @property
    def worked_minutes(self) -> int:
        return (self.end - self.start - self.break_intervals) * INTERVAL_MINUTES

    def span(self, origin: datetime) -> WorkSpan:
        """The shift in time, for the overtime functions of `rules`."""

        def at(t: int) -> datetime:
            return origin + timedelta(minutes=INTERVAL_MINUTES * t)

        return WorkSpan(at(self.start), at(self.end), tuple((at(s), at(e)) for s, e in self.breaks))


@dataclass(frozen=True, eq=False)
class RosterProblem:
    start: datetime
    n_intervals: int
    shops: tuple[Shop, ...]
    demand: NDArray[np.int64]  # (T, S) agents wanted: the plan's allocated seats
    required: NDArray[np.int64]  # (T, S) the plan's requirement, for reporting
    agents: tuple[Agent, ...]
    sites: tuple[Site, ...]
    pinned: tuple[Shift, ...] = ()  # published shifts kept as they are
    calendar: DayCalendar = CHINA_2026
    # Under-coverage penalty per seat-interval, by tier.
    tier_weights: Mapping[int, float] = field(default_factory=lambda: DEFAULT_TIER_WEIGHTS)
    multipliers: Mapping[PayClass, Decimal] = field(default_factory=lambda: OVERTIME_MULTIPLIERS)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must be an aware datetime")
        if self.start.minute % INTERVAL_MINUTES or self.start.second or self.start.microsecond:
            raise ValueError("start must lie on a quarter hour")
        shape = (self.n_intervals, len(self.shops))
        for name in ("demand", "required"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, not {arr.shape}")
            if arr.size and (arr.min() < 0 or not np.array_equal(arr, np.round(arr))):
                raise ValueError(f"{name} must hold integers >= 0")
            object.__setattr__(self, name, arr.astype(np.int64))
        for a in self.agents:
            if not 0 <= a.site < len(self.sites):
                raise ValueError(f"agent {a.id} has no site {a.site}")
        missing = {s.tier for s in self.shops} - set(self.tier_weights)
        if missing:
            raise ValueError(f"tier_weights lacks tiers {sorted(missing)}")
        for p in self.pinned:
            if not p.pinned:
                object.__setattr__(self, "pinned", tuple(_as_pinned(s) for s in self.pinned))
                break

    def at(self, t: int) -> datetime:
        """Start of interval t."""
        return self.start + timedelta(minutes=INTERVAL_MINUTES * t)

    @cached_property
    def zones(self) -> tuple[ZoneInfo, ...]:
        return tuple(ZoneInfo(s.timezone) for s in self.sites)

    def local_day(self, site: int, t: int) -> date:
        """The local day (at `site`) of the start of interval t."""
        return self.at(t).astimezone(self.zones[site]).date()

    @cached_property
    def first_days(self) -> tuple[date, ...]:
        """The window's first local day at each site."""
        return tuple(self.local_day(k, 0) for k in range(len(self.sites)))


def _as_pinned(shift: Shift) -> Shift:
    return shift if shift.pinned else shift._replace(pinned=True)


@dataclass(frozen=True)
class CoverageSummary:
    required: int  # the plan's requirement, seat-intervals
    allocated: int  # the demand (allocated seats), seat-intervals
    rostered: int  # agent-intervals rostered on the shops (working, not on a break)
    covered: int  # rostered agent-intervals that meet demand: sum of min(coverage, demand)

    @property
    def ratio(self) -> float:
        """Covered / allocated (1 when nothing is allocated)."""
        return self.covered / self.allocated if self.allocated else 1.0


@dataclass(frozen=True)
class Bound:
    """Upper bounds on the covered seat-intervals any roster can reach.

    per_interval: sum over intervals of min(demand_t, sum over sites of min(seats, agents available at
    the site at t)); an agent is available at t when no unavailability covers t and its rest after its
    last shift before the window is over. overall: min(total demand, sum over agents of the most
    intervals it may work in the window under its rules). `value` is the tighter, `kind` names it.
    """

    per_interval: int
    overall: int

    @property
    def value(self) -> int:
        return min(self.per_interval, self.overall)

    @property
    def kind(self) -> str:
        return "per_interval" if self.per_interval <= self.overall else "overall"


@dataclass(frozen=True)
class SolverReport:
    """What the CP-SAT optimiser did (see `optimise`)."""

    status: str  # CP-SAT's status of the last phase: OPTIMAL, FEASIBLE, UNKNOWN, ...
    under_coverage_objective: float  # tier-weighted under-coverage of the model's best answer
    under_coverage_bound: float  # CP-SAT's lower bound on it
    cost_objective: float  # the model's labour-cost objective (cents), second phase
    cost_bound: float
    gap: float  # (objective - bound) / max(1, |objective|) of the combined lexicographic objective
    wall_seconds: float
    variables: int
    constraints: int


@dataclass(frozen=True, eq=False)
class RosterResult:
    shifts: tuple[Shift, ...]
    coverage: NDArray[np.int64]  # (T, S) agents rostered per shop and interval (not on a break)
    uncovered: tuple[tuple[int, int, int], ...]  # (shop, interval, missing), missing = demand - coverage > 0
    total: CoverageSummary
    tiers: Mapping[int, CoverageSummary]
    shops: tuple[CoverageSummary, ...]
    agents_used: int
    worked_minutes: int
    overtime_minutes: Mapping[PayClass, int]
    labour_cost: Decimal  # loaded rate per hour worked, overtime at its class multiplier
    under_coverage: float  # tier-weighted uncovered seat-intervals (the first objective)
    switches: int  # shop changes inside shifts (assignments beyond the first of each shift)
    bound: Bound
    coverage_vs_bound: float  # covered / bound.value (1 when the bound is 0)
    status: str  # fast | optimal | improved | kept_fast
    seconds: float
    solver: SolverReport | None = None
