"""Money: the one rounding policy of finance, and the split of a total into parts that sum exactly.

The policy (DESIGN.md section 5, the way Lago keeps amounts precise and rounds at the end):

- Money is :class:`~decimal.Decimal` in CNY, never float. The database column is numeric(14,2).
- Amounts stay exact while they are computed (sums of quantity x rate products, in :data:`EXACT`, a
  decimal context of 50 digits), and are rounded ONCE, at the line boundary, to the fen (0.01) with
  ROUND_HALF_UP: :func:`round_line`. A line's amount is final; totals are sums of rounded lines, so they
  never need rounding again and "lines sum to totals" holds by construction.
- Whenever one rounded amount is distributed over parts (overhead over shops, a brand-level fee over
  shops, a capped credit pool over breaches) the parts come from :func:`allocate`: largest remainder, so
  the rounded parts sum to the rounded total to the fen.
- Derived unit figures that are not amounts (cost per conversation, cost per seat-hour, a pro-rated
  quantity) are rounded with :func:`round_rate` to 0.0001, ROUND_HALF_UP. They are never summed into money.

Public:

- ``CURRENCY``, ``FEN``, ``RATE_QUANTUM``, ``ROUNDING``, ``ZERO``, ``EXACT``, ``NUMERIC_MAX``
- ``to_decimal(value: Decimal | int | str) -> Decimal``: refuses float (a float has already lost the fen).
- ``round_line(amount: Decimal) -> Decimal``: the policy, to the fen.
- ``line_amount(quantity: Decimal | int, rate: Decimal) -> Decimal``: ``round_line(quantity * rate)``.
- ``round_rate(value: Decimal) -> Decimal``: a derived unit figure to 0.0001.
- ``is_rounded(amount: Decimal) -> bool``: True when the amount has no digit below the fen.
- ``allocate(total: Decimal, weights: Sequence[Decimal | int]) -> list[Decimal]``
- ``allocate_by(total: Decimal, weights: Mapping[K, Decimal | int]) -> dict[K, Decimal]``
- ``split_units(total: int, weights: Sequence[int]) -> list[int]``: the same split for whole units (minutes
  of overtime over the shops of an agent's day).
- ``Summed(items: str, where=None)``: a read-only attribute that sums the same-named amount over the
  object's `items` (lines, shops), optionally only those `where` accepts: totals are sums of rounded parts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from fractions import Fraction
from typing import Any, TypeVar

CURRENCY = "CNY"
FEN = Decimal("0.01")
RATE_QUANTUM = Decimal("0.0001")
ROUNDING = ROUND_HALF_UP
ZERO = Decimal("0.00")
#: The largest amount numeric(14,2) holds.
NUMERIC_MAX = Decimal("999999999999.99")
#: Context for exact intermediate sums: 50 digits hold any numeric(14,2) x rate product without loss.
EXACT = Context(prec=50, rounding=ROUND_HALF_UP)

K = TypeVar("K", bound=Hashable)


def to_decimal(value: Decimal | int | str) -> Decimal:
    """A Decimal from a Decimal, an int or a decimal string; a float is refused (it cannot hold 0.1)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError("money and rates are Decimal, never float (or bool)")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        result = Decimal(value)
    else:
        raise TypeError(f"cannot make a Decimal of {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("money must be finite")
    return result


def round_line(amount: Decimal) -> Decimal:
    """The rounding policy: to the fen (0.01), ROUND_HALF_UP (-0.005 rounds to -0.01: half away from 0)."""
    if not isinstance(amount, Decimal):
        raise TypeError("round_line takes a Decimal")
    return amount.quantize(FEN, rounding=ROUNDING, context=EXACT)


def line_amount(quantity: Decimal | int, rate: Decimal) -> Decimal:
    """A line's amount: quantity x rate, exact, then rounded once."""
    with localcontext(EXACT):
        return round_line(to_decimal(quantity) * to_decimal(rate))


def round_rate(value: Decimal) -> Decimal:
    """A derived unit figure (cost per conversation, a pro-rated quantity) to 0.0001, ROUND_HALF_UP."""
    return value.quantize(RATE_QUANTUM, rounding=ROUNDING, context=EXACT)


def is_rounded(amount: Decimal) -> bool:
    """True when the amount is a whole number of fen."""
    return amount == amount.quantize(FEN, context=EXACT)


def allocate(total: Decimal, weights: Sequence[Decimal | int]) -> list[Decimal]:
    """Split `total` (rounded to the fen first) over parts in proportion to `weights`, by largest remainder.

    Each part gets the floor (in fen) of its exact share; the fen left over go one each to the parts with
    the largest remainders, ties to the earlier part, so the result is deterministic and sums exactly to
    the rounded total. A negative total is split as its magnitude and negated (a credit splits like a fee).
    Weights must be >= 0; all-zero weights are allowed only for a zero total.
    """
    fen_total = int(round_line(to_decimal(total)) / FEN)
    ws = _integral(weights)
    if any(w < 0 for w in ws):
        raise ValueError("weights must be >= 0")
    if not ws:
        if fen_total:
            raise ValueError("cannot allocate a non-zero total over no parts")
        return []
    weight_sum = sum(ws)
    if weight_sum == 0:
        if fen_total:
            raise ValueError("cannot allocate a non-zero total over zero weights")
        return [ZERO for _ in ws]
    sign = -1 if fen_total < 0 else 1
    magnitude = abs(fen_total)
    # Exact integer shares: floor(magnitude x w / sum) and the remainder that orders the leftover fen.
    floors, remainders = zip(*(divmod(magnitude * w, weight_sum) for w in ws), strict=True)
    parts = list(floors)
    left = magnitude - sum(parts)
    # Largest remainder first; on equal remainders the earlier part wins (stable and reproducible).
    order = sorted(range(len(ws)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        parts[i] += 1
    return [(Decimal(sign * f) * FEN).quantize(FEN) for f in parts]


def _integral(weights: Sequence[Decimal | int]) -> list[int]:
    """The weights as integers in the same proportions (Decimals scaled by a common power of ten)."""
    if all(type(w) is int for w in weights):
        return list(weights)  # type: ignore[arg-type]
    fractions = [Fraction(to_decimal(w)) for w in weights]
    scale = math.lcm(*(f.denominator for f in fractions)) if fractions else 1
    return [int(f * scale) for f in fractions]


def split_units(total: int, weights: Sequence[Decimal | int]) -> list[int]:
    """:func:`allocate` of a whole number of units (each counted as one fen): the parts sum to `total`."""
    return [int(part / FEN) for part in allocate(Decimal(total) * FEN, weights)]


def allocate_by(total: Decimal, weights: Mapping[K, Decimal | int]) -> dict[K, Decimal]:
    """:func:`allocate` over a mapping; ties go to the key met first in the mapping's order."""
    keys = list(weights)
    return dict(zip(keys, allocate(total, [weights[k] for k in keys]), strict=True))


class Summed:
    """A total attribute: ``labour = Summed("shops")`` is the sum of ``s.labour`` over ``self.shops``;
    ``Summed("lines", "amount", lambda x: x.kind == "credit")`` sums another attribute over some items."""

    def __init__(self, items: str, attribute: str | None = None,
                 where: Callable[[Any], bool] | None = None) -> None:
        self.items, self.attribute, self.where = items, attribute, where
        self.name = attribute or ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.attribute or name

    def __get__(self, obj: object, owner: type | None = None) -> Decimal:
        parts = getattr(obj, self.items)
        where = self.where
        return sum((getattr(p, self.name) for p in parts if where is None or where(p)), ZERO)
