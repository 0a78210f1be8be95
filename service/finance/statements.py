"""A brand's monthly statement, corrections of closed periods, statement numbers, and margins.

Lifecycle (DESIGN.md section 8; Lago's draft -> finalized, Kill Bill's never-edited committed invoices):
the database keeps a statement draft while its month is open, gives it a gapless number when it is
finalized, and freezes it when the month closes. This module is the arithmetic of each step:

- :func:`assemble_statement` / :func:`build_statement`: the lines of a month (charges from billing,
  credits from credits, adjustments) and their totals. Totals are sums of rounded lines, so
  ``subtotal + credits + adjustments == total`` and every total is the exact sum of its lines, to the fen.
  Pending and forgiven credits are shown but do not count (see lines.py).
- :func:`adjustments`: a closed statement is never edited. When its month is recomputed (late data, a
  corrected rate or breach), the differences become "adjustment" lines on the OPEN period's statement,
  each linked to the closed line it corrects by the line key (component, shop, unit) and the closed month,
  with a reason code: amount = recomputed - closed; a closed line that disappeared is reversed in full; a
  recomputed line with no closed counterpart is a new line (``corrects=None``). Unchanged lines (same
  quantity, rate and amount) produce nothing; a line whose amount is unchanged but whose quantity or rate
  changed produces a zero-amount adjustment, so the record shows the corrected quantity. Only lines that
  count (charges and applied credits) are compared; pending or forgiven credits and the closed
  statement's own adjustments (of earlier months) are not recomputed.
- :func:`format_number` / :func:`parse_number`: "SW-2026-000123" (the sequence is the database's).
- :func:`margins`: revenue by component, credits, adjustments, labour, seat, overhead, margin and margin %
  per shop, brand or site and month. Margin = revenue + credits + adjustments - labour - seat - overhead
  (credits are negative, as on the statement). Margin % = margin / revenue x 100 to 0.01, None when the
  revenue is 0. Brand-level lines (shop None) are spread over the brand's shops by worked minutes, and a
  shop's revenue over its sites by worked minutes (largest remainder, so the parts sum to the line); a
  brand with no worked minutes keeps them at shop None, a shop with no cost lines at site None.

Public:

- ``Statement(brand, month, lines: tuple[Line, ...], number: str | None = None, credit_terms=())``:
  ``.charges``, ``.subtotal`` (= charges), ``.credits``, ``.adjustments``, ``.total``, ``.pending_credits``,
  ``.forgiven_credits``, ``.counted_lines``, ``.line(key) -> Line | None``, ``.status`` ("draft" or
  "finalized"), ``.finalized(number) -> Statement``
- ``assemble_statement(brand, month, lines, credits=(), adjustment_lines=(), number=None) -> Statement``
- ``build_statement(brand, month, contracts, usage, breaches=(), held=(), observations=(),
  adjustment_lines=(), number=None) -> tuple[Statement, tuple[Credit, ...]]`` (the credits still held)
- ``REASON_CODES``; ``adjustments(closed_lines, recomputed_lines, reason, closed_month) -> list[Line]``
- ``format_number(year: int, sequence: int) -> str``; ``parse_number(text: str) -> tuple[int, int]``
- ``Margin``; ``margins(statements, costs, by, shop_brand, shops=None) -> list[Margin]``
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Literal, Protocol

from service.finance.billing import (
    COMPONENTS,
    Contract,
    Usage,
    covered_shops,
    statement_lines,
    terms_for_month,
)
from service.finance.credits import Breach, Credit, Observation, assess, resolve
from service.finance.lines import Line, LineKey, quantity_words
from service.finance.money import EXACT, ZERO, Summed, allocate
from service.finance.periods import Month
from service.finance.refs import Ref, ref_order

#: Known reason codes of adjustments; any lower_snake_case code is accepted.
REASON_CODES: tuple[str, ...] = (
    "late_data",  # usage or attendance that arrived after the close
    "rate_correction",  # a contract or cost rate corrected by a new version
    "breach_correction",  # the SLA domain corrected a breach
    "billing_error",  # a mistake on the statement itself
)
_REASON = re.compile(r"^[a-z][a-z0-9_]*$")
_NUMBER = re.compile(r"^SW-(\d{4})-(\d{6})$")
NUMBER_PREFIX = "SW"


@dataclass(frozen=True, slots=True)
class Statement:
    brand: Ref
    month: Month
    lines: tuple[Line, ...]
    number: str | None = None  # set when finalized
    credit_terms: tuple[Credit, ...] = ()  # the credits whose lines it shows (their terms, for earn-back)

    def __post_init__(self) -> None:
        own: set[LineKey] = set()
        fixes: set[tuple[Month | None, LineKey]] = set()
        for line in self.lines:
            if line.kind == "adjustment":
                key = (line.corrects_month, line.key)
                if key in fixes:
                    raise ValueError(f"two adjustments of {line.key} of {line.corrects_month}")
                fixes.add(key)
            else:
                # A held credit and its later application are on different statements; on one statement a
                # key appears once among its own lines.
                if line.key in own:
                    raise ValueError(f"two lines with the key {line.key}")
                own.add(line.key)
        if self.number is not None:
            parse_number(self.number)

    # Sums of the lines' amounts by kind (see lines.py for which count).
    charges = Summed("lines", "amount", lambda line: line.kind == "charge")
    credits = Summed("lines", "amount", lambda line: line.kind == "credit")  # applied, <= 0
    adjustments = Summed("lines", "amount", lambda line: line.kind == "adjustment")
    pending_credits = Summed("lines", "amount", lambda line: line.kind == "credit_pending")  # not counted
    forgiven_credits = Summed("lines", "amount", lambda line: line.kind == "credit_forgiven")  # not counted
    total = Summed("lines", "amount", lambda line: line.counts)

    @property
    def subtotal(self) -> Decimal:
        """The month's charges, before credits and adjustments."""
        return self.charges

    @property
    def counted_lines(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.counts)

    @property
    def status(self) -> Literal["draft", "finalized"]:
        """Draft until the database gives it a number (closing the month is the database's state)."""
        return "draft" if self.number is None else "finalized"

    def finalized(self, number: str) -> Statement:
        """The same statement with its number; a finalized statement is never numbered again."""
        if self.number is not None:
            raise ValueError(f"statement already finalized as {self.number}")
        return dataclasses.replace(self, number=number)

    def line(self, key: LineKey) -> Line | None:
        """The statement's own (non-adjustment) line with this key."""
        for line in self.lines:
            if line.kind != "adjustment" and line.key == key:
                return line
        return None


