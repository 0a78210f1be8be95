"""Employee-side measures: eNPS, wellbeing, anonymous pulse breakdowns, attrition, workload. Pure, no I/O.

**eNPS** = % of respondents scoring 9-10 minus % scoring 0-6 on "would you recommend working here" (0-10),
so -100..100; **wellbeing** = mean of a 1-5 answer. Both ``None`` for no respondents.

**Anonymity.** Pulse responses carry no agent id, only the site and team the respondent belongs to
(:class:`PulseResponse`; both questions are required answers, so one respondent = one answer to each).
:func:`pulse_report` breaks a survey down total -> sites -> teams (teams nest in sites) and never shows a
number for fewer than ``minimum`` (default 5) respondents: a hidden group is the value
:class:`Suppressed`, which holds no count, no score and no reason (even "fewer than 5" would say something).

Suppression, applied top-down (:func:`suppressed_groups` is the rule for one parent and its children):

1. the total is suppressed below ``minimum``; a suppressed parent suppresses all its children (its children
   would add up to it, and it to the siblings it protects);
2. under a visible parent, every child below ``minimum`` is suppressed (primary suppression);
3. complementary suppression: the parent minus its visible children equals the suppressed children taken
   together, so while the suppressed children are exactly one group, or together hold fewer than
   ``minimum`` respondents, the smallest visible child is suppressed too (ties: the lowest key). With one
   small team hidden, the next smallest is hidden beside it; with two hidden teams of 2, a third is.

So no subtraction of visible numbers from visible numbers isolates one suppressed group, or any set of
suppressed groups holding fewer than ``minimum`` respondents. Limits: this protects one survey's
breakdown; comparing two surveys whose respondent sets differ by one person is the caller's to prevent
(publish pulses per survey wave, not rolling).

**Attrition** over a period = leavers in the period / average daily headcount, and annualised x 365 /
days in the period. From :class:`Tenure` rows: an agent is in the headcount on every day from ``start`` to
``end`` inclusive (``end`` is the last day employed, as ``agents.left_on``; ``None``: still employed), and
is a leaver when ``end`` falls in the period and ``left`` is true. For a team or site, pass one tenure per
membership with ``left=False`` when the membership ended by a transfer: the agent leaves the headcount but
is not a leaver. No headcount: no rate (``None``).

**Workload** (:class:`WorkloadInputs`) comes computed from the seating domain as plain numbers and counts;
:func:`workload_measures` normalises them (shares, per agent) and :func:`workload_flags` flags short rests,
long runs of consecutive days and late schedule changes with their evidence. Occupancy and overtime
against the cap feed the scorecard's BURN flag (:mod:`service.scorecard.scoring`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from service.scorecard.evidence import Evidence, Flag, FlagKind, Side
from service.scorecard.periods import Period

MIN_RESPONDENTS = 5


def enps(scores: Iterable[int]) -> float | None:
    """% promoters (9-10) minus % detractors (0-6)."""
    promoters = detractors = count = 0
    for score in scores:
        if not 0 <= score <= 10:
            raise ValueError(f"an eNPS answer is 0-10, got {score}")
        count += 1
        promoters += score >= 9
        detractors += score <= 6
    return 100.0 * (promoters - detractors) / count if count else None


def wellbeing_mean(answers: Iterable[int]) -> float | None:
    values = list(answers)
    if any(not 1 <= v <= 5 for v in values):
        raise ValueError("a wellbeing answer is 1-5")
    return sum(values) / len(values) if values else None


@dataclass(frozen=True, slots=True)
class PulseResponse:
    """One anonymous answer to a pulse survey: no agent id, by design."""

    site_id: str
    team_id: str
    recommend: int  # 0-10, the eNPS question
    wellbeing: int  # 1-5


@dataclass(frozen=True, slots=True)
class PulseSummary:
    respondents: int
    enps: float
    wellbeing: float


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A hidden breakdown: deliberately nothing but the anonymity threshold in force."""

    minimum: int


PulseValue = PulseSummary | Suppressed


@dataclass(frozen=True, slots=True)
class PulseReport:
    minimum: int
    total: PulseValue
    sites: Mapping[str, PulseValue]
    teams: Mapping[str, PulseValue]


