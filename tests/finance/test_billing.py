"""Contracts: every component, the words of a line's source, and a contract changing within a month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.finance.billing import (
    Contract,
    ContractTerms,
    ShopUsage,
    Usage,
    billable_hours,
    brand_lines,
    covered_shops,
    statement_lines,
    terms_for_month,
)
from service.finance.lines import LineKey
from service.finance.periods import Month
from service.finance.rates import RateBook

D = Decimal
NOV = Month(2026, 11)

ALL = ContractTerms(
    seat_hour_rate=D("38.50"),
    dedicated_seats=4,
    dedicated_seat_monthly_rate=D("6800"),
    per_conversation_rate=D("0.35"),
    monthly_base_fee=D("20000"),
    gmv_commission_share=D("0.015"),
    peak_surcharge_per_seat_day=D("80"),
)


def contract(*versions: tuple[date, ContractTerms], shop: str | None = None, cid: str = "C1") -> Contract:
    return Contract(cid, "acme", RateBook(list(versions)), shop=shop)


USAGE = Usage(
    NOV,
    (
        ShopUsage(
            "tmall-flagship",
            seat_hours=D("2340"),
            handled_conversations=61_234,
            assisted_gmv=D("1234567.89"),
            promotion_seat_days=96,
        ),
        ShopUsage(
            "jd-store", seat_hours=D("412.25"), seat_hours_source="roster", handled_conversations=7_001
        ),
    ),
)


def test_every_component_is_quantity_times_rate_rounded_once():
    lines = statement_lines(contract((date(2026, 1, 1), ALL)), USAGE, NOV)
    got = {(line.component, line.shop): line for line in lines}
    base = got[("base_fee", None)]
    assert (base.quantity, base.unit, base.rate, base.amount) == (D(1), "month", D("20000"), D("20000.00"))
    seat = got[("seat_hours", "tmall-flagship")]
    assert (seat.unit, seat.amount) == ("seat-hour", D("90090.00"))
    assert seat.source == "2,340 seat-hours from attendance"
    assert got[("seat_hours", "jd-store")].amount == D("15871.63")  # 412.25 x 38.50 = 15871.625
    assert got[("seat_hours", "jd-store")].source == "412.25 seat-hours from roster"
    dedicated = got[("dedicated_seats", None)]  # the contract's seats: at its level, like the base fee
    assert (dedicated.unit, dedicated.amount) == ("seat-month", D("27200.00"))
    assert dedicated.source == "4 seats dedicated all month"
    conv = got[("conversations", "tmall-flagship")]
    assert (conv.unit, conv.amount) == ("conversation", D("21431.90"))
    assert conv.source == "61,234 conversations handled"
    gmv = got[("gmv_commission", "tmall-flagship")]
    # 1,234,567.89 x 1.5 % = 18,518.51835 -> 18,518.52
    assert (gmv.unit, gmv.rate, gmv.amount) == ("CNY GMV", D("0.015"), D("18518.52"))
    assert gmv.source == "CNY 1,234,567.89 assisted GMV from converted conversations"
    peak = got[("peak_surcharge", "tmall-flagship")]
    assert (peak.unit, peak.amount) == ("seat-day", D("7680.00"))
    assert peak.source == "96 seat-days on promotion days"
    # Zero quantities make no line (jd-store has no seats, GMV or promotion days).
    assert ("dedicated_seats", "jd-store") not in got and ("gmv_commission", "jd-store") not in got
    assert len(lines) == 8
    assert lines[0].shop is None  # brand level first
    assert all(line.kind == "charge" for line in lines)
    assert lines[2].key == LineKey("seat_hours", "jd-store", "seat-hour")  # the contract table's order


def test_only_the_contract_components_are_billed():
    per_conversation = ContractTerms(per_conversation_rate=D("0.40"))
    lines = statement_lines(contract((date(2026, 1, 1), per_conversation)), USAGE, NOV)
    assert [(line.component, line.shop, line.amount) for line in lines] == [
        ("conversations", "jd-store", D("2800.40")),
        ("conversations", "tmall-flagship", D("24493.60")),
    ]


def test_the_version_in_force_on_the_first_day_bills_the_month():
    old = ContractTerms(seat_hour_rate=D("35"), monthly_base_fee=D("10000"))
    new = ContractTerms(seat_hour_rate=D("40"), monthly_base_fee=D("12000"))
    c = contract((date(2026, 1, 1), old), (date(2026, 11, 11), new))
    nov = statement_lines(c, USAGE, NOV)
    assert {line.rate for line in nov if line.component == "seat_hours"} == {D("35")}
    assert [line.amount for line in nov if line.component == "base_fee"] == [D("10000.00")]
    dec_usage = Usage(Month(2026, 12), USAGE.shops)
    dec = statement_lines(c, dec_usage, Month(2026, 12))
    assert {line.rate for line in dec if line.component == "seat_hours"} == {D("40")}
    tif = terms_for_month(c, NOV)
    assert tif is not None and tif.full_month and tif.effective_from == date(2026, 1, 1)


def test_a_contract_starting_within_the_month_prorates_its_fixed_components():
    terms = ContractTerms(monthly_base_fee=D("30000"), seat_hour_rate=D("38.50"), dedicated_seats=2,
                          dedicated_seat_monthly_rate=D("6800"))
    c = contract((date(2026, 11, 11), terms))
    lines = statement_lines(c, USAGE, NOV)
    base, seats = (next(x for x in lines if x.component == k) for k in ("base_fee", "dedicated_seats"))
    # 20 of 30 days: 30,000 x 20 / 30 = 20,000.00; 2 seats x 20 / 30 = 1.333333 seat-months x 6,800.
    assert (base.quantity, base.amount) == (D("0.666667"), D("20000.00"))
    assert (seats.quantity, seats.amount) == (D("1.333333"), D("9066.67"))
    assert base.source == seats.source == "20 of 30 days in force from 2026-11-11"
    # Usage-based components are not pro-rated (no usage exists before the start).
    assert next(line for line in lines if line.shop == "tmall-flagship").amount == D("90090.00")
    assert statement_lines(c, Usage(Month(2026, 10), USAGE.shops), Month(2026, 10)) == []


def test_shop_contracts_take_their_shop_out_of_the_brand_contract():
    brand = contract((date(2026, 1, 1), ContractTerms(seat_hour_rate=D("38.50"), monthly_base_fee=D("1000"))))
    own = contract(
        (date(2026, 1, 1), ContractTerms(per_conversation_rate=D("0.30"))), shop="jd-store", cid="C2"
    )
    assert covered_shops([brand, own], ["tmall-flagship", "jd-store", "douyin"], NOV) == {
        "C1": ["douyin", "tmall-flagship"],
        "C2": ["jd-store"],
    }
    lines = brand_lines([brand, own], USAGE, NOV)
    assert [(line.component, line.shop) for line in lines] == [
        ("base_fee", None),
        ("conversations", "jd-store"),
        ("seat_hours", "tmall-flagship"),
    ]
    with pytest.raises(ValueError):
        covered_shops([brand, contract((date(2026, 1, 1), ALL), cid="C3")], ["x"], NOV)


def test_usage_and_terms_are_validated():
    with pytest.raises(ValueError):
        ContractTerms(seat_hour_rate=D("-1"))
    with pytest.raises(ValueError):
        ContractTerms(gmv_commission_share=D("1.5"))
    with pytest.raises(ValueError):
        ContractTerms(dedicated_seats=-1)
    with pytest.raises(ValueError):
        ShopUsage("s", handled_conversations=-1)
    with pytest.raises(ValueError):
        Usage(NOV, (ShopUsage("s"), ShopUsage("s")))
    with pytest.raises(ValueError):
        statement_lines(contract((date(2026, 1, 1), ALL)), USAGE, Month(2026, 12))


def test_billable_hours():
    assert billable_hours(100) == D("1.67")
    assert billable_hours(140_400) == D("2340.00")
