"""The balanced scorecard: normalisation both ways and the band, indices, headline, quadrant, each BURN
trigger with its evidence, SERVICE_RISK, BOTH, promotion relaxation and recovery, versioned definitions,
per-scope thresholds, the client view; a property test against a plain per-scope computation."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.scorecard.evidence import FlagKind, Side
from service.scorecard.periods import Period, last_months
from service.scorecard.scoring import (
    CSAT,
    ENPS,
    OCCUPANCY,
    QA_IQS,
    SLA_ATTAINMENT,
    AgentOvertime,
    Band,
    DefinitionBook,
    Headline,
    KpiSpec,
    Linear,
    Promotion,
    Quadrant,
    RecoveryInputs,
    RecoveryState,
    ScopeKind,
    ScopeMonthInputs,
    ScopeRef,
    ScorecardDefinition,
    ThresholdPolicy,
    Thresholds,
    agent_over_cap,
    balanced_score,
    client_view,
    geometric_balance,
    minimum_balance,
    normalise,
    score_month,
    standard_definition,
    trend,
)

SHOP = ScopeRef(ScopeKind.shop, "shop-1")
BRAND = ScopeRef(ScopeKind.brand, "brand-1")
TEAM = ScopeRef(ScopeKind.team, "team-1")
MARCH = date(2025, 3, 1)
NOV = date(2025, 11, 1)

DEFINITION = ScorecardDefinition(
    "test-1",
    date(2025, 1, 1),
    (
        KpiSpec(SLA_ATTAINMENT, Side.client, Linear(0.5, 1.0), 1.0),
        KpiSpec(CSAT, Side.client, Linear(0.8, 1.0), 1.0),
        KpiSpec(ENPS, Side.employee, Linear(-50.0, 50.0), 1.0),
        KpiSpec(OCCUPANCY, Side.employee, Band(0.5, 0.75, 0.85, 1.0), 1.0),
        KpiSpec(QA_IQS, Side.process, Linear(60.0, 100.0), 1.0),
    ),
)
BOOK = DefinitionBook([DEFINITION])


def inputs(month: date = MARCH, scope: ScopeRef = SHOP, **kw: object) -> ScopeMonthInputs:
    """A healthy month: client index 100, employee index 100, nothing running hot."""
    kpis = {SLA_ATTAINMENT: 1.0, CSAT: 1.0, ENPS: 50.0, OCCUPANCY: 0.8, QA_IQS: 90.0}
    kpis.update(kw.pop("kpis", {}))  # type: ignore[call-overload]
    base = ScopeMonthInputs(
        scope,
        month,
        kpis,
        hot_intervals=0,
        overtime_hours=10.0,
        overtime_cap_hours=36.0,
        previous_enps=50.0,
        understaffed_intervals=0,
    )
    return replace(base, **kw)


def one(x: ScopeMonthInputs, book: DefinitionBook = BOOK, policy: ThresholdPolicy | None = None):
    [card] = score_month([x], book, policy)
    return card


# ------------------------------------------------------------------------------------ normalisation


def test_linear_higher_is_better():
    rule = Linear(0.8, 0.98)
    assert normalise([0.89, 0.7, 0.8, 0.98, 1.0], rule) == pytest.approx([50, 0, 0, 100, 100])


def test_linear_lower_is_better():
    rule = Linear(0.10, 0.01)  # DSAT: worst 10 %, best 1 %
    assert normalise([0.055, 0.2, 0.10, 0.01, 0.0], rule) == pytest.approx([50, 0, 0, 100, 100])


def test_band():
    rule = Band(0.5, 0.75, 0.85, 1.0)
    got = normalise([0.75, 0.80, 0.85, 0.925, 1.0, 1.1, 0.625, 0.5, 0.4], rule)
    assert got == pytest.approx([100, 100, 100, 50, 0, 0, 50, 0, 0])
    assert math.isnan(normalise([np.nan], rule)[0]) and math.isnan(normalise([np.nan], Linear(0, 1))[0])
    with pytest.raises(ValueError):
        Band(0.5, 0.9, 0.8, 1.0)
    with pytest.raises(ValueError):
        Linear(1, 1)


# ------------------------------------------------------------------------------------ indices, headline


def test_headline_never_lets_one_side_hide_the_other():
    assert geometric_balance([100.0], [0.0])[0] == 0
    assert minimum_balance([100.0], [0.0])[0] == 0
    assert (100 + 0) / 2 == 50  # what the arithmetic mean would have said
    assert balanced_score(100, 0, Headline.geometric) == 0 and balanced_score(100, 0, Headline.minimum) == 0
    assert balanced_score(64, 81, Headline.geometric) == pytest.approx(72)
    assert balanced_score(64, 81, Headline.minimum) == 64
    assert balanced_score(None, 81, Headline.minimum) is None
    # Through a scorecard: client KPIs at best, employee KPIs at worst.
    worst_team = inputs(kpis={ENPS: -50.0, OCCUPANCY: 1.0})
    for method in Headline:
        book = DefinitionBook([replace(DEFINITION, headline=method)])
        card = one(worst_team, book)
        assert (card.client_index, card.employee_index, card.headline) == (100, 0, 0)


def test_missing_kpis_drop_out_and_weights_renormalise():
    d = replace(DEFINITION, kpis=(replace(DEFINITION.kpis[0], weight=3.0), *DEFINITION.kpis[1:]))
    card = one(inputs(kpis={SLA_ATTAINMENT: 0.75, CSAT: None}), DefinitionBook([d]))
    assert card.client_index == 50  # SLA alone
    sla, csat = card.kpis[0], card.kpis[1]
    assert (sla.score, sla.share, csat.score, csat.share, csat.value) == (50, 1.0, None, 0.0, None)
    card = one(inputs(kpis={SLA_ATTAINMENT: 0.75, CSAT: 0.9}), DefinitionBook([d]))
    assert card.client_index == pytest.approx((3 * 50 + 50) / 4)
    empty = one(inputs(kpis={SLA_ATTAINMENT: None, CSAT: None}))
    assert (
        empty.client_index is None and empty.headline is None and empty.quadrant is None and empty.flags == ()
    )


def test_process_index_stands_beside_the_results():
    good = one(inputs(kpis={QA_IQS: 60.0}))
    assert good.process_index == 0 and good.client_index == 100 and good.employee_index == 100
    assert good.headline == 100


def test_quadrants():
    assert one(inputs()).quadrant is Quadrant.balanced
    assert one(inputs(kpis={ENPS: -50.0})).quadrant is Quadrant.burning  # employee 50
    assert one(inputs(kpis={CSAT: 0.8})).quadrant is Quadrant.service_risk  # client 50
    assert one(inputs(kpis={CSAT: 0.8, ENPS: -50.0})).quadrant is Quadrant.both_low
    # At the target is at target: client (100 + 40) / 2 = 70.
    assert one(inputs(kpis={CSAT: 0.88})).quadrant is Quadrant.balanced


# ------------------------------------------------------------------------------------ flags


def test_healthy_month_has_no_flag():
    assert one(inputs()).flags == ()


def test_burn_by_occupancy_with_evidence():
    card = one(inputs(hot_intervals=8))
    [flag] = card.flags
    assert flag.kind is FlagKind.BURN
    index, hot = flag.evidence
    assert (index.metric, index.value, index.comparison, index.threshold, index.side) == (
        "client_index",
        100,
        ">=",
        70,
        Side.client,
    )
    assert (hot.metric, hot.value, hot.comparison, hot.threshold) == ("hot_intervals", 8, ">=", 8)
    assert hot.period == Period.month(MARCH) and "90 %" in hot.note
    assert one(inputs(hot_intervals=7)).flags == ()


def test_burn_by_overtime_over_the_cap():
    [flag] = one(inputs(overtime_hours=40.0)).flags
    assert flag.kind is FlagKind.BURN
    ot = flag.evidence[1]
    assert (ot.metric, ot.value, ot.comparison, ot.threshold) == ("overtime_hours_ordinary_days", 40, ">", 36)
    assert one(inputs(overtime_hours=36.0)).flags == ()  # at the cap is allowed


def test_burn_by_enps_drop():
    [flag] = one(inputs(kpis={ENPS: 39.0}, previous_enps=50.0)).flags
    assert flag.kind is FlagKind.BURN
    e = flag.evidence[1]
    assert (e.metric, e.value, e.comparison, e.threshold) == ("enps_change", -11, "<", -10)
    assert one(inputs(kpis={ENPS: 40.0}, previous_enps=50.0)).flags == ()  # exactly 10 points is not more
    assert one(inputs(kpis={ENPS: None}, previous_enps=50.0)).flags == ()  # no pulse: no test


def test_burn_by_understaffing_with_sla_met():
    [flag] = one(inputs(understaffed_intervals=4)).flags
    assert flag.kind is FlagKind.BURN
    staff, sla = flag.evidence[1:]
    assert (staff.metric, staff.value, staff.comparison, staff.threshold) == (
        "understaffed_intervals",
        4,
        ">=",
        4,
    )
    assert (sla.metric, sla.value, sla.comparison, sla.threshold) == (SLA_ATTAINMENT, 1.0, ">=", 1.0)
    # SLA missed: the shortfall showed in the service instead; no BURN (client index (80 + 100) / 2 = 90).
    assert one(inputs(understaffed_intervals=10, kpis={SLA_ATTAINMENT: 0.9})).flags == ()


def test_burn_lists_every_trigger():
    card = one(inputs(hot_intervals=9, overtime_hours=50.0, kpis={ENPS: 20.0}, understaffed_intervals=5))
    [flag] = card.flags
    metrics = [e.metric for e in flag.evidence]
    assert metrics == [
        "client_index",
        "hot_intervals",
        "overtime_hours_ordinary_days",
        "enps_change",
        "understaffed_intervals",
        SLA_ATTAINMENT,
    ]


def test_service_risk():
    [flag] = one(inputs(kpis={CSAT: 0.8})).flags
    assert flag.kind is FlagKind.SERVICE_RISK
    [e] = flag.evidence
    assert (e.metric, e.value, e.comparison, e.threshold, e.side) == (
        "client_index",
        50,
        "<",
        70,
        Side.client,
    )


def test_both_replaces_burn_and_service_risk():
    card = one(inputs(kpis={CSAT: 0.8}, hot_intervals=20))
    assert [f.kind for f in card.flags] == [FlagKind.BOTH]
    index, hot = card.flags[0].evidence
    assert (index.metric, index.comparison, hot.metric, hot.value) == (
        "client_index",
        "<",
        "hot_intervals",
        20,
    )


def test_agent_over_cap_by_hand():
    # Scope 0: agents at 40 h and 30 h against 36 h caps at share 1: 4 h over (the 30 h lends nothing), one
    # agent. Scope 1: one agent at 44 h, weight 0.25, share 0.5 (limit 18 h): 26 h over x 0.25 = 6.5; and one
    # of weight 0 over (not counted). Scope 2: none.
    hours, agents = agent_over_cap(
        [0, 0, 1, 1], [40.0, 30.0, 44.0, 50.0], [36.0] * 4, [1.0, 1.0, 0.25, 0.0], [1.0, 0.5, 1.0], 3
    )
    assert hours.tolist() == pytest.approx([4.0, 6.5, 0.0]) and agents.tolist() == [1, 1, 0]
    # A weight too small for its hours over to register still counts the agent
    hours, agents = agent_over_cap([0], [36.25], [36.0], [5e-324], [1.0], 1)  # 5e-324 x 0.25 rounds to 0
    assert hours.tolist() == [0.0] and agents.tolist() == [1]


def test_burn_by_one_agent_over_its_own_cap_on_a_floor_under_its_pooled_cap():
    # Ten agents, 360 h of caps, 100 h of overtime: the pooled test passes. One of them worked 40 h of it,
    # 4 h over its own 36 h cap: the floor runs hot, the evidence names the agent's hours and limit.
    rows = (AgentOvertime(40.0, 0.0, 36.0), AgentOvertime(30.0, 0.0, 36.0), AgentOvertime(30.0, 0.0, 36.0))
    site = inputs(scope=ScopeRef(ScopeKind.site, "s"), overtime_hours=100.0, overtime_cap_hours=360.0)
    assert one(site).flags == ()
    [flag] = one(replace(site, agent_overtime=rows)).flags
    assert flag.kind is FlagKind.BURN
    [_, ot] = flag.evidence
    assert (ot.metric, ot.value, ot.comparison, ot.threshold, ot.period, ot.side) == (
        "agent_overtime_hours_ordinary_days",
        40,
        ">",
        36,
        Period.month(MARCH),
        Side.employee,
    )
    assert ot.note.startswith("1 agent(s) over the normal limit") and "4 h over in all" in ot.note
    # At the cap is allowed; a scope's own share lowers every agent's limit (0.8 x 36 = 28.8: three over).
    at_cap = replace(site, agent_overtime=(AgentOvertime(36.0, 0.0, 36.0),))
    assert one(at_cap).flags == ()
    policy = ThresholdPolicy(overrides={ScopeRef(ScopeKind.site, "s"): {"overtime_cap_share": 0.8}})
    [flag] = one(replace(site, agent_overtime=rows), policy=policy).flags
    assert flag.evidence[1].threshold == pytest.approx(28.8)
    assert "3 agent(s)" in flag.evidence[1].note and "13.6 h over in all" in flag.evidence[1].note
    # A shop's agents count with their share of the shop: 44 h, a quarter of it there: 8 x 0.25 = 2 h over.
    shop = inputs(agent_overtime=(AgentOvertime(44.0, 0.0, 36.0, 0.25),))
    assert "2 h over in all" in one(shop).flags[0].evidence[1].note


# ------------------------------------------------------------------------------------ promotions

DOUBLE_11 = Promotion("p11", "Double 11", date(2025, 11, 1), date(2025, 11, 11))


def test_promotion_relaxes_occupancy_and_overtime_on_its_days():
    # Ordinary days: 5 intervals above 90 %; promotion days: 2 above 95 % (the seating domain counted the
    # promotion days against 95 %). 7 < 8: not hot. Overtime 50 h, 30 of them in the promotion: the
    # promotion may use the 36 h cap by itself and the other 20 h are under the cap too.
    relaxed = inputs(
        NOV,
        hot_intervals=5,
        promotion_hot_intervals=2,
        overtime_hours=50.0,
        promotion_overtime_hours=30.0,
        promotions=(DOUBLE_11,),
    )
    assert one(relaxed).flags == ()
    # The same month without a declared promotion: 50 h overtime is over the cap.
    assert (
        one(replace(relaxed, promotion_hot_intervals=None, promotion_overtime_hours=None, promotions=()))
        .flags[0]
        .kind
        is FlagKind.BURN
    )
    # Past the relaxed limits, the evidence says so and names the promotion days.
    [flag] = one(
        replace(relaxed, promotion_hot_intervals=4, promotion_overtime_hours=40.0, overtime_hours=45.0)
    ).flags
    hot, ot = flag.evidence[1:]
    assert hot.value == 9 and "95 %" in hot.note and "2025-11-01..2025-11-11" in hot.note
    assert (ot.metric, ot.value, ot.threshold, ot.period) == (
        "overtime_hours_promotion_days",
        40,
        36,
        DOUBLE_11.period,
    )


def test_the_relaxation_covers_the_promotion_days_only_agent_by_agent():
    # An agent of a floor in November: 30 h overtime on Double 11's days (the relaxed limit: 1 x its 36 h
    # cap), 40 h on the other days of the month (the run-up before the declared days, the aftermath after):
    # the promotion's cap does not cover the ordinary days: 40 > 36.
    site = ScopeRef(ScopeKind.site, "s")
    base = inputs(
        NOV,
        scope=site,
        overtime_hours=70.0,
        promotion_overtime_hours=30.0,
        overtime_cap_hours=720.0,
        promotions=(DOUBLE_11,),
    )
    assert one(base).flags == ()  # pooled over twenty agents' caps: nothing to see
    [flag] = one(replace(base, agent_overtime=(AgentOvertime(40.0, 30.0, 36.0),))).flags
    assert [(e.metric, e.value, e.threshold, e.period) for e in flag.evidence[1:]] == [
        ("agent_overtime_hours_ordinary_days", 40, 36, Period.month(NOV)),
    ]
    # Over the relaxed limit on the promotion's days, under the normal one on the others: the promotion's
    # evidence, over the promotion's days; a wider relaxation (1.5 x 36 = 54 h) forgives it, no more.
    hot = replace(base, agent_overtime=(AgentOvertime(20.0, 50.0, 36.0),))
    [flag] = one(hot).flags
    [ot] = flag.evidence[1:]
    assert (ot.metric, ot.value, ot.threshold, ot.period) == (
        "agent_overtime_hours_promotion_days",
        50,
        36,
        DOUBLE_11.period,
    )
    assert ot.note.startswith("1 agent(s) over the relaxed limit") and "14 h over in all" in ot.note
    wide = ThresholdPolicy(overrides={site: {"promotion_overtime_cap_share": 1.5}})
    assert one(hot, policy=wide).flags == ()
    both = replace(base, agent_overtime=(AgentOvertime(40.0, 50.0, 36.0),))
    assert one(both, policy=wide).flags[0].evidence[1].metric == "agent_overtime_hours_ordinary_days"
    with pytest.raises(ValueError, match="without a declared promotion"):
        inputs(NOV, agent_overtime=(AgentOvertime(0.0, 5.0, 36.0),))


def recovery(**kw: object) -> RecoveryInputs:
    return replace(RecoveryInputs(DOUBLE_11, promotion_overtime_hours=30.0), **kw)


def test_recovery_met_by_compensatory_rest():
    card = one(
        inputs(
            NOV,
            promotions=(DOUBLE_11,),
            recoveries=(recovery(hot_intervals=3, compensatory_rest_hours=30.0),),
        )
    )
    [status] = card.recoveries
    assert status.state is RecoveryState.met
    assert status.deadline == date(2025, 11, 25) and status.window == Period(
        date(2025, 11, 12), date(2025, 11, 25)
    )
    assert card.flags == ()


def test_recovery_met_by_overtime_back_under_the_cap():
    r = recovery(hot_intervals=3, compensatory_rest_hours=0.0, overtime_hours=10.0, overtime_cap_hours=18.0)
    [status] = one(inputs(NOV, recoveries=(r,))).recoveries
    assert status.state is RecoveryState.met
    # Each line states the comparison that holds: the rest fell short, the overtime rule was met instead.
    by_metric = {e.metric: e for e in status.evidence}
    rest, over = by_metric["compensatory_rest_hours"], by_metric["recovery_overtime_hours"]
    assert (rest.value, rest.comparison, rest.threshold) == (0, "<", 30)
    assert rest.note.startswith("not met; the overtime rule met; compensating the overtime worked in")
    assert (over.value, over.comparison, over.threshold) == (10, "<=", 18) and over.note.startswith(
        "overtime"
    )
    hot = by_metric["recovery_hot_intervals"]
    assert (hot.value, hot.comparison, hot.threshold) == (3, "<", 8) and hot.note.startswith("window")


def test_recovery_evidence_states_what_holds_while_pending():
    late = Promotion("p", "Late November", date(2025, 11, 20), date(2025, 11, 30))  # window Dec 1-14
    r = RecoveryInputs(
        late,
        20.0,
        hot_intervals=10,
        compensatory_rest_hours=25.0,
        overtime_hours=30.0,
        overtime_cap_hours=18.0,
    )
    [status] = one(inputs(date(2025, 12, 1), recoveries=(r,), as_of=date(2025, 12, 10))).recoveries
    assert status.state is RecoveryState.pending
    by_metric = {e.metric: (e.comparison, e.note.split(";")[:2]) for e in status.evidence}
    assert by_metric == {
        "recovery_hot_intervals": (
            ">=",
            ["not met so far", " window intervals above 90 % occupancy must be fewer than this"],
        ),
        "compensatory_rest_hours": (
            ">=",
            ["compensating the overtime worked in Late November (2025-11-20..2025-11-30)"],
        ),
        "recovery_overtime_hours": (">", ["not met so far", " compensatory rest met"]),
    }


def test_recovery_failed_is_a_flag_with_evidence():
    r = recovery(hot_intervals=12, compensatory_rest_hours=10.0, overtime_hours=25.0, overtime_cap_hours=18.0)
    card = one(inputs(NOV, recoveries=(r,)))
    [status] = card.recoveries
    assert status.state is RecoveryState.failed
    [flag] = card.flags
    assert flag.kind is FlagKind.RECOVERY_FAILED
    by_metric = {e.metric: e for e in flag.evidence}
    assert set(by_metric) == {"recovery_hot_intervals", "compensatory_rest_hours", "recovery_overtime_hours"}
    rest = by_metric["compensatory_rest_hours"]
    assert (rest.value, rest.comparison, rest.threshold) == (10, "<", 30)  # what holds: the rest fell short
    assert rest.note.startswith("not met; the overtime rule not met either; ")
    over, hot = by_metric["recovery_overtime_hours"], by_metric["recovery_hot_intervals"]
    assert (over.value, over.comparison, over.threshold) == (25, ">", 18)
    assert over.note.startswith("not met; compensatory rest not met either; ")
    assert (hot.value, hot.comparison, hot.threshold, hot.note[:9]) == (12, ">=", 8, "not met; ")
    assert by_metric["recovery_hot_intervals"].period == status.window
    # Occupancy fine but overtime neither rested nor under the cap: only the overtime evidence.
    r2 = replace(r, hot_intervals=2)
    [flag2] = one(inputs(NOV, recoveries=(r2,))).flags
    assert {e.metric for e in flag2.evidence} == {"compensatory_rest_hours", "recovery_overtime_hours"}


def test_recovery_pending_then_failed_in_the_deadline_month_only():
    late = Promotion("p", "Late November", date(2025, 11, 20), date(2025, 11, 30))  # window Dec 1-14
    r = RecoveryInputs(late, 20.0, hot_intervals=10, compensatory_rest_hours=0.0)
    nov = one(inputs(NOV, recoveries=(r,)))
    [status] = nov.recoveries
    assert status.state is RecoveryState.pending and status.deadline == date(2025, 12, 14)
    assert nov.flags == ()
    mid_december = one(inputs(date(2025, 12, 1), recoveries=(r,), as_of=date(2025, 12, 10)))
    assert mid_december.recoveries[0].state is RecoveryState.pending
    december = one(inputs(date(2025, 12, 1), recoveries=(r,)))
    assert december.recoveries[0].state is RecoveryState.failed
    assert [f.kind for f in december.flags] == [FlagKind.RECOVERY_FAILED]
    january = one(inputs(date(2026, 1, 1), recoveries=(r,)))
    assert january.recoveries == () and january.flags == ()


def test_recovery_weeks_are_a_threshold_and_missing_data_is_reported():
    policy = ThresholdPolicy(overrides={SHOP: {"recovery_weeks": 3}})
    r = recovery(hot_intervals=None, compensatory_rest_hours=40.0)
    card = one(inputs(date(2025, 12, 1), recoveries=(r,)), policy=policy)
    [status] = card.recoveries
    assert status.deadline == date(2025, 12, 2)
    assert status.state is RecoveryState.no_data and card.flags == ()


# ------------------------------------------------------------------------------------ definitions


def test_definitions_are_versioned_by_month():
    v1 = DEFINITION
    v2 = replace(
        DEFINITION,
        version="test-2",
        effective_from=date(2025, 7, 1),
        kpis=(KpiSpec(CSAT, Side.client, Linear(0.9, 1.0)), *DEFINITION.kpis[2:]),
    )
    book = DefinitionBook([v2, v1])
    assert book.in_force(date(2025, 6, 30)) is v1 and book.in_force(date(2025, 7, 1)) is v2
    months = last_months(date(2025, 12, 1), 12)
    cards = trend([inputs(m, kpis={CSAT: 0.95, SLA_ATTAINMENT: 0.75}) for m in months], book)
    assert [c.month for c in cards] == list(months)
    assert [c.definition.version for c in cards] == ["test-1"] * 6 + ["test-2"] * 6
    # v1: SLA 50 and CSAT 75 -> 62.5; v2 has no SLA KPI and CSAT (0.95 - 0.9) / 0.1 = 50.
    assert [c.client_index for c in cards] == pytest.approx([62.5] * 6 + [50] * 6)
    # A past month scored today still uses the old definition.
    assert one(inputs(MARCH, kpis={CSAT: 0.95, SLA_ATTAINMENT: 0.75}), book).definition is v1
    with pytest.raises(LookupError):
        book.in_force(date(2024, 12, 1))
    with pytest.raises(ValueError):
        replace(v1, effective_from=date(2025, 7, 2))


def test_trend_is_one_scope_over_consecutive_months():
    with pytest.raises(ValueError, match="consecutive"):
        trend([inputs(date(2025, 1, 1)), inputs(date(2025, 3, 1))], BOOK)
    with pytest.raises(ValueError, match="one scope"):
        trend([inputs(date(2025, 1, 1)), inputs(date(2025, 2, 1), scope=TEAM)], BOOK)
    assert len(trend([inputs(m) for m in last_months(date(2025, 12, 1))], BOOK)) == 12


def test_standard_definition_scores_a_month():
    card = one(inputs(kpis={"dsat": 0.02, "attrition": 0.3}), DefinitionBook([standard_definition()]))
    assert (
        card.client_index is not None and card.employee_index is not None and card.process_index is not None
    )


# ------------------------------------------------------------------------------------ thresholds


def test_thresholds_per_scope_nearest_override_wins():
    site = ScopeRef(ScopeKind.site, "site-1")
    agent = ScopeRef(ScopeKind.agent, "agent-1")
    policy = ThresholdPolicy(
        Thresholds(hot_intervals=6),
        {
            BRAND: {"client_target": 80},
            SHOP: {"client_target": 75},
            site: {"hot_intervals": 10, "occupancy": 0.92},
            TEAM: {"hot_intervals": 12},
        },
    )
    assert policy.for_scope(ScopeRef(ScopeKind.shop, "other"), (BRAND,)).client_target == 80
    assert policy.for_scope(SHOP, (BRAND,)).client_target == 75
    agent_thresholds = policy.for_scope(agent, (TEAM, site))
    assert (agent_thresholds.hot_intervals, agent_thresholds.occupancy) == (12, 0.92)
    assert isinstance(agent_thresholds.hot_intervals, int)
    assert policy.for_scope(agent).hot_intervals == 6
    # A KA brand's higher target turns a month into a service risk.
    x = inputs(kpis={CSAT: 0.92}, parents=(BRAND,), scope=ScopeRef(ScopeKind.shop, "other"))  # client 80
    assert one(x).flags == ()
    assert one(replace(x, kpis={**x.kpis, CSAT: 0.9}), policy=policy).flags[0].kind is FlagKind.SERVICE_RISK
    with pytest.raises(ValueError):
        ThresholdPolicy(overrides={SHOP: {"hot_interval": 3}})


# ------------------------------------------------------------------------------------ client view


def test_client_view_has_no_employee_data():
    card = one(
        inputs(
            kpis={CSAT: 0.8, ENPS: 10.0},
            hot_intervals=20,
            understaffed_intervals=9,
            recoveries=(recovery(hot_intervals=12, compensatory_rest_hours=0.0),),
            month=NOV,
        )
    )
    assert {f.kind for f in card.flags} == {FlagKind.BOTH, FlagKind.RECOVERY_FAILED}
    view = client_view(card)
    assert view.client_index == card.client_index and view.client_target == 70
    assert [k.key for k in view.kpis] == [SLA_ATTAINMENT, CSAT]
    [flag] = view.flags
    assert flag.kind is FlagKind.SERVICE_RISK
    assert [e.metric for e in flag.evidence] == ["client_index"]
    assert (
        not hasattr(view, "employee_index")
        and not hasattr(view, "recoveries")
        and not hasattr(view, "process_index")
    )
    assert client_view(one(inputs(hot_intervals=20))).flags == ()  # BURN is not the client's
    with pytest.raises(ValueError, match="agent"):
        client_view(one(inputs(scope=ScopeRef(ScopeKind.agent, "a1"))))


# ------------------------------------------------------------------------------------ property test


def ref_normalise(v: float, rule: Linear | Band) -> float:
    if isinstance(rule, Linear):
        x = (v - rule.worst) / (rule.best - rule.worst)
    elif rule.low <= v <= rule.high:
        x = 1.0
    elif v < rule.low:
        x = (v - rule.zero_below) / (rule.low - rule.zero_below)
    else:
        x = (rule.zero_above - v) / (rule.zero_above - rule.high)
    if x < 0:
        x = 0.0
    if x > 1:
        x = 1.0
    return 100 * x


def ref_index(definition: ScorecardDefinition, kpis: dict[str, float | None], side: Side) -> float | None:
    total = weights = 0.0
    for spec in definition.kpis:
        v = kpis.get(spec.key)
        if spec.side is side and v is not None:
            total += spec.weight * ref_normalise(v, spec.rule)
            weights += spec.weight
    return total / weights if weights else None


def ref_hot(x: ScopeMonthInputs, t: Thresholds) -> list[str]:
    fired = []
    if x.hot_intervals is not None or x.promotion_hot_intervals is not None:
        if (x.hot_intervals or 0) + (x.promotion_hot_intervals or 0) >= t.hot_intervals:
            fired.append("hot_intervals")
    if x.overtime_hours is not None and x.overtime_cap_hours is not None:
        if x.overtime_hours - (x.promotion_overtime_hours or 0) > t.overtime_cap_share * x.overtime_cap_hours:
            fired.append("overtime_hours_ordinary_days")
    if x.promotion_overtime_hours is not None and x.overtime_cap_hours is not None:
        if x.promotion_overtime_hours > t.promotion_overtime_cap_share * x.overtime_cap_hours:
            fired.append("overtime_hours_promotion_days")
    agents = [a for a in x.agent_overtime if a.weight > 0]
    if any(a.ordinary_hours > t.overtime_cap_share * a.cap_hours for a in agents):
        fired.append("agent_overtime_hours_ordinary_days")
    if any(a.promotion_hours > t.promotion_overtime_cap_share * a.cap_hours for a in agents):
        fired.append("agent_overtime_hours_promotion_days")
    enps_now = x.kpis.get(ENPS)
    if enps_now is not None and x.previous_enps is not None and x.previous_enps - enps_now > t.enps_drop:
        fired.append("enps_change")
    sla = x.kpis.get(SLA_ATTAINMENT)
    if x.understaffed_intervals is not None and sla is not None:
        if x.understaffed_intervals >= t.understaffed_intervals and sla >= t.sla_met:
            fired.append("understaffed_intervals")
    return fired


optional = st.none() | st.floats(0, 1)
MARCH_PROMOTION = Promotion("p3", "Spring sale", date(2025, 3, 5), date(2025, 3, 8))
agent_rows = st.lists(
    st.builds(
        AgentOvertime, st.floats(0, 60), st.floats(0, 60), st.sampled_from([0.0, 36.0]), st.floats(0, 1)
    ),
    max_size=3,
)
scope_month = st.builds(
    lambda i, sla, csat, enps_now, occ, qa, hot, promo_hot, ot, promo_ot, cap, prev, under, rows: (
        ScopeMonthInputs(
            ScopeRef(ScopeKind.team, f"t{i}"),
            MARCH,
            {SLA_ATTAINMENT: sla, CSAT: csat, ENPS: enps_now, OCCUPANCY: occ, QA_IQS: qa},
            hot_intervals=hot,
            promotion_hot_intervals=promo_hot,
            overtime_hours=ot,
            promotion_overtime_hours=promo_ot,
            overtime_cap_hours=cap,
            previous_enps=prev,
            understaffed_intervals=under,
            promotions=(MARCH_PROMOTION,) if promo_hot is not None or promo_ot is not None else (),
            # promotion-day agent hours only with a declared promotion
            agent_overtime=tuple(
                r if promo_hot is not None or promo_ot is not None else replace(r, promotion_hours=0.0)
                for r in rows
            ),
        )
    ),
    st.integers(0, 5),
    st.none() | st.floats(0.3, 1.0) | st.just(1.0),
    st.none() | st.floats(0.5, 1.0),
    st.none() | st.floats(-100, 100),
    st.none() | st.floats(0.3, 1.1),
    st.none() | st.floats(0, 100),
    st.none() | st.integers(0, 20),
    st.none() | st.integers(0, 10),
    st.none() | st.floats(0, 80),
    st.none() | st.floats(0, 40),
    st.none() | st.floats(1, 60),
    st.none() | st.floats(-100, 100),
    st.none() | st.integers(0, 10),
    agent_rows,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(scope_month, min_size=1, max_size=30), st.sampled_from(list(Headline)), st.floats(40, 90))
def test_scorecards_match_a_plain_computation(batch, method, target):
    definition = replace(DEFINITION, headline=method)
    policy = ThresholdPolicy(
        overrides={ScopeRef(ScopeKind.team, "t1"): {"client_target": target, "hot_intervals": 3}}
    )
    cards = score_month(batch, DefinitionBook([definition]), policy)
    for x, card in zip(batch, cards, strict=True):
        t = policy.for_scope(x.scope)
        client = ref_index(definition, dict(x.kpis), Side.client)
        employee = ref_index(definition, dict(x.kpis), Side.employee)
        process = ref_index(definition, dict(x.kpis), Side.process)
        for got, want in (
            (card.client_index, client),
            (card.employee_index, employee),
            (card.process_index, process),
        ):
            assert (got is None) == (want is None)
            if want is not None:
                assert got == pytest.approx(want, abs=1e-9)
        if client is None or employee is None:
            assert card.headline is None and card.quadrant is None
        else:
            assert card.headline == pytest.approx(
                math.sqrt(client * employee) if method is Headline.geometric else min(client, employee)
            )
            c_ok, e_ok = card.client_index >= t.client_target, card.employee_index >= t.employee_target
            want_q = {
                (True, True): "balanced",
                (True, False): "burning",
                (False, True): "service_risk",
                (False, False): "both_low",
            }
            assert card.quadrant == want_q[c_ok, e_ok]
        fired = ref_hot(x, t)
        kinds = [f.kind for f in card.flags]
        if client is None:
            assert kinds == []
            continue
        at_target = card.client_index >= t.client_target
        if at_target and fired:
            assert kinds == [FlagKind.BURN]
        elif at_target:
            assert kinds == []
        else:
            assert kinds == [FlagKind.BOTH if fired else FlagKind.SERVICE_RISK]
        if kinds:
            evidence = [e.metric for e in card.flags[0].evidence]
            assert evidence[0] == "client_index"
            assert [m for m in evidence[1:] if m != SLA_ATTAINMENT] == (
                fired if kinds != [FlagKind.SERVICE_RISK] else []
            )


def ref_recovery(r: RecoveryInputs, t: Thresholds, as_of: date) -> str:
    deadline = r.promotion.end + timedelta(days=7 * t.recovery_weeks)
    if as_of < deadline:
        return "pending"
    occupancy = None if r.hot_intervals is None else r.hot_intervals < t.hot_intervals
    rest = (
        None if r.compensatory_rest_hours is None else r.compensatory_rest_hours >= r.promotion_overtime_hours
    )
    under = None
    if r.overtime_hours is not None and r.overtime_cap_hours is not None:
        under = r.overtime_hours <= t.overtime_cap_share * r.overtime_cap_hours
    if rest is True or under is True:
        compensated = True
    elif rest is False and under is False:
        compensated = False
    else:
        compensated = None
    if occupancy is False or compensated is False:
        return "failed"
    if occupancy is True and compensated is True:
        return "met"
    return "no_data"


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 60),  # promotion start, days after Oct 1
    st.integers(0, 12),  # promotion length - 1
    st.none() | st.integers(0, 20),
    st.floats(0, 60),
    st.none() | st.floats(0, 60),
    st.none() | st.floats(0, 40),
    st.none() | st.floats(0, 60),
    st.integers(1, 4),
    st.integers(0, 3),  # scorecard month, months after October
    st.none() | st.integers(0, 30),  # as_of day offset in the month
)
def test_recovery_matches_a_plain_computation(
    start, length, hot, promo_ot, ot, cap, rest, weeks, month_offset, as_of_day
):
    first = date(2025, 10, 1) + timedelta(days=start)
    promotion = Promotion("p", "Promo", first, first + timedelta(days=length))
    r = RecoveryInputs(promotion, promo_ot, hot, ot, cap, rest)
    month = date(2025, 10 + month_offset, 1) if month_offset < 3 else date(2026, 1, 1)
    period = Period.month(month)
    as_of = None if as_of_day is None else min(period.start + timedelta(days=as_of_day), period.end)
    policy = ThresholdPolicy(Thresholds(recovery_weeks=weeks))
    card = one(inputs(month, recoveries=(r,), as_of=as_of), policy=policy)
    window_start = promotion.end + timedelta(days=1)
    deadline = promotion.end + timedelta(days=7 * weeks)
    reported = promotion.start <= period.end and (promotion.end >= period.start or deadline >= period.start)
    if not reported:
        assert card.recoveries == ()
        return
    [status] = card.recoveries
    assert status.window == Period(window_start, deadline)
    expected = ref_recovery(r, Thresholds(recovery_weeks=weeks), as_of or period.end)
    assert status.state == expected
    failed_flags = [f for f in card.flags if f.kind is FlagKind.RECOVERY_FAILED]
    assert len(failed_flags) == (expected == "failed")
    if failed_flags:
        assert failed_flags[0].evidence  # a failure always says why


def test_score_month_keeps_input_order_across_months_and_restores_gc():
    import gc

    v2 = replace(DEFINITION, version="test-2", effective_from=date(2025, 7, 1))
    book = DefinitionBook([DEFINITION, v2])
    batch = [inputs(date(2025, m, 1), scope=ScopeRef(ScopeKind.team, f"t{m}")) for m in (9, 2, 7, 1, 12)]
    cards = score_month(batch, book)
    assert [(c.scope, c.month) for c in cards] == [(x.scope, x.month) for x in batch]
    assert [c.definition.version for c in cards] == ["test-2", "test-1", "test-2", "test-1", "test-2"]
    assert gc.isenabled()
    gc.disable()
    try:
        score_month(batch, book)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_relaxation_needs_a_declared_promotion_in_the_month():
    with pytest.raises(ValueError, match="without a declared promotion"):
        inputs(NOV, promotion_hot_intervals=3)
    with pytest.raises(ValueError, match="no day in"):
        inputs(MARCH, promotions=(DOUBLE_11,))
    assert inputs(NOV, promotion_hot_intervals=0).promotions == ()