def suppressed_groups(
    counts: Mapping[str, int], minimum: int = MIN_RESPONDENTS, parent_visible: bool = True
) -> set[str]:
    """The children of one parent to hide, given each child's respondents (see the module docstring)."""
    if any(n < 1 for n in counts.values()):
        raise ValueError("a group in a breakdown has at least one respondent")
    if not parent_visible:
        return set(counts)
    hidden = {key for key, n in counts.items() if n < minimum}
    visible = sorted((n, key) for key, n in counts.items() if key not in hidden)
    hidden_respondents = sum(counts[key] for key in hidden)
    for n, key in visible:
        if not hidden or (len(hidden) >= 2 and hidden_respondents >= minimum):
            break
        hidden.add(key)
        hidden_respondents += n
    return hidden


def _summary(responses: Sequence[PulseResponse]) -> PulseSummary:
    score = enps(r.recommend for r in responses)
    mood = wellbeing_mean(r.wellbeing for r in responses)
    assert score is not None and mood is not None  # only called on non-empty groups
    return PulseSummary(len(responses), score, mood)


def pulse_report(responses: Iterable[PulseResponse], minimum: int = MIN_RESPONDENTS) -> PulseReport:
    """A survey's total, per-site and per-team results with anonymity suppression (module docstring)."""
    if minimum < 1:
        raise ValueError("minimum must be at least 1")
    everyone = list(responses)
    by_site: dict[str, list[PulseResponse]] = defaultdict(list)
    by_team: dict[str, list[PulseResponse]] = defaultdict(list)
    site_of_team: dict[str, str] = {}
    for r in everyone:
        if site_of_team.setdefault(r.team_id, r.site_id) != r.site_id:
            raise ValueError(f"team {r.team_id!r} answers from two sites; teams must nest in sites")
        by_site[r.site_id].append(r)
        by_team[r.team_id].append(r)

    hidden = Suppressed(minimum)
    total_visible = len(everyone) >= minimum
    total: PulseValue = _summary(everyone) if total_visible else hidden
    hidden_sites = suppressed_groups({k: len(v) for k, v in by_site.items()}, minimum, total_visible)
    sites: dict[str, PulseValue] = {
        k: hidden if k in hidden_sites else _summary(v) for k, v in by_site.items()
    }
    teams: dict[str, PulseValue] = {}
    teams_of_site: dict[str, list[str]] = defaultdict(list)
    for team, site in site_of_team.items():
        teams_of_site[site].append(team)
    for site, site_teams in teams_of_site.items():
        hidden_teams = suppressed_groups(
            {t: len(by_team[t]) for t in site_teams}, minimum, site not in hidden_sites
        )
        for team in site_teams:
            teams[team] = hidden if team in hidden_teams else _summary(by_team[team])
    return PulseReport(minimum, total, sites, teams)


@dataclass(frozen=True, slots=True)
class Tenure:
    agent_id: str
    start: date  # first day employed (or in the scope)
    end: date | None  # last day employed (or in the scope), inclusive; None: still there
    left: bool = True  # the end is a departure from the company; False: a transfer out of the scope

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"tenure of {self.agent_id!r} ends before it starts")


@dataclass(frozen=True, slots=True)
class Attrition:
    period: Period
    leavers: int
    average_headcount: float
    rate: float | None  # leavers / average daily headcount over the period
    annualised: float | None  # rate x 365 / days in the period


