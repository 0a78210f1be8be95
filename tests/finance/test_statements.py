"""Statements: totals to the fen over random years, reproducible, adjustments, numbers, margins."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.finance.billing import Contract, ContractTerms, ShopUsage, Usage, covered_shops
from service.finance.costing import WorkedSegment, cost_lines
from service.finance.credits import Breach, CreditPolicy, MetricAllocation, Observation
from service.finance.lines import Line, LineKey
from service.finance.money import is_rounded, line_amount
from service.finance.periods import Month
from service.finance.rates import CostRates, LoadedHourlyCost, RateBook
from service.finance.statements import (
    Statement,
    adjustments,
    assemble_statement,
    build_statement,
    format_number,
    margins,
    parse_number,
)

D = Decimal
OCT, NOV = Month(2026, 10), Month(2026, 11)
METRICS = ("service_level", "response_rate_3min", "csat")


def charge(component: str, shop: str | None, quantity: str, unit: str, rate: str) -> Line:
    return Line(component, shop, D(quantity), unit, D(rate), line_amount(D(quantity), D(rate)), "test")


# ---------------------------------------------------------------- random years

rates = st.decimals(min_value=D("0"), max_value=D("500"), places=4, allow_nan=False, allow_infinity=False)
maybe_rate = st.none() | rates
share = st.decimals(min_value=D("0"), max_value=D("0.2"), places=3, allow_nan=False, allow_infinity=False)


@st.composite
def policies(draw: st.DrawFn) -> CreditPolicy | None:
    if draw(st.booleans()):
        return None
    parts = draw(st.lists(st.integers(0, 60), min_size=3, max_size=3))
    scale = max(100, sum(parts))
    earn_back = draw(st.integers(0, 3))
    allocations = tuple(
        MetricAllocation(
            m,
            D(p) / D(scale),
            earn_back_target=0.9 if earn_back and draw(st.booleans()) else None,
        )
        for m, p in zip(METRICS, parts, strict=True)
    )
    return CreditPolicy(
        draw(share),
        allocations,
        earn_back_months=earn_back,
        pool_scope=draw(st.sampled_from(["brand", "shop"])),
    )


@st.composite
def terms(draw: st.DrawFn) -> ContractTerms:
    commission = draw(st.none() | st.decimals(min_value=D(0), max_value=D("0.05"), places=4))
    return ContractTerms(
        seat_hour_rate=draw(maybe_rate),
        dedicated_seats=draw(st.integers(0, 8)),
        dedicated_seat_monthly_rate=draw(maybe_rate),
        per_conversation_rate=draw(maybe_rate),
        monthly_base_fee=draw(st.none() | st.decimals(min_value=D(0), max_value=D("50000"), places=2)),
        gmv_commission_share=commission,
        peak_surcharge_per_seat_day=draw(maybe_rate),
        credit_policy=draw(policies()),
    )


@st.composite
def years(draw: st.DrawFn) -> tuple[list[Contract], dict[Month, Usage], list[Breach], list[Observation]]:
    shops = [f"shop-{i}" for i in range(draw(st.integers(1, 4)))]
    days = draw(
        st.lists(st.dates(date(2025, 12, 1), date(2026, 12, 31)), min_size=1, max_size=3, unique=True)
    )
    contracts = [Contract("C1", "acme", RateBook([(d, draw(terms())) for d in days]))]
    if len(shops) > 1 and draw(st.booleans()):
        contracts.append(
            Contract("C2", "acme", RateBook([(date(2026, 1, 1), draw(terms()))]), shop=shops[-1])
        )
    months = [Month(2026, m) for m in range(1, 13)]
    usage = {}
    breaches, observations = [], []
    for m in months:
        rows = []
        for s in shops:
            rows.append(
                ShopUsage(
                    s,
                    seat_hours=draw(st.decimals(min_value=D(0), max_value=D("5000"), places=2)),
                    handled_conversations=draw(st.integers(0, 100_000)),
                    assisted_gmv=draw(st.decimals(min_value=D(0), max_value=D("3000000"), places=2)),
                    promotion_seat_days=draw(st.integers(0, 50)),
                )
            )
            for metric in METRICS:
                if draw(st.integers(0, 4)) == 0:
                    breaches.append(Breach(s, metric, m, 0.85, 0.7))
                observations.append(Observation(s, metric, m, draw(st.sampled_from([0.8, 0.95]))))
        usage[m] = Usage(m, tuple(rows))
    return contracts, usage, breaches, observations


def run_year(contracts, usage, breaches, observations) -> list[Statement]:  # type: ignore[no-untyped-def]
    held: tuple = ()  # type: ignore[type-arg]
    out = []
    for month in sorted(usage):
        statement, held = build_statement(
            "acme", month, contracts, usage[month], breaches, held, observations
        )
        out.append(statement)
    return out


def two_contracts_with_a_fen_pool_each():  # type: ignore[no-untyped-def]
    """The lost example, re-found with 20,000 examples (seed 2) and cut down: a brand contract (shop-0) and
    shop-1's own contract, each with a brand-scope pool of CNY 0.01 and one breach costing all of it. The
    statement shows two credits of -0.01 with the same unit and rate, from two pools."""
    policy = CreditPolicy(D("0.001"), (MetricAllocation("csat", D("1")),))
    terms_ = ContractTerms(monthly_base_fee=D("10.00"), credit_policy=policy)  # pool 0.1 % of 10.00 = 0.01
    jan = Month(2026, 1)
    contracts = [
        Contract("C1", "acme", RateBook([(date(2026, 1, 1), terms_)])),
        Contract("C2", "acme", RateBook([(date(2026, 1, 1), terms_)]), shop="shop-1"),
    ]
    usage = {jan: Usage(jan, (ShopUsage("shop-0"), ShopUsage("shop-1")))}
    breaches = [Breach(s, "csat", jan, 0.85, 0.7) for s in ("shop-0", "shop-1")]
    return contracts, usage, breaches, []


def pool_of(contracts: list[Contract], usage: Usage, breaches: list[Breach], line: Line) -> tuple[str, ...]:
    """Which pool a credit of `usage.month`'s breaches was taken from: its contract's (each contract
    assesses its own policy over its own charges), and within it the shop's when pools are per shop."""
    shops = {u.shop for u in usage.shops} | {b.shop for b in breaches if b.month == usage.month}
    coverage = covered_shops(contracts, shops, usage.month)
    (contract,) = [c for c, covered in coverage.items() if line.shop in covered]
    return (str(contract), str(line.shop)) if "shop pool" in line.unit else (str(contract),)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(years())