def assemble_statement(
    brand: Ref,
    month: Month,
    lines: Iterable[Line],
    credits: Iterable[Credit] = (),
    adjustment_lines: Iterable[Line] = (),
    number: str | None = None,
) -> Statement:
    """A statement from charge lines, credits (their lines) and adjustment lines, in that order."""
    charges = list(lines)
    if any(line.kind != "charge" for line in charges):
        raise ValueError("lines are charges; credits and adjustments have their own arguments")
    fixes = list(adjustment_lines)
    if any(line.kind != "adjustment" for line in fixes):
        raise ValueError("adjustment_lines are adjustments")
    shown = tuple(credits)
    return Statement(brand, month, (*charges, *(c.line() for c in shown), *fixes), number, shown)


def build_statement(
    brand: Ref,
    month: Month,
    contracts: Sequence[Contract],
    usage: Usage,
    breaches: Iterable[Breach] = (),
    held: Iterable[Credit] = (),
    observations: Iterable[Observation] = (),
    adjustment_lines: Iterable[Line] = (),
    number: str | None = None,
) -> tuple[Statement, tuple[Credit, ...]]:
    """The brand's statement of `month` from its contracts, usage, breaches and earlier held credits.

    Each contract bills the shops it covers (billing.covered_shops over the usage's and the breaches'
    shops) and assesses its own credit policy over its own charge lines and its shops' breaches. Returns
    the statement and the credits held after it (pass them as next month's `held`).
    """
    if any(c.brand != brand for c in contracts):
        raise ValueError("every contract must be the brand's")
    breach_list = [b for b in breaches if b.month == month]
    shops = {u.shop for u in usage.shops} | {b.shop for b in breach_list}
    coverage = covered_shops(contracts, shops, month)
    charges: list[Line] = []
    new: list[Credit] = []
    for contract in sorted(contracts, key=lambda c: ref_order(c.shop)):
        if contract.id not in coverage:
            continue
        mine = {str(s) for s in coverage[contract.id]}
        sub = Usage(month, tuple(u for u in usage.shops if str(u.shop) in mine))
        lines = statement_lines(contract, sub, month)
        charges.extend(lines)
        tif = terms_for_month(contract, month)
        if tif is not None and tif.terms.credit_policy is not None:
            mine_breaches = [b for b in breach_list if str(b.shop) in mine]
            new.extend(assess(tif.terms.credit_policy, month, lines, mine_breaches))
    resolved, still = resolve(held, month, observations)
    charges.sort(key=lambda line: (ref_order(line.shop), COMPONENTS.index(line.component)))
    statement = assemble_statement(brand, month, charges, (*resolved, *new), adjustment_lines, number)
    return statement, (*still, *(c for c in new if c.status == "pending"))


