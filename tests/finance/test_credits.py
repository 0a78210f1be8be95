"""SLA credits: allocation of the pool, the cap at the pool, earn-back held then forgiven or applied."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.finance.credits import (
    Breach,
    CreditPolicy,
    MetricAllocation,
    Observation,
    assess,
    month_credits,
    resolve,
)
from service.finance.lines import Line
from service.finance.periods import Month

D = Decimal
NOV, DEC, JAN = Month(2026, 11), Month(2026, 12), Month(2027, 1)


def fee(shop: str | None, amount: str, component: str = "seat_hours") -> Line:
    return Line(component, shop, D(1), "month", D(amount), D(amount), "test")


FEES = [fee(None, "20000.00", "base_fee"), fee("X", "50000.00"), fee("Y", "20000.00"), fee("Z", "10000.00")]
POLICY = CreditPolicy(
    at_risk_share=D("0.10"),
    allocations=(
        MetricAllocation("service_level", D("0.40")),
        MetricAllocation("response_rate_3min", D("0.30")),
        MetricAllocation("csat", D("0.30")),
    ),
)


def test_a_breach_costs_its_allocation_of_the_pool():
    (credit,) = assess(POLICY, NOV, FEES, [Breach("X", "service_level", NOV, 0.85, 0.78)])
    assert (credit.fees, credit.pool, credit.amount, credit.status) == (
        D("100000.00"),
        D("10000.00"),
        D("-4000.00"),
        "applied",
    )
    line = credit.line()
    assert (line.kind, line.component, line.shop, line.quantity, line.rate, line.amount) == (
        "credit",
        "sla_credit.service_level",
        "X",
        D("0.40"),
        D("10000.00"),
        D("-4000.00"),
    )
    assert line.unit == "share of 2026-11 pool"
    assert line.source.startswith(
        "service_level 0.78 against target 0.85 in 2026-11: 40 % of the at-risk pool"
    )
    assert line.counts


def test_breaches_of_other_months_or_metrics_are_ignored_and_duplicates_refused():
    breaches = [Breach("X", "service_level", DEC, 0.85, 0.7), Breach("X", "qa_score", NOV, 80, 70)]
    assert assess(POLICY, NOV, FEES, breaches) == []
    twice = [Breach("X", "csat", NOV, 0.9, 0.8)] * 2
    with pytest.raises(ValueError, match="twice"):
        assess(POLICY, NOV, FEES, twice)


def test_credits_are_capped_at_the_pool():
    breaches = [Breach(s, "service_level", NOV, 0.85, 0.7) for s in "XYZ"]
    breaches += [Breach(s, "response_rate_3min", NOV, 0.9, 0.8) for s in "XY"]
    credits = assess(POLICY, NOV, FEES, breaches)
    # Uncapped 3 x 4,000 + 2 x 3,000 = 18,000 > 10,000: the pool is split 4 : 4 : 4 : 3 : 3.
    amounts = {(c.shop, c.metric): c.amount for c in credits}
    assert amounts == {
        ("X", "response_rate_3min"): D("-1666.67"),
        ("X", "service_level"): D("-2222.22"),
        ("Y", "response_rate_3min"): D("-1666.67"),
        ("Y", "service_level"): D("-2222.22"),
        ("Z", "service_level"): D("-2222.22"),
    }
    assert sum(amounts.values()) == D("-10000.00")
    assert all(c.capped for c in credits)
    assert "scaled to the pool" in credits[0].line().source


def test_shop_pools_take_each_shops_own_charges():
    policy = CreditPolicy(D("0.10"), (MetricAllocation("service_level", D("0.5")),), pool_scope="shop")
    credits = assess(policy, NOV, FEES, [Breach("Y", "service_level", NOV, 0.85, 0.7)])
    assert [(c.pool, c.amount) for c in credits] == [(D("2000.00"), D("-1000.00"))]


def test_policies_are_validated():
    with pytest.raises(ValueError, match="at most 1"):
        CreditPolicy(D("0.1"), (MetricAllocation("a", D("0.6")), MetricAllocation("b", D("0.5"))))
    with pytest.raises(ValueError, match="earn_back_months"):
        CreditPolicy(D("0.1"), (MetricAllocation("a", D("0.6"), earn_back_target=0.9),))
    with pytest.raises(ValueError):
        CreditPolicy(D("1.1"), ())


EARN_BACK = CreditPolicy(
    D("0.10"),
    (
        MetricAllocation("service_level", D("0.40"), earn_back_target=0.90),
        MetricAllocation("frt_mean_s", D("0.20"), earn_back_target=20.0, higher_is_better=False),
    ),
    earn_back_months=2,
)


def test_a_held_credit_is_pending_then_forgiven():
    nov = month_credits(EARN_BACK, NOV, FEES, [Breach("X", "service_level", NOV, 0.85, 0.78)])
    (pending,) = nov.on_statement
    assert pending.status == "pending" and pending.window_end == JAN
    line = pending.line()
    assert (line.kind, line.amount, line.counts) == ("credit_pending", D("-4000.00"), False)
    assert "held until 2027-01" in line.source
    # December misses the earn-back target: still held, nothing on December's statement.
    dec = month_credits(EARN_BACK, DEC, FEES, [], nov.held, [Observation("X", "service_level", DEC, 0.88)])
    assert dec.on_statement == () and len(dec.held) == 1
    # January meets it: forgiven, shown on January's statement, not counted.
    jan = month_credits(EARN_BACK, JAN, FEES, [], dec.held, [Observation("X", "service_level", JAN, 0.91)])
    (forgiven,) = jan.on_statement
    assert forgiven.status == "forgiven" and jan.held == ()
    line = forgiven.line()
    assert (line.kind, line.amount, line.counts) == ("credit_forgiven", D("-4000.00"), False)
    assert "forgiven: service_level 0.91 met 0.9 in 2027-01" in line.source


def test_a_held_credit_not_earned_back_is_applied_at_the_end_of_the_window():
    nov = month_credits(EARN_BACK, NOV, FEES, [Breach("X", "frt_mean_s", NOV, 25.0, 31.0)])
    dec = month_credits(EARN_BACK, DEC, FEES, [], nov.held, [Observation("X", "frt_mean_s", DEC, 24.0)])
    # A month without an observation earns nothing back.
    jan = month_credits(EARN_BACK, JAN, FEES, [], dec.held, [])
    (applied,) = jan.on_statement
    assert applied.status == "applied" and applied.statement_month == JAN
    line = applied.line()
    assert (line.kind, line.amount, line.unit) == ("credit", D("-2000.00"), "share of 2026-11 pool")
    assert "not earned back by 2027-01" in line.source
    # A ceiling metric is earned back at or below its target.
    dec_ok = month_credits(EARN_BACK, DEC, FEES, [], nov.held, [Observation("X", "frt_mean_s", DEC, 20.0)])
    assert [c.status for c in dec_ok.on_statement] == ["forgiven"]


def test_resolve_checks_its_inputs():
    nov = month_credits(EARN_BACK, NOV, FEES, [Breach("X", "service_level", NOV, 0.85, 0.78)])
    with pytest.raises(ValueError):
        resolve(nov.held, NOV, [])
    applied = assess(POLICY, NOV, FEES, [Breach("X", "service_level", NOV, 0.85, 0.78)])
    with pytest.raises(ValueError):
        resolve(applied, DEC, [])
    # A skipped month does not let a credit escape: past the window it is applied.
    now, still = resolve(nov.held, Month(2027, 3), [])
    assert [c.status for c in now] == ["applied"] and still == []
