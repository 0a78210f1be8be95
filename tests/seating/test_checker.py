"""The independent checker: a hand-made roster breaking each rule, one test per rule, and check_shift."""

from __future__ import annotations

import numpy as np

from service.seating.problem import AgentHistory, Assignment, Shift
from service.seating.rules import RULES, LabourRules, check_roster, check_shift
from tests.seating.helpers import WEDNESDAY, agent, problem

A = Assignment


def good(start: int = 36, agent_index: int = 0, shop: int = 1) -> Shift:
    """09:00-17:30, a 30-minute break at 12:00, on shop `shop` outside the break."""
    return Shift(
        agent_index,
        0,
        start,
        start + 34,
        ((start + 12, start + 14),),
        (A(shop, start, start + 12), A(shop, start + 14, start + 34)),
    )


def rules_of(shifts: list[Shift], p=None) -> set[str]:
    p = p or problem([agent()])
    return {v.rule for v in check_roster(shifts, p)}


def test_a_good_roster_passes() -> None:
    p = problem([agent(), agent(id="b")])
    roster = [good(36 + 96 * d) for d in range(5)] + [good(36 + 96 * d, 1, 0) for d in range(5)]
    assert check_roster(roster, p) == []


def test_invalid_reference() -> None:
    assert "invalid_reference" in rules_of([good()._replace(agent=7)])
    assert "invalid_reference" in rules_of([good()._replace(assignments=(A(9, 36, 40),))])


def test_outside_window() -> None:
    assert rules_of([good(-4)]) >= {"outside_window"}


def test_home_site() -> None:
    assert rules_of([good()._replace(site=1)]) == {"home_site"}


def test_shift_length() -> None:
    assert rules_of([Shift(0, 0, 36, 44, (), (A(1, 36, 44),))]) == {"shift_length"}
    assert rules_of([Shift(0, 0, 36, 80, ((50, 52),), (A(1, 36, 50),))]) == {"shift_length"}  # 11 h


def test_meal_break_count() -> None:
    assert rules_of([Shift(0, 0, 36, 70, (), (A(1, 36, 70),))]) == {"meal_break_count"}
    three = ((44, 46), (50, 52), (56, 58))
    assert rules_of([Shift(0, 0, 36, 70, three, (A(1, 36, 44),))]) == {"meal_break_count"}


def test_meal_break_length() -> None:
    assert rules_of([Shift(0, 0, 36, 70, ((48, 49),), (A(1, 36, 48),))]) == {"meal_break_length"}
    assert rules_of([Shift(0, 0, 36, 70, ((48, 53),), (A(1, 36, 48),))]) == {"meal_break_length"}


def test_meal_break_window() -> None:
    # An hour into the shift (2 h needed), and ending 45 minutes before its end (1 h needed).
    assert rules_of([Shift(0, 0, 36, 70, ((40, 42),), (A(1, 42, 70),))]) == {"meal_break_window"}
    assert rules_of([Shift(0, 0, 36, 70, ((65, 67),), (A(1, 36, 65),))]) == {"meal_break_window"}


def test_break_outside_shift() -> None:
    assert "break_outside_shift" in rules_of([Shift(0, 0, 36, 70, ((48, 50), (69, 72)), (A(1, 36, 48),))])


def test_break_overlap() -> None:
    assert "break_overlap" in rules_of([Shift(0, 0, 36, 70, ((48, 51), (50, 52)), (A(1, 36, 48),))])


def test_assignment_outside_shift() -> None:
    assert rules_of([good()._replace(assignments=(A(1, 36, 48), A(1, 50, 72)))]) == {
        "assignment_outside_shift"
    }


def test_assignment_in_break() -> None:
    assert rules_of([good()._replace(assignments=(A(1, 36, 70),))]) == {"assignment_in_break"}


def test_assignment_overlap() -> None:
    pieces = (A(1, 36, 48), A(0, 40, 48), A(1, 50, 70))
    assert rules_of([good()._replace(assignments=pieces)]) == {"assignment_overlap"}


def test_skills() -> None:
    p = problem([agent(("tmall",))])
    assert rules_of([good(shop=0)], p) == {"skills"}  # the KA shop needs its certificate
    assert rules_of([good(shop=2)], p) == {"skills"}  # and jd a jd agent


def test_unavailable() -> None:
    p = problem([agent(unavailable=((60, 64),))])
    assert rules_of([good()], p) == {"unavailable"}


def test_shift_overlap() -> None:
    assert "shift_overlap" in rules_of([good(36), good(50)])


