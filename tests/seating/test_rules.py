"""Labour rules, worked time and overtime by pay class on hand-made shifts, and the builder's own ledger
against the rules' definition (property test)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.seating.calendar import CHINA_2026, DayKind, PayClass
from service.seating.problem import Agent, AgentHistory, RosterProblem, Shift, Shop, Site
from service.seating.rostering import agent_hours
from service.seating.rules import (
    CHINA_COMPREHENSIVE_MONTH,
    CHINA_PART_TIME,
    CHINA_STANDARD,
    LabourRules,
    PriorWork,
    WorkSpan,
    overtime_by_class,
    overtime_by_day,
    worked_minutes,
)

SH = ZoneInfo("Asia/Shanghai")
W, R, H = PayClass.workday, PayClass.rest_day, PayClass.holiday


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def span(
    day: date, start_h: float, hours: float, break_at: float | None = None, break_min: int = 60
) -> WorkSpan:
    s = datetime(day.year, day.month, day.day, tzinfo=SH) + timedelta(hours=start_h)
    e = s + timedelta(hours=hours)
    breaks = ()
    if break_at is not None:
        b0 = datetime(day.year, day.month, day.day, tzinfo=SH) + timedelta(hours=break_at)
        breaks = ((b0, b0 + timedelta(minutes=break_min)),)
    return WorkSpan(s, e, breaks)


def ot(
    spans: list[WorkSpan], rules: LabourRules = CHINA_STANDARD, prior: PriorWork | None = None
) -> dict[PayClass, int]:
    return overtime_by_class(spans, rules, CHINA_2026, "Asia/Shanghai", prior)


def test_worked_minutes_excludes_breaks_once_and_inside_only() -> None:
    s = local(2026, 11, 9, 9)
    e = local(2026, 11, 9, 19)
    overlapping = (
        (local(2026, 11, 9, 12), local(2026, 11, 9, 13)),
        (local(2026, 11, 9, 12, 30), local(2026, 11, 9, 13, 30)),
    )
    assert worked_minutes(WorkSpan(s, e)) == 600
    assert worked_minutes(WorkSpan(s, e, overlapping)) == 600 - 90
    outside = ((local(2026, 11, 9, 8), local(2026, 11, 9, 9, 30)),)
    assert worked_minutes(WorkSpan(s, e, outside)) == 570


def test_workday_beyond_eight_hours_is_150() -> None:
    # Monday 2026-11-09, 09:00-19:00 with a one-hour break: 540 worked, 60 beyond the normal day.
    assert ot([span(date(2026, 11, 9), 9, 10, 12)]) == {W: 60, R: 0, H: 0}
    assert ot([span(date(2026, 11, 9), 9, 9, 12)]) == {W: 0, R: 0, H: 0}


def test_workday_beyond_the_week_is_150() -> None:
    # Friday with 35 normal hours already this week: only 5 more are normal.
    prior = PriorWork(as_of=date(2026, 11, 13), week_normal_minutes=2100)
    assert ot([span(date(2026, 11, 13), 9, 9, 12)], prior=prior) == {W: 180, R: 0, H: 0}
    # A whole week of 9-hour days: 8 normal each, the 5 extra hours are workday overtime.
    week = [span(date(2026, 11, 9) + timedelta(days=i), 9, 10, 12) for i in range(5)]
    assert ot(week) == {W: 300, R: 0, H: 0}


def test_saturday_is_rest_day_overtime() -> None:
    assert ot([span(date(2026, 11, 14), 9, 9, 12)]) == {W: 0, R: 480, H: 0}


def test_make_up_sunday_is_a_workday() -> None:
    # 2026-01-04 (Sunday) is the make-up workday of New Year: a normal day, where another Sunday is 200 %.
    assert ot([span(date(2026, 1, 4), 9, 9, 12)]) == {W: 0, R: 0, H: 0}
    assert ot([span(date(2026, 1, 11), 9, 9, 12)]) == {W: 0, R: 480, H: 0}
    # The make-up day shares its ISO week (2025-12-29..2026-01-04) with four other working days.
    week = [span(date(2025, 12, 29) + timedelta(days=i), 9, 9, 12) for i in range(3)] + [
        span(date(2026, 1, 4), 9, 9, 12)
    ]
    assert ot(week) == {W: 0, R: 0, H: 0}


def test_statutory_holiday_is_300_and_block_days_200() -> None:
    assert ot([span(date(2026, 10, 1), 9, 9, 12)]) == {W: 0, R: 0, H: 480}
    assert ot([span(date(2026, 10, 6), 9, 9, 12)]) == {W: 0, R: 480, H: 0}  # a Tuesday off in the block
    assert ot([span(date(2026, 2, 16), 9, 4)]) == {W: 0, R: 0, H: 240}  # 除夕


def test_a_shift_belongs_to_the_day_it_starts_on() -> None:
    # 20:00 on 2026-09-30 (a workday) to 04:00 on National Day: all of it on the 30th.
    assert ot([span(date(2026, 9, 30), 20, 8)]) == {W: 0, R: 0, H: 0}
    days = overtime_by_day([span(date(2026, 9, 30), 20, 8)], CHINA_STANDARD, CHINA_2026, SH)
    assert [d.day for d in days] == [date(2026, 9, 30)]


def test_comprehensive_hours_pro_rata() -> None:
    rules = CHINA_COMPREHENSIVE_MONTH
    # November: 10440 normal minutes over 30 days, 348 a day. On pace before the 9th (2784 worked).
    days = [span(date(2026, 11, 9) + timedelta(days=i), 8, 10) for i in range(3)]
    result = overtime_by_day(days, rules, CHINA_2026, SH)
    assert [d.workday for d in result] == [252, 252, 252]  # 600 worked, 348 allowed, each day
    # A lighter day later gives nothing back (the 12th: excess 528 < 756 recognised); the 13th adds only
    # beyond the running maximum: cum 5364, allowance through the 13th 4524, excess 840: 84 more.
    more = [*days, span(date(2026, 11, 12), 8, 2), span(date(2026, 11, 13), 8, 11)]
    result = overtime_by_day(more, rules, CHINA_2026, SH)
    assert [d.workday for d in result] == [252, 252, 252, 0, 84]
    more.append(span(date(2026, 11, 14), 8, 10))  # a Saturday: no 200 % under comprehensive hours
    result = overtime_by_day(more, rules, CHINA_2026, SH)
    assert (result[-1].rest_day, result[-1].workday) == (0, 252)
    total = overtime_by_class(more, rules, CHINA_2026, SH)
    # Through the 14th: cum 5964, allowance 4872, excess 1092: all recognised overtime is 1092.
    assert total == {W: 1092, R: 0, H: 0}
    # Behind pace before the window: the first 10-hour day is all normal.
    prior = PriorWork(as_of=date(2026, 11, 9), period_worked_minutes=2000)
    assert overtime_by_class(days[:1], rules, CHINA_2026, SH, prior) == {W: 0, R: 0, H: 0}
    # Statutory holidays stay 300 % and out of the period's count.
    assert overtime_by_class([span(date(2026, 10, 1), 9, 8)], rules, CHINA_2026, SH) == {W: 0, R: 0, H: 480}


def test_the_pay_class_of_overtime_by_day_kind() -> None:
    kinds = (DayKind.workday, DayKind.rest_day, DayKind.holiday)
    assert [CHINA_STANDARD.overtime_class(k) for k in kinds] == [W, R, H]
    # Comprehensive hours: a rest day counts as a workday; a holiday is still a holiday.
    assert [CHINA_COMPREHENSIVE_MONTH.overtime_class(k) for k in kinds] == [W, W, H]


def test_quarter_periods() -> None:
    rules = LabourRules(
        hours_system=CHINA_COMPREHENSIVE_MONTH.hours_system.comprehensive_quarter, normal_per_period=31320
    )
    assert rules.comprehensive
    # Q4 2026 has 92 days; on pace before 11-09 (39 days): 13276; through 11-09: 13617 allowed.
    result = overtime_by_day([span(date(2026, 11, 9), 8, 10)], rules, CHINA_2026, SH)
    assert result[0].workday == 600 - (31320 * 40 // 92 - 31320 * 39 // 92)


def test_rules_validation() -> None:
    with pytest.raises(ValueError):
        LabourRules(shift_min=600, shift_max=480)
    with pytest.raises(ValueError):
        LabourRules(meal_break_min=90, meal_break_max=60)
    with pytest.raises(ValueError):
        LabourRules(hours_system=CHINA_COMPREHENSIVE_MONTH.hours_system)  # no normal_per_period
    with pytest.raises(ValueError):
        LabourRules(shift_max=400, meal_break_earliest=300, meal_break_latest_end=90)  # no room for the break
    with pytest.raises(ValueError):
        LabourRules(overtime_cap_per_day=-1)
    assert CHINA_STANDARD.max_day_minutes == 660
    assert CHINA_PART_TIME.max_day_minutes == 240
    assert CHINA_COMPREHENSIVE_MONTH.max_day_minutes is None


# ---------------------------------------------------------------- the builder's ledger against the rules

START = datetime(2026, 9, 27, 16, tzinfo=UTC)  # 2026-09-28 00:00 in Shanghai: National Day inside


@st.composite
def rosters(draw: st.DrawFn) -> tuple[RosterProblem, list[Shift]]:
    rules = draw(st.sampled_from([CHINA_STANDARD, CHINA_COMPREHENSIVE_MONTH, CHINA_PART_TIME]))
    history = AgentHistory(
        overtime_minutes_this_month=draw(st.integers(0, 600)),
        days_worked_this_week=draw(st.integers(0, 3)),
        period_worked_minutes=draw(st.one_of(st.none(), st.integers(0, 12000))),
    )
    agent = Agent("a", 0, 1, frozenset({"tmall"}), rules, history=history)
    days = draw(st.lists(st.integers(0, 14), min_size=1, max_size=10, unique=True))
    shifts = []
    for d in sorted(days):
        start = 96 * d + draw(st.integers(0, 60))
        length = draw(st.integers(8, 48))
        brk = ()
        if length > 24:
            b0 = start + draw(st.integers(8, length - 8))
            brk = ((b0, b0 + 2),)
        shifts.append(Shift(0, 0, start, start + length, brk))
    T = 96 * 16
    problem = RosterProblem(
        START,
        T,
        (Shop("s", 1, frozenset({"tmall"})),),
        np.zeros((T, 1), np.int64),
        np.zeros((T, 1), np.int64),
        (agent,),
        (Site("x", 10),),
    )
    return problem, shifts


@given(rosters())
@settings(max_examples=60, deadline=None)
def test_builder_ledger_matches_the_rules(case: tuple[RosterProblem, list[Shift]]) -> None:
    problem, shifts = case
    agent = problem.agents[0]
    h = agent.history
    first = date(2026, 9, 28)
    prior = PriorWork(
        first,
        min(h.days_worked_this_week * agent.rules.normal_per_day, agent.rules.normal_per_week),
        h.overtime_minutes_this_month,
        h.period_worked_minutes,
    )
    expected = overtime_by_class([s.span(START) for s in shifts], agent.rules, CHINA_2026, SH, prior)
    overtime, worked = agent_hours(problem, shifts)
    assert overtime[0] == expected
    assert worked[0] == sum(s.worked_minutes for s in shifts)
