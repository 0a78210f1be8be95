"""Calendar months, the period of statements, costs and credits.

Days are local days in the shop's (or site's) timezone: the caller maps timestamps to local days (the SLA
domain's ``local_day_start`` and bucket functions do that); finance never sees a timestamp.

Public:

- ``Month(year: int, month: int)``: frozen, ordered. ``Month.of(day: date)``, ``Month.parse("2026-11")``,
  ``str(m) == "2026-11"``, ``m.first_day``, ``m.last_day``, ``m.days`` (count), ``m.each_day()``,
  ``m.shift(n)`` (n months later; negative for earlier), ``m.contains(day)``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError("month must be 1..12")
        if not 1 <= self.year <= 9999:
            raise ValueError("year must be 1..9999")

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
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

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
