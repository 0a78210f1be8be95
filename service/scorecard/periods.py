"""Inclusive date periods and calendar months, the time unit every scorecard measure is taken over.

A :class:`Period` is ``[start, end]`` with both days included, in the scope's own timezone (the caller
converts timestamps to local dates before they reach these modules). Months are named by their first day.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Period:
    """The days ``start..end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlap(self, other: Period) -> Period | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Period(start, end) if start <= end else None

    @classmethod
    def month(cls, month: date) -> Period:
        """The calendar month containing ``month``."""
        return _month(month_start(month)) if cls is Period else cls._of_month(month_start(month))

    @classmethod
    def _of_month(cls, first: date) -> Period:
        return cls(first, first.replace(day=calendar.monthrange(first.year, first.month)[1]))

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@functools.lru_cache(maxsize=1024)
def _month(first: date) -> Period:
    """Period.month, once per month (a batch asks for the same few months thousands of times)."""
    return Period._of_month(first)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, months: int) -> date:
    """The first day of the month ``months`` after (or before, when negative) the month of ``month``."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def last_months(month: date, count: int = 12) -> tuple[date, ...]:
    """The ``count`` months ending with the month of ``month``, oldest first (a trend's months)."""
    return tuple(add_months(month, -i) for i in range(count - 1, -1, -1))
