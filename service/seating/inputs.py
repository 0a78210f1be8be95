"""From stored facts to a roster problem and back: instants to interval indices, rule-set columns to
`LabourRules`, an agent's earlier work to its `AgentHistory`, stored shifts to the problem's shifts. Pure (no
I/O): the use cases read the rows, this module shapes them, the maths (`rostering`, `optimise`, `rules`)
runs on the result.

Instants are mapped onto the window's 15-minute grid: a span's start rounds down and its end up, so an
unavailability never shrinks (a stored shift lies on quarter hours: it maps exactly).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from service.seating.calendar import DayCalendar, DayKind
from service.seating.problem import (
    INTERVAL_MINUTES,
    Agent,
    AgentHistory,
    Assignment,
    RosterProblem,
    Shift,
    Shop,
    Site,
    Span,
)
from service.seating.rules import (
    CHINA_STANDARD,
    HoursSystem,
    LabourRules,
    PriorWork,
    WorkSpan,
    overtime_by_day,
    period_bounds,
    worked_minutes,
)

STEP = timedelta(minutes=INTERVAL_MINUTES)
LEVELS = ("trainee", "agent", "senior", "lead", "supervisor", "manager")
TIERS = ("KA", "standard", "longtail")
RULE_FIELDS = tuple(f for f in LabourRules.__dataclass_fields__ if f != "name")
Instants = tuple[datetime, datetime]


def index_floor(start: datetime, moment: datetime) -> int:
    return int((moment - start) // STEP)


def index_ceil(start: datetime, moment: datetime) -> int:
    return -int((start - moment) // STEP)


def instant(start: datetime, t: int) -> datetime:
    return start + t * STEP


def rules_of(columns: Mapping[str, Any] | None) -> LabourRules:
    """A stored rule set's columns as `LabourRules` (None: the China standard rules)."""
    if columns is None:
        return CHINA_STANDARD
    values = {f: columns[f] for f in RULE_FIELDS if f in columns}
    values["hours_system"] = HoursSystem(values.get("hours_system", HoursSystem.standard))
    return LabourRules(name=str(columns.get("name", "rules")), **values)


def rule_columns(rules: LabourRules) -> dict[str, Any]:
    """The columns of a stored rule set holding RULES (the demo's presets)."""
    return {f: getattr(rules, f) for f in RULE_FIELDS}


def history_of(
    prior: Sequence[WorkSpan], rules: LabourRules, calendar: DayCalendar, tz: str, start: datetime
) -> AgentHistory:
    """What an agent worked before the window starting at START (its site's zone TZ), as the rules need
    it: the end of its last shift, its run of days, the week's days and normal minutes, the month's
    overtime, the comprehensive period's worked minutes. PRIOR: its shifts before START."""
    spans = sorted((s for s in prior if s.start < start), key=lambda s: s.start)
    if not spans:
        return AgentHistory()
    zone = ZoneInfo(tz)
    first_day = start.astimezone(zone).date()
    last_end = max(min(s.end, start) for s in spans)
    days = {s.start.astimezone(zone).date() for s in spans}
    run = 0
    while first_day - timedelta(days=run + 1) in days:
        run += 1
    week_start = first_day - timedelta(days=first_day.weekday())
    month_start = first_day.replace(day=1)
    earliest = min(week_start, month_start)
    if rules.comprehensive:
        earliest = min(earliest, period_bounds(rules, first_day)[0])
    counted = [s for s in spans if s.start.astimezone(zone).date() >= earliest]
    per_day = overtime_by_day(counted, rules, calendar, zone, PriorWork(as_of=earliest))
    week = [d for d in per_day if d.day >= week_start]
    month_overtime = sum(d.overtime for d in per_day if d.day >= month_start)
    period_worked: int | None = None
    if rules.comprehensive:
        period_first = period_bounds(rules, first_day)[0]
        period_worked = sum(
            d.worked for d in per_day if d.day >= period_first and d.kind is not DayKind.holiday
        )
    return AgentHistory(
        last_shift_end=min(0, index_ceil(start, last_end)),
        consecutive_days=run,
        overtime_minutes_this_month=month_overtime,
        days_worked_this_week=len(week),
        normal_minutes_this_week=sum(d.normal for d in week),
        period_worked_minutes=period_worked,
    )


def spans_in(start: datetime, n: int, spans: Iterable[Instants]) -> tuple[Span, ...]:
    """Instant spans as interval spans clipped to [0, n), outward (start down, end up)."""
    out = []
    for lo, hi in spans:
        a, b = max(0, index_floor(start, lo)), min(n, index_ceil(start, hi))
        if a < b:
            out.append((a, b))
    return tuple(sorted(out))


@dataclass(frozen=True)
class ShopFacts:
    tenant_id: Any
    shop_id: Any
    name: str
    platform: str
    tier: str
    skills: Sequence[str] = ()

    @property
    def required_skills(self) -> frozenset[str]:
        return frozenset({self.platform, *self.skills})


