"""Contracts and the charge lines of a month (what Seatwise bills a brand).

A :class:`Contract` belongs to a brand and covers either all the brand's shops (``shop=None``) or one
shop; a shop contract takes that shop out of the brand contract. Its terms are versioned by effective
date (a :class:`~service.finance.rates.RateBook` of :class:`ContractTerms`); each version combines any of
these components (None = not in the contract):

| component       | unit         | quantity                                  | rate (ContractTerms field)  |
|-----------------|--------------|-------------------------------------------|-----------------------------|
| base_fee        | month        | 1 (the share of a starting month)         | monthly_base_fee            |
| dedicated_seats | seat-month   | ContractTerms.dedicated_seats (x share)   | dedicated_seat_monthly_rate |
| seat_hours      | seat-hour    | ShopUsage.seat_hours                      | seat_hour_rate              |
| conversations   | conversation | ShopUsage.handled_conversations           | per_conversation_rate       |
| gmv_commission  | CNY GMV      | ShopUsage.assisted_gmv (converted orders) | gmv_commission_share        |
| peak_surcharge  | seat-day     | ShopUsage.promotion_seat_days             | peak_surcharge_per_seat_day |

Every line is quantity x rate, rounded once (money.line_amount). The fixed components (base fee and the
seats the contract dedicates) are the contract's: brand-level (shop None) on a brand contract, the shop's
on a shop contract. Usage-based lines are per shop. Lines with a zero quantity are left out. Line order:
brand level first, then shops (refs.ref_order), then the table's order.

A contract change within a month: the version in force on the month's FIRST day governs the whole month;
a version taking effect on the 2nd or later first applies the following month. Why: usage arrives as
monthly totals, so pro-rating by days would split a quantity the data does not split (and invent
"2,340 x 11/30 seat-hours"); one rate per line keeps every line checkable as quantity x rate; and a
client can see on the statement which version was used. Amendments are therefore dated on the 1st.
The exception is a contract that starts within the month (no version in force on the 1st): its first
version applies, and its fixed components are pro-rated by the days in force (quantity = days / days of
the month, times the seats for dedicated seats, shown to 6 places; amount = rate x quantity before that
display rounding, exact, rounded once). Usage before the start does not exist, so no usage-based
component needs pro-rating. Ending a contract is a version with no
components, effective on a 1st.

Public:

- ``COMPONENTS``, ``UNITS`` (component -> unit)
- ``ContractTerms(seat_hour_rate=None, dedicated_seats=0, dedicated_seat_monthly_rate=None,
  per_conversation_rate=None, monthly_base_fee=None, gmv_commission_share=None,
  peak_surcharge_per_seat_day=None, credit_policy=None)``
- ``Contract(id, brand, terms: RateBook[ContractTerms], shop=None)``
- ``TermsInForce(terms, effective_from, days_in_force, days_in_month)``, ``.full_month``
- ``terms_for_month(contract, month) -> TermsInForce | None``
- ``ShopUsage(shop, seat_hours=0, seat_hours_source="attendance", handled_conversations=0, assisted_gmv=0,
  promotion_seat_days=0)``
- ``Usage(month: Month, shops: tuple[ShopUsage, ...])``, ``.of(shop)``
- ``billable_hours(minutes: int) -> Decimal``: minutes as hours to 0.01 h (ROUND_HALF_UP), the seat-hour
  quantity's precision, so that a seat-hour line stays checkable as quantity x rate.
- ``usage_from_segments(segments, month, *, handled_conversations=None, assisted_gmv=None,
  promotion_seat_days=None) -> Usage``: seat-hours from the same worked segments the costing reads, so
  revenue and cost rest on one set of hours.
- ``statement_lines(contract, usage, month) -> list[Line]``
- ``covered_shops(contracts, shops, month) -> dict[Ref, list[Ref]]``: contract id -> the shops it bills.
- ``brand_lines(contracts, usage, month) -> list[Line]``: every contract's lines for its shops.
- ``Line`` (re-exported from ``service.finance.lines``)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from service.finance.costing import WorkedSegment
from service.finance.credits import CreditPolicy
from service.finance.lines import Line, quantity_words
from service.finance.money import EXACT, line_amount, round_line, to_decimal
from service.finance.periods import Month
from service.finance.rates import RateBook
from service.finance.refs import Ref, find, ref_order

__all__ = [
    "COMPONENTS",
    "UNITS",
    "Contract",
    "ContractTerms",
    "Line",
    "ShopUsage",
    "TermsInForce",
    "Usage",
    "billable_hours",
    "brand_lines",
    "covered_shops",
    "statement_lines",
    "terms_for_month",
    "usage_from_segments",
]

COMPONENTS: tuple[str, ...] = (
    "base_fee",
    "seat_hours",
    "dedicated_seats",
    "conversations",
    "gmv_commission",
    "peak_surcharge",
)
UNITS: dict[str, str] = {
    "base_fee": "month",
    "seat_hours": "seat-hour",
    "dedicated_seats": "seat-month",
    "conversations": "conversation",
    "gmv_commission": "CNY GMV",
    "peak_surcharge": "seat-day",
}
_PRORATED_QUANTITY = Decimal("0.000001")


def _rate(name: str, value: Decimal | None) -> None:
    if value is not None and to_decimal(value) < 0:
        raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """One version of a contract's prices (CNY; the commission is a share of GMV, 0.015 = 1.5 %)."""

    seat_hour_rate: Decimal | None = None
    dedicated_seats: int = 0
    dedicated_seat_monthly_rate: Decimal | None = None
    per_conversation_rate: Decimal | None = None
    monthly_base_fee: Decimal | None = None
    gmv_commission_share: Decimal | None = None
    peak_surcharge_per_seat_day: Decimal | None = None
    credit_policy: CreditPolicy | None = None

    def __post_init__(self) -> None:
        for name in (
            "seat_hour_rate",
            "dedicated_seat_monthly_rate",
            "per_conversation_rate",
            "monthly_base_fee",
            "gmv_commission_share",
            "peak_surcharge_per_seat_day",
        ):
            _rate(name, getattr(self, name))
        if self.gmv_commission_share is not None and self.gmv_commission_share > 1:
            raise ValueError("gmv_commission_share must be within 0..1")
        if isinstance(self.dedicated_seats, bool) or not isinstance(self.dedicated_seats, int) or \
                self.dedicated_seats < 0:
            raise ValueError("dedicated_seats must be an int >= 0")


