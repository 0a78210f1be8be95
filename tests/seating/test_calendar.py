"""The holiday calendar: every date of the official 2026 calendar, the weekend rule, unions of years."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from service.seating.calendar import (
    CHINA_2026,
    OVERTIME_MULTIPLIERS,
    CalendarBook,
    DayKind,
    HolidayCalendar,
    PayClass,
)

D = date

STATUTORY = [
    D(2026, 1, 1),  # 元旦
    D(2026, 2, 16),
    D(2026, 2, 17),
    D(2026, 2, 18),
    D(2026, 2, 19),  # 除夕, 初一-初三
    D(2026, 4, 5),  # 清明
    D(2026, 5, 1),
    D(2026, 5, 2),  # 劳动节
    D(2026, 6, 19),  # 端午
    D(2026, 9, 25),  # 中秋
    D(2026, 10, 1),
    D(2026, 10, 2),
    D(2026, 10, 3),  # 国庆
]
BLOCKS = [
    (D(2026, 1, 1), D(2026, 1, 3)),
    (D(2026, 2, 15), D(2026, 2, 23)),
    (D(2026, 4, 4), D(2026, 4, 6)),
    (D(2026, 5, 1), D(2026, 5, 5)),
    (D(2026, 6, 19), D(2026, 6, 21)),
    (D(2026, 9, 25), D(2026, 9, 27)),
    (D(2026, 10, 1), D(2026, 10, 7)),
]
MAKE_UP = [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20), D(2026, 10, 10)]


def block_days() -> set[date]:
    out = set()
    for first, last in BLOCKS:
        out |= {first + timedelta(days=i) for i in range((last - first).days + 1)}
    return out


def test_thirteen_statutory_days() -> None:
    assert sorted(CHINA_2026.holidays) == STATUTORY
    assert len(CHINA_2026.holidays) == 13


@pytest.mark.parametrize("day", STATUTORY)
def test_statutory_days_are_holidays_at_300(day: date) -> None:
    assert CHINA_2026.kind(day) is DayKind.holiday
    assert CHINA_2026.pay_class(day) is PayClass.holiday


@pytest.mark.parametrize("day", sorted(block_days() - set(STATUTORY)))
def test_other_block_days_are_rest_days_even_on_weekdays(day: date) -> None:
    assert CHINA_2026.kind(day) is DayKind.rest_day


@pytest.mark.parametrize("day", MAKE_UP)
def test_make_up_weekend_days_are_workdays(day: date) -> None:
    assert day.weekday() >= 5
    assert CHINA_2026.kind(day) is DayKind.workday


def test_block_lengths() -> None:
    # 元旦 3, 春节 9, 清明 3, 劳动节 5, 端午 3, 中秋 3, 国庆 7 days off.
    assert [(last - first).days + 1 for first, last in BLOCKS] == [3, 9, 3, 5, 3, 3, 7]
    assert CHINA_2026.days_off | CHINA_2026.holidays == block_days()
    assert sorted(CHINA_2026.make_up_workdays) == MAKE_UP


def test_every_other_day_follows_the_weekend_rule() -> None:
    special = block_days() | set(MAKE_UP)
    day = D(2026, 1, 1)
    while day.year == 2026:
        if day not in special:
            expected = DayKind.rest_day if day.weekday() >= 5 else DayKind.workday
            assert CHINA_2026.kind(day) is expected, day
        day += timedelta(days=1)


def test_double_11_days_are_workdays() -> None:
    assert [CHINA_2026.kind(D(2026, 11, d)) for d in (9, 10, 11)] == [DayKind.workday] * 3


def test_multipliers_are_data() -> None:
    assert OVERTIME_MULTIPLIERS[PayClass.workday] == Decimal("1.5")
    assert OVERTIME_MULTIPLIERS[PayClass.rest_day] == Decimal("2")
    assert OVERTIME_MULTIPLIERS[PayClass.holiday] == Decimal("3")


def test_book_of_years() -> None:
    cal_2027 = HolidayCalendar(2027, holidays=frozenset({D(2027, 1, 1)}))
    book = HolidayCalendar.merge(CHINA_2026, cal_2027)
    assert isinstance(book, CalendarBook)
    assert book.kind(D(2026, 10, 1)) is DayKind.holiday
    assert book.kind(D(2027, 1, 1)) is DayKind.holiday
    assert book.kind(D(2028, 1, 1)) is DayKind.rest_day  # a Saturday, no calendar: weekend rule
    assert book.covers(D(2027, 6, 1)) and not book.covers(D(2028, 6, 1))
    with pytest.raises(ValueError):
        CalendarBook.of(cal_2027, HolidayCalendar(2027))


def test_calendar_validation() -> None:
    with pytest.raises(ValueError):
        HolidayCalendar(2026, holidays=frozenset({D(2025, 12, 31)}))
    with pytest.raises(ValueError):
        HolidayCalendar(2026, make_up_workdays=frozenset({D(2026, 1, 5)}))  # a Monday
    with pytest.raises(ValueError):
        HolidayCalendar(2026, holidays=frozenset({D(2026, 1, 1)}), days_off=frozenset({D(2026, 1, 1)}))
