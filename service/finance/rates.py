"""Versioned rates by effective date, never overwritten (DESIGN.md section 8).

A :class:`RateBook` holds the versions of one rate, each in force from its ``effective_from`` day until
the day before the next version's. Adding a version returns a new book; a second version on a day that
already has one is refused (a correction is a new version on a later day, so every figure finance ever
produced can be reproduced from the book). "The version in force on day D" is a bisect.

Rates kept in books (one book per agent, per site, and one for the overtime multipliers):

- :class:`LoadedHourlyCost` per agent: hourly wage, employer social insurance and housing fund; the
  loaded hourly cost is their sum. For a monthly-salaried agent the hourly wage is monthly / 174
  (:func:`hourly_from_monthly`), the statutory average of paid hours in a month.
- :class:`OvertimeMultipliers`: workday 1.5, rest day 2, statutory holiday 3 by default (the seating domain's
  ``OVERTIME_MULTIPLIERS``), versioned here by date. The pay classes are the seating domain's
  (:class:`service.seating.calendar.PayClass`: ``workday``, ``rest_day``, ``holiday``), and so is the pay
  class of a day (its holiday calendar, with make-up working days); finance never derives it.
- seat cost per seat-hour per site (site rent, equipment and licences), a plain Decimal.
- :class:`OverheadRule` per site: a management share of the site's direct cost (labour + seat), allocated
  to the shops of the site by their worked hours (see ``costing``).

:class:`CostRates` bundles the books the costing engine reads.

Public:

- ``Version[T](effective_from: date, value: T)``
- ``RateBook[T](versions: Iterable[Version[T] | tuple[date, T]] = ())``: ``.with_version(effective_from,
  value) -> RateBook[T]``, ``.in_force(day) -> T`` (raises :class:`NoRateInForce`),
  ``.version_in_force(day) -> Version[T]``, ``.get(day) -> T | None``, ``.versions``,
  ``.pieces(first, last) -> list[tuple[date, date, T]]`` (the versions covering a day range, clipped).
- ``NoRateInForce(LookupError)``
- ``LoadedHourlyCost(wage: Decimal, social_insurance: Decimal, housing_fund: Decimal)``, ``.loaded``
- ``hourly_from_monthly(monthly: Decimal) -> Decimal`` (exact; round only at a line)
- ``OvertimeMultipliers(workday=1.5, rest_day=2, holiday=3)``, ``.of(pay_class: PayClass | str)``
- ``OverheadRule(management_share: Decimal)``: e.g. Decimal("0.08") for 8 % of direct cost.
- ``CostRates(agent_costs, seat_costs, overhead, overtime)``
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Generic, TypeVar

from service.finance.money import EXACT, to_decimal
from service.finance.refs import Ref
from service.seating.calendar import OVERTIME_MULTIPLIERS, PayClass

T = TypeVar("T")
#: Statutory average paid hours per month (21.75 days x 8 h), the divisor of the hourly base.
MONTHLY_PAID_HOURS = Decimal(174)


class NoRateInForce(LookupError):
    """No version of a rate is in force on the day asked (the day precedes the first version)."""


@dataclass(frozen=True, slots=True)
class Version(Generic[T]):
    effective_from: date
    value: T


class RateBook(Generic[T]):
    """The versions of one rate by effective date; immutable."""

    __slots__ = ("_days", "_versions")

    def __init__(self, versions: Iterable[Version[T] | tuple[date, T]] = ()) -> None:
        items = [v if isinstance(v, Version) else Version(v[0], v[1]) for v in versions]
        items.sort(key=lambda v: v.effective_from)
        days = [v.effective_from for v in items]
        for a, b in zip(days, days[1:], strict=False):
            if a == b:
                raise ValueError(f"two versions take effect on {a}: a rate is never overwritten")
        self._versions: tuple[Version[T], ...] = tuple(items)
        self._days: list[date] = days

    @property
    def versions(self) -> tuple[Version[T], ...]:
        return self._versions

    def __len__(self) -> int:
        return len(self._versions)

    def __repr__(self) -> str:
        return f"RateBook({list(self._versions)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RateBook) and self._versions == other._versions

    def __hash__(self) -> int:
        return hash(self._versions)

    def with_version(self, effective_from: date, value: T) -> RateBook[T]:
        """A new book with one more version; refused on a day that already has one."""
        return RateBook([*self._versions, Version(effective_from, value)])

    def version_in_force(self, day: date) -> Version[T]:
        i = bisect.bisect_right(self._days, day)
        if i == 0:
            raise NoRateInForce(f"no version in force on {day}")
        return self._versions[i - 1]

    def in_force(self, day: date) -> T:
        """The value of the version in force on `day`: the latest with effective_from <= day."""
        return self.version_in_force(day).value

    def get(self, day: date) -> T | None:
        i = bisect.bisect_right(self._days, day)
        return self._versions[i - 1].value if i else None

    def pieces(self, first: date, last: date) -> list[tuple[date, date, T]]:
        """(from, to, value) for each version in force somewhere in [first, last], clipped to it.

        Days before the first version are not covered (a piece list may start after `first`).
        """
        if last < first:
            raise ValueError("last must not precede first")
        out: list[tuple[date, date, T]] = []
        start = bisect.bisect_right(self._days, first) - 1
        for i in range(max(start, 0), len(self._versions)):
            begin = self._days[i]
            if begin > last:
                break
            end = self._days[i + 1] - timedelta(days=1) if i + 1 < len(self._days) else last
            lo, hi = max(begin, first), min(end, last)
            if lo <= hi:
                out.append((lo, hi, self._versions[i].value))
        return out


def _non_negative(name: str, value: Decimal) -> Decimal:
    value = to_decimal(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0")
    return value


@dataclass(frozen=True, slots=True)
class LoadedHourlyCost:
    """An agent's cost per worked hour, CNY, by component; `loaded` is what labour cost uses."""

    wage: Decimal
    social_insurance: Decimal = Decimal(0)  # employer's share
    housing_fund: Decimal = Decimal(0)  # employer's share

    def __post_init__(self) -> None:
        for name in ("wage", "social_insurance", "housing_fund"):
            _non_negative(name, getattr(self, name))

    @property
    def loaded(self) -> Decimal:
        return self.wage + self.social_insurance + self.housing_fund


