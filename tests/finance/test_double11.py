"""The product question end to end: what did Double 11 cost us, and what did we earn on each brand?"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from service.finance.billing import Contract, ContractTerms, usage_from_segments
from service.finance.costing import WorkedSegment, cost_lines, rollup
from service.finance.credits import Breach, CreditPolicy, MetricAllocation
from service.finance.exports import COST_COLUMNS, LINE_COLUMNS, cost_rows, statement_line_rows, write_csv
from service.finance.periods import Month
from service.finance.rates import CostRates, LoadedHourlyCost, OverheadRule, RateBook
from service.finance.statements import build_statement, margins

D = Decimal
NOV = Month(2026, 11)
D10, D11, D14 = date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 14)
SHOP_BRAND = {"acme-tmall": "acme", "acme-jd": "acme", "zen-douyin": "zen"}
JAN1 = date(2026, 1, 1)

RATES = CostRates(
    agent_costs={
        "a1": RateBook([(JAN1, LoadedHourlyCost(D("30"), D("9.30"), D("2.10")))]),  # 41.40
        "a2": RateBook([(JAN1, LoadedHourlyCost(D("25"), D("7.75"), D("1.75")))]),  # 34.50
        "a3": RateBook([(JAN1, LoadedHourlyCost(D("22"), D("6.82"), D("1.54")))]),  # 30.36
    },
    seat_costs={"hz": RateBook([(JAN1, D("6"))]), "remote": RateBook([(JAN1, D("0"))])},
    overhead={"hz": RateBook([(JAN1, OverheadRule(D("0.08")))])},
)
SEGMENTS = [
    WorkedSegment("a1", "acme-tmall", "hz", D10, 600, {"workday": 120}),
    WorkedSegment("a1", "acme-tmall", "hz", D11, 720, {"workday": 240}),
    WorkedSegment("a2", "acme-tmall", "hz", D11, 480),
    WorkedSegment("a2", "acme-jd", "hz", D11, 240, {"workday": 240}),
    WorkedSegment("a3", "zen-douyin", "remote", D11, 480, source="roster"),
    WorkedSegment("a3", "zen-douyin", "remote", D14, 300, {"rest_day": 300}),  # attendance, so no roster
]
SL_HALF = CreditPolicy(D("0.10"), (MetricAllocation("service_level", D("0.5")),))
ACME_TERMS = ContractTerms(seat_hour_rate=D("45"), monthly_base_fee=D("5000"), gmv_commission_share=D("0.01"),
                           peak_surcharge_per_seat_day=D("60"), credit_policy=SL_HALF)
ACME = Contract("acme-2026", "acme", RateBook([(JAN1, ACME_TERMS)]))
ZEN = Contract("zen-2026", "zen", RateBook([(JAN1, ContractTerms(per_conversation_rate=D("1.2")))]))


def test_double_11_cost_revenue_and_margin_per_brand_to_the_cent():
    worked = SEGMENTS
    costs = cost_lines(worked, RATES)
    by_shop = {t.key: t for t in rollup(costs, "shop")}
    # acme-tmall: 1,320 min x 41.40 + 480 min x 34.50 = 1,186.80; premium 360 min x 0.5 x 30 = 90.00.
    tmall = by_shop["acme-tmall"]
    assert (tmall.labour_base, tmall.overtime_premium, tmall.seat, tmall.overhead) == (
        D("1186.80"),
        D("90.00"),
        D("180.00"),
        D("117.79"),  # 8 % of hz's 1,668.80 = 133.50, split 1,800 : 240 minutes
    )
    jd = by_shop["acme-jd"]
    assert (jd.labour, jd.seat, jd.overhead) == (D("188.00"), D("24.00"), D("15.71"))
    zen = by_shop["zen-douyin"]
    # 780 min x 30.36 = 394.68; the Saturday's 300 min at 200 %: premium 300 x 1.0 x 22 = 110.00.
    assert (zen.labour, zen.seat, zen.overhead, zen.minutes_by_source) == (
        D("504.68"),
        D("0.00"),
        D("0.00"),
        {"attendance": 300, "roster": 480},
    )
    by_brand = {t.key: t for t in rollup(costs, "brand", SHOP_BRAND)}
    assert by_brand["acme"].total == D("1802.30") and by_brand["zen"].total == D("504.68")

    acme_usage = usage_from_segments(
        [s for s in worked if SHOP_BRAND[str(s.shop)] == "acme"],
        NOV,
        assisted_gmv={"acme-tmall": D("850000.00")},
        handled_conversations={"acme-tmall": 1800, "acme-jd": 400},
        # Agents working a shop on a promotion day (the 10th and 11th): a1 twice and a2 on tmall, a2 on jd.
        promotion_seat_days={"acme-tmall": 3, "acme-jd": 1},
    )
    zen_usage = usage_from_segments(
        [s for s in worked if s.shop == "zen-douyin"], NOV, handled_conversations={"zen-douyin": 900}
    )
    assert zen_usage.shops[0].seat_hours_source == "attendance (5.00 h) and roster (8.00 h)"
    breach = Breach("acme-jd", "service_level", NOV, 0.85, 0.78)
    acme, held = build_statement("acme", NOV, [ACME], acme_usage, [breach])
    assert held == ()
    got = {(line.component, line.shop): line.amount for line in acme.lines}
    assert got == {
        ("base_fee", None): D("5000.00"),
        ("seat_hours", "acme-jd"): D("180.00"),
        ("peak_surcharge", "acme-jd"): D("60.00"),  # a2 on Double 11
        ("seat_hours", "acme-tmall"): D("1350.00"),
        ("gmv_commission", "acme-tmall"): D("8500.00"),
        ("peak_surcharge", "acme-tmall"): D("180.00"),  # a1 on the 10th and 11th, a2 on the 11th
        ("sla_credit.service_level", "acme-jd"): D("-763.50"),  # 50 % of 10 % of 15,270.00
    }
    assert (acme.subtotal, acme.credits, acme.total) == (D("15270.00"), D("-763.50"), D("14506.50"))
    seat_line = next(
        line for line in acme.lines if line.key.component == "seat_hours" and line.shop == "acme-tmall"
    )
    assert seat_line.source == "30 seat-hours from attendance"
    zen_st, _ = build_statement("zen", NOV, [ZEN], zen_usage)
    assert zen_st.total == D("1080.00")

    brand_margin = {m.key: m for m in margins([acme, zen_st], costs, "brand", SHOP_BRAND)}
    assert brand_margin["acme"].margin == D("12704.20") and brand_margin["acme"].margin_pct == D("83.20")
    assert brand_margin["zen"].margin == D("575.32") and brand_margin["zen"].margin_pct == D("53.27")
    shop_margin = margins([acme, zen_st], costs, "shop", SHOP_BRAND)
    site_margin = margins([acme, zen_st], costs, "site", SHOP_BRAND)
    total = D("12704.20") + D("575.32")
    assert sum(m.margin for m in shop_margin) == sum(m.margin for m in site_margin) == total

    out = io.StringIO()
    write_csv(out, LINE_COLUMNS, statement_line_rows([acme, zen_st]), totals=True)
    last = list(csv.reader(io.StringIO(out.getvalue())))[-1]
    assert D(last[[c.key for c in LINE_COLUMNS].index("amount")]) == acme.total + zen_st.total
    out = io.StringIO()
    write_csv(out, COST_COLUMNS, cost_rows(costs), totals=True)
    last = list(csv.reader(io.StringIO(out.getvalue())))[-1]
    assert D(last[-1]) == D("1802.30") + D("504.68")
