"""Calendar months, the period of statements, costs and credits.

Days are local days in the shop's (or site's) timezone. A month's days and its UTC span come from the
house's own calendar arithmetic (service.kit.time: ``month_start``, ``next_month``, ``local_days``); this
module only names the month and counts in months.

Public:

- ``Month(year: int, month: int)``: frozen, ordered. ``Month.of(day: date)``, ``Month.parse("2026-11")``,
  ``str(m) == "2026-11"``, ``m.first_day``, ``m.after`` (the first day of the next month), ``m.last_day``,
  ``m.days`` (count), ``m.each_day()``, ``m.shift(n)`` (n months later; negative for earlier),
  ``m.contains(day)``, ``m.span(tz) -> (start, end)`` (UTC instants of the local month, end exclusive).
- ``months(first: Month, last: Month) -> list[Month]``: first to last, inclusive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from service.kit.time import local_days, month_start, next_month

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    def __hash__(self) -> int:  # a key of many a dict: cheaper than the generated tuple hash
        return self.year * 12 + self.month

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError("month must be 1..12")
        if not 1 <= self.year <= 9998:
            raise ValueError("year must be 1..9998")

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(text)
        if not match:
            raise ValueError(f"not a month (YYYY-MM): {text!r}")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return month_start(date(self.year, self.month, 1))

    @property
    def after(self) -> date:
        """The first day of the next month (the month's exclusive end)."""
        return next_month(self.first_day)

    @property
    def days(self) -> int:
        return (self.after - self.first_day).days

    @property
    def last_day(self) -> date:
        return self.after - timedelta(days=1)

    def contains(self, day: date) -> bool:
        return day.year == self.year and day.month == self.month

    def each_day(self) -> Iterator[date]:
        day = self.first_day
        for _ in range(self.days):
            yield day
            day += timedelta(days=1)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def span(self, tz: str | tzinfo) -> tuple[datetime, datetime]:
        """[start of the first local day, start of the next month's) in UTC."""
        return local_days(self.first_day, self.last_day, tz)


def months(first: Month, last: Month) -> list[Month]:
    """Every month from `first` to `last`, inclusive (empty when last precedes first)."""
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [first.shift(i) for i in range(max(count, 0))]
