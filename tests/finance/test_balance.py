"""Service level against cost: the marginal cost of a point from Erlang C, shop balance, plan estimates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.capacity.erlang import erlang_c_metrics
from service.finance.balance import (
    IntervalLoad,
    PlannedInterval,
    Queue,
    estimate_plan,
    expected_service_level,
    marginal_cost,
    plan_difference,
    shop_balance,
)
from service.finance.billing import Contract, ContractTerms
from service.finance.credits import Breach, CreditPolicy, MetricAllocation, assess
from service.finance.lines import Line
from service.finance.periods import Month
from service.finance.rates import RateBook

D = Decimal
NOV = Month(2026, 11)


def test_marginal_cost_of_a_point_by_hand():
    # The textbook interval: 100 contacts / 30 min, AHT 180 s, T = 20 s; 14 agents reach 0.8884.
    sl14, sl15 = (float(erlang_c_metrics(100, 180, 1800, n, 20).service_level) for n in (14, 15))
    m = marginal_cost([IntervalLoad(100, 180, 14)], D("40"), Queue(answer_s=20, interval_s=1800))
    assert m.extra_agents == 1  # the 15th agent lifts it by more than a point
    agents = 0.01 / (sl15 - sl14)  # interpolated share of that agent
    assert float(m.extra_agent_hours) == pytest.approx(agents * 0.5, abs=1e-4)
    assert m.cost_per_point == (D(repr(agents * 0.5)) * 40).quantize(D("0.01"))
    assert m.whole_agent_cost == D("20.00")  # one agent for half an hour at 40/h
    # Seat cost and shrinkage raise the price of an agent-hour: (40 + 10) / (1 - 0.2) = 62.5.
    queue = Queue(answer_s=20, interval_s=1800)
    priced = marginal_cost([IntervalLoad(100, 180, 14)], D("40"), queue, seat_hour_cost=D("10"),
                           shrinkage=0.2)
    assert priced.whole_agent_cost == D("31.25")


def test_marginal_cost_is_positive_and_rises_towards_high_service_levels():
    # A Double 11 evening: 15-minute intervals with 60..90 chats of 240 s (16 to 24 Erlangs), 20 s answer
    # target, staffed from one agent above the load upwards.
    day = [(60 + 10 * (i % 4), 240.0) for i in range(8)]
    base = [17, 20, 23, 25, 17, 20, 23, 25]
    rows = []
    for extra in range(0, 12):
        loads = [IntervalLoad(v, a, n + extra) for (v, a), n in zip(day, base, strict=True)]
        sl = expected_service_level(loads, Queue(answer_s=20))
        m = marginal_cost(loads, D("42.50"), Queue(answer_s=20))
        assert sl is not None
        rows.append((sl, m))
    # Above the load the curve is concave: from about half the contacts in time upwards every point
    # costs more than the one before (right at the load it is S-shaped: the first agents buy stability).
    points = [(sl, m.cost_per_point) for sl, m in rows if m.cost_per_point is not None and sl >= 0.5]
    assert len(points) >= 6 and points[0][0] < 0.7 and points[-1][0] > 0.97
    levels = [sl for sl, _ in points]
    costs = [c for _, c in points]
    assert levels == sorted(levels)
    assert all(c is not None and c > 0 for c in costs)
    assert all(a < b for a, b in zip(costs, costs[1:], strict=False))  # each point dearer than the last
    wholes = [m.extra_agents for sl, m in rows if sl >= 0.5 and m.cost_per_point is not None]
    assert all(w >= 8 for w in wholes)  # at least one whole agent per interval
    assert wholes == sorted(wholes)


def test_no_point_left_above_99_percent_and_no_volume():
    high = marginal_cost([IntervalLoad(10, 180, 12)], D("40"))
    assert high.cost_per_point is None
    empty = marginal_cost([IntervalLoad(0, 180, 3)], D("40"))
    assert (empty.extra_agents, empty.cost_per_point) == (0, None)
    assert expected_service_level([]) is None
    # Erlang A (with abandonment) works too and needs a patience.
    a = marginal_cost([IntervalLoad(60, 240, 15)], D("40"), Queue(20, model="erlang_a", patience_s=120))
    assert a.cost_per_point is not None and a.cost_per_point > 0
    with pytest.raises(ValueError):
        Queue(model="erlang_a")


def test_shop_balance_counts_applied_and_held_credits_as_exposure():
    fees = [Line("seat_hours", "X", D(1), "seat-hour", D("50000"), D("50000.00"), "t")]
    policy = CreditPolicy(
        D("0.10"),
        (
            MetricAllocation("service_level", D("0.5"), earn_back_target=0.9),
            MetricAllocation("csat", D("0.2")),
        ),
        earn_back_months=1,
    )
    credits = assess(
        policy, NOV, fees, [Breach("X", "service_level", NOV, 0.85, 0.8), Breach("X", "csat", NOV, 0.9, 0.85)]
    )
    b = shop_balance("X", NOV, 0.85, 0.80, D("41000.00"), credits)
    assert b.credit_exposure == D("3500.00")  # 2,500 held + 1,000 applied
    assert not b.met and b.gap == pytest.approx(-0.05)
    assert shop_balance("Y", NOV, 0.85, 0.9, D("1"), credits).credit_exposure == 0


def _plan(ka_agents: int, std_agents: int) -> list[PlannedInterval]:
    out = []
    for day in (date(2026, 11, 10), date(2026, 11, 11)):
        for _ in range(4):
            out.append(PlannedInterval("ka-tmall", day, ka_agents, 40, 240))  # 10.7 Erlangs
            out.append(PlannedInterval("std-jd", day, std_agents, 30, 240))  # 8 Erlangs
    return out


SL_CREDIT = CreditPolicy(D("0.10"), (MetricAllocation("service_level", D("0.6")),))
TERMS = ContractTerms(seat_hour_rate=D("45"), per_conversation_rate=D("0.5"), monthly_base_fee=D("1000"),
                      peak_surcharge_per_seat_day=D("80"), credit_policy=SL_CREDIT)
CONTRACT = Contract("C1", "acme", RateBook([(date(2026, 1, 1), TERMS)]))


def test_plan_estimate_prices_ka_first_and_what_it_protects():
    targets = {"ka-tmall": 0.85, "std-jd": 0.7}
    kw = dict(contract=CONTRACT, targets=targets, promotion_days=[date(2026, 11, 11)], queue=Queue(20))
    # 26 agents an interval: 14 + 12 leaves KA at 0.807 (target 0.85); KA first, 15 + 11, gives 0.891 and
    # leaves the standard shop at 0.809 (target 0.70).
    proportional = estimate_plan(_plan(14, 12), NOV, D("40"), seat_hour_cost=D("5"), **kw)  # type: ignore[arg-type]
    ka_first = estimate_plan(_plan(15, 11), NOV, D("40"), seat_hour_cost=D("5"), **kw)  # type: ignore[arg-type]
    ka = proportional.shop("ka-tmall")
    assert ka is not None and ka.agent_minutes == 14 * 15 * 8
    assert ka.labour == D("1120.00")  # 28 agent-hours x 40
    assert ka.seat == D("140.00")
    assert ka.expected_sl is not None and ka.expected_sl < 0.85 and ka.credits < 0
    ka2 = ka_first.shop("ka-tmall")
    assert ka2 is not None and ka2.expected_sl is not None and ka2.expected_sl >= 0.85 and ka2.credits == 0
    # Revenue is the projected statement: lines sum to the shops' revenue plus credits.
    assert sum(line.amount for line in proportional.lines) == proportional.revenue + proportional.credits
    assert any(line.component == "peak_surcharge" and line.quantity == 14 for line in proportional.lines)
    assert {s.shop: s.credits == 0 for s in ka_first.shops} == {"ka-tmall": True, "std-jd": True}
    delta = {d.shop: d for d in plan_difference(proportional, ka_first)}
    assert delta["ka-tmall"].cost == D("90.00")  # 1 more agent x 8 intervals x 0.25 h x (40 + 5)/h
    assert delta["ka-tmall"].credits > 0  # the credit KA first protects
    assert delta["std-jd"].cost < 0
    assert proportional.margin == sum(s.margin for s in proportional.shops)
    with pytest.raises(ValueError):
        estimate_plan([PlannedInterval("x", date(2026, 12, 1), 1, 1, 1)], NOV, D("40"))
