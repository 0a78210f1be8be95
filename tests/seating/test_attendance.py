"""Attendance maths on hand-made sessions, values worked out by hand."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from service.seating.attendance import (
    Session,
    actual_overtime_by_day,
    adherence,
    carry_over,
    interval_pieces,
    occupancy,
    overtime_by_month,
    scheduled_spans,
    scope_load,
    shop_pieces,
    slot_seconds,
)
from service.seating.calendar import CHINA_2026
from service.seating.problem import Shift
from service.seating.rules import CHINA_COMPREHENSIVE_MONTH, CHINA_STANDARD, PriorWork, WorkSpan

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


def test_a_long_chat_carries_over_into_the_following_intervals() -> None:
    # One agent, one chat at a time, logged in 9:00-10:00; a 40-minute chat starts at 9:00, so the rollups put
    # its 2,400 s in the 9:00 interval. Worked: 900 s at 9:00 and at 9:15, the last 600 s at 9:30; nothing
    # at 9:45. Before the carry-over the 9:00 interval read 2400 / 900 = 267 %.
    sessions = [Session(0, 0, at(9, 9), at(9, 10))]
    handle = np.array([[2400.0], [0.0], [0.0], [0.0]])
    occ = occupancy(sessions, handle, at(9, 9))
    assert occ.worked_seconds[:, 0].tolist() == [900.0, 900.0, 600.0, 0.0]
    assert occ.occupancy[:, 0] == pytest.approx([1.0, 1.0, 2 / 3, 0.0])
    assert occ.backlog_seconds.tolist() == [0.0]
    assert occ.band()[:, 0].tolist() == ["burnout", "burnout", "low", "low"]


def test_handle_time_where_nobody_was_logged_in_carries_forward() -> None:
    # Shop 0: 600 s handled at 9:00 with nobody logged in, then nobody at 9:15 either; at 9:30 one agent at
    # two chats (1,800 chat-slot s) works those 600 s and the interval's own 900 s: 1500 / 1800.
    # Shop 1 is independent: its own 450 s at 9:00 in 900 chat-slot s.
    sessions = [
        Session(0, 0, at(9, 9, 30), at(9, 9, 45), concurrency=2),
        Session(1, 1, at(9, 9), at(9, 9, 15)),
    ]
    handle = np.array([[600.0, 450.0], [0.0, 0.0], [900.0, 0.0]])
    occ = occupancy(sessions, handle, at(9, 9))
    assert math.isnan(occ.occupancy[0, 0]) and math.isnan(occ.occupancy[1, 0])
    assert occ.worked_seconds[:, 0].tolist() == [0.0, 0.0, 1500.0]
    assert occ.occupancy[2, 0] == pytest.approx(1500 / 1800)
    assert occ.occupancy[0, 1] == pytest.approx(0.5) and math.isnan(occ.occupancy[1, 1])
    assert occ.backlog_seconds.tolist() == [0.0, 0.0]


def test_what_the_window_cannot_absorb_is_its_backlog() -> None:
    # 900 chat-slot s an interval; 3,000 s handled at 9:15: 900 worked at 9:15 and at 9:30, 1,200 s left at
    # the window's end, reported as the shop's backlog (the last interval stays at 100 %). Handle time in a
    # last interval nobody works is backlog too.
    worked, backlog = carry_over(
        np.array([[0.0, 0.0], [3000.0, 0.0], [0.0, 50.0]]),
        np.array([[900.0, 900.0], [900.0, 900.0], [900.0, 0.0]]),
    )
    assert worked.tolist() == [[0.0, 0.0], [900.0, 0.0], [900.0, 0.0]]
    assert backlog.tolist() == [1200.0, 50.0]


def test_carry_over_keeps_occupancy_at_most_one_and_loses_no_handle_time() -> None:
    rng = np.random.default_rng(13)
    handle = rng.exponential(900.0, (200, 7)) * (rng.random((200, 7)) < 0.6)
    capacity = rng.choice([0.0, 900.0, 1800.0, 2700.0], (200, 7))
    worked, backlog = carry_over(handle, capacity)
    assert (worked <= capacity + 1e-9).all() and (worked >= 0).all() and (backlog >= 0).all()
    assert worked.sum(axis=0) + backlog == pytest.approx(handle.sum(axis=0))
    # a plain loop, one shop at a time
    for s in range(handle.shape[1]):
        carry = 0.0
        for t in range(handle.shape[0]):
            done = min(carry + handle[t, s], capacity[t, s])
            carry += handle[t, s] - done
            assert worked[t, s] == pytest.approx(done)
        assert backlog[s] == pytest.approx(carry)


def test_actual_overtime_against_the_cap() -> None:
    sessions = [
        Session(0, 0, at(9, 9), at(9, 19), ((at(9, 12), at(9, 13)),)),  # Monday: 540 worked, 60 overtime
        Session(0, 0, at(14, 9), at(14, 13)),  # Saturday: 240 at 200 %
        Session(0, 0, at(1, 9, month=10), at(1, 11, month=10)),  # National Day: 120 at 300 %
    ]
    prior = {0: PriorWork(as_of=date(2026, 11, 1), month_overtime_minutes=1900)}
    rows = overtime_by_month(actual_overtime_by_day(sessions, {0: CHINA_STANDARD}, CHINA_2026, SH, prior))
    october, november = rows
    assert (october.month, october.holiday, october.total, october.over_cap) == (10, 120, 120, False)
    assert (november.workday, november.rest_day, november.prior) == (60, 240, 1900)
    assert november.total == 2200 and november.remaining == -40 and november.over_cap


def test_actual_overtime_by_day_by_hand() -> None:
    """China standard hours: 8 normal hours a day, 3 hours of overtime at most a day, 36 h a month."""
    sessions = [
        Session(0, 0, at(9, 9), at(9, 19), ((at(9, 12), at(9, 13)),)),  # Monday: 540 worked, 60 over
        Session(0, 0, at(10, 8), at(10, 20), ((at(10, 12), at(10, 13)),)),  # Tuesday: 660, a full 180 over
        Session(0, 0, at(14, 9), at(14, 13)),  # Saturday, a rest day: all 240 at 200 %
        Session(1, 0, at(9, 9), at(9, 13)),  # another agent: 4 hours, no overtime
    ]
    prior = {0: PriorWork(as_of=date(2026, 11, 1), month_overtime_minutes=1900)}
    rows = actual_overtime_by_day(sessions, {0: CHINA_STANDARD, 1: CHINA_STANDARD}, CHINA_2026, SH, prior)
    got = [(r.agent, r.day.day, r.kind, r.worked, r.normal, r.overtime, r.month_to_date) for r in rows]
    assert got == [
        (0, 9, "workday", 540, 480, 60, 1960),
        (0, 10, "workday", 660, 480, 180, 2140),
        (0, 14, "rest_day", 240, 0, 240, 2380),
        (1, 9, "workday", 240, 240, 0, 0),
    ]
    monday, tuesday, saturday, other = rows
    assert (monday.workday, saturday.rest_day, saturday.workday) == (60, 240, 0)
    assert monday.day_share == pytest.approx(60 / 180) and tuesday.day_share == 1.0
    assert saturday.day_share == pytest.approx(240 / 180)  # rest-day work beyond the day's cap
    assert tuesday.month_share == pytest.approx(2140 / 2160) and saturday.month_share > 1.0
    assert other.day_share == 0.0 and other.month_share == 0.0
    # The months are these days summed: the same computation.
    (november, _) = overtime_by_month(rows)
    assert (november.workday, november.rest_day, november.prior, november.total) == (240, 240, 1900, 2380)


def test_actual_overtime_from_the_window_start_counts_the_days_not_worked() -> None:
    """Comprehensive hours by the month (174 h: 10,440 minutes, 348 a day pro rata in November's 30 days), an
    agent whose first session of the month is on the 21st: eight hours a day, the 21st to the 30th.

    Without START the days before its first session are taken as worked on pace (20 x 348 = 6,960): each
    day adds 480 against 348, so 132 minutes of overtime a day, 1,320 in all. From the window's start (the
    1st: the sessions are all it worked) it worked 10 x 480 = 4,800 of the month's 10,440: no overtime."""
    sessions = [Session(0, 0, at(d, 9), at(d, 17)) for d in range(21, 31)]
    rules = {0: CHINA_COMPREHENSIVE_MONTH}
    paced = actual_overtime_by_day(sessions, rules, CHINA_2026, SH)
    assert [r.overtime for r in paced] == [132] * 10 and paced[-1].month_to_date == 1320
    counted = actual_overtime_by_day(sessions, rules, CHINA_2026, SH, start=date(2026, 11, 1))
    assert [r.overtime for r in counted] == [0] * 10 and [r.normal for r in counted] == [480] * 10
    # From the 15th: on pace through the 14th (14 x 348 = 4,872), then 4,800 worked against the 16 days'
    # 5,568 (10,440 x 30 // 30 - 4,872): still none. Work through the 30th every day from the 15th instead:
    # 16 x 480 = 7,680 against 5,568, 2,112 over: recognised as it grows, 132 a day.
    assert [
        r.overtime for r in actual_overtime_by_day(sessions, rules, CHINA_2026, SH, start=date(2026, 11, 15))
    ] == [0] * 10
    daily = [Session(0, 0, at(d, 9), at(d, 17)) for d in range(15, 31)]
    from_15 = actual_overtime_by_day(daily, rules, CHINA_2026, SH, start=date(2026, 11, 15))
    assert sum(r.overtime for r in from_15) == 16 * 480 - (10440 - 14 * 348) == 2112