@dataclass(frozen=True, slots=True)
class Contract:
    id: Ref
    brand: Ref
    terms: RateBook[ContractTerms]
    shop: Ref | None = None  # None: every shop of the brand without a contract of its own


@dataclass(frozen=True, slots=True)
class TermsInForce:
    terms: ContractTerms
    effective_from: date
    days_in_force: int
    days_in_month: int

    @property
    def full_month(self) -> bool:
        return self.days_in_force == self.days_in_month


def terms_for_month(contract: Contract, month: Month) -> TermsInForce | None:
    """The version billing `month` (see the module docstring), or None if the contract has not started."""
    book = contract.terms
    if book.get(month.first_day) is not None:
        v = book.version_in_force(month.first_day)
        return TermsInForce(v.value, v.effective_from, month.days, month.days)
    for v in book.versions:
        if month.contains(v.effective_from):
            return TermsInForce(v.value, v.effective_from, month.days - v.effective_from.day + 1, month.days)
    return None


@dataclass(frozen=True, slots=True)
class ShopUsage:
    """A shop's billable quantities for a month (quantities only; prices are the contract's).

    seat_hours: billed seat-hours (see billable_hours); seat_hours_source: where they come from, in words
    ("attendance", "roster", "attendance and roster", "plan"). assisted_gmv: CNY of converted
    conversations' orders. promotion_seat_days: seat-days worked on the shop on promotion days (an agent
    working the shop on a promotion day is one).
    """

    shop: Ref
    seat_hours: Decimal = Decimal(0)
    seat_hours_source: str = "attendance"
    handled_conversations: int = 0
    assisted_gmv: Decimal = Decimal(0)
    promotion_seat_days: int = 0

    def __post_init__(self) -> None:
        for name in ("seat_hours", "assisted_gmv"):
            if to_decimal(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("handled_conversations", "promotion_seat_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0")


@dataclass(frozen=True, slots=True)
class Usage:
    month: Month
    shops: tuple[ShopUsage, ...]

    def __post_init__(self) -> None:
        keys = [str(s.shop) for s in self.shops]
        if len(set(keys)) != len(keys):
            raise ValueError("one ShopUsage per shop")

    def of(self, shop: Ref) -> ShopUsage | None:
        return find(self.shops, "shop", shop)


def billable_hours(minutes: int) -> Decimal:
    """Minutes as hours to 0.01 h, ROUND_HALF_UP: 100 min -> 1.67."""
    with localcontext(EXACT):
        return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def usage_from_segments(
    segments: Iterable[WorkedSegment],
    month: Month,
    *,
    handled_conversations: Mapping[Ref, int] | None = None,
    assisted_gmv: Mapping[Ref, Decimal] | None = None,
    promotion_seat_days: Mapping[Ref, int] | None = None,
) -> Usage:
    """A month's usage from the worked segments the costing reads (one source of hours for both sides).

    Seat-hours per shop are its worked minutes in `month` as billable_hours, their source in words
    ("attendance", "roster", or "attendance (2,100 h) and roster (240 h)"). Promotion seat-days are counted
    by the caller over the worked days (a segment may stand for several). Shops appear if they have
    segments or any of the other quantities.
    """
    minutes: dict[str, dict[str, int]] = defaultdict(lambda: {"attendance": 0, "roster": 0})
    shop_of: dict[str, Ref] = {}
    for seg in segments:
        if not month.contains(seg.day):
            continue
        key = str(seg.shop)
        shop_of[key] = seg.shop
        minutes[key][seg.source] += seg.minutes
    conversations = handled_conversations or {}
    gmv = assisted_gmv or {}
    seat_days = promotion_seat_days or {}
    for extra in (conversations, gmv, seat_days):
        for shop in extra:
            shop_of.setdefault(str(shop), shop)
    rows = []
    for key in sorted(shop_of, key=lambda k: ref_order(shop_of[k])):
        shop = shop_of[key]
        by_source = minutes.get(key, {"attendance": 0, "roster": 0})
        used = [(src, m) for src, m in by_source.items() if m]
        if len(used) == 2:
            source = " and ".join(f"{src} ({billable_hours(m):,f} h)" for src, m in used)
        else:
            source = used[0][0] if used else "no worked time"
        rows.append(
            ShopUsage(
                shop=shop,
                seat_hours=billable_hours(sum(by_source.values())),
                seat_hours_source=source,
                handled_conversations=conversations.get(shop, 0),
                assisted_gmv=to_decimal(gmv.get(shop, Decimal(0))),
                promotion_seat_days=seat_days.get(shop, 0),
            )
        )
    return Usage(month, tuple(rows))


def _line(component: str, shop: Ref | None, quantity: Decimal | int, rate: Decimal, source: str) -> Line:
    return Line(
        component=component,
        shop=shop,
        quantity=to_decimal(quantity),
        unit=UNITS[component],
        rate=rate,
        amount=line_amount(quantity, rate),
        source=source,
    )


def _shop_lines(terms: ContractTerms, u: ShopUsage) -> list[Line]:
    # (component, quantity, rate, the quantity's source in words) of each usage-based component.
    parts = (
        ("seat_hours", u.seat_hours, terms.seat_hour_rate,
         f"{quantity_words(u.seat_hours, 'seat-hour')} from {u.seat_hours_source}"),
        ("conversations", u.handled_conversations, terms.per_conversation_rate,
         f"{quantity_words(u.handled_conversations, 'conversation')} handled"),
        ("gmv_commission", u.assisted_gmv, terms.gmv_commission_share,
         f"CNY {u.assisted_gmv:,f} assisted GMV from converted conversations"),
        ("peak_surcharge", u.promotion_seat_days, terms.peak_surcharge_per_seat_day,
         f"{quantity_words(u.promotion_seat_days, 'seat-day')} on promotion days"),
    )
    return [_line(component, u.shop, q, rate, words) for component, q, rate, words in parts
            if rate is not None and q]


def _fixed_lines(contract: Contract, tif: TermsInForce, month: Month) -> list[Line]:
    """The base fee and the dedicated seats, pro-rated by the days in force in a starting month."""
    terms = tif.terms
    parts = (
        ("base_fee", Decimal(1), terms.monthly_base_fee, f"monthly base fee, {month}"),
        ("dedicated_seats", Decimal(terms.dedicated_seats), terms.dedicated_seat_monthly_rate,
         f"{quantity_words(terms.dedicated_seats, 'seat')} dedicated all month"),
    )
    out = []
    for component, seats, rate, words in parts:
        if rate is None or rate == 0 or seats == 0:
            continue
        if tif.full_month:
            out.append(_line(component, contract.shop, seats, rate, words))
            continue
        with localcontext(EXACT):
            share = seats * tif.days_in_force / tif.days_in_month
            amount = round_line(rate * share)
        out.append(Line(
            component=component,
            shop=contract.shop,
            quantity=share.quantize(_PRORATED_QUANTITY, rounding=ROUND_HALF_UP),
            unit=UNITS[component],
            rate=rate,
            amount=amount,
            source=f"{tif.days_in_force} of {tif.days_in_month} days in force from {tif.effective_from}",
        ))
    return out


def statement_lines(contract: Contract, usage: Usage, month: Month) -> list[Line]:
    """The charge lines of `contract` for `month`: a shop contract bills its shop's usage, a brand
    contract every shop in `usage` (pass only the shops it covers: see covered_shops / brand_lines)."""
    if usage.month != month:
        raise ValueError(f"usage of {usage.month} cannot bill {month}")
    tif = terms_for_month(contract, month)
    if tif is None:
        return []
    out = _fixed_lines(contract, tif, month)
    shops = [u for u in usage.shops if contract.shop is None or u.shop == contract.shop]
    for u in sorted(shops, key=lambda u: ref_order(u.shop)):
        out.extend(_shop_lines(tif.terms, u))
    return out


def covered_shops(contracts: Sequence[Contract], shops: Iterable[Ref], month: Month) -> dict[Ref, list[Ref]]:
    """Which contract bills which shop in `month`: its own shop contract in force, else the brand's.

    At most one contract per shop and one brand-wide contract may be in force; shops no contract covers
    are left out (they are not billed).
    """
    live = [c for c in contracts if terms_for_month(c, month) is not None]
    brand_wide = [c for c in live if c.shop is None]
    if len(brand_wide) > 1:
        raise ValueError(f"more than one brand-wide contract in force in {month}")
    own: dict[str, Contract] = {}
    for c in live:
        if c.shop is not None:
            if str(c.shop) in own:
                raise ValueError(f"more than one contract for shop {c.shop} in {month}")
            own[str(c.shop)] = c
    out: dict[Ref, list[Ref]] = {c.id: [] for c in live}
    for shop in sorted(set(shops), key=ref_order):
        chosen = own.get(str(shop)) or (brand_wide[0] if brand_wide else None)
        if chosen is not None:
            out[chosen.id].append(shop)
    return out


def brand_lines(contracts: Sequence[Contract], usage: Usage, month: Month) -> list[Line]:
    """All charge lines of a brand's month: each contract bills the shops it covers."""
    coverage = covered_shops(contracts, [u.shop for u in usage.shops], month)
    out: list[Line] = []
    for c in sorted(contracts, key=lambda c: ref_order(c.shop)):
        if c.id not in coverage:
            continue
        mine = set(map(str, coverage[c.id]))
        sub = Usage(month, tuple(u for u in usage.shops if str(u.shop) in mine))
        out.extend(statement_lines(c, sub, month))
    out.sort(key=lambda line: (ref_order(line.shop), COMPONENTS.index(line.component)))
    return out