def _attrition_arrays(
    groups: NDArray[np.int64],
    starts: NDArray[np.int64],
    ends: NDArray[np.int64],
    leaves: NDArray[np.bool_],
    n_groups: int,
    period: Period,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Leavers and average headcount per group. Days are integers relative to the period start; the
    headcount per day is a difference array (+1 on the first day in the period, -1 after the last)."""
    days = period.days
    first = np.clip(starts, 0, days)
    after_last = np.clip(ends + 1, 0, days)
    present = first < after_last
    diff = np.zeros((n_groups, days + 1), dtype=np.int64)
    np.add.at(diff, (groups[present], first[present]), 1)
    np.add.at(diff, (groups[present], after_last[present]), -1)
    headcount = np.cumsum(diff[:, :days], axis=1)
    leaver = leaves & (ends >= 0) & (ends < days)
    leavers = np.bincount(groups[leaver], minlength=n_groups)
    return leavers, headcount.mean(axis=1)


def attrition_by_group(tenures: Iterable[tuple[str, Tenure]], period: Period) -> dict[str, Attrition]:
    """Attrition per group from (group key, tenure) pairs, linear in the tenures (numpy)."""
    keys: dict[str, int] = {}
    rows: list[tuple[int, int, int, bool]] = []
    far = 1 << 40  # an open-ended tenure ends after any period
    for group, t in tenures:
        index = keys.setdefault(group, len(keys))
        end = far if t.end is None else (t.end - period.start).days
        rows.append((index, (t.start - period.start).days, end, t.left and t.end is not None))
    if not rows:
        return {}
    table = np.array([r[:3] for r in rows], dtype=np.int64)
    leaves = np.array([r[3] for r in rows], dtype=bool)
    leavers, headcount = _attrition_arrays(table[:, 0], table[:, 1], table[:, 2], leaves, len(keys), period)
    out: dict[str, Attrition] = {}
    for group, index in keys.items():
        avg = float(headcount[index])
        rate = int(leavers[index]) / avg if avg > 0 else None
        out[group] = Attrition(
            period, int(leavers[index]), avg, rate, rate * 365 / period.days if rate is not None else None
        )
    return out


def attrition(tenures: Iterable[Tenure], period: Period) -> Attrition:
    result = attrition_by_group((("", t) for t in tenures), period)
    return result.get("") or Attrition(period, 0, 0.0, None, None)


@dataclass(frozen=True, slots=True)
class WorkloadInputs:
    """One scope's workload over a period, as the seating domain computes it."""

    agents: int  # agents rostered in the period
    worked_hours: float
    overtime_hours: float
    overtime_cap_hours: float  # the agents' overtime caps over the period, summed (labour rules)
    short_rests: int  # rests between two shifts shorter than the labour rules' minimum
    max_consecutive_days: int  # the longest run of working days of any agent
    late_schedule_changes: int  # shift changes notified later than the rules' notice period


@dataclass(frozen=True, slots=True)
class WorkloadMeasures:
    overtime_share: float | None  # overtime / worked hours
    overtime_vs_cap: float | None  # overtime / cap (1.0 = at the cap)
    short_rests_per_agent: float | None
    late_changes_per_agent: float | None
    max_consecutive_days: int


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def workload_measures(inputs: WorkloadInputs) -> WorkloadMeasures:
    return WorkloadMeasures(
        _ratio(inputs.overtime_hours, inputs.worked_hours),
        _ratio(inputs.overtime_hours, inputs.overtime_cap_hours),
        _ratio(inputs.short_rests, inputs.agents),
        _ratio(inputs.late_schedule_changes, inputs.agents),
        inputs.max_consecutive_days,
    )


@dataclass(frozen=True, slots=True)
class WorkloadLimits:
    """Flag when a measure exceeds its limit. Any short rest is a labour-rule breach, hence 0."""

    short_rests_per_agent: float = 0.0
    consecutive_days: int = 6
    late_changes_per_agent: float = 0.5


def workload_flags(
    inputs: WorkloadInputs, period: Period, limits: WorkloadLimits | None = None
) -> tuple[Flag, ...]:
    limits = limits or WorkloadLimits()
    measures = workload_measures(inputs)
    flags: list[Flag] = []

    def over(kind: FlagKind, metric: str, value: float | None, limit: float) -> None:
        if value is not None and value > limit:
            flags.append(Flag(kind, (Evidence(metric, value, ">", limit, period, Side.employee),)))

    over(
        FlagKind.SHORT_RESTS,
        "short_rests_per_agent",
        measures.short_rests_per_agent,
        limits.short_rests_per_agent,
    )
    over(
        FlagKind.CONSECUTIVE_DAYS,
        "max_consecutive_days",
        measures.max_consecutive_days,
        limits.consecutive_days,
    )
    over(
        FlagKind.LATE_CHANGES,
        "late_changes_per_agent",
        measures.late_changes_per_agent,
        limits.late_changes_per_agent,
    )
    return tuple(flags)
