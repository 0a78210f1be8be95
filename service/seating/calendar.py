"""The holiday calendar (statutory holidays, the other days off of holiday blocks, make-up working days) and
the overtime pay classes.

A day is a workday, a rest day or a statutory holiday (`DayKind`). Outside an official calendar's lists,
Monday to Friday are workdays and weekends rest days; a holiday block's other days are rest days even on
weekdays, and its make-up working days (调休上班日) are workdays even on weekends.

Work beyond the normal day on a workday is paid at the workday class (150 %), any work on a rest day at
the rest-day class (200 %), any work on a statutory holiday at the holiday class (300 %) (Labour Law art.
44). The multipliers are data: `OVERTIME_MULTIPLIERS` is the default, and callers pass their own mapping
(finance versions them).

`CHINA_2026` is the State Council's 2026 calendar (notice of 2025-11-04). Since 2025 China has 13
statutory holiday days (New Year's Eve of the Spring Festival added, May Day two days).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Protocol


class DayKind(enum.StrEnum):
    workday = "workday"
    rest_day = "rest_day"
    holiday = "holiday"  # statutory holiday (法定节假日)


class PayClass(enum.StrEnum):
    workday = "workday"  # 150 %: beyond the normal day or week on a workday
    rest_day = "rest_day"  # 200 %: any work on a rest day
    holiday = "holiday"  # 300 %: any work on a statutory holiday


OVERTIME_MULTIPLIERS: Mapping[PayClass, Decimal] = MappingProxyType(
    {PayClass.workday: Decimal("1.5"), PayClass.rest_day: Decimal("2"), PayClass.holiday: Decimal("3")}
)

PAY_CLASS_OF_DAY: Mapping[DayKind, PayClass] = MappingProxyType(
    {
        DayKind.workday: PayClass.workday,
        DayKind.rest_day: PayClass.rest_day,
        DayKind.holiday: PayClass.holiday,
    }
)


def weekend_kind(day: date) -> DayKind:
    """The kind of a day with no holiday calendar: Saturday and Sunday rest, the others work."""
    return DayKind.rest_day if day.weekday() >= 5 else DayKind.workday


class DayCalendar(Protocol):
    """Anything that tells the kind of a day: a `HolidayCalendar` or a `CalendarBook`."""

    def kind(self, day: date) -> DayKind: ...


@dataclass(frozen=True)
class HolidayCalendar:
    """One year's official calendar."""

    year: int
    holidays: frozenset[date] = field(default_factory=frozenset)  # statutory days, 300 %
    days_off: frozenset[date] = field(default_factory=frozenset)  # other days of the blocks: rest days
    make_up_workdays: frozenset[date] = field(default_factory=frozenset)  # weekend days that are workdays

    def __post_init__(self) -> None:
        for name in ("holidays", "days_off", "make_up_workdays"):
            days: frozenset[date] = getattr(self, name)
            if not isinstance(days, frozenset):
                object.__setattr__(self, name, frozenset(days))
            if any(d.year != self.year for d in getattr(self, name)):
                raise ValueError(f"{name} must lie in {self.year}")
        if self.holidays & self.days_off or self.holidays & self.make_up_workdays:
            raise ValueError("a statutory holiday cannot also be a day off or a make-up workday")
        if self.days_off & self.make_up_workdays:
            raise ValueError("a day off cannot also be a make-up workday")
        if any(d.weekday() < 5 for d in self.make_up_workdays):
            raise ValueError("make-up workdays are weekend days")

    def covers(self, day: date) -> bool:
        return day.year == self.year

    def kind(self, day: date) -> DayKind:
        """The kind of `day`; days of other years follow the weekend rule."""
        if day in self.holidays:
            return DayKind.holiday
        if day in self.days_off:
            return DayKind.rest_day
        if day in self.make_up_workdays:
            return DayKind.workday
        return weekend_kind(day)

    def pay_class(self, day: date) -> PayClass:
        return PAY_CLASS_OF_DAY[self.kind(day)]

    @staticmethod
    def merge(*calendars: HolidayCalendar) -> CalendarBook:
        """The union of several years' calendars."""
        return CalendarBook.of(*calendars)


@dataclass(frozen=True)
class CalendarBook:
    """Calendars of several years; a year the book lacks follows the weekend rule (see `covers`)."""

    years: Mapping[int, HolidayCalendar]

    @staticmethod
    def of(*calendars: HolidayCalendar) -> CalendarBook:
        years: dict[int, HolidayCalendar] = {}
        for cal in calendars:
            if cal.year in years and years[cal.year] != cal:
                raise ValueError(f"two different calendars for {cal.year}")
            years[cal.year] = cal
        return CalendarBook(MappingProxyType(dict(sorted(years.items()))))

    def covers(self, day: date) -> bool:
        return day.year in self.years

    def kind(self, day: date) -> DayKind:
        cal = self.years.get(day.year)
        return cal.kind(day) if cal is not None else weekend_kind(day)

    def pay_class(self, day: date) -> PayClass:
        return PAY_CLASS_OF_DAY[self.kind(day)]


def _days(first: date, last: date) -> Iterable[date]:
    for i in range((last - first).days + 1):
        yield first + timedelta(days=i)


def holiday_calendar(
    year: int, blocks: Iterable[tuple[date, date, Iterable[date]]], make_up: Iterable[date]
) -> HolidayCalendar:
    """A calendar from its holiday blocks (first day, last day, the statutory days among them) and its
    make-up workdays: every day of a block that is not statutory is a rest day."""
    holidays: set[date] = set()
    off: set[date] = set()
    for first, last, statutory in blocks:
        stat = set(statutory)
        if any(not first <= d <= last for d in stat):
            raise ValueError("statutory days lie inside their block")
        holidays |= stat
        off |= set(_days(first, last)) - stat
    return HolidayCalendar(year, frozenset(holidays), frozenset(off), frozenset(make_up))


def _d(month: int, day: int) -> date:
    return date(2026, month, day)


CHINA_2026 = holiday_calendar(
    2026,
    [
        (_d(1, 1), _d(1, 3), [_d(1, 1)]),  # 元旦
        (_d(2, 15), _d(2, 23), [_d(2, 16), _d(2, 17), _d(2, 18), _d(2, 19)]),  # 春节: 除夕 and 初一-初三
        (_d(4, 4), _d(4, 6), [_d(4, 5)]),  # 清明
        (_d(5, 1), _d(5, 5), [_d(5, 1), _d(5, 2)]),  # 劳动节
        (_d(6, 19), _d(6, 21), [_d(6, 19)]),  # 端午
        (_d(9, 25), _d(9, 27), [_d(9, 25)]),  # 中秋
        (_d(10, 1), _d(10, 7), [_d(10, 1), _d(10, 2), _d(10, 3)]),  # 国庆
    ],
    make_up=[_d(1, 4), _d(2, 14), _d(2, 28), _d(5, 9), _d(9, 20), _d(10, 10)],
)
