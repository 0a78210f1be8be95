"""Attendance maths on hand-made sessions, values worked out by hand."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from service.seating.attendance import Session, actual_overtime, adherence, occupancy, scheduled_spans
from service.seating.calendar import CHINA_2026
from service.seating.problem import Shift
from service.seating.rules import CHINA_STANDARD, PriorWork, WorkSpan

SH = ZoneInfo("Asia/Shanghai")


def at(d: int, hh: int, mm: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, d, hh, mm, tzinfo=SH)


def test_adherence_by_hand() -> None:
    plan = [(0, WorkSpan(at(9, 9), at(9, 17), ((at(9, 12), at(9, 12, 30)),)))]  # 450 scheduled minutes
    sessions = [
        Session(0, 1, at(9, 9, 10), at(9, 12)),  # late by 10 minutes, then lunch
        Session(
            0, 1, at(9, 12, 40), at(9, 17, 20), ((at(9, 15), at(9, 15, 10)),)
        ),  # back late, a break, stays late
    ]
    (row,) = adherence(plan, sessions, "Asia/Shanghai")
    assert row.day == date(2026, 11, 9)
    assert row.scheduled_minutes == 450
    assert row.actual_minutes == 170 + 270
    assert row.in_adherence_minutes == 170 + 140 + 110
    assert row.share == pytest.approx(420 / 450)


def test_adherence_splits_a_night_at_midnight() -> None:
    plan = [(3, WorkSpan(at(9, 22), at(10, 2)))]
    rows = adherence(plan, [Session(3, 0, at(9, 22, 30), at(10, 2))], SH)
    assert [(r.day.day, r.scheduled_minutes, r.actual_minutes, r.in_adherence_minutes) for r in rows] == [
        (9, 120, 90, 90),
        (10, 120, 120, 120),
    ]
    # A day with sessions but no schedule shows up with no share.
    rows = adherence([], [Session(4, 0, at(11, 9), at(11, 10))], SH)
    assert rows[0].actual_minutes == 60 and rows[0].share is None


def test_scheduled_spans_of_roster_shifts() -> None:
    origin = datetime(2026, 11, 9, 0, tzinfo=SH)
    ((agent, span),) = scheduled_spans([Shift(5, 0, 36, 70, ((48, 50),))], origin)
    assert agent == 5 and span.start == at(9, 9) and span.end == at(9, 17, 30)
    assert span.breaks == ((at(9, 12), at(9, 12, 30)),)


def test_occupancy_by_hand() -> None:
    start = at(9, 0)
    sessions = [
        Session(0, 0, at(9, 0), at(9, 0, 15), concurrency=3),
        Session(1, 0, at(9, 0), at(9, 0, 30), ((at(9, 0, 20), at(9, 0, 25)),), concurrency=2),
        Session(
            2,
            1,
            at(
                9,
                0,
                7,
            )
            + timedelta(seconds=30),
            at(9, 0, 15),
            concurrency=2,
        ),
    ]
    handle = np.array([[3600.0, 850.0], [700.0, 0.0]])
    occ = occupancy(sessions, handle, start)
    # Interval 0, shop 0: 900 s at 3 chats + 900 s at 2 = 4500 chat-seconds; 3600 handled: 80 %.
    assert occ.logged_in_seconds[0, 0] == 1800 and occ.capacity_seconds[0, 0] == 4500
    assert occ.occupancy[0, 0] == pytest.approx(0.8)
    # Interval 1, shop 0: agent 1 for 600 s (a 5-minute break) at 2 chats: 700 / 1200.
    assert occ.logged_in_seconds[1, 0] == 600 and occ.occupancy[1, 0] == pytest.approx(700 / 1200)
    # Shop 1: 450 s at 2 chats, 850 handled: 94 %, burnout territory; nobody in interval 1.
    assert occ.occupancy[0, 1] == pytest.approx(850 / 900)
    assert math.isnan(occ.occupancy[1, 1])
    assert occ.band().tolist() == [["healthy", "burnout"], ["low", "none"]]


def test_actual_overtime_against_the_cap() -> None:
    sessions = [
        Session(0, 0, at(9, 9), at(9, 19), ((at(9, 12), at(9, 13)),)),  # Monday: 540 worked, 60 overtime
        Session(0, 0, at(14, 9), at(14, 13)),  # Saturday: 240 at 200 %
        Session(0, 0, at(1, 9, month=10), at(1, 11, month=10)),  # National Day: 120 at 300 %
    ]
    prior = {0: PriorWork(as_of=date(2026, 11, 1), month_overtime_minutes=1900)}
    rows = actual_overtime(sessions, {0: CHINA_STANDARD}, CHINA_2026, SH, prior)
    october, november = rows
    assert (october.month, october.holiday, october.total, october.over_cap) == (10, 120, 120, False)
    assert (november.workday, november.rest_day, november.prior) == (60, 240, 1900)
    assert november.total == 2200 and november.remaining == -40 and november.over_cap
