"""Rate books: the version in force on a day, never overwritten."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.finance.rates import (
    LoadedHourlyCost,
    NoRateInForce,
    OverheadRule,
    OvertimeMultipliers,
    RateBook,
    Version,
    hourly_from_monthly,
)
from service.seating.calendar import PayClass

D = Decimal


def test_version_in_force_by_day():
    book = RateBook([(date(2026, 1, 1), D("30")), (date(2026, 7, 1), D("32")), (date(2026, 11, 11), D("35"))])
    assert book.in_force(date(2026, 1, 1)) == D("30")
    assert book.in_force(date(2026, 6, 30)) == D("30")
    assert book.in_force(date(2026, 7, 1)) == D("32")
    assert book.in_force(date(2026, 11, 10)) == D("32")
    assert book.in_force(date(2027, 5, 1)) == D("35")
    assert book.version_in_force(date(2026, 8, 1)) == Version(date(2026, 7, 1), D("32"))
    assert book.get(date(2025, 12, 31)) is None
    with pytest.raises(NoRateInForce):
        book.in_force(date(2025, 12, 31))


def test_versions_are_never_overwritten():
    book = RateBook([(date(2026, 1, 1), D("30"))])
    later = book.with_version(date(2026, 3, 1), D("31"))
    assert len(book) == 1 and len(later) == 2  # the old book is unchanged
    with pytest.raises(ValueError, match="never overwritten"):
        later.with_version(date(2026, 3, 1), D("99"))
    # Order of construction does not matter.
    assert RateBook([(date(2026, 3, 1), D("31")), (date(2026, 1, 1), D("30"))]) == later


def test_pieces_clip_versions_to_a_range():
    book = RateBook([(date(2026, 11, 1), "a"), (date(2026, 11, 11), "b"), (date(2026, 12, 1), "c")])
    assert book.pieces(date(2026, 11, 1), date(2026, 11, 30)) == [
        (date(2026, 11, 1), date(2026, 11, 10), "a"),
        (date(2026, 11, 11), date(2026, 11, 30), "b"),
    ]
    assert book.pieces(date(2026, 10, 20), date(2026, 11, 5)) == [(date(2026, 11, 1), date(2026, 11, 5), "a")]


@given(
    st.lists(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)), min_size=1, unique=True),
    st.dates(min_value=date(2019, 1, 1), max_value=date(2031, 1, 1)),
)
def test_in_force_is_the_latest_version_not_after_the_day(days, day):
    book = RateBook([(d, d) for d in days])
    eligible = [d for d in days if d <= day]
    assert book.get(day) == (max(eligible) if eligible else None)


def test_loaded_cost_and_components():
    cost = LoadedHourlyCost(wage=D("28.74"), social_insurance=D("8.91"), housing_fund=D("2.01"))
    assert cost.loaded == D("39.66")
    with pytest.raises(ValueError):
        LoadedHourlyCost(wage=D("-1"))
    # Exact to 50 digits: 5000 / 174 = 28.7356321839...
    assert abs(hourly_from_monthly(D("5000")) - D("28.73563218390804597701149425287356321839080459770")) < D(
        "1e-45"
    )


def test_overtime_multipliers_and_overhead_rule():
    m = OvertimeMultipliers()
    assert (m.of("workday"), m.of(PayClass.rest_day), m.of("holiday")) == (D("1.5"), D("2"), D("3"))
    with pytest.raises(ValueError):
        m.of("weekend")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OvertimeMultipliers(workday=D("0.9"))
    with pytest.raises(ValueError):
        OverheadRule(D("1.5"))
