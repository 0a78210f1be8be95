"""The balanced scorecard: KPI normalisation, versioned definitions, client / employee / process indices,
the balanced headline, the quadrant, the flags and their evidence, monthly scorecards, trends and the
client view. Pure, no I/O; vectorised with numpy over scopes.

Entry points
------------
- :func:`score_month` (inputs of any scopes and months -> one :class:`Scorecard` each, in input order) and
  :func:`trend` (one scope's consecutive months, e.g. 12, -> their scorecards, each with the definition in
  force in its month). Inputs are :class:`ScopeMonthInputs`; definitions come from a
  :class:`DefinitionBook`, thresholds from a :class:`ThresholdPolicy`.
- :func:`client_view` -> :class:`ClientScorecard`: what a client brand may see.
- Columnar core, for a caller that reads columns straight from the database: :func:`normalise`,
  :func:`score_columns`, :func:`running_hot`, :func:`flag_codes`, :func:`quadrant_codes`. The object path
  above is a thin layer over them.

Units of the inputs
-------------------
Shares are 0-1 (SLA attainment, CSAT, DSAT, conversion, occupancy, attrition annualised, coverage,
adherence), eNPS is -100..100, wellbeing and client rating are 1-5, QA IQS is 0-100, overtime vs cap is a
ratio (1.0 = at the cap). A KPI's value ``None`` (or absent from ``ScopeMonthInputs.kpis``) is no data;
keys the definition does not know are ignored. eNPS and wellbeing must come from
:func:`service.scorecard.people.pulse_report` and be ``None`` where it says :class:`Suppressed`: an index
over a handful of respondents could be inverted back to their answers. Pulses are anonymous, so agent
scopes never have them.

Normalisation (MetricNet style)
-------------------------------
Each KPI goes to 0-100. :class:`Linear`: 0 at ``worst``, 100 at ``best``, linear between, clamped outside;
lower-is-better when ``worst > best``. :class:`Band`: 100 inside ``[low, high]``, falling linearly to 0 at
``zero_below`` and at ``zero_above`` (occupancy: 100 inside 75-85 %, 0 at 50 % and at 100 %).

Definitions are versioned
-------------------------
A :class:`ScorecardDefinition` (``version``, ``effective_from`` = first day of a month, :class:`KpiSpec`
items, headline method) is in force from its month until the next one's; :meth:`DefinitionBook.in_force`
answers "the definition in force in month M", so a past month is always scored as it was then.

Indices and headline
--------------------
Each side's index (client, employee, process) is the weighted mean of its KPIs' scores over the KPIs with
data: missing KPIs drop out and the remaining weights renormalise (``KpiScore.share``); no KPI with data:
the index is ``None``. Client and employee KPIs are results; process KPIs (QA IQS, coaching coverage,
adherence) form the process index, shown beside the results and never mixed into them. The headline is the
geometric mean sqrt(client x employee) or the minimum of the two (``ScorecardDefinition.headline``), never
the arithmetic mean: 100 / 0 is 0 under both, where the arithmetic mean would say 50. ``None`` unless both
indices exist.

Quadrant
--------
Client index against ``Thresholds.client_target``, employee index against ``employee_target`` (at or above
is "at target"): ``balanced`` (both at target), ``burning`` (client at target, employee below),
``service_risk`` (client below, employee at target), ``both_low``. ``None`` unless both indices exist.

Running hot and the flags
-------------------------
The team runs hot in a month when any of these holds (each becomes evidence):

- occupancy: intervals above ``occupancy`` (90 %) on ordinary days plus intervals above
  ``promotion_occupancy`` (95 %) on declared promotion days >= ``hot_intervals`` (8). The wiring counts the
  intervals against the scope's own two thresholds (``ScopeMonthInputs.hot_intervals`` and
  ``promotion_hot_intervals``) from the scope's interval-level occupancy (the seating domain's);
- overtime on ordinary days (``overtime_hours - promotion_overtime_hours``) above ``overtime_cap_share``
  x the month's normal cap, or overtime on promotion days above ``promotion_overtime_cap_share`` x the cap
  (a promotion may use up to a whole cap by itself; the recovery obligation is the price);
- overtime over the cap, agent by agent (``ScopeMonthInputs.agent_overtime``): the monthly cap is each
  agent's own (China's 36 hours a month per worker), so one agent's unused cap never covers another's
  overtime. The scope runs hot when any of its agents worked more overtime on ordinary days than
  ``overtime_cap_share`` x its own cap, or more on promotion days than ``promotion_overtime_cap_share`` x
  its own cap (the relaxation covers the promotion's days only: the run-up and the aftermath outside the
  declared days are ordinary days). The evidence gives the agent furthest over, how many are over and
  their hours over the limits, each agent weighted by its share of the scope (:func:`agent_over_cap`). The
  pooled test above cannot see six agents far over their caps on a floor of seventy whose others worked
  little; it fires only when the agent test does too (when both are given), and stays for callers that only
  have a scope's totals;
- eNPS down by more than ``enps_drop`` (10) points from ``previous_enps``;
- understaffed: at least ``understaffed_intervals`` (4) intervals rostered below requirement (published
  rosters against their capacity plans' required agents) while SLA attainment was at or above ``sla_met``
  (1.0: every SLA target met), i.e. the team absorbed the gap.

Flags (client index ``None``: none of the three; nothing to balance against):

- BURN: client index at target and the team runs hot; evidence: the client index and every trigger.
- SERVICE_RISK: client index below target, not running hot; evidence: the client index.
- BOTH: client index below target and running hot. It **replaces** the other two (one flag per
  scorecard for the balance, evidence of both sides).

Promotions and recovery
-----------------------
A declared :class:`Promotion` relaxes the thresholds on its days (above) and creates a recovery obligation
over the ``recovery_weeks`` (2) weeks after its last day (:attr:`Promotion.recovery_window`):

- occupancy back to normal: intervals above the normal ``occupancy`` threshold in the window fewer than
  ``hot_intervals`` (the window would not trigger the occupancy test), and
- overtime compensated: compensatory rest hours taken in the window >= overtime hours worked on the
  promotion's days, or overtime in the window at most ``overtime_cap_share`` x the window's normal cap
  (the wiring, service.scorecard.inputs.window_inputs, measures both from seating's overtime per agent and
  day: rest as each agent's norm hours not worked on the window's workdays, up to its own promotion-day
  overtime).

A month's scorecard reports every recovery of ``ScopeMonthInputs.recoveries`` whose promotion or window
overlaps the month: ``pending`` (with its deadline, and the progress so far when given) while the
scorecard's ``as_of`` is before the deadline; at or after it, ``met``, ``failed`` (a RECOVERY_FAILED flag
with the failed conditions as evidence) or ``no_data`` (a measure is missing; reported, not flagged). A
failure thus lands in the month that holds the deadline, once. Each condition's evidence states the
comparison that holds (``compensatory_rest_hours = 418.7 < 645.5``), a condition not met saying so in its
note, with whether its alternative was met instead (``not met; the overtime rule met``).

Thresholds are per scope
------------------------
:class:`ThresholdPolicy` holds the defaults and partial overrides per :class:`ScopeRef`; a scope's
thresholds apply its parents' overrides from the farthest to the nearest, then its own
(``ScopeMonthInputs.parents``: nearest first, e.g. an agent's team then its site; a shop's brand).

Performance
-----------
:func:`score_month` makes one vectorised pass per definition in force (not per scope or month): numpy
for normalisation, indices, headline, quadrant and the running-hot tests; Python only to build the result
objects, and evidence only for flagged scopes. A scorecard keeps its KPI rows as plain tuples
(``kpi_values``, ``kpi_scores``, ``kpi_shares``; :attr:`Scorecard.kpis` pairs them with their specs on
demand). The cyclic GC is paused for the batch (restored after). ``tests/scorecard/bench_scoring.py``
has the figures.

Client view
-----------
:func:`client_view` keeps the client index, the client KPIs and SERVICE_RISK (BOTH shown as SERVICE_RISK)
with client-side evidence only: no employee index or KPI, no pulse, no BURN, no recovery, no process (QA)
measure. Agent scopes have no client view (``ValueError``).
"""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.kit import collector
from service.scorecard.evidence import Evidence, Flag, FlagKind, Side
from service.scorecard.periods import Period, add_months, month_start

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class ScopeKind(enum.StrEnum):
    shop = "shop"
    brand = "brand"
    site = "site"
    team = "team"
    agent = "agent"


