"""Labour rules as data, worked time and overtime, and the independent roster checker.

Durations are minutes. Days are local days in the site's timezone and a shift (or an attendance session)
belongs to the day it starts on; weeks are ISO weeks (Monday first); months are calendar months.

Overtime, standard hours (标准工时):
- on a workday, worked minutes beyond `normal_per_day`, and beyond what is left of `normal_per_week` in
  the week, are workday overtime (150 %); the normal minutes of a day count toward the week;
- every worked minute on a rest day is rest-day overtime (200 %), on a statutory holiday holiday
  overtime (300 %); neither counts toward the week's normal minutes.

Overtime, comprehensive hours (综合计算工时, month or quarter): work on a statutory holiday is still
holiday overtime (300 %) and stays out of the period's count. Every other worked minute adds to the
period's cumulative worked time, and the pro-rata rule is: the allowance through day d is
`normal_per_period * (days of the period up to and including d) // days in the period`; the excess
through d is max(0, cumulative worked - allowance); overtime is recognised as the excess first reaches a
new high, so day d's overtime is the growth of the running maximum of the excess (workday class, 150 %:
the period averages away rest days). Overtime recognised once is never taken back by a later lighter day.
An excess already present before the window (from `PriorWork.period_worked_minutes`) counts as
recognised before it.

Caps:
- `overtime_cap_per_day` bounds the length of a working day: worked minutes on one local day <=
  `normal_per_day + overtime_cap_per_day`, whatever the kind of day (Labour Law art. 41 limits extending the
  day to 3 h; rest-day and holiday work is bounded by the same day length). Comprehensive hours have no
  daily cap (only `shift_max`).
- `overtime_cap_per_month` bounds all overtime minutes of a calendar month, every pay class, including
  those already worked in the month before the window.

Meal breaks: a shift longer than `meal_break_after` needs at least one (at most `max_meal_breaks`); every
break lasts `meal_break_min`..`meal_break_max`, starts at least `meal_break_earliest` after the shift
starts and ends at least `meal_break_latest_end` before it ends. Shift length bounds apply to the span,
breaks included; breaks are unpaid and not worked. Seat capacity counts a shift for its whole span:
an agent on a meal break keeps the seat.

`check_roster` validates any roster against every hard rule with plain loops over its shifts; it is
written on its own, sharing no code with the builders (`rostering`, `optimise`), so that it can judge
them. `check_shift` answers the same question for one proposed shift against an agent's others (a manual
move: the API's 422).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from service.seating.calendar import DayCalendar, DayKind, PayClass

if TYPE_CHECKING:
    from service.seating.problem import RosterProblem, RosterResult, Shift


class HoursSystem(enum.StrEnum):
    standard = "standard"
    comprehensive_month = "comprehensive_month"
    comprehensive_quarter = "comprehensive_quarter"


@dataclass(frozen=True)
class LabourRules:
    name: str = "china_standard"
    shift_min: int = 240
    shift_max: int = 600
    normal_per_day: int = 480
    normal_per_week: int = 2400
    overtime_cap_per_day: int = 180
    overtime_cap_per_month: int = 2160  # 36 h
    min_rest_between_shifts: int = 660  # 11 h
    max_consecutive_days: int = 6
    min_rest_days_per_week: int = 1
    meal_break_after: int = 360  # a shift longer than this needs a meal break
    meal_break_min: int = 30
    meal_break_max: int = 60
    meal_break_earliest: int = 120  # minutes after the shift starts
    meal_break_latest_end: int = 60  # minutes before the shift ends
    max_meal_breaks: int = 2
    hours_system: HoursSystem = HoursSystem.standard
    normal_per_period: int | None = None  # comprehensive hours: e.g. 10440 a month (174 h), 31320 a quarter

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 0 < self.shift_min <= self.shift_max:
            raise ValueError("need 0 < shift_min <= shift_max")
        if not 0 < self.meal_break_min <= self.meal_break_max:
            raise ValueError("need 0 < meal_break_min <= meal_break_max")
        if self.max_consecutive_days < 1:
            raise ValueError("max_consecutive_days must be >= 1")
        if self.min_rest_days_per_week > 6:
            raise ValueError("min_rest_days_per_week must be <= 6")
        if self.shift_max > self.meal_break_after:
            room = self.meal_break_earliest + self.meal_break_min + self.meal_break_latest_end
            if room > self.shift_max:
                raise ValueError("the longest shift cannot hold the meal break it needs")
            if self.max_meal_breaks < 1:
                raise ValueError("long shifts are allowed, so max_meal_breaks must be >= 1")
        if self.comprehensive:
            if not self.normal_per_period:
                raise ValueError("comprehensive hours need normal_per_period > 0")
        if self.normal_per_day > self.normal_per_week:
            raise ValueError("normal_per_day must be <= normal_per_week")

    @property
    def comprehensive(self) -> bool:
        return self.hours_system is not HoursSystem.standard

    def overtime_class(self, kind: DayKind) -> PayClass:
        """The pay class of overtime worked on a day of KIND: a holiday's on a holiday, a rest day's on a rest
        day (except under comprehensive hours, which count rest days as workdays), a workday's otherwise."""
        if kind is DayKind.holiday:
            return PayClass.holiday
        if kind is DayKind.rest_day and not self.comprehensive:
            return PayClass.rest_day
        return PayClass.workday

    @property
    def max_day_minutes(self) -> int | None:
        """Most minutes workable on one local day, None without a daily cap (comprehensive hours)."""
        return None if self.comprehensive else self.normal_per_day + self.overtime_cap_per_day


