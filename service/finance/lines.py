"""The statement line: the one shape every charge, credit and adjustment takes (and every export row).

A :class:`Line` is quantity x rate = amount, with the amount rounded once (money.round_line), and the
source of its quantity in words. Its :class:`LineKey` (component, shop, unit) is stable from one run to the
next and unique within a statement: adjustments link to the closed line they correct by it.

Kinds, and whether they count in a statement's total:

- "charge": a contract component (billing). Counts.
- "credit": an SLA service credit applied this month (credits). Negative. Counts.
- "credit_pending": a credit held for earn-back, shown on the statement of its breach month so the client
  sees it; it does not count until it is applied (a "credit" line on a later statement) or forgiven.
- "credit_forgiven": a held credit earned back; shown on the statement of the month that earned it back,
  with the amount that was forgiven; does not count.
- "adjustment": a correction, in an open period, of a line of a closed one (statements.adjustments):
  amount = recomputed - closed. Counts.

For charges, amount = round_line(quantity x rate). An adjustment's amount is recomputed minus closed
amount, its quantity the difference in quantity and its rate the recomputed rate (so quantity x rate
differs from the amount when the rate itself was corrected). A credit's quantity is its allocation
(the share of the at-risk pool), its unit names the pool ("share of 2026-11 pool", or "share of 2026-11
shop pool" when each shop has its own), its rate the pool, and its amount minus allocation x pool, scaled down
pro rata when the month's credits exceed the pool (the source words say so).

Public:

- ``LineKind``, ``LINE_KINDS``, ``COUNTED_KINDS``
- ``LineKey(component: str, shop: Ref | None, unit: str)``
- ``Line(component, shop, quantity, unit, rate, amount, source, kind="charge", corrects=None,
  corrects_month=None, reason=None)``, ``.key``, ``.counts``. An adjustment has a reason; one that corrects
  a closed line has ``corrects`` (that line's key) and ``corrects_month`` (its statement's month); one for
  a component the closed statement did not have has ``corrects=None`` and ``corrects_month`` set.
- ``quantity_words(quantity: Decimal | int, unit: str) -> str``: "2,340 seat-hours", "1 month".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from service.finance.money import NUMERIC_MAX, is_rounded, to_decimal
from service.finance.periods import Month
from service.finance.refs import Ref

LineKind = Literal["charge", "credit", "credit_pending", "credit_forgiven", "adjustment"]
LINE_KINDS: tuple[LineKind, ...] = ("charge", "credit", "credit_pending", "credit_forgiven", "adjustment")
COUNTED_KINDS: frozenset[LineKind] = frozenset({"charge", "credit", "adjustment"})

_PLURAL = {
    "seat-hour": "seat-hours",
    "seat-month": "seat-months",
    "conversation": "conversations",
    "month": "months",
    "seat-day": "seat-days",
    "seat": "seats",
}


@dataclass(frozen=True, slots=True)
class LineKey:
    """What a line is about, stable across recomputation: component, shop (None = brand level), unit."""

    component: str
    shop: Ref | None
    unit: str

    def __str__(self) -> str:
        return f"{self.component}/{'brand' if self.shop is None else self.shop}/{self.unit}"


@dataclass(frozen=True, slots=True)
class Line:
    component: str
    shop: Ref | None
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal
    source: str
    kind: LineKind = "charge"
    corrects: LineKey | None = None  # adjustments: the closed line corrected (None: a new component)
    corrects_month: Month | None = None  # adjustments: the closed statement's month
    reason: str | None = None  # adjustments: the reason code

    def __post_init__(self) -> None:
        for name in ("quantity", "rate", "amount"):
            to_decimal(getattr(self, name))
        if not is_rounded(self.amount):
            raise ValueError(f"a line's amount is rounded to the fen: {self.amount}")
        if abs(self.amount) > NUMERIC_MAX:
            raise ValueError(f"a line's amount must fit numeric(14,2): {self.amount}")
        if self.kind not in LINE_KINDS:
            raise ValueError(f"kind must be one of {LINE_KINDS}")
        if self.kind == "adjustment" and (not self.reason or self.corrects_month is None):
            raise ValueError("an adjustment carries a reason and the month it corrects")
        if self.kind != "adjustment" and (self.corrects or self.corrects_month or self.reason):
            raise ValueError("only adjustments correct lines")

    @property
    def key(self) -> LineKey:
        return LineKey(self.component, self.shop, self.unit)

    @property
    def counts(self) -> bool:
        """Whether the amount counts in the statement's total (pending and forgiven credits do not)."""
        return self.kind in COUNTED_KINDS


def quantity_words(quantity: Decimal | int, unit: str) -> str:
    """A quantity with its unit, thousands separated: "2,340 seat-hours", "1 month", "0.50 seat-months"
    (to the hundredth, or every digit of a finer share)."""
    q = to_decimal(quantity)
    if q == q.to_integral_value():
        q = q.quantize(Decimal(1))
    elif q == q.quantize(Decimal("0.01")):  # to the hundredth as hours are (a stored numeric keeps zeros)
        q = q.quantize(Decimal("0.01"))
    else:
        q = q.normalize()
    plural = unit if q == 1 else _PLURAL.get(unit, unit)
    return f"{q:,f} {plural}"