@dataclass(frozen=True, slots=True)
class ScopeRef:
    kind: ScopeKind
    id: str


# ------------------------------------------------------------------------------------------- KPI keys
SLA_ATTAINMENT = "sla_attainment"  # share of the month's SLA targets met, 0-1
CSAT = "csat"  # ratings 4-5 / ratings, 0-1
DSAT = "dsat"  # ratings 1-2 / ratings, 0-1, lower is better
CONVERSION = "conversion"  # converted presale / presale conversations, 0-1
CLIENT_RATING = "client_rating"  # the brand's own monthly rating, 1-5
ENPS = "enps"  # -100..100
WELLBEING = "wellbeing"  # 1-5
ATTRITION = "attrition"  # annualised, 0-1+ (people.Attrition.annualised), lower is better
OVERTIME_VS_CAP = "overtime_vs_cap"  # overtime / cap, lower is better
OCCUPANCY = "occupancy"  # handle time / (logged-in time x concurrency), 0-1, a healthy band
SHORT_RESTS_PER_AGENT = "short_rests_per_agent"  # lower is better
LATE_CHANGES_PER_AGENT = "late_changes_per_agent"  # lower is better
MAX_CONSECUTIVE_DAYS = "max_consecutive_days"  # lower is better
QA_IQS = "qa_iqs"  # 0-100
COACHING_COVERAGE = "coaching_coverage"  # share of agents coached in the month, 0-1
ADHERENCE = "adherence"  # 0-1


# ------------------------------------------------------------------------------------- normalisation
@dataclass(frozen=True, slots=True)
class Linear:
    """0 at ``worst``, 100 at ``best``, clamped; lower is better when ``worst > best``."""

    worst: float
    best: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.worst) and math.isfinite(self.best)) or self.worst == self.best:
            raise ValueError(f"worst and best must be finite and differ, got {self.worst}, {self.best}")


@dataclass(frozen=True, slots=True)
class Band:
    """100 inside ``[low, high]``, linear down to 0 at ``zero_below`` and at ``zero_above``."""

    zero_below: float
    low: float
    high: float
    zero_above: float

    def __post_init__(self) -> None:
        if not self.zero_below < self.low <= self.high < self.zero_above:
            raise ValueError("a band needs zero_below < low <= high < zero_above")


Normalisation = Linear | Band


def normalise(values: ArrayLike, rule: Normalisation) -> FloatArray:
    """KPI values to 0-100 under ``rule``; NaN (no data) stays NaN."""
    v = np.asarray(values, dtype=np.float64)
    if isinstance(rule, Linear):
        return np.clip((v - rule.worst) / (rule.best - rule.worst), 0.0, 1.0) * 100.0
    rising = (v - rule.zero_below) / (rule.low - rule.zero_below)
    falling = (rule.zero_above - v) / (rule.zero_above - rule.high)
    # NaN compares false everywhere, so it lands in the last branch and stays NaN through np.clip.
    out = np.where(v < rule.low, rising, np.where(v > rule.high, falling, np.where(np.isnan(v), np.nan, 1.0)))
    return np.clip(out, 0.0, 1.0) * 100.0


# ---------------------------------------------------------------------------------------- definitions
class Headline(enum.StrEnum):
    geometric = "geometric"
    minimum = "minimum"


@dataclass(frozen=True, slots=True)
class KpiSpec:
    key: str
    side: Side  # client and employee KPIs are results; process KPIs form the process index
    rule: Normalisation
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise ValueError(f"KPI {self.key!r}: weight must be positive, got {self.weight}")

    @property
    def is_result(self) -> bool:
        return self.side is not Side.process


@dataclass(frozen=True, slots=True)
class ScorecardDefinition:
    version: str
    effective_from: date  # the first day of the first month it applies to
    kpis: tuple[KpiSpec, ...]
    headline: Headline = Headline.geometric

    def __post_init__(self) -> None:
        if self.effective_from.day != 1:
            raise ValueError("a definition takes effect on the first day of a month")
        keys = [k.key for k in self.kpis]
        if len(set(keys)) != len(keys):
            raise ValueError(f"definition {self.version!r} repeats a KPI key")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k.key for k in self.kpis)