def adjustments(
    closed_lines: Iterable[Line], recomputed_lines: Iterable[Line], reason: str, closed_month: Month
) -> list[Line]:
    """Adjustment lines for the open period that bring a closed month's lines to their recomputed values.

    Ordered as the closed lines, then the new ones in the recomputed order.
    """
    if not _REASON.match(reason):
        raise ValueError("a reason code is lower_snake_case, e.g. 'late_data'")
    old = _by_key(closed_lines, "closed")
    new = _by_key(recomputed_lines, "recomputed")
    out: list[Line] = []
    for key, was in old.items():
        now = new.get(key)
        if now is None:
            out.append(
                _adjustment(
                    was,
                    -was.quantity,
                    was.rate,
                    -was.amount,
                    reason,
                    closed_month,
                    key,
                    f"{reason}: reverses {closed_month} {_describe(was)}",
                )
            )
        elif (now.quantity, now.rate, now.amount) != (was.quantity, was.rate, was.amount):
            with localcontext(EXACT):
                dq = now.quantity - was.quantity
            out.append(
                _adjustment(
                    now,
                    dq,
                    now.rate,
                    now.amount - was.amount,
                    reason,
                    closed_month,
                    key,
                    f"{reason}: {closed_month} {_describe(was)}, recomputed {_describe(now)}",
                )
            )
    for key, now in new.items():
        if key not in old:
            out.append(
                _adjustment(
                    now,
                    now.quantity,
                    now.rate,
                    now.amount,
                    reason,
                    closed_month,
                    None,
                    f"{reason}: {closed_month} new {_describe(now)} ({now.source})",
                )
            )
    return out


def _by_key(lines: Iterable[Line], side: str) -> dict[LineKey, Line]:
    out: dict[LineKey, Line] = {}
    for line in lines:
        if line.kind not in ("charge", "credit"):
            continue
        if line.key in out:
            raise ValueError(f"{side} lines have the key {line.key} twice")
        out[line.key] = line
    return out


def _describe(line: Line) -> str:
    # No rate: the words travel to the brand, which reads quantities and amounts, never rates.
    return f"{line.component} {quantity_words(line.quantity, line.unit)} = {line.amount:,f}"


def _adjustment(
    like: Line,
    quantity: Decimal,
    rate: Decimal,
    amount: Decimal,
    reason: str,
    closed_month: Month,
    corrects: LineKey | None,
    source: str,
) -> Line:
    return Line(
        component=like.component,
        shop=like.shop,
        quantity=quantity,
        unit=like.unit,
        rate=rate,
        amount=amount,
        source=source,
        kind="adjustment",
        corrects=corrects,
        corrects_month=closed_month,
        reason=reason,
    )


