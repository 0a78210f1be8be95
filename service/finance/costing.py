"""Cost of service per shop and month: labour, seat and overhead, with the quantities behind them.

Input is the worked time, as :class:`WorkedSegment` rows: one agent's minutes on one shop at one site on
one local day, with the overtime minutes among them by the seating domain's pay classes, and the source of
the time ("attendance", else "roster": DESIGN.md section 8; the database read keeps roster time only for
agent-days without attendance). Splitting a shift over shops by the time spent on each (the assignments)
is the caller's, so labour is allocated to shops by the time each agent spent on each. A segment may also
stand for several days of one month over which no rate changes (the database sums them so): every figure
below is linear in minutes at fixed rates, so the lines come out the same, and `day` is the first of them.

Rules, per segment on day D (rates from :class:`~service.finance.rates.CostRates`, versions in force on D):

- labour base       = minutes / 60 x the agent's loaded hourly cost (wage + employer social insurance +
                      housing fund). Overtime minutes are part of `minutes`, so they carry this base too.
- overtime premium  = sum over pay classes of overtime minutes / 60 x (multiplier - 1) x the agent's hourly
                      WAGE component (not the loaded cost). Overtime pay is computed on the wage (Labour
                      Law art. 44, hourly base = monthly wage / 174); the employer's social insurance and
                      housing fund are assessed on a yearly contribution base fixed from last year's
                      average wage, so this month's overtime does not raise them.
- seat cost         = seat-hours x the site's seat cost per seat-hour; one working agent holds one seat,
                      so seat-hours = worked hours.
- overhead          = the site's management share in force on D x that day's direct cost (labour base +
                      premium + seat) at the site. The site's month of overhead is rounded once and then
                      allocated to the shops worked at the site by their worked minutes (largest remainder).

Amounts are exact until a :class:`CostLine`: labour base, overtime premium and seat cost of one (shop,
site, month) are each rounded once (money.round_line); labour = base + premium. Every rollup (shop, brand,
site) sums the same rounded lines, so shop, brand and site totals agree to the fen.

Public:

- ``Source = Literal["attendance", "roster"]``, ``SOURCES``
- ``WorkedSegment(agent, shop, site, day: date, minutes: int, overtime_minutes: Mapping[PayClass, int] = {},
  source: Source = "attendance")``
- ``CostFigures``: minutes, overtime_minutes (by pay class), minutes_by_source, labour_base,
  overtime_premium, seat, overhead; properties labour, total, hours, seat_hours; ``CostFigures.summed``.
- ``CostLine(CostFigures)``: (shop, site, month).
- ``cost_lines(segments: Iterable[WorkedSegment], rates: CostRates) -> list[CostLine]``
  (sorted by month, shop, site; raises rates.NoRateInForce naming the agent or site and day)
- ``CostTotals(CostFigures)``: a rollup by "shop", "brand" or "site" and month, with unit costs.
- ``rollup(lines, by, shop_brand=None, conversations=None) -> list[CostTotals]``
- ``unit_cost(total: Decimal, quantity: Decimal | int) -> Decimal | None``: rounded to 0.0001.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from typing import Any, Literal

from service.finance.money import EXACT, ZERO, allocate, round_line, round_rate, to_decimal
from service.finance.periods import Month
from service.finance.rates import CostRates, NoRateInForce, RateBook
from service.finance.refs import Ref, ref_order
from service.seating.calendar import PayClass

Source = Literal["attendance", "roster"]
SOURCES: tuple[Source, ...] = ("attendance", "roster")
RollupBy = Literal["shop", "brand", "site"]
_SIXTY = Decimal(60)


def _count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0")


@dataclass(frozen=True, slots=True)
class WorkedSegment:
    """One agent's worked minutes on one shop at one site on one local day (or a run of days of one month
    with the same rates, `day` the first).

    `overtime_minutes` are the overtime part of `minutes`, by pay class (their sum <= minutes).
    """

    agent: Ref
    shop: Ref
    site: Ref
    day: date
    minutes: int
    overtime_minutes: Mapping[PayClass, int] = field(default_factory=dict)
    source: Source = "attendance"

    def __post_init__(self) -> None:
        _count("minutes", self.minutes)
        for pay_class, m in self.overtime_minutes.items():
            if pay_class not in PayClass.__members__.values():
                raise ValueError(f"unknown pay class {pay_class!r}")
            _count("overtime minutes", m)
        if sum(self.overtime_minutes.values()) > self.minutes:
            raise ValueError("overtime minutes exceed the worked minutes")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}")


def _hours(minutes: int) -> Decimal:
    with localcontext(EXACT):
        return round_rate(Decimal(minutes) / _SIXTY)


def _by_class() -> dict[PayClass, int]:
    return dict.fromkeys(PayClass, 0)


def _by_source() -> dict[Source, int]:
    return dict.fromkeys(SOURCES, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostFigures:
    """Worked minutes and the rounded cost of them."""

    minutes: int
    overtime_minutes: Mapping[PayClass, int]
    minutes_by_source: Mapping[Source, int]
    labour_base: Decimal
    overtime_premium: Decimal
    seat: Decimal
    overhead: Decimal

    @property
    def labour(self) -> Decimal:
        return self.labour_base + self.overtime_premium

    @property
    def total(self) -> Decimal:
        return self.labour + self.seat + self.overhead

    @property
    def hours(self) -> Decimal:
        """Worked hours, to 0.0001 for display (amounts come from the exact minutes)."""
        return _hours(self.minutes)

    @property
    def seat_hours(self) -> Decimal:
        return self.hours

    @staticmethod
    def summed(items: Iterable[CostFigures]) -> dict[str, Any]:
        """The fields of the sum of several figures (keyword arguments for any CostFigures)."""
        overtime, by_source = _by_class(), _by_source()
        out: dict[str, Any] = {"minutes": 0, "labour_base": ZERO, "overtime_premium": ZERO, "seat": ZERO,
                               "overhead": ZERO}
        for c in items:
            for name in out:
                out[name] += getattr(c, name)
            for pc, m in c.overtime_minutes.items():
                overtime[pc] += m
            for src, m in c.minutes_by_source.items():
                by_source[src] += m
        return {**out, "overtime_minutes": overtime, "minutes_by_source": by_source}


@dataclass(frozen=True, slots=True, kw_only=True)
class CostLine(CostFigures):
    """Cost of one shop at one site in one month; every amount rounded once."""

    shop: Ref
    site: Ref
    month: Month


@dataclass
class _Acc:
    minutes: int = 0
    overtime: dict[PayClass, int] = field(default_factory=_by_class)
    by_source: dict[Source, int] = field(default_factory=_by_source)
    # Money x minutes: exact sums, divided by 60 once at the line.
    base: Decimal = Decimal(0)
    premium: Decimal = Decimal(0)
    seat: Decimal = Decimal(0)


def _in_force(books: Mapping[Ref, RateBook[Any]], key: Ref, day: date, what: str) -> Any:
    book = books.get(key)
    value = None if book is None else book.get(day)
    if value is None:
        raise NoRateInForce(f"no {what} on {day}")
    return value


def cost_lines(segments: Iterable[WorkedSegment], rates: CostRates) -> list[CostLine]:
    """Labour, seat and overhead per (shop, site, month) of the segments' days."""
    cells: dict[tuple[Ref, Ref, Month], _Acc] = defaultdict(_Acc)
    overhead: dict[tuple[Ref, Month], Decimal] = defaultdict(Decimal)
    with localcontext(EXACT):
        for seg in segments:
            month = Month.of(seg.day)
            day = seg.day
            cost = _in_force(rates.agent_costs, seg.agent, day, f"loaded hourly cost of agent {seg.agent}")
            seat_rate = _in_force(rates.seat_costs, seg.site, day, f"seat cost of site {seg.site}")
            multipliers = rates.overtime.in_force(seg.day)
            acc = cells[(seg.shop, seg.site, month)]
            base = seg.minutes * cost.loaded
            premium = sum(
                (m * (multipliers.of(pc) - 1) * cost.wage for pc, m in seg.overtime_minutes.items()),
                Decimal(0),
            )
            seat = seg.minutes * to_decimal(seat_rate)
            acc.minutes += seg.minutes
            acc.base += base
            acc.premium += premium
            acc.seat += seat
            acc.by_source[seg.source] += seg.minutes
            for pc, m in seg.overtime_minutes.items():
                acc.overtime[PayClass(pc)] += m
            book = rates.overhead.get(seg.site)
            rule = book.get(seg.day) if book is not None else None
            if rule is not None:
                overhead[(seg.site, month)] += rule.management_share * (base + premium + seat)

        # The site's overhead of the month, rounded once, then split over its shops by minutes.
        overhead_of: dict[tuple[Ref, Ref, Month], Decimal] = {}
        by_site: dict[tuple[Ref, Month], list[tuple[Ref, Ref, Month]]] = defaultdict(list)
        for key in cells:
            by_site[(key[1], key[2])].append(key)
        for (site, month), keys in by_site.items():
            keys.sort(key=lambda k: ref_order(k[0]))
            site_total = round_line(overhead.get((site, month), Decimal(0)) / _SIXTY)
            parts = allocate(site_total, [cells[k].minutes for k in keys])
            for k, part in zip(keys, parts, strict=True):
                overhead_of[k] = part

        out = [
            CostLine(
                shop=shop,
                site=site,
                month=month,
                minutes=acc.minutes,
                overtime_minutes=dict(acc.overtime),
                minutes_by_source=dict(acc.by_source),
                labour_base=round_line(acc.base / _SIXTY),
                overtime_premium=round_line(acc.premium / _SIXTY),
                seat=round_line(acc.seat / _SIXTY),
                overhead=overhead_of[(shop, site, month)],
            )
            for (shop, site, month), acc in cells.items()
        ]
    out.sort(key=lambda c: (c.month, ref_order(c.shop), ref_order(c.site)))
    return out