class DefinitionBook:
    """Scorecard definitions by effective date: :meth:`in_force` gives the one in force in a month."""

    __slots__ = ("_definitions", "_starts")

    def __init__(self, definitions: Iterable[ScorecardDefinition]) -> None:
        ordered = sorted(definitions, key=lambda d: d.effective_from)
        if not ordered:
            raise ValueError("a definition book needs at least one definition")
        starts = [d.effective_from for d in ordered]
        if len(set(starts)) != len(starts):
            raise ValueError("two definitions take effect in the same month")
        if len({d.version for d in ordered}) != len(ordered):
            raise ValueError("two definitions share a version name")
        self._definitions = tuple(ordered)
        self._starts = tuple(starts)

    @property
    def definitions(self) -> tuple[ScorecardDefinition, ...]:
        return self._definitions

    def in_force(self, month: date) -> ScorecardDefinition:
        first = month_start(month)
        found = None
        for start, definition in zip(self._starts, self._definitions, strict=True):
            if start > first:
                break
            found = definition
        if found is None:
            raise LookupError(f"no scorecard definition in force in {first:%Y-%m}")
        return found


def standard_definition(
    effective_from: date = date(2025, 1, 1), version: str = "standard-1"
) -> ScorecardDefinition:
    """A starting definition; the worst/best values are starting points to calibrate on real peers."""
    client, employee, process = Side.client, Side.employee, Side.process
    return ScorecardDefinition(
        version,
        effective_from,
        (
            KpiSpec(SLA_ATTAINMENT, client, Linear(0.5, 1.0), 3.0),
            KpiSpec(CSAT, client, Linear(0.80, 0.98), 2.0),
            KpiSpec(DSAT, client, Linear(0.10, 0.01), 1.0),
            KpiSpec(CONVERSION, client, Linear(0.20, 0.60), 2.0),
            KpiSpec(CLIENT_RATING, client, Linear(2.0, 5.0), 2.0),
            KpiSpec(ENPS, employee, Linear(-50.0, 50.0), 2.0),
            KpiSpec(WELLBEING, employee, Linear(2.0, 4.5), 2.0),
            KpiSpec(ATTRITION, employee, Linear(1.0, 0.2), 2.0),
            KpiSpec(OVERTIME_VS_CAP, employee, Linear(1.2, 0.25), 2.0),
            KpiSpec(OCCUPANCY, employee, Band(0.50, 0.75, 0.85, 1.00), 2.0),
            KpiSpec(SHORT_RESTS_PER_AGENT, employee, Linear(2.0, 0.0), 1.0),
            KpiSpec(LATE_CHANGES_PER_AGENT, employee, Linear(4.0, 0.0), 1.0),
            KpiSpec(MAX_CONSECUTIVE_DAYS, employee, Linear(12.0, 6.0), 1.0),
            KpiSpec(QA_IQS, process, Linear(60.0, 95.0), 2.0),
            KpiSpec(COACHING_COVERAGE, process, Linear(0.2, 0.9), 1.0),
            KpiSpec(ADHERENCE, process, Linear(0.80, 0.97), 1.0),
        ),
    )


# ----------------------------------------------------------------------------------------- thresholds
@dataclass(frozen=True, slots=True)
class Thresholds:
    client_target: float = 70.0  # index points; at or above is "at target"
    employee_target: float = 70.0
    occupancy: float = 0.90  # an interval above this runs hot (ordinary days)
    promotion_occupancy: float = 0.95  # the same on declared promotion days
    hot_intervals: int = 8  # this many hot intervals in the month make the team run hot
    overtime_cap_share: float = 1.0  # ordinary-day overtime above this share of the normal cap runs hot
    promotion_overtime_cap_share: float = 1.0  # promotion-day overtime allowed up to this share of the cap
    enps_drop: float = 10.0  # eNPS points lost since the previous month beyond which the team runs hot
    understaffed_intervals: int = 4  # intervals rostered below requirement ...
    sla_met: float = 1.0  # ... while SLA attainment was at least this
    recovery_weeks: int = 2  # after a promotion's last day

    def __post_init__(self) -> None:
        if min(self.hot_intervals, self.understaffed_intervals, self.recovery_weeks) < 1:
            raise ValueError("hot_intervals, understaffed_intervals and recovery_weeks must be at least 1")


_THRESHOLD_FIELDS = tuple(f.name for f in fields(Thresholds))


@dataclass(frozen=True)
class ThresholdPolicy:
    """Default thresholds and partial overrides per scope (field name -> value). Build one per batch or
    request from the stored settings: it remembers each scope it resolved."""

    defaults: Thresholds = field(default_factory=Thresholds)
    overrides: Mapping[ScopeRef, Mapping[str, float]] = field(default_factory=dict)
    # One Thresholds object per distinct scope: cheap to gather into columns, and built once per policy.
    _resolved: dict[tuple[ScopeRef, tuple[ScopeRef, ...]], Thresholds] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for scope, values in self.overrides.items():
            unknown = set(values) - set(_THRESHOLD_FIELDS)
            if unknown:
                raise ValueError(f"unknown thresholds for {scope}: {sorted(unknown)}")

    def for_scope(self, scope: ScopeRef, parents: Sequence[ScopeRef] = ()) -> Thresholds:
        key = (scope, tuple(parents))
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._merge(scope, parents)
        return found

    def _merge(self, scope: ScopeRef, parents: Sequence[ScopeRef]) -> Thresholds:
        merged: dict[str, float] = {}
        for ref in (*reversed(parents), scope):
            merged.update(self.overrides.get(ref, {}))
        if not merged:
            return self.defaults
        # Integer thresholds stay integers (counts and weeks).
        typed: dict[str, Any] = {
            k: int(v) if isinstance(getattr(self.defaults, k), int) else float(v) for k, v in merged.items()
        }
        return replace(self.defaults, **typed)


# -------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True)
class Promotion:
    promotion_id: str
    name: str
    start: date
    end: date  # last promotion day, inclusive

    @property
    def period(self) -> Period:
        return Period(self.start, self.end)

    def recovery_window(self, weeks: int) -> Period:
        return Period(self.end + timedelta(days=1), self.end + timedelta(days=7 * weeks))


@dataclass(frozen=True, slots=True)
class RecoveryInputs:
    """A promotion's recovery so far, measured by the seating domain over its recovery window up to the
    scorecard's as-of day (or the deadline). ``None``: not measured."""

    promotion: Promotion
    promotion_overtime_hours: float  # overtime worked on the promotion's days (all of them)
    hot_intervals: int | None = None  # window intervals above the normal occupancy threshold
    overtime_hours: float | None = None  # overtime worked in the window
    overtime_cap_hours: float | None = None  # the normal overtime cap for the window's days
    compensatory_rest_hours: float | None = None  # compensatory rest taken in the window