@example(two_contracts_with_a_fen_pool_each())
def test_a_year_of_statements_sums_to_the_fen_and_reruns_identically(year):
    contracts, usage, breaches, _ = year
    statements = run_year(*year)
    for s in statements:
        assert all(is_rounded(line.amount) for line in s.lines)
        assert s.subtotal == sum(line.amount for line in s.lines if line.kind == "charge")
        assert s.credits == sum(line.amount for line in s.lines if line.kind == "credit")
        assert s.total == s.subtotal + s.credits + s.adjustments
        assert s.total == sum(line.amount for line in s.lines if line.counts)
        assert s.credits <= 0 and s.pending_credits <= 0
        for line in s.lines:
            if line.kind == "charge" and "days in force" not in line.source:  # pro-rated base fees aside
                assert line.amount == line_amount(line.quantity, line.rate)
        # Credits of the month's own breaches never exceed their pool (applied or held alike). A pool is a
        # contract's (and a shop's, for shop pools): two contracts' pools can show the same unit and rate.
        pools: dict[tuple[str, ...], list[Line]] = defaultdict(list)
        for line in s.lines:
            if line.kind in ("credit", "credit_pending") and line.unit.startswith(f"share of {s.month} "):
                pools[pool_of(contracts, usage[s.month], breaches, line)].append(line)
        for credits in pools.values():
            (pool,) = {line.rate for line in credits}  # the credits of one pool name the same pool
            assert 0 <= -sum(line.amount for line in credits) <= pool
    assert run_year(*year) == statements


def test_each_contract_caps_its_own_pool():
    """Two contracts of one brand, two pools: shop-1's contract credits its own 0.01 pool, and the brand
    contract's two breaches (0.01 each, uncapped) share the brand contract's 0.01 pool."""
    contracts, usage, breaches, _ = two_contracts_with_a_fen_pool_each()
    jan = Month(2026, 1)
    usage = {jan: Usage(jan, (*usage[jan].shops, ShopUsage("shop-2")))}
    (s,) = run_year(contracts, usage, [*breaches, Breach("shop-2", "csat", jan, 0.85, 0.7)], [])
    credits = {line.shop: line for line in s.lines if line.kind == "credit"}
    assert {shop: (line.rate, line.amount) for shop, line in credits.items()} == {
        "shop-0": (D("0.01"), D("-0.01")),  # the brand contract's pool: largest remainder, the tie to
        "shop-2": (D("0.01"), D("0.00")),  # the earlier
        "shop-1": (D("0.01"), D("-0.01")),  # shop-1's contract's own pool
    }
    assert [shop for shop, line in credits.items() if "scaled to the pool" in line.source] == ["shop-2"]
    assert (s.subtotal, s.credits, s.total) == (D("20.00"), D("-0.02"), D("19.98"))


