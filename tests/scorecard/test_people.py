"""Employee-side measures: eNPS and wellbeing, the anonymity threshold and its differencing protection,
attrition per daily headcount, workload flags; property tests against loops written here."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.scorecard.evidence import FlagKind
from service.scorecard.people import (
    PulseResponse,
    PulseSummary,
    Suppressed,
    Tenure,
    WorkloadInputs,
    WorkloadLimits,
    attrition,
    attrition_by_group,
    enps,
    pulse_report,
    suppressed_groups,
    wellbeing_mean,
    workload_flags,
    workload_measures,
)
from service.scorecard.periods import Period

# ------------------------------------------------------------------------------------ eNPS, wellbeing


def test_enps_examples():
    assert enps([10, 9, 8, 7, 6, 0]) == 0  # 2 promoters, 2 detractors
    assert enps([10, 10, 10, 5]) == 50
    assert enps([7, 8, 8]) == 0  # passives only
    assert enps([0, 3, 6]) == -100
    assert enps([9] * 7 + [6] * 3) == pytest.approx(40)
    assert enps([]) is None
    with pytest.raises(ValueError):
        enps([11])


def test_wellbeing_mean():
    assert wellbeing_mean([1, 2, 3, 5]) == 2.75
    assert wellbeing_mean([]) is None
    with pytest.raises(ValueError):
        wellbeing_mean([0])


# ------------------------------------------------------------------------------------ anonymity


def responses(site: str, team: str, n: int, recommend: int = 9, mood: int = 4) -> list[PulseResponse]:
    return [PulseResponse(site, team, recommend, mood) for _ in range(n)]


def test_small_team_is_suppressed_and_so_is_its_smallest_sibling():
    data = responses("s1", "big", 12) + responses("s1", "mid", 6, 3) + responses("s1", "small", 3, 10)
    report = pulse_report(data)
    assert isinstance(report.total, PulseSummary) and report.total.respondents == 21
    assert report.teams["small"] == Suppressed(5)
    # With "small" alone hidden, site minus the visible teams would give it away: "mid" goes too.
    assert isinstance(report.teams["mid"], Suppressed)
    assert isinstance(report.teams["big"], PulseSummary) and report.teams["big"].respondents == 12
    # A suppressed value is not a number and holds none.
    assert not isinstance(report.teams["small"], (int, float))
    assert Suppressed.__slots__ == ("minimum",)


def test_two_tiny_groups_are_not_enough_cover():
    # Two hidden teams of 2: together 4 < 5, so the smallest visible team is hidden as well.
    hidden = suppressed_groups({"a": 2, "b": 2, "c": 5, "d": 9})
    assert hidden == {"a", "b", "c"}
    assert suppressed_groups({"a": 2, "b": 3, "c": 5}) == {"a", "b"}
    assert suppressed_groups({"a": 5, "b": 6}) == set()
    assert suppressed_groups({"a": 7, "b": 6}, parent_visible=False) == {"a", "b"}
    # Ties: the lowest key goes first.
    assert suppressed_groups({"a": 1, "x": 6, "w": 6}) == {"a", "w"}


def test_total_below_threshold_hides_everything():
    report = pulse_report(responses("s1", "t1", 2) + responses("s2", "t2", 2))
    assert isinstance(report.total, Suppressed)
    assert all(isinstance(v, Suppressed) for v in (*report.sites.values(), *report.teams.values()))


def test_a_site_hidden_to_protect_another_hides_its_teams():
    # s2 (3) is hidden, so s1 (10) is hidden beside it; s1's teams would add up to s1 and expose s2.
    data = (
        responses("s1", "t1", 5)
        + responses("s1", "t2", 5)
        + responses("s2", "t3", 3)
        + responses("s3", "t4", 20)
    )
    report = pulse_report(data)
    assert isinstance(report.sites["s2"], Suppressed) and isinstance(report.sites["s1"], Suppressed)
    assert isinstance(report.teams["t1"], Suppressed) and isinstance(report.teams["t2"], Suppressed)
    assert isinstance(report.sites["s3"], PulseSummary) and isinstance(report.teams["t4"], PulseSummary)


def test_team_in_two_sites_is_refused():
    with pytest.raises(ValueError, match="nest"):
        pulse_report(responses("s1", "t1", 5) + responses("s2", "t1", 5))


pulse_data = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 10), st.integers(1, 5)), max_size=80
).map(lambda rows: [PulseResponse(f"s{s}", f"s{s}t{t}", r, w) for s, t, r, w in rows])


def reference_hide(counts: dict[str, int], minimum: int, parent_visible: bool) -> set[str]:
    if not parent_visible:
        return set(counts)
    hidden = set()
    for k in counts:
        if counts[k] < minimum:
            hidden.add(k)
    while True:
        total_hidden = 0
        for k in hidden:
            total_hidden += counts[k]
        if len(hidden) == 0 or (len(hidden) >= 2 and total_hidden >= minimum):
            return hidden
        candidates = [k for k in counts if k not in hidden]
        if not candidates:
            return hidden
        smallest = candidates[0]
        for k in candidates:
            if counts[k] < counts[smallest] or (counts[k] == counts[smallest] and k < smallest):
                smallest = k
        hidden.add(smallest)


@settings(max_examples=300, deadline=None)
@given(pulse_data, st.integers(1, 8))
def test_pulse_report_matches_reference_and_cannot_be_differenced(data, minimum):
    report = pulse_report(data, minimum)
    # Plain groupings.
    site_members: dict[str, list[PulseResponse]] = {}
    team_members: dict[str, list[PulseResponse]] = {}
    for r in data:
        site_members.setdefault(r.site_id, []).append(r)
        team_members.setdefault(r.team_id, []).append(r)

    def plain(members: list[PulseResponse]) -> tuple[int, float, float]:
        promoters = detractors = 0
        mood = 0
        for r in members:
            if r.recommend >= 9:
                promoters += 1
            if r.recommend <= 6:
                detractors += 1
            mood += r.wellbeing
        return len(members), 100 * (promoters - detractors) / len(members), mood / len(members)

    def check(value: PulseSummary | Suppressed, members: list[PulseResponse]) -> None:
        if isinstance(value, PulseSummary):
            assert value.respondents >= minimum
            n, e, w = plain(members)
            assert (value.respondents, value.enps, value.wellbeing) == (n, pytest.approx(e), pytest.approx(w))

    total_visible = len(data) >= minimum
    assert isinstance(report.total, PulseSummary) == total_visible
    if data:
        check(report.total, data)
    expected_sites = reference_hide({k: len(v) for k, v in site_members.items()}, minimum, total_visible)
    assert {k for k, v in report.sites.items() if isinstance(v, Suppressed)} == expected_sites
    for site, members in site_members.items():
        check(report.sites[site], members)
        teams = {t: len(m) for t, m in team_members.items() if m[0].site_id == site}
        expected_teams = reference_hide(teams, minimum, site not in expected_sites)
        assert {t for t in teams if isinstance(report.teams[t], Suppressed)} == expected_teams
        for t in teams:
            check(report.teams[t], team_members[t])

    # Differencing: under each visible parent, parent minus its visible children is the hidden children
    # together; it must never be one group alone, nor fewer than `minimum` respondents.
    parents: list[tuple[PulseSummary | Suppressed, dict[str, PulseSummary | Suppressed], dict[str, int]]] = [
        (report.total, report.sites, {k: len(v) for k, v in site_members.items()})
    ]
    for site in site_members:
        teams = {t: len(m) for t, m in team_members.items() if m[0].site_id == site}
        parents.append((report.sites[site], {t: report.teams[t] for t in teams}, teams))
    for parent, children, counts in parents:
        hidden = [k for k, v in children.items() if isinstance(v, Suppressed)]
        if isinstance(parent, PulseSummary) and hidden:
            assert len(hidden) >= 2
            assert sum(counts[k] for k in hidden) >= minimum
        if isinstance(parent, Suppressed):
            assert len(hidden) == len(children)


# ------------------------------------------------------------------------------------ attrition

APRIL = Period.month(date(2025, 4, 1))  # 30 days


def test_attrition_annualised_over_a_30_day_month():
    stayers = [Tenure(f"a{i}", date(2024, 1, 1), None) for i in range(18)]
    leavers = [
        Tenure("l1", date(2024, 5, 1), date(2025, 4, 10)),
        Tenure("l2", date(2023, 1, 1), date(2025, 4, 10)),
    ]
    result = attrition(stayers + leavers, APRIL)
    # 20 on April 1-10 (the leave day is their last day), 18 on April 11-30.
    assert result.average_headcount == pytest.approx((20 * 10 + 18 * 20) / 30)
    assert result.leavers == 2
    assert result.rate == pytest.approx(2 / (560 / 30))
    assert result.annualised == pytest.approx(2 / (560 / 30) * 365 / 30)


def test_attrition_hires_transfers_and_empty():
    tenures = [
        Tenure("a", date(2025, 4, 16), None),  # hired mid-month: 15 days
        Tenure("b", date(2025, 1, 1), date(2025, 4, 15), left=False),  # transferred out: not a leaver
        Tenure("c", date(2025, 1, 1), date(2025, 3, 31)),  # left before April
        Tenure("d", date(2025, 5, 1), None),  # hired after
    ]
    result = attrition(tenures, APRIL)
    assert result.leavers == 0 and result.average_headcount == pytest.approx(1.0)
    assert result.rate == 0.0
    empty = attrition([], APRIL)
    assert empty.rate is None and empty.annualised is None
    by_team = attrition_by_group(
        [("t1", tenures[0]), ("t2", Tenure("e", date(2025, 1, 1), date(2025, 4, 30)))], APRIL
    )
    assert by_team["t2"].leavers == 1 and by_team["t2"].average_headcount == 1.0
    assert by_team["t2"].annualised == pytest.approx(365 / 30)


tenure_rows = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(-60, 40),
        st.one_of(st.none(), st.integers(0, 100)),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(tenure_rows)
def test_attrition_matches_a_day_by_day_loop(rows):
    base = date(2025, 4, 1)
    pairs = []
    for g, start, length, left in rows:
        s = base + timedelta(days=start)
        pairs.append((f"g{g}", Tenure("x", s, None if length is None else s + timedelta(days=length), left)))
    got = attrition_by_group(pairs, APRIL)
    for group in {g for g, _ in pairs}:
        members = [t for g, t in pairs if g == group]
        headcounts = []
        day = APRIL.start
        while day <= APRIL.end:
            n = 0
            for t in members:
                if t.start <= day and (t.end is None or day <= t.end):
                    n += 1
            headcounts.append(n)
            day += timedelta(days=1)
        average = sum(headcounts) / 30
        leavers = 0
        for t in members:
            if t.left and t.end is not None and APRIL.start <= t.end <= APRIL.end:
                leavers += 1
        result = got[group]
        assert result.leavers == leavers
        assert result.average_headcount == pytest.approx(average)
        if average == 0:
            assert result.rate is None
        else:
            assert result.rate == pytest.approx(leavers / average)
            assert result.annualised == pytest.approx(leavers / average * 365 / 30)


# ------------------------------------------------------------------------------------ workload


def test_workload_measures_and_flags():
    inputs = WorkloadInputs(
        agents=10,
        worked_hours=1800,
        overtime_hours=180,
        overtime_cap_hours=360,
        short_rests=2,
        max_consecutive_days=8,
        late_schedule_changes=3,
    )
    m = workload_measures(inputs)
    assert (m.overtime_share, m.overtime_vs_cap, m.short_rests_per_agent, m.late_changes_per_agent) == (
        0.1,
        0.5,
        0.2,
        0.3,
    )
    flags = {f.kind: f for f in workload_flags(inputs, APRIL)}
    assert set(flags) == {FlagKind.SHORT_RESTS, FlagKind.CONSECUTIVE_DAYS}
    [e] = flags[FlagKind.CONSECUTIVE_DAYS].evidence
    assert (e.metric, e.value, e.comparison, e.threshold, e.period) == (
        "max_consecutive_days",
        8,
        ">",
        6,
        APRIL,
    )
    lenient = workload_flags(
        inputs,
        APRIL,
        WorkloadLimits(short_rests_per_agent=0.5, consecutive_days=10, late_changes_per_agent=0.2),
    )
    assert [f.kind for f in lenient] == [FlagKind.LATE_CHANGES]
    none = workload_measures(WorkloadInputs(0, 0, 0, 0, 0, 0, 0))
    assert none.overtime_share is None and none.short_rests_per_agent is None


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 50),
    st.integers(0, 30),
    st.integers(0, 15),
    st.integers(0, 40),
    st.floats(0, 2),
    st.integers(1, 14),
    st.floats(0, 3),
)
def test_workload_flags_match_plain_rules(agents, short, days, late, rest_limit, day_limit, late_limit):
    inputs = WorkloadInputs(agents, 160.0 * agents, 5.0 * agents, 36.0 * agents, short, days, late)
    limits = WorkloadLimits(rest_limit, day_limit, late_limit)
    expected = []
    if agents > 0 and short / agents > rest_limit:
        expected.append(FlagKind.SHORT_RESTS)
    if days > day_limit:
        expected.append(FlagKind.CONSECUTIVE_DAYS)
    if agents > 0 and late / agents > late_limit:
        expected.append(FlagKind.LATE_CHANGES)
    flags = workload_flags(inputs, APRIL, limits)
    assert [f.kind for f in flags] == expected
    for f in flags:
        [e] = f.evidence
        assert e.value > e.threshold and e.period == APRIL