CHINA_STANDARD = LabourRules()
# 非全日制用工: at most 4 h a day and 24 h a week, no overtime.
CHINA_PART_TIME = LabourRules(
    name="china_part_time",
    shift_min=120,
    shift_max=240,
    normal_per_day=240,
    normal_per_week=1440,
    overtime_cap_per_day=0,
    overtime_cap_per_month=0,
)
CHINA_COMPREHENSIVE_MONTH = LabourRules(
    name="china_comprehensive_month",
    shift_max=660,
    hours_system=HoursSystem.comprehensive_month,
    normal_per_period=10440,
)
CHINA_COMPREHENSIVE_QUARTER = LabourRules(
    name="china_comprehensive_quarter",
    shift_max=660,
    hours_system=HoursSystem.comprehensive_quarter,
    normal_per_period=31320,
)


# ---------------------------------------------------------------- worked time and overtime


@dataclass(frozen=True)
class WorkSpan:
    """One shift or attendance session in time (aware datetimes), with its breaks."""

    start: datetime
    end: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()


def worked_minutes(span: WorkSpan) -> int:
    """Minutes of [start, end) outside the breaks (breaks clipped to the span, overlaps counted once)."""
    if span.end <= span.start:
        return 0
    pieces = sorted((max(a, span.start), min(b, span.end)) for a, b in span.breaks)
    off = timedelta(0)
    cursor = span.start
    for a, b in pieces:
        a = max(a, cursor)
        if b > a:
            off += b - a
            cursor = b
    return int((span.end - span.start - off).total_seconds() // 60)


@dataclass(frozen=True)
class PriorWork:
    """Work before the spans, in the week, month and hours period of `as_of` (the first day considered;
    None: the day of the earliest span). Spans are expected on or after `as_of`."""

    as_of: date | None = None
    week_normal_minutes: int = 0  # normal minutes already worked in the ISO week of as_of
    month_overtime_minutes: int = 0  # overtime already worked in the month of as_of (for the cap)
    period_worked_minutes: int | None = (
        None  # comprehensive: worked in the period before as_of; None: on pace
    )


@dataclass(frozen=True)
class DayOvertime:
    day: date
    kind: DayKind
    worked: int
    normal: int
    workday: int = 0  # 150 %
    rest_day: int = 0  # 200 %
    holiday: int = 0  # 300 %

    @property
    def overtime(self) -> int:
        return self.workday + self.rest_day + self.holiday

    def by_class(self) -> dict[PayClass, int]:
        return {
            PayClass.workday: self.workday,
            PayClass.rest_day: self.rest_day,
            PayClass.holiday: self.holiday,
        }


def period_bounds(rules: LabourRules, day: date) -> tuple[date, date]:
    """First day and the day after the last of the comprehensive-hours period holding `day`."""
    if rules.hours_system is HoursSystem.comprehensive_quarter:
        first_month = 3 * ((day.month - 1) // 3) + 1
        first = date(day.year, first_month, 1)
        months = 3
    else:
        first = date(day.year, day.month, 1)
        months = 1
    month = first.month + months
    after = date(first.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    return first, after


def period_allowance(rules: LabourRules, day: date, *, through: bool) -> int:
    """Pro-rata normal minutes of the period up to `day` (inclusive when `through`)."""
    assert rules.normal_per_period is not None
    first, after = period_bounds(rules, day)
    elapsed = (day - first).days + (1 if through else 0)
    return rules.normal_per_period * elapsed // (after - first).days


def overtime_by_day(
    spans: Iterable[WorkSpan],
    rules: LabourRules,
    calendar: DayCalendar,
    tz: tzinfo | str,
    prior: PriorWork | None = None,
) -> list[DayOvertime]:
    """Worked, normal and overtime minutes by pay class for each local day one agent worked, in day order."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    worked: dict[date, int] = defaultdict(int)
    for span in spans:
        worked[span.start.astimezone(zone).date()] += worked_minutes(span)
    if not worked:
        return []
    prior = prior or PriorWork()
    days = sorted(worked)
    as_of = prior.as_of or days[0]
    out: list[DayOvertime] = []
    if not rules.comprehensive:
        week_normal: dict[tuple[int, int], int] = {as_of.isocalendar()[:2]: prior.week_normal_minutes}
        for day in days:
            kind, w = calendar.kind(day), worked[day]
            if kind is DayKind.holiday:
                out.append(DayOvertime(day, kind, w, 0, holiday=w))
            elif kind is DayKind.rest_day:
                out.append(DayOvertime(day, kind, w, 0, rest_day=w))
            else:
                week = day.isocalendar()[:2]
                used = week_normal.get(week, 0)
                normal = min(w, rules.normal_per_day, max(0, rules.normal_per_week - used))
                week_normal[week] = used + normal
                out.append(DayOvertime(day, kind, w, normal, workday=w - normal))
        return out
    # Comprehensive hours: running excess of cumulative worked time over the pro-rata allowance.
    first_period = period_bounds(rules, as_of)
    before = period_allowance(rules, as_of, through=False)
    start_cum = before if prior.period_worked_minutes is None else prior.period_worked_minutes
    state: dict[tuple[date, date], list[int]] = {first_period: [start_cum, max(0, start_cum - before)]}
    for day in days:
        kind, w = calendar.kind(day), worked[day]
        if kind is DayKind.holiday:
            out.append(DayOvertime(day, kind, w, 0, holiday=w))
            continue
        cum_rec = state.setdefault(period_bounds(rules, day), [0, 0])
        cum_rec[0] += w
        excess = max(0, cum_rec[0] - period_allowance(rules, day, through=True))
        new = max(0, excess - cum_rec[1])
        cum_rec[1] = max(cum_rec[1], excess)
        out.append(DayOvertime(day, kind, w, w - new, workday=new))
    return out


def overtime_by_class(
    spans: Iterable[WorkSpan],
    rules: LabourRules,
    calendar: DayCalendar,
    tz: tzinfo | str,
    prior: PriorWork | None = None,
) -> dict[PayClass, int]:
    """Overtime minutes of one agent's spans by pay class (see the module docstring)."""
    total = {PayClass.workday: 0, PayClass.rest_day: 0, PayClass.holiday: 0}
    for d in overtime_by_day(spans, rules, calendar, tz, prior):
        for k, v in d.by_class().items():
            total[k] += v
    return total


# ---------------------------------------------------------------- the checker


@dataclass(frozen=True)
class Violation:
    rule: str  # stable id, e.g. "rest_between_shifts"
    agent: int | None  # index into the problem's agents
    shifts: tuple[Shift, ...]  # the shifts concerned (none for a whole site's seats)
    detail: str  # for people
    at: str = ""  # where: a day, week, month, site-interval, ...


RULES: tuple[str, ...] = (
    "invalid_reference",  # an agent, site or shop index out of range
    "outside_window",  # a shift not inside [0, n_intervals)
    "home_site",  # a shift at another site than its agent's
    "shift_length",
    "meal_break_count",
    "meal_break_length",
    "meal_break_window",
    "break_outside_shift",
    "break_overlap",
    "assignment_outside_shift",
    "assignment_in_break",
    "assignment_overlap",
    "skills",
    "unavailable",
    "shift_overlap",
    "rest_between_shifts",
    "daily_overtime_cap",
    "monthly_overtime_cap",
    "consecutive_days",
    "weekly_rest_days",
    "seat_capacity",
)


@dataclass
class _Clock:
    """Local days of intervals, per site (the checker's own, plain conversions)."""

    problem: RosterProblem
    zones: list[ZoneInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.zones = [ZoneInfo(s.timezone) for s in self.problem.sites]

    def day(self, site: int, t: int) -> date:
        moment = self.problem.start + timedelta(minutes=15 * t)
        return moment.astimezone(self.zones[site]).date()


def check_roster(roster: RosterResult | Sequence[Shift], problem: RosterProblem) -> list[Violation]:
    """Every hard-rule violation of a roster (its pinned shifts included)."""
    from service.seating.problem import RosterResult  # at run time only: problem imports this module

    shifts = list(roster.shifts) if isinstance(roster, RosterResult) else list(roster)
    clock = _Clock(problem)
    out: list[Violation] = []
    by_agent: dict[int, list[Shift]] = defaultdict(list)
    seats = [[0] * problem.n_intervals for _ in problem.sites]
    for shift in shifts:
        if _check_references(shift, problem, out):
            continue
        _check_shape(shift, problem, out)
        by_agent[shift.agent].append(shift)
        row = seats[shift.site]
        for t in range(max(0, shift.start), min(problem.n_intervals, shift.end)):
            row[t] += 1
    for agent in sorted(by_agent):
        out.extend(_check_agent(agent, by_agent[agent], problem, clock))
    out.extend(_seat_violations(np.array(seats, np.int64).reshape(len(problem.sites), -1), problem, ()))
    return out


def check_shift(
    shift: Shift,
    problem: RosterProblem,
    existing: Sequence[Shift] = (),
    site_occupancy: NDArray[np.int64] | None = None,
) -> list[Violation]:
    """Violations a proposed shift would add, against its agent's other shifts.

    `existing` holds the agent's other shifts (others' are ignored, except for seats); `site_occupancy`
    (sites x intervals) counts the other agents' shifts per site and interval: without it, seats are
    counted from `existing`. Only violations the proposed shift causes are reported: a day, week or month
    already broken without it is not its fault.
    """
    out: list[Violation] = []
    if _check_references(shift, problem, out):
        return out
    _check_shape(shift, problem, out)
    own = [s for s in existing if s.agent == shift.agent and s != shift]
    clock = _Clock(problem)
    before = {(v.rule, v.at) for v in _check_agent(shift.agent, own, problem, clock)}
    for v in _check_agent(shift.agent, [*own, shift], problem, clock):
        if shift in v.shifts and (v.rule, v.at) not in before:
            out.append(v)
    if site_occupancy is None:
        occupancy = np.zeros((len(problem.sites), problem.n_intervals), np.int64)
        for other in existing:
            if other.agent != shift.agent and 0 <= other.site < len(problem.sites):
                for t in range(max(0, other.start), min(problem.n_intervals, other.end)):
                    occupancy[other.site, t] += 1
    else:
        occupancy = np.array(site_occupancy, np.int64, copy=True)
    # Only the proposed shift's own site and intervals: seats full elsewhere are not its fault.
    mine = np.zeros_like(occupancy)
    t0, t1 = max(0, shift.start), min(problem.n_intervals, shift.end)
    mine[shift.site, t0:t1] = occupancy[shift.site, t0:t1] + 1
    out.extend(_seat_violations(mine, problem, (shift,)))
    return out


def _check_references(shift: Shift, problem: RosterProblem, out: list[Violation]) -> bool:
    bad = []
    if not 0 <= shift.agent < len(problem.agents):
        bad.append(f"agent {shift.agent}")
    if not 0 <= shift.site < len(problem.sites):
        bad.append(f"site {shift.site}")
    for a in shift.assignments:
        if not 0 <= a.shop < len(problem.shops):
            bad.append(f"shop {a.shop}")
    if bad:
        agent = shift.agent if 0 <= shift.agent < len(problem.agents) else None
        out.append(Violation("invalid_reference", agent, (shift,), "unknown " + ", ".join(bad)))
    return bool(bad)


def _check_shape(shift: Shift, problem: RosterProblem, out: list[Violation]) -> None:
    """Rules of one shift on its own."""
    agent = problem.agents[shift.agent]
    rules = agent.rules
    a = shift.agent

    def bad(rule: str, detail: str) -> None:
        out.append(Violation(rule, a, (shift,), detail, f"interval {shift.start}"))

    if shift.start < 0 or shift.end > problem.n_intervals:
        bad("outside_window", f"shift {shift.start}-{shift.end} outside 0-{problem.n_intervals}")
    if shift.site != agent.site:
        bad("home_site", f"shift at site {shift.site}, agent works at site {agent.site}")
    span = (shift.end - shift.start) * 15
    if not rules.shift_min <= span <= rules.shift_max:
        bad("shift_length", f"{span} min, allowed {rules.shift_min}-{rules.shift_max}")

    breaks = sorted(shift.breaks)
    for b0, b1 in breaks:
        if b1 <= b0 or b0 < shift.start or b1 > shift.end:
            bad("break_outside_shift", f"break {b0}-{b1} not inside shift {shift.start}-{shift.end}")
            continue
        length = (b1 - b0) * 15
        if not rules.meal_break_min <= length <= rules.meal_break_max:
            bad(
                "meal_break_length",
                f"break {length} min, allowed {rules.meal_break_min}-{rules.meal_break_max}",
            )
        after_start = (b0 - shift.start) * 15
        before_end = (shift.end - b1) * 15
        if after_start < rules.meal_break_earliest or before_end < rules.meal_break_latest_end:
            bad(
                "meal_break_window",
                f"break starts {after_start} min into the shift and ends {before_end} min before its end; "
                f"needs >= {rules.meal_break_earliest} and >= {rules.meal_break_latest_end}",
            )
    for (p0, p1), (n0, n1) in zip(breaks, breaks[1:], strict=False):
        if n0 < p1:
            bad("break_overlap", f"breaks {p0}-{p1} and {n0}-{n1} overlap")
    if span > rules.meal_break_after and not breaks:
        bad(
            "meal_break_count",
            f"a {span} min shift needs a meal break (longer than {rules.meal_break_after})",
        )
    if len(breaks) > rules.max_meal_breaks:
        bad("meal_break_count", f"{len(breaks)} breaks, at most {rules.max_meal_breaks}")

    pieces = sorted((x.start, x.end, x.shop) for x in shift.assignments)
    for s0, s1, shop in pieces:
        if s1 <= s0 or s0 < shift.start or s1 > shift.end:
            bad(
                "assignment_outside_shift",
                f"shop {shop} {s0}-{s1} not inside shift {shift.start}-{shift.end}",
            )
        for b0, b1 in breaks:
            if s0 < b1 and b0 < s1:
                bad("assignment_in_break", f"shop {shop} {s0}-{s1} overlaps break {b0}-{b1}")
        missing = problem.shops[shop].required_skills - agent.skills
        if missing:
            bad("skills", f"shop {shop} needs {sorted(missing)}")
    for (p0, p1, ps), (n0, n1, ns) in zip(pieces, pieces[1:], strict=False):
        if n0 < p1:
            bad("assignment_overlap", f"shop {ps} {p0}-{p1} and shop {ns} {n0}-{n1} overlap")

    for u0, u1 in agent.unavailable:
        if shift.start < u1 and u0 < shift.end:
            bad("unavailable", f"shift {shift.start}-{shift.end} meets unavailability {u0}-{u1}")


def _check_agent(agent: int, shifts: list[Shift], problem: RosterProblem, clock: _Clock) -> list[Violation]:
    """Rules across one agent's shifts: overlap, rest, days in a row, rest days, overtime caps."""
    out: list[Violation] = []
    if not shifts:
        return out
    info = problem.agents[agent]
    rules = info.rules
    history = info.history
    site = info.site
    ordered = sorted(shifts, key=lambda s: (s.start, s.end))

    # Overlap and rest, including the last shift before the window.
    rest = rules.min_rest_between_shifts

    def check_rest(since: int, concerned: tuple[Shift, ...], after: str) -> None:
        """The rest from interval SINCE to the start of the last CONCERNED shift (a pair, or the first)."""
        shift = concerned[-1]
        gap = (shift.start - since) * 15
        if gap < rest:
            out.append(
                Violation(
                    "rest_between_shifts",
                    agent,
                    concerned,
                    f"{gap} min {after}, needs {rest}",
                    f"interval {shift.start}",
                )
            )

    if history.last_shift_end is not None:
        check_rest(history.last_shift_end, (ordered[0],), "after the last shift before the window")
    latest: Shift | None = None
    for shift in ordered:
        if latest is not None:
            if shift.start < latest.end:
                out.append(
                    Violation(
                        "shift_overlap",
                        agent,
                        (latest, shift),
                        f"{latest.start}-{latest.end} and {shift.start}-{shift.end}",
                        f"interval {shift.start}",
                    )
                )
            else:
                check_rest(latest.end, (latest, shift), "between shifts")
        if latest is None or shift.end > latest.end:
            latest = shift

    # Days worked: the run before the window, then the window's days.
    first_day = clock.day(site, 0)
    days: dict[date, list[Shift]] = defaultdict(list)
    for shift in ordered:
        days[clock.day(site, shift.start)].append(shift)
    worked = set(days) | {first_day - timedelta(days=i + 1) for i in range(history.consecutive_days)}
    run: list[date] = []
    for day in sorted(worked):
        if run and day != run[-1] + timedelta(days=1):
            _report_run(run, days, rules, agent, out)
            run = []
        run.append(day)
    _report_run(run, days, rules, agent, out)

    first_week = first_day.isocalendar()[:2]
    weeks: dict[tuple[int, int], list[date]] = defaultdict(list)
    for day in days:
        weeks[day.isocalendar()[:2]].append(day)
    for week, its_days in sorted(weeks.items()):
        count = len(its_days) + (history.days_worked_this_week if week == first_week else 0)
        allowed = 7 - rules.min_rest_days_per_week
        if count > allowed:
            concerned = tuple(s for d in sorted(its_days) for s in days[d])
            out.append(
                Violation(
                    "weekly_rest_days",
                    agent,
                    concerned,
                    f"{count} days worked in week {week[0]}-W{week[1]:02d}, at most {allowed}",
                    f"{week[0]}-W{week[1]:02d}",
                )
            )

    # Overtime: the day length (standard hours) and the month's total.
    cap = rules.max_day_minutes
    if cap is not None:
        for day, its in sorted(days.items()):
            minutes = sum((s.end - s.start - sum(b1 - b0 for b0, b1 in s.breaks)) * 15 for s in its)
            if minutes > cap:
                out.append(
                    Violation(
                        "daily_overtime_cap",
                        agent,
                        tuple(its),
                        f"{minutes} min worked on {day}, at most {cap} ({rules.normal_per_day} + "
                        f"{rules.overtime_cap_per_day} overtime)",
                        day.isoformat(),
                    )
                )
    week_normal = history.normal_minutes_this_week
    if week_normal is None:
        week_normal = min(history.days_worked_this_week * rules.normal_per_day, rules.normal_per_week)
    prior = PriorWork(
        first_day, week_normal, history.overtime_minutes_this_month, history.period_worked_minutes
    )
    spans = [s.span(problem.start) for s in ordered]
    months: dict[tuple[int, int], int] = defaultdict(int)
    months[(first_day.year, first_day.month)] = history.overtime_minutes_this_month
    for d in overtime_by_day(spans, rules, problem.calendar, clock.zones[site], prior):
        months[(d.day.year, d.day.month)] += d.overtime
    for (year, month), minutes in sorted(months.items()):
        if minutes > rules.overtime_cap_per_month:
            concerned = tuple(
                s for d, its in sorted(days.items()) if (d.year, d.month) == (year, month) for s in its
            )
            if concerned:
                out.append(
                    Violation(
                        "monthly_overtime_cap",
                        agent,
                        concerned,
                        f"{minutes} min of overtime in {year}-{month:02d} (earlier work included), "
                        f"at most {rules.overtime_cap_per_month}",
                        f"{year}-{month:02d}",
                    )
                )
    return out


def _report_run(
    run: list[date], days: dict[date, list[Shift]], rules: LabourRules, agent: int, out: list[Violation]
) -> None:
    if len(run) > rules.max_consecutive_days:
        concerned = tuple(s for d in run if d in days for s in days[d])
        out.append(
            Violation(
                "consecutive_days",
                agent,
                concerned,
                f"{len(run)} days in a row ({run[0]} to {run[-1]}, earlier work included), "
                f"at most {rules.max_consecutive_days}",
                run[0].isoformat(),
            )
        )


def _seat_violations(
    occupancy: NDArray[np.int64], problem: RosterProblem, shifts: tuple[Shift, ...]
) -> list[Violation]:
    """One violation per site and run of intervals over its seat capacity."""
    out: list[Violation] = []
    for k, site in enumerate(problem.sites):
        row = occupancy[k].tolist()
        t = 0
        while t < len(row):
            if row[t] > site.seat_capacity:
                t0 = t
                while t < len(row) and row[t] > site.seat_capacity:
                    t += 1
                peak = max(row[t0:t])
                out.append(
                    Violation(
                        "seat_capacity",
                        None,
                        shifts,
                        f"site {site.id}: {peak} agents, {site.seat_capacity} seats, intervals {t0}-{t}",
                        f"site {k} intervals {t0}-{t}",
                    )
                )
            t += 1
    return out