# ---------------------------------------------------------------- adjustments

CLOSED = [
    charge("base_fee", None, "1", "month", "20000"),
    charge("seat_hours", "X", "2340", "seat-hour", "38.50"),
    charge("conversations", "X", "61234", "conversation", "0.35"),
    charge("dedicated_seats", "X", "4", "seat-month", "6800"),
]


def test_adjustments_link_to_the_lines_they_correct():
    recomputed = [
        CLOSED[0],
        charge("seat_hours", "X", "2400", "seat-hour", "38.50"),  # late attendance: 60 more seat-hours
        CLOSED[2],
        charge("peak_surcharge", "X", "96", "seat-day", "80"),  # a component the closed month lacked
    ]  # and the dedicated seats are gone
    fixes = adjustments(CLOSED, recomputed, "late_data", OCT)
    assert [(f.component, f.corrects, f.quantity, f.amount) for f in fixes] == [
        ("seat_hours", LineKey("seat_hours", "X", "seat-hour"), D("60"), D("2310.00")),
        ("dedicated_seats", LineKey("dedicated_seats", "X", "seat-month"), D("-4"), D("-27200.00")),
        ("peak_surcharge", None, D("96"), D("7680.00")),
    ]
    assert all(f.kind == "adjustment" and f.reason == "late_data" and f.corrects_month == OCT for f in fixes)
    # The words name quantities and amounts, never a rate (a brand reads them).
    assert fixes[0].source == ("late_data: 2026-10 seat_hours 2,340 seat-hours = 90,090.00, "
                               "recomputed seat_hours 2,400 seat-hours = 92,400.00")
    # The open month carries them; its own line of the same component is a different line.
    nov = assemble_statement("acme", NOV, [charge("seat_hours", "X", "100", "seat-hour", "38.50")], (), fixes)
    assert nov.subtotal == D("3850.00")
    assert nov.adjustments == D("2310.00") - D("27200.00") + D("7680.00")
    assert nov.total == nov.subtotal + nov.adjustments


def test_nothing_changed_means_no_adjustment():
    assert adjustments(CLOSED, list(CLOSED), "late_data", OCT) == []
    # Same amount, corrected quantity and rate: a zero-amount adjustment records it.
    (fix,) = adjustments(CLOSED[:1], [charge("base_fee", None, "2", "month", "10000")], "billing_error", OCT)
    assert (fix.amount, fix.quantity, fix.rate) == (D("0.00"), D("1"), D("10000"))
    with pytest.raises(ValueError):
        adjustments(CLOSED, CLOSED, "Late Data", OCT)
    with pytest.raises(ValueError):
        adjustments([*CLOSED, CLOSED[0]], CLOSED, "late_data", OCT)


lines_strategy = st.lists(
    st.tuples(
        st.sampled_from(["seat_hours", "conversations", "base_fee", "gmv_commission"]),
        st.sampled_from([None, "X", "Y"]),
        st.decimals(min_value=D(0), max_value=D("10000"), places=2),
        st.decimals(min_value=D(0), max_value=D("100"), places=4),
    ),
    max_size=12,
    unique_by=lambda t: (t[0], t[1]),
)


def _lines(items) -> list[Line]:  # type: ignore[no-untyped-def]
    return [Line(c, s, q, "u", r, line_amount(q, r), "t") for c, s, q, r in items]


@settings(max_examples=80, deadline=None)
@given(lines_strategy, lines_strategy)
def test_closed_plus_adjustments_is_the_recomputed_month(closed_items, new_items):
    closed, new = _lines(closed_items), _lines(new_items)
    fixes = adjustments(closed, new, "late_data", OCT)
    amounts = {line.key: line.amount for line in closed}
    for f in fixes:
        if f.corrects is not None:
            assert f.corrects in amounts
        amounts[f.key] = amounts.get(f.key, D(0)) + f.amount
    expected = {line.key: line.amount for line in new}
    assert {k: v for k, v in amounts.items() if k in expected or v != 0} == expected
    assert sum(line.amount for line in closed) + sum(f.amount for f in fixes) == sum(
        line.amount for line in new
    )
    assert adjustments(new, new, "late_data", OCT) == []