def format_number(year: int, sequence: int) -> str:
    """ "SW-2026-000123": the year of finalization and the database's gapless sequence of that year."""
    if not 1 <= year <= 9999:
        raise ValueError("year must be 1..9999")
    if not 1 <= sequence <= 999_999:
        raise ValueError("sequence must be 1..999999")
    return f"{NUMBER_PREFIX}-{year:04d}-{sequence:06d}"


def parse_number(text: str) -> tuple[int, int]:
    """(year, sequence) of "SW-2026-000123"; ValueError for anything else."""
    match = _NUMBER.match(text)
    if not match or int(match[2]) == 0:
        raise ValueError(f"not a statement number (SW-YYYY-NNNNNN): {text!r}")
    return int(match[1]), int(match[2])


# ---------------------------------------------------------------- margins

MarginBy = Literal["shop", "brand", "site"]
_PCT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Margin:
    """The figures of a shop, brand or site in a month; revenue, cost, margin and margin % (margin /
    revenue x 100 to 0.01, ROUND_HALF_UP; None without revenue) are derived once, when it is made."""

    by: MarginBy
    key: Ref | None  # None: brand-level revenue of a brand without worked minutes, or a shop without cost
    month: Month
    revenue_by_component: Mapping[str, Decimal]
    credits: Decimal  # <= 0
    adjustments: Decimal
    labour: Decimal
    seat: Decimal
    overhead: Decimal
    revenue: Decimal = field(init=False)
    cost: Decimal = field(init=False)
    margin: Decimal = field(init=False)
    margin_pct: Decimal | None = field(init=False)

    def __post_init__(self) -> None:
        revenue = sum(self.revenue_by_component.values(), ZERO)
        cost = self.labour + self.seat + self.overhead
        margin = revenue + self.credits + self.adjustments - cost
        pct = None if revenue == 0 else \
            EXACT.divide(EXACT.multiply(margin, 100), revenue).quantize(_PCT, context=EXACT)
        for name, value in (("revenue", revenue), ("cost", cost), ("margin", margin), ("margin_pct", pct)):
            object.__setattr__(self, name, value)


class CountedLine(Protocol):
    """What a margin reads of a statement line that counts (a charge, a credit, an adjustment)."""

    @property
    def kind(self) -> str: ...
    @property
    def component(self) -> str: ...
    @property
    def shop(self) -> Ref | None: ...
    @property
    def amount(self) -> Decimal: ...


class Costed(Protocol):
    """What a margin reads of a cost line: whose, where, which month, the minutes and the amounts."""

    @property
    def shop(self) -> Ref: ...
    @property
    def site(self) -> Ref: ...
    @property
    def month(self) -> Month: ...
    @property
    def minutes(self) -> int: ...
    @property
    def labour(self) -> Decimal: ...
    @property
    def seat(self) -> Decimal: ...
    @property
    def overhead(self) -> Decimal: ...


class Billed(Protocol):
    """What a margin reads of a statement: whose, which month, the lines that count."""

    @property
    def brand(self) -> Ref: ...
    @property
    def month(self) -> Month: ...
    @property
    def counted_lines(self) -> Sequence[CountedLine]: ...


@dataclass
class _Cell:
    revenue: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    credits: Decimal = ZERO
    adjustments: Decimal = ZERO
    labour: Decimal = ZERO
    seat: Decimal = ZERO
    overhead: Decimal = ZERO


def _add(cell: _Cell, line: CountedLine, amount: Decimal) -> None:
    if line.kind == "charge":
        cell.revenue[line.component] += amount
    elif line.kind == "credit":
        cell.credits += amount
    elif line.kind == "adjustment":
        cell.adjustments += amount


