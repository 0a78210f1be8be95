"""The rounding policy and the largest-remainder split."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.finance.money import (
    FEN,
    allocate,
    allocate_by,
    is_rounded,
    line_amount,
    round_line,
    round_rate,
    to_decimal,
)

D = Decimal


def test_round_line_is_half_up_to_the_fen():
    assert round_line(D("2.345")) == D("2.35")
    assert round_line(D("2.344999")) == D("2.34")
    assert round_line(D("-2.345")) == D("-2.35")  # half away from zero, so a credit rounds like a fee
    assert round_line(D("0.005")) == D("0.01")  # ROUND_HALF_EVEN would give 0.00
    assert round_line(D("10")) == D("10.00") and str(round_line(D("10"))) == "10.00"


def test_line_amount_rounds_once():
    # 3 x 0.335 = 1.005 -> 1.01; rounding the rate first (0.34) would give 1.02.
    assert line_amount(3, D("0.335")) == D("1.01")
    assert line_amount(D("2340"), D("38.5")) == D("90090.00")


def test_floats_are_refused():
    with pytest.raises(TypeError):
        to_decimal(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        line_amount(1, 0.1)  # type: ignore[arg-type]
    assert to_decimal("0.1") == D("0.1")


def test_round_rate_and_is_rounded():
    assert round_rate(D(10) / D(3)) == D("3.3333")
    assert is_rounded(D("1.20")) and not is_rounded(D("1.201"))


def test_allocate_reference_values():
    assert allocate(D("100"), [1, 1, 1]) == [D("33.34"), D("33.33"), D("33.33")]
    assert allocate(D("-100"), [1, 1, 1]) == [D("-33.34"), D("-33.33"), D("-33.33")]
    assert allocate(D("10.00"), [D("0.5"), D("0.3"), D("0.2")]) == [D("5.00"), D("3.00"), D("2.00")]
    # 0.05 over 2:1: exact shares 0.0333.. and 0.0166..: floors 3 and 1 fen, the leftover fen goes to the
    # larger remainder (the second part's 0.67 fen beats the first's 0.33).
    assert allocate(D("0.05"), [2, 1]) == [D("0.03"), D("0.02")]
    assert allocate(D("0"), [0, 0]) == [D("0.00"), D("0.00")]
    assert allocate(D("7"), [0, 3]) == [D("0.00"), D("7.00")]
    assert allocate_by(D("1.00"), {"a": 1, "b": 2}) == {"a": D("0.33"), "b": D("0.67")}


def test_allocate_refuses_what_cannot_be_split():
    with pytest.raises(ValueError):
        allocate(D("1"), [0, 0])
    with pytest.raises(ValueError):
        allocate(D("1"), [])
    with pytest.raises(ValueError):
        allocate(D("1"), [1, -1])


money = st.decimals(min_value=D("-1e9"), max_value=D("1e9"), places=4, allow_nan=False, allow_infinity=False)
weights = st.lists(
    st.decimals(min_value=D(0), max_value=D("1e6"), places=3, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=30,
).filter(lambda ws: sum(ws) > 0)


@settings(max_examples=200, deadline=None)
@given(money, weights)
def test_allocate_always_sums_to_the_rounded_total(total, ws):
    parts = allocate(total, ws)
    assert sum(parts) == round_line(total)
    assert all(p.as_tuple().exponent == -2 for p in parts)
    # Each part is within one fen of its exact share, and zero weights get nothing.
    exact_total = round_line(total)
    weight_sum = sum(ws)
    for p, w in zip(parts, ws, strict=True):
        assert abs(p - exact_total * w / weight_sum) < FEN
        if w == 0:
            assert p == 0


@settings(max_examples=100, deadline=None)
@given(money, weights)
def test_allocate_is_deterministic(total, ws):
    assert allocate(total, ws) == allocate(total, list(ws))


def test_a_line_amount_fits_the_database_column():
    from service.finance.lines import Line

    Line("base_fee", None, D(1), "month", D("999999999999.99"), D("999999999999.99"), "max")
    with pytest.raises(ValueError, match="numeric"):
        Line("base_fee", None, D(1), "month", D("1e12"), D("1000000000000.00"), "too much")
    with pytest.raises(ValueError, match="rounded"):
        Line("base_fee", None, D(1), "month", D("1.005"), D("1.005"), "unrounded")