def test_statement_refuses_two_lines_with_one_key():
    with pytest.raises(ValueError, match="two lines"):
        Statement("acme", NOV, (CLOSED[0], CLOSED[0]))
    with pytest.raises(ValueError):
        assemble_statement("acme", NOV, [], (), [CLOSED[0]])


# ---------------------------------------------------------------- numbers


def test_statement_numbers():
    assert format_number(2026, 123) == "SW-2026-000123"
    assert parse_number("SW-2026-000123") == (2026, 123)
    assert parse_number(format_number(2027, 999_999)) == (2027, 999_999)
    for bad in ("SW-2026-123", "SW-2026-000000", "sw-2026-000123", "SW-26-000123", "SW-2026-0001234"):
        with pytest.raises(ValueError):
            parse_number(bad)
    with pytest.raises(ValueError):
        format_number(2026, 0)
    with pytest.raises(ValueError):
        format_number(2026, 1_000_000)
    assert Statement("acme", NOV, (), "SW-2026-000001").number == "SW-2026-000001"
    draft = Statement("acme", NOV, tuple(CLOSED))
    final = draft.finalized(format_number(2026, 42))
    assert (draft.status, final.status, final.number, final.total) == (
        "draft",
        "finalized",
        "SW-2026-000042",
        draft.total,
    )
    with pytest.raises(ValueError, match="already finalized"):
        final.finalized("SW-2026-000043")
    with pytest.raises(ValueError):
        Statement("acme", NOV, (), "2026-1")


# ---------------------------------------------------------------- margins


def test_margins_per_shop_brand_and_site():
    rates_ = CostRates(
        agent_costs={"A": RateBook([(date(2026, 1, 1), LoadedHourlyCost(D("40")))])},
        seat_costs={
            "S1": RateBook([(date(2026, 1, 1), D("5"))]),
            "S2": RateBook([(date(2026, 1, 1), D("5"))]),
        },
    )
    costs = cost_lines(
        [
            WorkedSegment("A", "X", "S1", date(2026, 11, 2), 3 * 60),  # 120 labour + 15 seat
            WorkedSegment("A", "X", "S2", date(2026, 11, 3), 60),  # 40 + 5
            WorkedSegment("A", "Y", "S1", date(2026, 11, 4), 60),  # 40 + 5
            WorkedSegment("A", "Q", "S1", date(2026, 11, 5), 60),  # a shop of another brand, no statement
        ],
        rates_,
    )
    credit = Line(
        "sla_credit.csat", "X", D("0.3"), "share of 2026-11 pool", D("100"), D("-30.00"), "t", kind="credit"
    )
    statement = Statement(
        "acme",
        NOV,
        (
            charge("base_fee", None, "1", "month", "100"),  # spread 240 : 60 minutes -> 80 / 20
            charge("seat_hours", "X", "4", "seat-hour", "60"),  # 240.00
            charge("seat_hours", "Y", "1", "seat-hour", "60"),  # 60.00
            credit,
        ),
    )
    brands = {"X": "acme", "Y": "acme", "Q": "other"}
    by_shop = {m.key: m for m in margins([statement], costs, "shop", brands)}
    x = by_shop["X"]
    assert x.revenue_by_component == {"base_fee": D("80.00"), "seat_hours": D("240.00")}
    assert (x.revenue, x.credits, x.labour, x.seat, x.overhead) == (
        D("320.00"),
        D("-30.00"),
        D("160.00"),
        D("20.00"),
        D("0.00"),
    )
    assert x.margin == D("110.00") and x.margin_pct == D("34.38")  # 110 / 320
    q = by_shop["Q"]
    assert q.revenue == 0 and q.margin == D("-45.00") and q.margin_pct is None
    by_brand = {m.key: m for m in margins([statement], costs, "brand", brands)}
    assert (
        by_brand["acme"].revenue == D("400.00")
        and by_brand["acme"].margin == by_shop["X"].margin + by_shop["Y"].margin
    )
    by_site = {m.key: m for m in margins([statement], costs, "site", brands)}
    # X's revenue and credit split over its sites by minutes 180 : 60.
    assert by_site["S2"].revenue == D("80.00") and by_site["S2"].credits == D("-7.50")
    assert sum(m.margin for m in by_site.values()) == sum(m.margin for m in by_shop.values())
    assert sum(m.revenue for m in by_site.values()) == statement.subtotal