def _spread(amount: Decimal, weights: Mapping[Ref, int]) -> list[tuple[Ref | None, Decimal]]:
    keys = sorted(weights, key=ref_order)
    if not keys or sum(weights.values()) == 0:
        return [(None, amount)]
    parts = allocate(amount, [weights[k] for k in keys])
    return list(zip(keys, parts, strict=True))


def margins(
    statements: Iterable[Billed],
    costs: Iterable[Costed],
    by: MarginBy,
    shop_brand: Mapping[Ref, Ref],
    shops: Callable[[Ref], bool] | None = None,
) -> list[Margin]:
    """Margin per (shop | brand | site, month) from statements and cost lines of any months.

    Costs of a shop without a statement count too (cost with no revenue is a negative margin). With
    `shops`, only the shops it accepts count (a platform's, say): brand-level lines are spread over all the
    brand's shops first, so a shop keeps its share whatever the filter.
    """
    cost_list = list(costs)
    # Worked minutes: per (month, brand) by shop, and per (month, shop) by site.
    shop_minutes: dict[tuple[Month, str], dict[Ref, int]] = defaultdict(lambda: defaultdict(int))
    site_minutes: dict[tuple[Month, str], dict[Ref, int]] = defaultdict(lambda: defaultdict(int))
    for c in cost_list:
        if c.shop not in shop_brand:
            raise KeyError(f"shop {c.shop} has no brand")
        shop_minutes[(c.month, str(shop_brand[c.shop]))][c.shop] += c.minutes
        site_minutes[(c.month, str(c.shop))][c.site] += c.minutes

    # Cells are (month, brand, shop | None, site | None).
    cells: dict[tuple[Month, Ref, Ref | None, Ref | None], _Cell] = defaultdict(_Cell)
    for st in statements:
        for line in st.counted_lines:
            shop_parts: list[tuple[Ref | None, Decimal]]
            if line.shop is None:
                shop_parts = _spread(line.amount, shop_minutes.get((st.month, str(st.brand)), {}))
            else:
                shop_parts = [(line.shop, line.amount)]
            for shop, amount in shop_parts:
                if by == "site" and shop is not None:
                    for site, part in _spread(amount, site_minutes.get((st.month, str(shop)), {})):
                        _add(cells[(st.month, st.brand, shop, site)], line, part)
                else:
                    _add(cells[(st.month, st.brand, shop, None)], line, amount)
    for c in cost_list:
        cell = cells[(c.month, shop_brand[c.shop], c.shop, c.site if by == "site" else None)]
        cell.labour += c.labour
        cell.seat += c.seat
        cell.overhead += c.overhead

    groups: dict[tuple[Month, str], tuple[Ref | None, list[_Cell]]] = {}
    for (month, brand, shop, site), cell in cells.items():
        if shops is not None and (shop is None or not shops(shop)):
            continue
        key: Ref | None = brand if by == "brand" else shop if by == "shop" else site
        groups.setdefault((month, "" if key is None else f"k{key}"), (key, []))[1].append(cell)
    out = []
    for (month, _), (key, items) in groups.items():
        revenue: dict[str, Decimal] = defaultdict(Decimal)
        for cell in items:
            for component, amount in cell.revenue.items():
                revenue[component] += amount
        out.append(
            Margin(
                by=by,
                key=key,
                month=month,
                revenue_by_component=dict(sorted(revenue.items())),
                credits=sum((c.credits for c in items), ZERO),
                adjustments=sum((c.adjustments for c in items), ZERO),
                labour=sum((c.labour for c in items), ZERO),
                seat=sum((c.seat for c in items), ZERO),
                overhead=sum((c.overhead for c in items), ZERO),
            )
        )
    out.sort(key=lambda m: (m.month, ref_order(m.key)))
    return out


__all__ = [
    "NUMBER_PREFIX",
    "REASON_CODES",
    "Margin",
    "Statement",
    "adjustments",
    "assemble_statement",
    "build_statement",
    "format_number",
    "margins",
    "parse_number",
]