def hourly_from_monthly(monthly: Decimal) -> Decimal:
    """The hourly base of a monthly amount: monthly / 174, exact to 50 digits (round only at a line)."""
    with localcontext(EXACT):
        return to_decimal(monthly) / MONTHLY_PAID_HOURS


@dataclass(frozen=True, slots=True)
class OvertimeMultipliers:
    """Pay multipliers of overtime by the seating domain's pay classes (Labour Law art. 44: 150 %, 200 %,
    300 %); one field per PayClass, named by its value."""

    workday: Decimal = OVERTIME_MULTIPLIERS[PayClass.workday]
    rest_day: Decimal = OVERTIME_MULTIPLIERS[PayClass.rest_day]
    holiday: Decimal = OVERTIME_MULTIPLIERS[PayClass.holiday]

    def __post_init__(self) -> None:
        for pay_class in PayClass:
            if to_decimal(getattr(self, pay_class.value)) < 1:
                raise ValueError(f"overtime multiplier {pay_class.value} must be >= 1")

    def of(self, pay_class: PayClass | str) -> Decimal:
        try:
            value: Decimal = getattr(self, PayClass(pay_class).value)
        except ValueError:
            raise ValueError(f"unknown pay class {pay_class!r}") from None
        return value


@dataclass(frozen=True, slots=True)
class OverheadRule:
    """Management overhead of a site: `management_share` x the site's direct cost (labour + seat)."""

    management_share: Decimal

    def __post_init__(self) -> None:
        if not 0 <= to_decimal(self.management_share) <= 1:
            raise ValueError("management_share must be within 0..1")


@dataclass(frozen=True)
class CostRates:
    """The rate books the costing engine reads.

    agent_costs: per agent, the book of loaded hourly costs (missing on a worked day is an error).
    seat_costs: per site, the book of seat cost per seat-hour (missing on a worked day is an error).
    overhead: per site, the book of overhead rules; a site without a book, or a day before its first
      version, carries no overhead (overhead is optional, labour and seat cost are not).
    overtime: the book of overtime multipliers; by default the statutory ones since 2000-01-01.
    """

    agent_costs: Mapping[Ref, RateBook[LoadedHourlyCost]]
    seat_costs: Mapping[Ref, RateBook[Decimal]]
    overhead: Mapping[Ref, RateBook[OverheadRule]] = field(default_factory=dict)
    overtime: RateBook[OvertimeMultipliers] = field(
        default_factory=lambda: RateBook([Version(date(2000, 1, 1), OvertimeMultipliers())])
    )