def test_interval_pieces_cut_at_the_quarter_hours() -> None:
    s = [Session(0, 0, at(9, 0, 10), at(9, 0, 40), ((at(9, 0, 20), at(9, 0, 25)),))]
    owner, t, seconds = interval_pieces(s, at(9, 0), 4)
    # 00:10-00:15 (300 s), 00:15-00:20 (300 s), then 00:25-00:30 (300 s) and 00:30-00:40 (600 s)
    assert owner.tolist() == [0, 0, 0, 0] and t.tolist() == [0, 1, 1, 2]
    assert seconds.tolist() == [300.0, 300.0, 300.0, 600.0]


def test_slot_seconds_are_the_time_outside_breaks_times_concurrency() -> None:
    lunch = ((at(9, 12), at(9, 13)), (at(9, 15), at(9, 15, 10)))
    assert slot_seconds(Session(0, 0, at(9, 9), at(9, 18), lunch, concurrency=3)) == (9 * 3600 - 4200) * 3
    assert slot_seconds(Session(0, None, at(9, 23), at(10, 1))) == 7200.0  # over midnight, whole


def test_shop_pieces_are_the_cut_occupancy_and_scope_load_share() -> None:
    """The sessions on a shop of the grid only (a session on no shop and one on a shop past the grid are left
    out), cut at the quarter hours, with each piece's shop and concurrency; occupancy keeps the cut, and
    scope_load given it answers as when it cuts the sessions itself."""
    start = at(9, 0)
    sessions = [
        Session(0, None, at(9, 0), at(9, 0, 30)),
        Session(1, 1, at(9, 0, 10), at(9, 0, 20), concurrency=3),
        Session(2, 5, at(9, 0), at(9, 0, 15)),
        Session(3, 0, at(9, 0), at(9, 0, 15), ((at(9, 0, 5), at(9, 0, 10)),), concurrency=2),
    ]
    p = shop_pieces(sessions, start, 2, 2)
    assert p.chosen == [1, 3]
    assert p.owner.tolist() == [0, 0, 1, 1] and p.interval.tolist() == [0, 1, 0, 0]
    assert p.seconds.tolist() == [300.0, 300.0, 300.0, 300.0]
    assert p.shop.tolist() == [1, 1, 0, 0] and p.concurrency.tolist() == [3.0, 3.0, 2.0, 2.0]
    handle = np.array([[900.0, 600.0], [0.0, 900.0]])
    shops = occupancy(sessions, handle, start)
    assert shops.pieces is not None and shops.pieces.chosen == [1, 3]
    assert shops.logged_in_seconds.tolist() == [[600.0, 300.0], [0.0, 300.0]]
    groups = [(0,), (1, 9), (2,), (3, 9)]
    given = scope_load(sessions, shops.occupancy, start, groups, shops.pieces)
    cut = scope_load(sessions, shops.occupancy, start, groups)
    for name in ("scope", "interval", "handle_seconds", "capacity_seconds"):
        assert getattr(given, name).tolist() == getattr(cut, name).tolist()
    assert given.scope.tolist() == [1, 1, 3, 9, 9]