@dataclass(frozen=True, slots=True)
class AgentOvertime:
    """One agent's overtime in a scope's month, split into the declared promotions' days and the others, with
    its own monthly cap. ``weight``: the agent's share of the scope (1 for its site, team or agent scope; for
    a shop or a brand, its share of its month's time spent there)."""

    ordinary_hours: float  # overtime on the month's ordinary days (every day not a declared promotion day)
    promotion_hours: float  # overtime on the month's declared promotion days
    cap_hours: float  # the agent's monthly overtime cap
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class ScopeMonthInputs:
    """Everything one scope's scorecard for one month needs. ``None`` means no data.

    Where each input comes from (the wiring's job; these modules do no I/O):

    - ``kpis``: client KPIs from the SLA rollups (SLA attainment, CSAT, DSAT, conversion) and the brand's
      rating; employee KPIs from :mod:`service.scorecard.people` (eNPS and wellbeing of
      :func:`~service.scorecard.people.pulse_report`, ``None`` where suppressed; attrition annualised;
      workload measures) and the seating domain (occupancy, overtime vs cap); process KPIs from
      :mod:`service.scorecard.qa` (IQS, coaching coverage) and attendance (adherence).
    - ``hot_intervals``, ``promotion_hot_intervals``, ``overtime_*``, ``understaffed_intervals``: the
      seating and capacity domains, counted against this scope's :class:`Thresholds` (occupancy and
      promotion occupancy) and split by the days of ``promotions``.
    - ``agent_overtime``: the scope's agents with overtime in the month, each against its own cap (the
      agent test of the running-hot rules); agents within both of their limits may be left out (they change
      neither the test nor its evidence).
    - ``previous_enps``: last month's value, under the same suppression.
    - ``recoveries``: one per promotion whose promotion days or recovery window touch the month, measured
      over the window up to ``as_of``.

    Promotion-day inputs without a declared promotion in the month are refused: relaxation is what a
    declaration buys, and it creates the recovery obligation.
    """

    scope: ScopeRef
    month: date  # any day of the month
    kpis: Mapping[str, float | None]  # raw KPI values by key (units in the module docstring)
    parents: tuple[ScopeRef, ...] = ()  # nearest first, for threshold overrides
    hot_intervals: int | None = None  # ordinary-day intervals with occupancy above Thresholds.occupancy
    promotion_hot_intervals: int | None = None  # promotion-day intervals above Thresholds.promotion_occupancy
    overtime_hours: float | None = None  # all overtime in the month
    promotion_overtime_hours: float | None = None  # the part of it worked on promotion days
    overtime_cap_hours: float | None = None  # the month's normal cap (the agents' monthly caps summed)
    previous_enps: float | None = None  # last month's eNPS (the current one is kpis["enps"])
    understaffed_intervals: int | None = None  # intervals with fewer agents rostered than required
    promotions: tuple[Promotion, ...] = ()  # declared promotions with days in this month
    recoveries: tuple[RecoveryInputs, ...] = ()
    as_of: date | None = None  # the day the scorecard is computed for; None: the month's last day
    agent_overtime: tuple[AgentOvertime, ...] = ()  # per agent, against its own cap

    def __post_init__(self) -> None:
        promotion_inputs = (
            bool(self.promotion_hot_intervals)
            or bool(self.promotion_overtime_hours)
            or any(a.promotion_hours for a in self.agent_overtime)
        )
        if not self.promotions:
            if promotion_inputs:
                raise ValueError(f"{self.scope}: promotion-day inputs without a declared promotion")
            return
        month = Period.month(self.month)
        for p in self.promotions:
            if p.period.overlap(month) is None:
                raise ValueError(f"{self.scope}: promotion {p.promotion_id!r} has no day in {month}")


# ------------------------------------------------------------------------------------ columnar core
@dataclass(frozen=True, slots=True)
class IndexColumns:
    scores: FloatArray  # (n, k) normalised KPI scores, NaN: no data
    shares: FloatArray  # (n, k) each KPI's share of its side's index, 0 without data
    client: FloatArray  # (n,) NaN: no client KPI with data
    employee: FloatArray
    process: FloatArray
    headline: FloatArray  # under the definition's method


def geometric_balance(client: ArrayLike, employee: ArrayLike) -> FloatArray:
    """sqrt(client x employee): any 0 makes it 0; NaN when either is missing."""
    return np.sqrt(np.asarray(client, dtype=np.float64) * np.asarray(employee, dtype=np.float64))


def minimum_balance(client: ArrayLike, employee: ArrayLike) -> FloatArray:
    """min(client, employee); NaN when either is missing."""
    return np.minimum(np.asarray(client, dtype=np.float64), np.asarray(employee, dtype=np.float64))


def balanced_score(client: float | None, employee: float | None, method: Headline) -> float | None:
    if client is None or employee is None:
        return None
    return math.sqrt(client * employee) if method is Headline.geometric else min(client, employee)


