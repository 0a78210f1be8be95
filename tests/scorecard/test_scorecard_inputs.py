"""The scorecard's shaping of seating's facts into running-hot inputs, on hand-made days: hot intervals
re-counted under a scope's thresholds, understaffing summed, a promotion's recovery (time off in lieu per
agent, up to its own promotion-day overtime; the window's overtime against the pro-rata cap)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from service.scorecard import inputs as ins
from service.scorecard import scoring as sc
from service.scorecard.periods import Period

NOV = Period.month(date(2026, 11, 1))
PROMO = sc.Promotion("p", "Double 11", date(2026, 11, 9), date(2026, 11, 11))


def test_hot_intervals_are_recounted_under_the_scopes_thresholds() -> None:
    loads = {
        date(2026, 11, 2): ins.Load(100.0, 200.0, (0.86, 0.91, 0.93, 0.97), 3),
        date(2026, 11, 10): ins.Load(100.0, 200.0, (0.92, 0.96, 0.99), 1),  # a promotion day
        date(2026, 12, 1): ins.Load(100.0, 200.0, (0.99,), 5),  # another month
    }
    promo_days = {date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 11)}
    assert ins.days_in(loads, NOV, promo_days, sc.Thresholds()) == (3, 2, 6, 4)
    stricter = sc.Thresholds(occupancy=0.95, promotion_occupancy=0.98)
    assert ins.days_in(loads, NOV, promo_days, stricter) == (1, 1, 3, 4)
    assert ins.Load(occupancies=(0.9, 0.9, 0.95)).hot(0.9) == 1  # above, not at


def test_a_recovery_weighs_each_agents_rest_against_its_own_promotion_overtime() -> None:
    rested, tireless = uuid.uuid4(), uuid.uuid4()
    att = ins.Attendance(date(2026, 11, 1), date(2026, 11, 30))
    window = [date(2026, 11, 12) + timedelta(days=k) for k in range(14)]
    workdays = {d for d in window if d.weekday() < 5}  # 10
    # Both worked 180 overtime minutes on each promotion day; the rested one is off four workdays of the
    # window, the tireless one works 11 hours (180 overtime minutes) on each of them.
    for a in (rested, tireless):
        att.overtime[a] = {PROMO.start + timedelta(days=k): 180 for k in range(3)}
        att.normal[a] = {}
        att.cap_minutes[a], att.norm_minutes[a] = 2160, 480
    for d in sorted(workdays)[4:]:
        att.overtime[rested][d], att.normal[rested][d] = 0, 480
    for d in workdays:
        att.overtime[tireless][d], att.normal[tireless][d] = 180, 480
    r = ins.window_inputs(
        PROMO, {}, att, {rested: 1.0, tireless: 1.0}, workdays, date(2026, 11, 30), sc.Thresholds()
    )
    assert r.promotion_overtime_hours == pytest.approx(18.0)  # 2 x 3 x 3 h
    # Rest: the rested agent's 4 days off (32 h) count up to its own 9 h; the tireless one took none.
    assert r.compensatory_rest_hours == pytest.approx(9.0)
    assert r.overtime_hours == pytest.approx(30.0)  # the tireless one's 10 x 3 h
    assert r.overtime_cap_hours == pytest.approx(2 * 36.0 * 14 / 30)
    assert r.hot_intervals == 0
    status = sc.score_month(
        [
            sc.ScopeMonthInputs(
                sc.ScopeRef(sc.ScopeKind.site, "s"),
                NOV.start,
                {},
                promotions=(PROMO,),
                recoveries=(r,),
                as_of=NOV.end,
            )
        ],
        sc.DefinitionBook([sc.standard_definition()]),
    )[0].recoveries[0]
    assert status.state is sc.RecoveryState.met  # 30 h of window overtime is within 33.6 h
    tight = sc.Thresholds(overtime_cap_share=0.5)
    r = ins.window_inputs(PROMO, {}, att, {rested: 1.0, tireless: 1.0}, workdays, date(2026, 11, 30), tight)
    assert r.overtime_cap_hours == pytest.approx(2 * 36.0 * 14 / 30)  # the share is scoring's to apply
    # No attendance at all: the overtime conditions stay unmeasured.
    empty = ins.window_inputs(
        PROMO,
        None,
        ins.Attendance(NOV.start, NOV.end),
        {uuid.uuid4(): 1.0},
        workdays,
        NOV.end,
        sc.Thresholds(),
    )
    assert (empty.overtime_hours, empty.compensatory_rest_hours, empty.hot_intervals) == (None, None, None)