def test_scope_occupancy_by_hand() -> None:
    """The sessions of test_occupancy_by_hand, grouped: agents 0 and 1 (scopes 0 and 1) and a team of all
    three (scope 2); agent 2 alone is scope 3."""
    start = at(9, 0)
    sessions = [
        Session(0, 0, at(9, 0), at(9, 0, 15), concurrency=3),
        Session(1, 0, at(9, 0), at(9, 0, 30), ((at(9, 0, 20), at(9, 0, 25)),), concurrency=2),
        Session(2, 1, at(9, 0, 7) + timedelta(seconds=30), at(9, 0, 15), concurrency=2),
    ]
    handle = np.array([[3600.0, 850.0], [700.0, 0.0]])
    shops = occupancy(sessions, handle, start)
    load = scope_load(sessions, shops.occupancy, start, [(0, 2), (1, 2), (3, 2)])
    cells = {
        (g, t): (h, c)
        for g, t, h, c in zip(
            load.scope.tolist(),
            load.interval.tolist(),
            load.handle_seconds.tolist(),
            load.capacity_seconds.tolist(),
            strict=True,
        )
    }
    # Agent 0: 2,700 chat-seconds on shop 0 at its 80 %.
    assert cells[0, 0] == pytest.approx((2160.0, 2700.0))
    # Agent 1: 1,800 chat-seconds at 80 %, then 1,200 at 700 / 1,200.
    assert cells[1, 0] == pytest.approx((1440.0, 1800.0)) and cells[1, 1] == pytest.approx((700.0, 1200.0))
    # The team: 2,160 + 1,440 + 850 handled over 2,700 + 1,800 + 900 chat-seconds; then agent 1 alone.
    assert cells[2, 0] == pytest.approx((4450.0, 5400.0)) and cells[2, 1] == pytest.approx((700.0, 1200.0))
    assert cells[3, 0] == pytest.approx((850.0, 900.0)) and (3, 1) not in cells
    occ = dict(
        zip(
            zip(load.scope.tolist(), load.interval.tolist(), strict=True),
            load.occupancy.tolist(),
            strict=True,
        )
    )
    assert occ[2, 0] == pytest.approx(4450 / 5400) and occ[3, 0] == pytest.approx(850 / 900)
    # Summed over the scopes that partition the sessions, the handle time is the shops'.
    assert sum(h for (g, _), (h, _) in cells.items() if g != 2) == pytest.approx(handle.sum())