def score_columns(definition: ScorecardDefinition, values: ArrayLike) -> IndexColumns:
    """Normalise (n, k) raw values (columns in ``definition.kpis`` order, NaN no data) and compute the
    three indices and the headline for all n rows at once."""
    raw = np.asarray(values, dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != len(definition.kpis):
        raise ValueError(f"expected (n, {len(definition.kpis)}) values, got shape {raw.shape}")
    scores = np.empty_like(raw)
    for j, spec in enumerate(definition.kpis):
        scores[:, j] = normalise(raw[:, j], spec.rule)
    weights = np.array([k.weight for k in definition.kpis])
    has = ~np.isnan(scores)
    weighted = np.where(has, scores, 0.0) * weights
    present = has * weights
    shares = np.zeros_like(raw)
    indices: dict[Side, FloatArray] = {}
    for side in (Side.client, Side.employee, Side.process):
        cols = np.array([k.side is side for k in definition.kpis], dtype=bool)
        total = present[:, cols].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            indices[side] = np.where(total > 0, weighted[:, cols].sum(axis=1) / total, np.nan)
            shares[:, cols] = np.where(total[:, None] > 0, present[:, cols] / total[:, None], 0.0)
    client, employee = indices[Side.client], indices[Side.employee]
    balance = geometric_balance if definition.headline is Headline.geometric else minimum_balance
    return IndexColumns(scores, shares, client, employee, indices[Side.process], balance(client, employee))


class Quadrant(enum.StrEnum):
    balanced = "balanced"
    burning = "burning"
    service_risk = "service_risk"
    both_low = "both_low"


_QUADRANTS = (Quadrant.balanced, Quadrant.burning, Quadrant.service_risk, Quadrant.both_low)


def quadrant_codes(
    client: ArrayLike, employee: ArrayLike, client_target: ArrayLike, employee_target: ArrayLike
) -> NDArray[np.int8]:
    """0 balanced, 1 burning, 2 service_risk, 3 both_low, -1 when either index is missing."""
    c, e = np.asarray(client, dtype=np.float64), np.asarray(employee, dtype=np.float64)
    code = (c < np.asarray(client_target)) * 2 + (e < np.asarray(employee_target)) * 1
    return np.where(np.isnan(c) | np.isnan(e), -1, code).astype(np.int8)


@dataclass(frozen=True, slots=True)
class WorkloadColumns:
    """(n,) columns of the running-hot inputs, NaN for no data (see :class:`ScopeMonthInputs`)."""

    hot_intervals: FloatArray
    promotion_hot_intervals: FloatArray
    overtime_hours: FloatArray
    promotion_overtime_hours: FloatArray
    overtime_cap_hours: FloatArray
    enps: FloatArray
    previous_enps: FloatArray
    understaffed_intervals: FloatArray
    sla_attainment: FloatArray
    # (n,) how many agents are over their own caps (agent_over_cap), ordinary days and promotion days; None:
    # no agent-level data for any row
    agents_over_cap: FloatArray | None = None
    agents_over_promotion_cap: FloatArray | None = None


def agent_over_cap(
    scope: ArrayLike, hours: ArrayLike, cap: ArrayLike, weight: ArrayLike, share: ArrayLike, n: int
) -> tuple[FloatArray, FloatArray]:
    """Per scope (n,): (the hours its agents worked over their own limits, each weighted: the sum over its
    rows of weight x max(0, hours - share[scope] x cap); how many of its agents with a weight are over). Rows
    are aligned arrays (the scope's index 0..n-1, the agent's overtime hours on the days judged, its cap, its
    weight in the scope); SHARE is (n,), the scope's cap share for those days. A scope without rows: 0, 0.
    The count decides the test (a tiny weight may round its hours over to 0); the hours measure it."""
    s = np.asarray(scope, dtype=np.intp)
    w = np.asarray(weight, dtype=np.float64)
    over = np.maximum(
        0.0, np.asarray(hours, dtype=np.float64) - np.asarray(share, dtype=np.float64)[s] * np.asarray(cap)
    )
    counted = ((over > 0) & (w > 0)).astype(np.float64)
    return (
        np.bincount(s, w * over, minlength=n).astype(np.float64),
        np.bincount(s, counted, minlength=n).astype(np.float64),
    )


@dataclass(frozen=True, slots=True)
class ThresholdColumns:
    """(n,) columns of :class:`Thresholds` fields, one row per scope."""

    client_target: FloatArray
    employee_target: FloatArray
    occupancy: FloatArray
    promotion_occupancy: FloatArray
    hot_intervals: FloatArray
    overtime_cap_share: FloatArray
    promotion_overtime_cap_share: FloatArray
    enps_drop: FloatArray
    understaffed_intervals: FloatArray
    sla_met: FloatArray
    recovery_weeks: FloatArray

    @classmethod
    def of(cls, thresholds: Sequence[Thresholds]) -> ThresholdColumns:
        # Few distinct Thresholds objects serve many scopes: tabulate the distinct ones, then gather.
        index: dict[int, int] = {}
        distinct: list[Thresholds] = []
        rows = np.empty(len(thresholds), dtype=np.intp)
        for i, t in enumerate(thresholds):
            j = index.get(id(t))
            if j is None:
                j = index[id(t)] = len(distinct)
                distinct.append(t)
            rows[i] = j
        table = np.array([[getattr(t, f) for f in _THRESHOLD_FIELDS] for t in distinct], dtype=np.float64)
        table = table.reshape(len(distinct), len(_THRESHOLD_FIELDS))
        return cls(*(table[rows, j] for j in range(len(_THRESHOLD_FIELDS))))


@dataclass(frozen=True, slots=True)
class HotTriggers:
    """(n,) booleans: which running-hot test fired for each row."""

    occupancy: BoolArray
    overtime_ordinary: BoolArray  # the scope's pooled overtime over its summed caps
    overtime_promotion: BoolArray
    enps_drop: BoolArray
    understaffed: BoolArray
    agent_overtime_ordinary: BoolArray  # an agent over its own cap (ordinary days)
    agent_overtime_promotion: BoolArray  # an agent over its relaxed cap (promotion days)

    @property
    def any(self) -> BoolArray:
        return (
            self.occupancy
            | self.overtime_ordinary
            | self.overtime_promotion
            | self.enps_drop
            | self.understaffed
            | self.agent_overtime_ordinary
            | self.agent_overtime_promotion
        )


def running_hot(w: WorkloadColumns, t: ThresholdColumns) -> HotTriggers:
    """The four running-hot tests (overtime split in ordinary and promotion days, pooled and agent by
    agent), vectorised."""
    counted = ~np.isnan(w.hot_intervals) | ~np.isnan(w.promotion_hot_intervals)
    hot_count = np.nan_to_num(w.hot_intervals) + np.nan_to_num(w.promotion_hot_intervals)
    promotion_overtime = np.nan_to_num(w.promotion_overtime_hours)
    none = np.zeros(len(w.hot_intervals), dtype=bool)
    with np.errstate(invalid="ignore"):
        # NaN compares false, so a missing input never fires a test.
        return HotTriggers(
            counted & (hot_count >= t.hot_intervals),
            w.overtime_hours - promotion_overtime > t.overtime_cap_share * w.overtime_cap_hours,
            w.promotion_overtime_hours > t.promotion_overtime_cap_share * w.overtime_cap_hours,
            w.previous_enps - w.enps > t.enps_drop,
            (w.understaffed_intervals >= t.understaffed_intervals) & (w.sla_attainment >= t.sla_met),
            none if w.agents_over_cap is None else w.agents_over_cap > 0,
            none if w.agents_over_promotion_cap is None else w.agents_over_promotion_cap > 0,
        )


FLAG_NONE, FLAG_BURN, FLAG_SERVICE_RISK, FLAG_BOTH = 0, 1, 2, 3


def flag_codes(client: ArrayLike, hot: ArrayLike, client_target: ArrayLike) -> NDArray[np.int8]:
    """0 none, 1 BURN, 2 SERVICE_RISK, 3 BOTH (BOTH replaces the other two); 0 without a client index."""
    c = np.asarray(client, dtype=np.float64)
    h = np.asarray(hot, dtype=bool)
    known = ~np.isnan(c)
    below = known & (c < np.asarray(client_target))
    at_target = known & ~below
    code = np.where(
        at_target & h, FLAG_BURN, np.where(below, np.where(h, FLAG_BOTH, FLAG_SERVICE_RISK), FLAG_NONE)
    )
    return code.astype(np.int8)


# ------------------------------------------------------------------------------------------ outputs
class KpiScore(NamedTuple):
    # A NamedTuple: a dozen per scorecard and thousands of scorecards; it is cheap to build.
    key: str
    side: Side
    value: float | None  # the raw input
    score: float | None  # 0-100
    weight: float  # the definition's weight
    share: float  # share of its side's index after renormalisation; 0 without data


class RecoveryState(enum.StrEnum):
    pending = "pending"
    met = "met"
    failed = "failed"
    no_data = "no_data"


@dataclass(frozen=True, slots=True)
class RecoveryStatus:
    promotion: Promotion
    window: Period
    deadline: date
    state: RecoveryState
    evidence: tuple[Evidence, ...]  # failed: the failed conditions; otherwise: the measures so far


@dataclass(frozen=True, slots=True)
class Scorecard:
    scope: ScopeRef
    month: date
    period: Period
    as_of: date
    definition: ScorecardDefinition
    thresholds: Thresholds
    # Per KPI, in definition.kpis order (the kpis property pairs them with their specs): the raw value,
    # the 0-100 score (None: no data) and the share of its side's index. Kept as plain rows because a
    # batch builds tens of thousands of scorecards and most readers want a few numbers, not every KPI.
    kpi_values: tuple[float | None, ...]
    kpi_scores: tuple[float | None, ...]
    kpi_shares: tuple[float, ...]
    client_index: float | None
    employee_index: float | None
    process_index: float | None
    headline: float | None  # under definition.headline
    quadrant: Quadrant | None
    flags: tuple[Flag, ...]
    recoveries: tuple[RecoveryStatus, ...]

    @property
    def kpis(self) -> tuple[KpiScore, ...]:
        return tuple(
            KpiScore(spec.key, spec.side, value, score, spec.weight, share)
            for spec, value, score, share in zip(
                self.definition.kpis, self.kpi_values, self.kpi_scores, self.kpi_shares, strict=True
            )
        )

    def kpi(self, key: str) -> KpiScore | None:
        return next((k for k in self.kpis if k.key == key), None)

    def flag(self, kind: FlagKind) -> Flag | None:
        return next((f for f in self.flags if f.kind is kind), None)


@dataclass(frozen=True, slots=True)
class ClientScorecard:
    scope: ScopeRef
    month: date
    period: Period
    definition_version: str
    client_index: float | None
    client_target: float
    kpis: tuple[KpiScore, ...]  # client side only
    flags: tuple[Flag, ...]  # SERVICE_RISK only, client evidence only


# ----------------------------------------------------------------------------------- evidence builders
def _f(x: float) -> str:
    return f"{x:g}"


def _agent_overtime_evidence(
    x: ScopeMonthInputs, share: float, promotion: bool, period: Period, note: str
) -> Evidence:
    """The agent test's evidence (ordinary or promotion days): the agent furthest over its limit (its
    overtime, the limit share x its cap), how many agents are over and their hours over, weighted."""
    over = []
    for a in x.agent_overtime:
        hours, limit = (a.promotion_hours if promotion else a.ordinary_hours), share * a.cap_hours
        if a.weight > 0 and hours > limit:
            over.append((hours - limit, hours, limit, a))
    _, most, limit, worst = max(over, key=lambda r: r[0])
    total = sum(a.weight * excess for excess, _, _, a in over)
    days = "promotion" if promotion else "ordinary"
    note = (
        f"{len(over)} agent(s) over {note} ({_f(share)} x the {_f(worst.cap_hours)} h cap of each agent) on "
        f"{days} days, {total:.4g} h over in all (weighted by their share of the scope); the value is the "
        "agent furthest over"
    )
    return Evidence(f"agent_overtime_hours_{days}_days", most, ">", limit, period, Side.employee, note)


def _hot_evidence(
    fired: tuple[bool, ...], x: ScopeMonthInputs, t: Thresholds, month: Period
) -> list[Evidence]:
    """The evidence of the running-hot tests that fired for one scope (from its Python inputs: only
    flagged scopes get here, so this need not be vectorised)."""
    occupancy, overtime_ordinary, overtime_promotion, enps_drop, understaffed, agent_ordinary, agent_promo = (
        fired
    )
    out: list[Evidence] = []
    promo = _promotion_days(x.promotions, month) or month
    e = Side.employee
    if occupancy:
        ordinary, promotion = x.hot_intervals or 0, x.promotion_hot_intervals or 0
        note = f"intervals above {_f(t.occupancy * 100)} % occupancy on ordinary days: {ordinary}"
        if promotion:
            note += f"; above {_f(t.promotion_occupancy * 100)} % on promotion days ({promo}): {promotion}"
        out.append(Evidence("hot_intervals", ordinary + promotion, ">=", t.hot_intervals, month, e, note))
    cap = x.overtime_cap_hours or 0.0
    if overtime_ordinary:
        ordinary_ot = (x.overtime_hours or 0.0) - (x.promotion_overtime_hours or 0.0)
        note = f"normal cap {_f(cap)} h x {_f(t.overtime_cap_share)}"
        out.append(
            Evidence(
                "overtime_hours_ordinary_days", ordinary_ot, ">", t.overtime_cap_share * cap, month, e, note
            )
        )
    if overtime_promotion:
        value = x.promotion_overtime_hours or 0.0
        note = f"relaxed: promotion days may use {_f(t.promotion_overtime_cap_share)} x the {_f(cap)} h cap"
        limit = t.promotion_overtime_cap_share * cap
        out.append(Evidence("overtime_hours_promotion_days", value, ">", limit, promo, e, note))
    if agent_ordinary:
        out.append(_agent_overtime_evidence(x, t.overtime_cap_share, False, month, "the normal limit"))
    if agent_promo:
        note = "the relaxed limit"
        out.append(_agent_overtime_evidence(x, t.promotion_overtime_cap_share, True, promo, note))
    if enps_drop:
        current, previous = x.kpis.get(ENPS) or 0.0, x.previous_enps or 0.0
        note = f"eNPS from {_f(previous)} last month to {_f(current)}"
        out.append(Evidence("enps_change", current - previous, "<", -t.enps_drop, month, e, note))
    if understaffed:
        count = x.understaffed_intervals or 0
        limit = t.understaffed_intervals
        note = "intervals rostered below requirement"
        out.append(Evidence("understaffed_intervals", count, ">=", limit, month, e, note))
        note = "SLA met anyway: the team absorbed the gap"
        out.append(
            Evidence(SLA_ATTAINMENT, x.kpis.get(SLA_ATTAINMENT) or 0.0, ">=", t.sla_met, month, e, note)
        )
    return out


_NEGATED = {"<": ">=", "<=": ">", ">=": "<", ">": "<="}


def _condition(
    metric: str,
    value: float,
    comparison: str,
    threshold: float,
    period: Period,
    note: str,
    ok: bool,
    status: str,
) -> Evidence:
    """A recovery condition's evidence stating the comparison that holds: COMPARISON when OK, else its
    negation, with STATUS (e.g. "not met; the overtime rule met") before the NOTE."""
    if ok:
        return Evidence(metric, value, comparison, threshold, period, Side.employee, note)
    return Evidence(
        metric, value, _NEGATED[comparison], threshold, period, Side.employee, f"{status}; {note}"
    )


def _recovery_status(r: RecoveryInputs, t: Thresholds, as_of: date) -> RecoveryStatus:
    window = r.promotion.recovery_window(t.recovery_weeks)
    deadline = window.end
    seen = Period(window.start, min(as_of, deadline)) if as_of >= window.start else window
    window_cap = None if r.overtime_cap_hours is None else t.overtime_cap_share * r.overtime_cap_hours
    # Three-valued: None is "not measured", so a missing measure neither passes nor fails a condition.
    occupancy_ok: bool | None = None
    if r.hot_intervals is not None:
        occupancy_ok = r.hot_intervals < t.hot_intervals
    rested: bool | None = None
    if r.compensatory_rest_hours is not None:
        rested = r.compensatory_rest_hours >= r.promotion_overtime_hours
    under_cap: bool | None = None
    if r.overtime_hours is not None and window_cap is not None:
        under_cap = r.overtime_hours <= window_cap
    # Each evidence line states the comparison that holds; a condition not met says so, and whether its
    # alternative (compensatory rest or overtime back under the cap) was met instead.
    unmet = "not met so far" if as_of < deadline else "not met"

    def instead(alternative: bool | None, name: str) -> str:
        if alternative is None:
            return unmet
        return f"{unmet}; {name} {'met' if alternative else 'not met either'}"

    occupancy: list[Evidence] = []
    if r.hot_intervals is not None:
        note = f"window intervals above {_f(t.occupancy * 100)} % occupancy must be fewer than this"
        occupancy.append(
            _condition(
                "recovery_hot_intervals",
                r.hot_intervals,
                "<",
                t.hot_intervals,
                seen,
                note,
                bool(occupancy_ok),
                unmet,
            )
        )
    overtime: list[Evidence] = []
    if r.compensatory_rest_hours is not None:
        note = f"compensating the overtime worked in {r.promotion.name} ({r.promotion.period})"
        overtime.append(
            _condition(
                "compensatory_rest_hours",
                r.compensatory_rest_hours,
                ">=",
                r.promotion_overtime_hours,
                seen,
                note,
                bool(rested),
                instead(under_cap, "the overtime rule"),
            )
        )
    if r.overtime_hours is not None and window_cap is not None:
        note = "overtime in the window against its normal cap (the alternative to compensatory rest)"
        overtime.append(
            _condition(
                "recovery_overtime_hours",
                r.overtime_hours,
                "<=",
                window_cap,
                seen,
                note,
                bool(under_cap),
                instead(rested, "compensatory rest"),
            )
        )
    compensated: bool | None = None
    if rested or under_cap:
        compensated = True
    elif rested is False and under_cap is False:
        compensated = False
    if as_of < deadline:
        state = RecoveryState.pending
    elif occupancy_ok is False or compensated is False:
        failed = (occupancy if occupancy_ok is False else []) + (overtime if compensated is False else [])
        return RecoveryStatus(r.promotion, window, deadline, RecoveryState.failed, tuple(failed))
    else:
        state = RecoveryState.met if occupancy_ok and compensated else RecoveryState.no_data
    return RecoveryStatus(r.promotion, window, deadline, state, tuple(occupancy + overtime))


def _promotion_days(promotions: Sequence[Promotion], month: Period) -> Period | None:
    inside = [p for p in (q.period.overlap(month) for q in promotions) if p is not None]
    if not inside:
        return None
    return Period(min(p.start for p in inside), max(p.end for p in inside))


# ------------------------------------------------------------------------------------- object path
def _column(items: Sequence[ScopeMonthInputs], name: str) -> FloatArray:
    return np.array([getattr(x, name) for x in items], dtype=np.float64)


def _nan_to_none(values: FloatArray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]


def _rows_with_none(values: FloatArray) -> list[list[float | None]]:
    """Rows of Python floats with None for NaN, converted in one numpy pass."""
    table = values.astype(object)
    table[np.isnan(values)] = None
    rows: list[list[float | None]] = table.tolist()
    return rows


def _agent_over_cap_columns(
    items: Sequence[ScopeMonthInputs], t: ThresholdColumns
) -> tuple[FloatArray | None, FloatArray | None]:
    """The agent test of each row (agent_over_cap's count over the rows' agents, flattened), ordinary days
    then promotion days; (None, None) when no row has agent-level overtime."""
    scope: list[int] = []
    ordinary: list[float] = []
    promotion: list[float] = []
    cap: list[float] = []
    weight: list[float] = []
    for i, x in enumerate(items):
        for a in x.agent_overtime:
            scope.append(i)
            ordinary.append(a.ordinary_hours)
            promotion.append(a.promotion_hours)
            cap.append(a.cap_hours)
            weight.append(a.weight)
    if not scope:
        return None, None
    n = len(items)
    return (
        agent_over_cap(scope, ordinary, cap, weight, t.overtime_cap_share, n)[1],
        agent_over_cap(scope, promotion, cap, weight, t.promotion_overtime_cap_share, n)[1],
    )


_FLAG_KINDS = {FLAG_BURN: FlagKind.BURN, FLAG_SERVICE_RISK: FlagKind.SERVICE_RISK, FLAG_BOTH: FlagKind.BOTH}


def _score_group(
    items: Sequence[ScopeMonthInputs], definition: ScorecardDefinition, policy: ThresholdPolicy
) -> list[Scorecard]:
    """Score inputs that share a definition (any months) in one vectorised pass."""
    periods: dict[date, Period] = {}
    keys = definition.keys
    raw = np.array([[x.kpis.get(k) for k in keys] for x in items], dtype=np.float64)
    raw = raw.reshape(len(items), len(keys))
    columns = score_columns(definition, raw)
    thresholds = [policy.for_scope(x.scope, x.parents) for x in items]
    t = ThresholdColumns.of(thresholds)
    w = WorkloadColumns(
        _column(items, "hot_intervals"),
        _column(items, "promotion_hot_intervals"),
        _column(items, "overtime_hours"),
        _column(items, "promotion_overtime_hours"),
        _column(items, "overtime_cap_hours"),
        np.array([x.kpis.get(ENPS) for x in items], dtype=np.float64),
        _column(items, "previous_enps"),
        _column(items, "understaffed_intervals"),
        np.array([x.kpis.get(SLA_ATTAINMENT) for x in items], dtype=np.float64),
        *_agent_over_cap_columns(items, t),
    )
    triggers = running_hot(w, t)
    codes = flag_codes(columns.client, triggers.any, t.client_target).tolist()
    quadrants = quadrant_codes(columns.client, columns.employee, t.client_target, t.employee_target).tolist()
    client, employee = _nan_to_none(columns.client), _nan_to_none(columns.employee)
    process, headline = _nan_to_none(columns.process), _nan_to_none(columns.headline)
    fired = list(
        zip(
            triggers.occupancy.tolist(),
            triggers.overtime_ordinary.tolist(),
            triggers.overtime_promotion.tolist(),
            triggers.enps_drop.tolist(),
            triggers.understaffed.tolist(),
            triggers.agent_overtime_ordinary.tolist(),
            triggers.agent_overtime_promotion.tolist(),
            strict=True,
        )
    )
    raw_rows, score_rows, share_rows = (
        _rows_with_none(raw),
        _rows_with_none(columns.scores),
        columns.shares.tolist(),
    )

    out: list[Scorecard] = []
    for i, x in enumerate(items):
        th = thresholds[i]
        month = month_start(x.month)
        period = periods.get(month) or periods.setdefault(month, Period.month(month))
        as_of = period.end if x.as_of is None else min(x.as_of, period.end)
        if as_of < period.start:
            raise ValueError(f"{x.scope}: as_of {as_of} is before the month {period}")
        flags: list[Flag] = []
        code = codes[i]
        if code != FLAG_NONE:
            c = client[i]
            assert c is not None  # a flag needs a client index
            comparison = ">=" if code == FLAG_BURN else "<"
            evidence = [Evidence("client_index", c, comparison, th.client_target, period, Side.client)]
            if code != FLAG_SERVICE_RISK:
                evidence += _hot_evidence(fired[i], x, th, period)
            flags.append(Flag(_FLAG_KINDS[code], tuple(evidence)))
        recoveries: list[RecoveryStatus] = []
        for r in x.recoveries:
            window = r.promotion.recovery_window(th.recovery_weeks)
            if r.promotion.period.overlap(period) is None and window.overlap(period) is None:
                continue
            status = _recovery_status(r, th, as_of)
            recoveries.append(status)
            if status.state is RecoveryState.failed:
                flags.append(Flag(FlagKind.RECOVERY_FAILED, status.evidence))
        q = quadrants[i]
        out.append(
            Scorecard(
                x.scope,
                month,
                period,
                as_of,
                definition,
                th,
                tuple(raw_rows[i]),
                tuple(score_rows[i]),
                tuple(share_rows[i]),
                client[i],
                employee[i],
                process[i],
                headline[i],
                None if q < 0 else _QUADRANTS[q],
                tuple(flags),
                tuple(recoveries),
            )
        )
    return out


def score_month(
    inputs: Sequence[ScopeMonthInputs], book: DefinitionBook, policy: ThresholdPolicy | None = None
) -> list[Scorecard]:
    """One scorecard per input (any scopes, any months), in input order; each month is scored under the
    definition in force then, all inputs sharing a definition in one vectorised pass."""
    policy = policy or ThresholdPolicy()
    in_force: dict[date, ScorecardDefinition] = {}
    groups: dict[int, list[int]] = defaultdict(list)
    definitions: dict[int, ScorecardDefinition] = {}
    for i, x in enumerate(inputs):
        month = month_start(x.month)
        definition = in_force.get(month) or in_force.setdefault(month, book.in_force(month))
        definitions[id(definition)] = definition
        groups[id(definition)].append(i)
    out: list[Scorecard | None] = [None] * len(inputs)
    with collector.paused():
        for key, rows in groups.items():
            cards = _score_group([inputs[i] for i in rows], definitions[key], policy)
            for i, card in zip(rows, cards, strict=True):
                out[i] = card
    return [c for c in out if c is not None]


def trend(
    inputs: Sequence[ScopeMonthInputs], book: DefinitionBook, policy: ThresholdPolicy | None = None
) -> list[Scorecard]:
    """One scope's scorecards over consecutive months (a 12-month trend takes 12 inputs), oldest first,
    each under the definition in force in its month (``Scorecard.definition``)."""
    if not inputs:
        return []
    scope = inputs[0].scope
    months = sorted(inputs, key=lambda x: month_start(x.month))
    first = month_start(months[0].month)
    for offset, x in enumerate(months):
        if x.scope != scope:
            raise ValueError(f"a trend is one scope's: {x.scope} is not {scope}")
        if month_start(x.month) != add_months(first, offset):
            raise ValueError("a trend's months must be consecutive, one input each")
    return score_month(months, book, policy)


def client_view(card: Scorecard) -> ClientScorecard:
    """The client side only: client index and KPIs, SERVICE_RISK (BOTH shown as SERVICE_RISK) with its
    client evidence. Never employee data, pulses, process (QA) measures or agents."""
    if card.scope.kind is ScopeKind.agent:
        raise ValueError("agent scorecards have no client view: they are personal data")
    flags = tuple(
        Flag(FlagKind.SERVICE_RISK, tuple(e for e in f.evidence if e.side is Side.client))
        for f in card.flags
        if f.kind in (FlagKind.SERVICE_RISK, FlagKind.BOTH)
    )
    return ClientScorecard(
        card.scope,
        card.month,
        card.period,
        card.definition.version,
        card.client_index,
        card.thresholds.client_target,
        tuple(k for k in card.kpis if k.side is Side.client),
        flags,
    )