@dataclass(frozen=True)
class AgentFacts:
    id: Any
    code: str
    site_id: Any
    level: str
    skills: Sequence[str]
    hourly_cost: Decimal
    rules: LabourRules = CHINA_STANDARD
    unavailable: Sequence[Instants] = ()
    preferred: Sequence[Instants] = ()
    prior: Sequence[WorkSpan] = ()  # its shifts before the window


@dataclass(frozen=True)
class SiteFacts:
    id: Any
    name: str
    seat_capacity: int
    timezone: str


@dataclass(frozen=True)
class ShiftFacts:
    """A stored shift: its instants, breaks and assignments (shop keys: (tenant_id, shop_id))."""

    id: Any
    agent_id: Any
    site_id: Any
    start: datetime
    end: datetime
    breaks: Sequence[Instants] = ()
    assignments: Sequence[tuple[Any, Any, datetime, datetime]] = ()
    roster_id: Any = None


@dataclass
class Catalogue:
    """A problem and what its indices stand for."""

    problem: RosterProblem
    shops: list[ShopFacts]
    agents: list[AgentFacts]
    sites: list[SiteFacts]
    pinned: list[ShiftFacts] = field(default_factory=list)  # in the order of problem.pinned

    @property
    def start(self) -> datetime:
        return self.problem.start

    def at(self, t: int) -> datetime:
        return instant(self.problem.start, t)


def catalogue(
    start: datetime,
    n: int,
    shops: Sequence[ShopFacts],
    demand: NDArray[np.int64],
    required: NDArray[np.int64],
    agents: Sequence[AgentFacts],
    sites: Sequence[SiteFacts],
    calendar: DayCalendar,
    pinned: Sequence[ShiftFacts] = (),
) -> Catalogue:
    """The roster problem of these facts (agents at unknown sites and pinned shifts of unknown agents are
    left out; pinned assignments to shops outside the problem don't cover its demand)."""
    site_index = {s.id: k for k, s in enumerate(sites)}
    kept_agents = [a for a in agents if a.site_id in site_index]
    agent_index = {a.id: i for i, a in enumerate(kept_agents)}
    shop_index = {(s.tenant_id, s.shop_id): j for j, s in enumerate(shops)}
    problem_agents = []
    for a in kept_agents:
        site = sites[site_index[a.site_id]]
        problem_agents.append(
            Agent(
                id=str(a.id),
                site=site_index[a.site_id],
                level=LEVELS.index(a.level) if a.level in LEVELS else 1,
                skills=frozenset(a.skills),
                rules=a.rules,
                hourly_cost=Decimal(a.hourly_cost),
                unavailable=spans_in(start, n, a.unavailable),
                preferred=spans_in(start, n, a.preferred),
                history=history_of(a.prior, a.rules, calendar, site.timezone, start),
            )
        )
    kept_pinned = [p for p in pinned if p.agent_id in agent_index and p.site_id in site_index]
    shifts = [
        shift_of(start, p, agent_index[p.agent_id], site_index[p.site_id], shop_index, pinned=True)
        for p in kept_pinned
    ]
    problem = RosterProblem(
        start=start,
        n_intervals=n,
        shops=tuple(Shop(str(s.shop_id), TIERS.index(s.tier), s.required_skills) for s in shops),
        demand=demand,
        required=required,
        agents=tuple(problem_agents),
        sites=tuple(Site(str(s.id), s.seat_capacity, s.timezone) for s in sites),
        pinned=tuple(shifts),
        calendar=calendar,
    )
    return Catalogue(problem, list(shops), kept_agents, list(sites), kept_pinned)


def shift_of(
    start: datetime,
    facts: ShiftFacts,
    agent: int,
    site: int,
    shop_index: Mapping[tuple[Any, Any], int],
    pinned: bool = False,
) -> Shift:
    """A stored shift as the problem's shift (assignments to shops outside SHOP_INDEX are left out)."""
    pieces = tuple(
        sorted(
            Assignment(shop_index[(tenant, shop)], index_floor(start, lo), index_ceil(start, hi))
            for tenant, shop, lo, hi in facts.assignments
            if (tenant, shop) in shop_index
        )
    )
    breaks = tuple(sorted((index_floor(start, lo), index_ceil(start, hi)) for lo, hi in facts.breaks))
    return Shift(
        agent, site, index_floor(start, facts.start), index_ceil(start, facts.end), breaks, pieces, pinned
    )


def work_span(facts: ShiftFacts) -> WorkSpan:
    return WorkSpan(facts.start, facts.end, tuple(facts.breaks))


def shift_minutes(facts: ShiftFacts) -> int:
    return worked_minutes(work_span(facts))


def window_days(start: datetime, end: datetime, tz: str) -> tuple[date, date]:
    """The first and last local day of [start, end) in TZ."""
    zone = ZoneInfo(tz)
    return start.astimezone(zone).date(), (end - STEP).astimezone(zone).date()