def test_rest_between_shifts() -> None:
    # 09:00-17:30, then 01:30 next day: 8 hours of rest.
    assert rules_of([good(36), good(36 + 34 + 32)]) == {"rest_between_shifts"}
    # The last shift before the window ended at 02:00 on its first day: 7 hours before 09:00.
    p = problem([agent(history=AgentHistory(last_shift_end=8))])
    assert rules_of([good(36)], p) == {"rest_between_shifts"}


def test_daily_overtime_cap() -> None:
    # 00:00-04:00 and 15:00-23:30 (8 h worked): 12 h on one day, 11 h at most; rest between them is 11 h.
    early = Shift(0, 0, 0, 16, (), (A(1, 0, 16),))
    late = Shift(0, 0, 60, 94, ((72, 74),), (A(1, 60, 72), A(1, 74, 94)))
    assert rules_of([early, late]) == {"daily_overtime_cap"}


def test_monthly_overtime_cap() -> None:
    # 35 h of overtime earlier in November, then a 9.5-hour day (90 minutes beyond the normal day).
    p = problem([agent(history=AgentHistory(overtime_minutes_this_month=2100))])
    long_day = Shift(0, 0, 36, 76, ((50, 52),), (A(1, 36, 50), A(1, 52, 76)))
    assert rules_of([long_day], p) == {"monthly_overtime_cap"}
    assert rules_of([good()], p) == set()


def test_consecutive_days() -> None:
    p = problem([agent(history=AgentHistory(consecutive_days=6))])
    assert rules_of([good()], p) == {"consecutive_days"}
    assert rules_of([good(36 + 96)], p) == set()  # a day off first breaks the run
    # Wednesday to the next Tuesday: seven days in a row, five then two in each week.
    assert rules_of([good(36 + 96 * d) for d in range(2, 9)], problem([agent()], days=10)) == {
        "consecutive_days"
    }


def test_weekly_rest_days() -> None:
    # The window starts on Wednesday; Monday and Tuesday were worked; working Wednesday to Sunday too
    # leaves no rest day in the week (runs of days in a row allowed up to 7 here).
    rules = LabourRules(max_consecutive_days=7)
    p = problem([agent(rules=rules, history=AgentHistory(days_worked_this_week=2))], start=WEDNESDAY, days=5)
    assert rules_of([good(36 + 96 * d) for d in range(5)], p) == {"weekly_rest_days"}
    assert rules_of([good(36 + 96 * d) for d in range(4)], p) == set()


def test_seat_capacity_counts_agents_on_break() -> None:
    p = problem([agent(), agent(id="b")], seats=(1, 1))
    assert rules_of([good(36), good(36 + 34 + 50, 1)], p) == set()
    # The second agent's shift overlaps the first's break only: the seat is still held.
    overlap = Shift(1, 0, 48 - 34 + 2, 48 + 2, ((24, 26),), (A(1, 16, 24), A(1, 26, 50)))
    found = check_roster([good(36), overlap], p)
    assert {v.rule for v in found} == {"seat_capacity"}
    assert "intervals 36-50" in found[0].detail


def test_every_rule_has_a_test() -> None:
    tested = {name[len("test_") :] for name in globals() if name.startswith("test_")}
    missing = [r for r in RULES if not any(r in t for t in tested)]
    assert missing == ["seat_capacity"] or missing == [], missing


def test_check_shift_reports_only_what_the_move_adds() -> None:
    p = problem([agent(), agent(id="b")], seats=(1, 1))
    mine = [good(36 + 96 * d) for d in range(3)]
    assert check_shift(good(36 + 96 * 3), p, mine) == []
    too_soon = check_shift(good(96 * 2 + 70 + 32), p, mine)  # 8 hours after the third day's shift
    assert {v.rule for v in too_soon} == {"rest_between_shifts"}
    # The other agent holds the only seat from 09:00 on day 4.
    others = np.zeros((2, p.n_intervals), np.int64)
    others[0, 36 + 96 * 3 : 70 + 96 * 3] = 1
    seats = check_shift(good(36 + 96 * 3), p, mine, site_occupancy=others)
    assert {v.rule for v in seats} == {"seat_capacity"}
    # Seats counted from the existing shifts when no occupancy is given.
    assert {v.rule for v in check_shift(good(36 + 96 * 3), p, [*mine, good(36 + 96 * 3, 1)])} == {
        "seat_capacity"
    }
    # A day already over its cap without the move is not the move's fault.
    broken = [Shift(0, 0, 0, 16, (), (Assignment(1, 0, 16),)), Shift(0, 0, 60, 94, ((72, 74),), ())]
    assert {v.rule for v in check_shift(good(36 + 96 * 2), p, broken)} == set()
