"""Labour, seat and overhead cost per shop, site and month, by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.finance.costing import WorkedSegment, cost_lines, rollup, unit_cost
from service.finance.periods import Month
from service.finance.rates import CostRates, LoadedHourlyCost, NoRateInForce, OverheadRule, RateBook

D = Decimal
NOV = Month(2026, 11)
OCT = Month(2026, 10)


def rates(**extra_agents: RateBook[LoadedHourlyCost]) -> CostRates:
    return CostRates(
        agent_costs={
            "A": RateBook([(date(2026, 1, 1), LoadedHourlyCost(D("30"), D("9"), D("3")))]),  # loaded 42
            "B": RateBook([(date(2026, 1, 1), LoadedHourlyCost(D("20"), D("6"), D("2")))]),  # loaded 28
            **extra_agents,
        },
        seat_costs={
            "S1": RateBook([(date(2026, 1, 1), D("5"))]),
            "S2": RateBook([(date(2026, 1, 1), D("3"))]),
        },
        overhead={"S1": RateBook([(date(2026, 1, 1), OverheadRule(D("0.10")))])},
    )


SEGMENTS = [
    # Double 11 is a workday: 2 h of workday overtime at 150 %.
    WorkedSegment("A", "X", "S1", date(2026, 11, 11), 600, {"workday": 120}),
    WorkedSegment("A", "Y", "S1", date(2026, 11, 11), 120),
    # A Saturday: all rest-day overtime at 200 %.
    WorkedSegment("B", "X", "S1", date(2026, 11, 14), 480, {"rest_day": 480}, source="roster"),
    # National Day: statutory holiday at 300 %.
    WorkedSegment("B", "X", "S1", date(2026, 10, 1), 480, {"holiday": 480}),
]


def test_labour_with_overtime_premium_by_pay_class():
    lines = {(c.shop, c.month): c for c in cost_lines(SEGMENTS, rates())}
    x = lines[("X", NOV)]
    # Base: 600 min x 42/h = 420.00 and 480 min x 28/h = 224.00.
    assert x.labour_base == D("644.00")
    # Premium on the wage only: 120 min x 0.5 x 30/h = 30.00; 480 min x 1.0 x 20/h = 160.00.
    assert x.overtime_premium == D("190.00")
    assert x.labour == D("834.00")
    assert x.seat == D("90.00")  # 1,080 seat-minutes x 5/h
    assert x.minutes == 1080 and x.hours == D("18.0000")
    assert x.overtime_minutes == {"workday": 120, "rest_day": 480, "holiday": 0}
    assert x.minutes_by_source == {"attendance": 600, "roster": 480}
    y = lines[("Y", NOV)]
    assert (y.labour, y.seat) == (D("84.00"), D("10.00"))
    # Site overhead: 10 % x (834 + 90 + 84 + 10) = 101.80, split by minutes 1,080 : 120.
    assert (x.overhead, y.overhead) == (D("91.62"), D("10.18"))
    assert x.total == D("834.00") + D("90.00") + D("91.62")
    holiday = lines[("X", OCT)]
    # 480 min x 28/h = 224.00 base; premium 480 min x 2.0 x 20/h = 320.00 (300 % in all).
    assert (holiday.labour_base, holiday.overtime_premium, holiday.seat, holiday.overhead) == (
        D("224.00"),
        D("320.00"),
        D("40.00"),
        D("58.40"),
    )


def test_amounts_are_exact_until_the_line():
    # Three 1-minute segments at 30.30/h are 0.505 each: rounded each would be 1.53, exact 1.515 -> 1.52.
    r = rates(C=RateBook([(date(2026, 1, 1), LoadedHourlyCost(D("30.30")))]))
    segs = [WorkedSegment("C", "X", "S2", date(2026, 11, d), 1) for d in (2, 3, 4)]
    (line,) = cost_lines(segs, r)
    assert line.labour_base == D("1.52")


def test_the_rate_in_force_that_day_is_used():
    r = rates(
        C=RateBook(
            [(date(2026, 1, 1), LoadedHourlyCost(D("30"))), (date(2026, 11, 15), LoadedHourlyCost(D("36")))]
        )
    )
    segs = [
        WorkedSegment("C", "X", "S2", date(2026, 11, 14), 60),
        WorkedSegment("C", "X", "S2", date(2026, 11, 15), 60),
    ]
    (line,) = cost_lines(segs, r)
    assert line.labour_base == D("66.00")


def test_missing_rates_name_what_is_missing():
    with pytest.raises(NoRateInForce, match="agent Z"):
        cost_lines([WorkedSegment("Z", "X", "S1", date(2026, 11, 1), 60)], rates())
    with pytest.raises(NoRateInForce, match="site S9"):
        cost_lines([WorkedSegment("A", "X", "S9", date(2026, 11, 1), 60)], rates())
    with pytest.raises(NoRateInForce, match="2025-12-31"):
        cost_lines([WorkedSegment("A", "X", "S1", date(2025, 12, 31), 60)], rates())


def test_segments_are_validated():
    with pytest.raises(ValueError):
        WorkedSegment("A", "X", "S1", date(2026, 11, 1), 60, {"workday": 61})
    with pytest.raises(ValueError):
        WorkedSegment("A", "X", "S1", date(2026, 11, 1), 60, {"weekend": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        WorkedSegment("A", "X", "S1", date(2026, 11, 1), 60, source="guess")  # type: ignore[arg-type]


def test_a_run_of_days_with_the_same_rates_costs_what_its_days_cost():
    days = [WorkedSegment("A", "X", "S1", date(2026, 11, d), 500, {"workday": 20}) for d in (2, 3, 4)]
    (run,) = cost_lines([WorkedSegment("A", "X", "S1", date(2026, 11, 2), 1500, {"workday": 60})], rates())
    (each,) = cost_lines(days, rates())
    assert run == each


def test_rollups_by_brand_and_site_sum_the_same_lines():
    segs = [*SEGMENTS, WorkedSegment("A", "Z", "S2", date(2026, 11, 20), 90)]
    lines = cost_lines(segs, rates())
    brands = {"X": "acme", "Y": "acme", "Z": "zen"}
    convs = {("X", NOV): 500, ("Y", NOV): 40, ("Z", NOV): 30}
    by_brand = {(t.key, t.month): t for t in rollup(lines, "brand", brands, convs)}
    by_site = {(t.key, t.month): t for t in rollup(lines, "site")}
    by_shop = {(t.key, t.month): t for t in rollup(lines, "shop", conversations=convs)}
    nov = [c for c in lines if c.month == NOV]
    total = sum(c.total for c in nov)
    assert total == sum(t.total for (k, m), t in by_brand.items() if m == NOV)
    assert total == sum(t.total for (k, m), t in by_site.items() if m == NOV)
    acme = by_brand[("acme", NOV)]
    assert acme.total == by_shop[("X", NOV)].total + by_shop[("Y", NOV)].total
    assert acme.conversations == 540
    assert acme.cost_per_conversation == (acme.total / 540).quantize(D("0.0001"))
    assert by_site[("S1", NOV)].conversations is None and by_site[("S1", NOV)].cost_per_conversation is None
    # Z at S2: 90 min x 42/h = 63.00 labour, 90 min x 3/h = 4.50 seat, no overhead rule at S2.
    z = by_shop[("Z", NOV)]
    assert (z.labour, z.seat, z.overhead) == (D("63.00"), D("4.50"), D("0.00"))
    assert z.cost_per_seat_hour == D("45.0000")  # 67.50 / 1.5 h
    assert z.cost_per_conversation == D("2.2500")
    assert unit_cost(D("1"), 0) is None
    with pytest.raises(ValueError):
        rollup(lines, "brand")