def unit_cost(total: Decimal, quantity: Decimal | int) -> Decimal | None:
    """total / quantity to 0.0001 (a unit figure, not an amount); None when the quantity is 0."""
    q = to_decimal(quantity)
    if q == 0:
        return None
    with localcontext(EXACT):
        return round_rate(total / q)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostTotals(CostFigures):
    """A rollup of cost lines by shop, brand or site and month.

    `conversations` (handled) is known per shop, so per brand too; a site's is None (a shop's
    conversations are not attributed to sites), and so is its cost per conversation.
    """

    by: RollupBy
    key: Ref
    month: Month
    conversations: int | None

    @property
    def cost_per_conversation(self) -> Decimal | None:
        return None if self.conversations is None else unit_cost(self.total, self.conversations)

    @property
    def cost_per_seat_hour(self) -> Decimal | None:
        with localcontext(EXACT):
            return unit_cost(self.total * _SIXTY, self.minutes) if self.minutes else None


def rollup(
    lines: Iterable[CostLine],
    by: RollupBy,
    shop_brand: Mapping[Ref, Ref] | None = None,
    conversations: Mapping[tuple[Ref, Month], int] | None = None,
) -> list[CostTotals]:
    """Sum cost lines per (key, month), key = the shop, its brand (needs `shop_brand`) or the site.

    `conversations` are handled conversations per (shop, month); shops missing from it count 0.
    """
    if by == "brand" and shop_brand is None:
        raise ValueError("a brand rollup needs shop_brand")
    groups: dict[tuple[Ref, Month], list[CostLine]] = defaultdict(list)
    for line in lines:
        if by == "shop":
            key = line.shop
        elif by == "site":
            key = line.site
        else:
            assert shop_brand is not None
            if line.shop not in shop_brand:
                raise KeyError(f"shop {line.shop} has no brand")
            key = shop_brand[line.shop]
        groups[(key, line.month)].append(line)
    out = []
    for (key, month), items in groups.items():
        convs: int | None = None
        if by != "site":
            shops = {c.shop for c in items}
            convs = sum((conversations or {}).get((s, month), 0) for s in shops)
        out.append(CostTotals(by=by, key=key, month=month, conversations=convs, **CostFigures.summed(items)))
    out.sort(key=lambda t: (t.month, ref_order(t.key)))
    return out
