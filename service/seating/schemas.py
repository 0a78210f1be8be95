"""What the seating API accepts and answers: labour rule sets, the holiday calendar, availability, shops'
requirements, rosters and their summaries, shifts and assignments, live rebalancing. Each shape once.

Times travel as aware instants on quarter hours (a roster's unit); durations of labour rules in minutes.
What a client may read is `CoverageCell` (counts per shop and interval) and nothing else of seating: no
shape a client receives names an agent, its code, cost or skills.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.kit.shapes import Identified, Stamped, partial
from service.kit.time import quarter_hour
from service.seating.calendar import PayClass
from service.seating.rules import HoursSystem
from service.workforce.models import EmploymentType

Minutes = int
RosterMode = enum.StrEnum("RosterMode", ["fast", "optimise"])
SKILL_PATTERN = r"^(presale|aftersale|cert:[a-z0-9][a-z0-9-]{0,58})$"


class Span(BaseModel):
    """[from, to) on quarter hours."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")

    _quarter = field_validator("start", "end")(classmethod(lambda cls, v: quarter_hour(v)))

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end <= self.start:
            raise ValueError("to must be after from")
        return self


# --- labour rule sets ---------------------------------------------------------------------------------


class RuleSetFields(BaseModel):
    """A named set of labour rules; durations in minutes (service.seating.rules.LabourRules)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    shift_min: Minutes = Field(default=240, ge=15, le=1440, description="Shortest shift, breaks included")
    shift_max: Minutes = Field(default=600, ge=15, le=1440)
    normal_per_day: Minutes = Field(default=480, ge=0, le=1440)
    normal_per_week: Minutes = Field(default=2400, ge=0, le=10080)
    overtime_cap_per_day: Minutes = Field(default=180, ge=0, le=1440, description="China: 3 h")
    overtime_cap_per_month: Minutes = Field(default=2160, ge=0, le=44640, description="China: 36 h")
    min_rest_between_shifts: Minutes = Field(default=660, ge=0, le=4320)
    max_consecutive_days: int = Field(default=6, ge=1, le=31)
    min_rest_days_per_week: int = Field(default=1, ge=0, le=6)
    meal_break_after: Minutes = Field(default=360, ge=0, le=1440,
                                      description="A shift longer than this needs a meal break")
    meal_break_min: Minutes = Field(default=30, ge=1, le=240)
    meal_break_max: Minutes = Field(default=60, ge=1, le=240)
    meal_break_earliest: Minutes = Field(default=120, ge=0, le=1440, description="After the shift starts")
    meal_break_latest_end: Minutes = Field(default=60, ge=0, le=1440, description="Before the shift ends")
    max_meal_breaks: int = Field(default=2, ge=0, le=4)
    hours_system: HoursSystem = HoursSystem.standard
    normal_per_period: Minutes | None = Field(default=None, gt=0, le=200_000,
                                              description="Comprehensive hours: normal minutes of the month "
                                              "or quarter")


class RuleSetCreate(RuleSetFields):
    """Add a labour rule set."""


class RuleSetUpdate(partial(RuleSetFields)):  # type: ignore[misc]
    """Change a rule set: the fields sent."""


class RuleSetRead(Stamped, RuleSetFields, Identified):
    """A named set of labour rules (minutes)."""


class RuleSetChoice(BaseModel):
    """Which rule set applies (null: none of its own)."""

    model_config = ConfigDict(extra="forbid")

    rule_set_id: uuid.UUID | None


class EmploymentTypeRulesRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    employment_type: EmploymentType
    rule_set_id: uuid.UUID


class AgentRulesRead(BaseModel):
    """The rule set an agent works under and where it comes from."""

    agent_id: uuid.UUID
    source: str = Field(description="agent, employment_type or default")
    rule_set: RuleSetRead | None = Field(description="null: the built-in China standard rules")


# --- the holiday calendar -----------------------------------------------------------------------------


class HolidayDayFields(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    day: date
    kind: str = Field(
        pattern="^(holiday|day_off|make_up_workday)$",
        description="holiday (statutory, 300 %), day_off (rest day of a holiday "
        "block), make_up_workday (调休上班日)"
    )
    name: str | None = Field(default=None, max_length=100)


class HolidayCalendarSet(BaseModel):
    """Every listed day of one year; a day not listed is a workday Monday to Friday, else a rest day."""

    model_config = ConfigDict(extra="forbid")

    days: list[HolidayDayFields] = Field(max_length=366)


class HolidayCalendarRead(BaseModel):
    year: int
    days: list[HolidayDayFields]


# --- availability -------------------------------------------------------------------------------------


class AvailabilityCreate(Span):
    """Leave or unavailability (no work then), or a preferred window (soft)."""

    kind: str = Field(pattern="^(leave|unavailable|preferred)$",
                      description="leave, unavailable or preferred")
    note: str | None = Field(default=None, max_length=200)


class AvailabilityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agent_id: uuid.UUID
    kind: str
    starts_at: datetime
    ends_at: datetime
    note: str | None
    created_by: str
    created_at: datetime


# --- shop requirements --------------------------------------------------------------------------------


class RequirementsSet(BaseModel):
    """The skills an agent needs to serve a shop beyond its platform: `presale`, `aftersale`, and the
    brand's certificate `cert:<brand slug>`."""

    model_config = ConfigDict(extra="forbid")

    skills: list[str] = Field(max_length=10)

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: list[str]) -> list[str]:
        import re

        for skill in value:
            if not re.match(SKILL_PATTERN, skill):
                raise ValueError(f"{skill!r} is not presale, aftersale or cert:<brand slug>")
        return sorted(set(value))


class RequirementsRead(BaseModel):
    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    platform: str
    skills: list[str] = Field(description="Beyond the platform")


# --- rosters ------------------------------------------------------------------------------------------


class RosterCreate(BaseModel):
    """Build a draft roster for a plan's window from its allocated seats."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, description="Default: the plan's name")
    mode: RosterMode = RosterMode.fast
    time_limit_s: float = Field(default=10, gt=0, le=120, description="optimise: wall-clock limit")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="optimise: CP-SAT's random seed")
    deterministic_time: float | None = Field(default=None, gt=0, le=1000, description="optimise: CP-SAT's "
                                             "deterministic time limit (reproducible answers)")
    replaces: uuid.UUID | None = Field(default=None, description="A published roster of the same window to "
                                       "re-plan with minimal disruption (default: the plan's published one)")


class CoverageFigures(BaseModel):
    required: int = Field(description="Seat-intervals the plan requires")
    allocated: int = Field(description="Seat-intervals the plan allocated (what the roster covers)")
    rostered: int = Field(description="Agent-intervals rostered (working, not on a break)")
    covered: int = Field(description="Rostered agent-intervals meeting allocated seats")
    coverage: float = Field(description="covered / allocated")


class TierCoverage(CoverageFigures):
    tier: str


class ShopCoverage(CoverageFigures):
    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    shop_name: str
    tier: str


class Uncovered(BaseModel):
    shop_id: uuid.UUID
    interval_start: datetime
    missing: int


class OvertimeHours(BaseModel):
    workday: float = Field(description="Hours at 150 %")
    rest_day: float = Field(description="Hours at 200 %")
    holiday: float = Field(description="Hours at 300 %")


class BoundRead(BaseModel):
    value: int = Field(description="No roster can cover more seat-intervals")
    kind: str = Field(description="per_interval (seats and agents present) or overall (agent-hours)")
    per_interval: int
    overall: int
    coverage_vs_bound: float = Field(description="covered / bound")
    gap: int = Field(description="bound - covered, seat-intervals")


class SolverRead(BaseModel):
    status: str = Field(description="fast, optimal, improved or kept_fast")
    mode: RosterMode
    seconds: float = Field(description="Time spent building the roster (the maths)")
    cp_sat_status: str | None = None
    cp_sat_gap: float | None = Field(default=None, description="Relative gap of CP-SAT's objective")
    fast_covered: int | None = Field(default=None, description="optimise: what the fast path covered")
    fast_labour_cost: Decimal | None = None


class ReplanRead(BaseModel):
    replaces: uuid.UUID
    pinned: int = Field(description="Published shifts kept as they were")
    released: int = Field(description="Published shifts that had to move (they break a rule now)")
    released_rules: dict[str, int] = Field(description="Released shifts by the rule they broke")
    added: int = Field(description="New shifts")


class RosterSummary(BaseModel):
    intervals: int
    shops: int
    shifts: int
    assignments: int
    agents_used: int
    hours: float = Field(description="Hours worked (breaks excluded)")
    overtime_hours: OvertimeHours
    labour_cost: Decimal = Field(description="CNY at loaded rates, overtime at its multiplier")
    total: CoverageFigures
    tiers: list[TierCoverage]
    shops_coverage: list[ShopCoverage]
    uncovered: list[Uncovered] = Field(description="Every interval a shop is short, with the missing count")
    bound: BoundRead
    solver: SolverRead
    replan: ReplanRead | None = None
    context_shifts: int = Field(
        description="Live shifts of other rosters or placed by hand that the roster was built around"
    )


class RosterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    replaces_id: uuid.UUID | None
    name: str
    status: str
    mode: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    published_at: datetime | None
    published_by: str | None
    summary: RosterSummary


class CoverageCell(BaseModel):
    """Agents serving one shop in one interval against the plan: counts only (a client reads these for its
    own shops)."""

    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    interval_start: datetime
    required: int
    allocated: int
    rostered: int
    missing: int = Field(description="allocated - rostered when positive")


class UnderstaffedCell(BaseModel):
    """A shop-interval with fewer agents rostered (published rosters) than its plan requires, and the agents
    rostered on it: staff only (it names agents)."""

    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    interval_start: datetime
    required: int
    rostered: int
    agent_ids: list[uuid.UUID]


# --- shifts and assignments ---------------------------------------------------------------------------


class AssignmentFields(Span):
    """A part of a shift given to one shop."""

    shop_id: uuid.UUID


class AssignmentCreate(AssignmentFields):
    """Give a part of a shift to a shop."""


class AssignmentUpdate(partial(AssignmentFields)):  # type: ignore[misc]
    """Move an assignment: another shop, or other times."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    shift_id: uuid.UUID
    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class ShiftFields(Span):
    """One agent's working time at its site, with its meal breaks and what it serves."""

    agent_id: uuid.UUID
    breaks: list[Span] = Field(default_factory=list, max_length=4)
    assignments: list[AssignmentFields] = Field(default_factory=list, max_length=48)


class ShiftCreate(ShiftFields):
    """Place a shift by hand: live at once, or into a roster (a draft's shifts are published with it)."""

    roster_id: uuid.UUID | None = Field(default=None, description="Default: a manual live shift")


class ShiftUpdate(partial(ShiftFields)):  # type: ignore[misc]
    """Move a shift: other times (its assignments move with it unless given), breaks, agent, assignments."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BreakRead(BaseModel):
    starts_at: datetime
    ends_at: datetime


class ShiftRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    roster_id: uuid.UUID | None
    agent_id: uuid.UUID
    agent_code: str
    site_id: uuid.UUID
    status: str
    source: str
    starts_at: datetime
    ends_at: datetime
    breaks: list[BreakRead]
    assignments: list[AssignmentRead]
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class ShiftFilter(BaseModel):
    roster_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    shop_id: uuid.UUID | None = None
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None


# --- live KA protection -------------------------------------------------------------------------------


class ShopLive(BaseModel):
    """One shop right now."""

    model_config = ConfigDict(extra="forbid")

    shop_id: uuid.UUID
    waiting: int = Field(default=0, ge=0, le=100_000, description="Chats waiting now")
    volume: float | None = Field(default=None, ge=0, le=1e7, allow_inf_nan=False,
                                 description="Chats offered last interval (default: the shop's rollup)")
    agents: int | None = Field(default=None, ge=0, le=100_000, description="Agents available on it now "
                               "(default: those rostered on it, not on a break)")


class RebalanceRequest(BaseModel):
    """A live snapshot: KA shops at risk in the next interval take skilled agents from lower tiers."""

    model_config = ConfigDict(extra="forbid")

    at: datetime | None = Field(default=None, description="Now (default: the clock)")
    shops: list[ShopLive] = Field(default_factory=list, max_length=5000, description="Shops with a live "
                                  "queue; the others count with no wait and their rostered agents")
    max_moves: int | None = Field(default=None, ge=1, le=1000)

    _aware = field_validator("at")(classmethod(lambda cls, v: _aware(v)))


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs an offset")
    return value


class MoveRead(BaseModel):
    agent_id: uuid.UUID
    agent_code: str
    from_shop_id: uuid.UUID | None
    to_shop_id: uuid.UUID
    to_service_level_before: float
    to_service_level_after: float
    from_service_level_before: float | None
    from_service_level_after: float | None


class RebalanceRead(BaseModel):
    at: datetime
    interval_start: datetime = Field(description="The interval the moves protect (the next one)")
    shops_at_risk: int
    moves: list[MoveRead]


class MoveApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID
    from_shop_id: uuid.UUID | None
    to_shop_id: uuid.UUID


class RebalanceApply(BaseModel):
    """Apply moves as assignment changes from the next interval, each validated again."""

    model_config = ConfigDict(extra="forbid")

    at: datetime | None = None
    moves: list[MoveApply] = Field(min_length=1, max_length=1000)

    _aware = field_validator("at")(classmethod(lambda cls, v: _aware(v)))


class AppliedRead(BaseModel):
    interval_start: datetime
    assignments: list[AssignmentRead]


PAY_CLASSES = tuple(PayClass)


# --- actual attendance ------------------------------------------------------------------------------


class WorkSessionIn(BaseModel):
    """A work session as an attendance export sends it (service.seating.sessions validates it); timestamps
    ISO 8601 with an offset. Sessions may overlap (several shops' workbenches at once); one lasts at most
    24 hours."""

    external_id: str = Field(description="The platform's id of the session (with shop_id, the key)")
    agent_code: str = Field(description="The agent's code (A0001)")
    shop_id: uuid.UUID = Field(description="The shop logged in on")
    login: str = Field(description="ISO 8601 with an offset")
    logout: str = Field(description="After login, at most 24 hours later")
    breaks: list[list[str]] | None = Field(
        default=None, description="Aux/break times inside the session, [[from, to], ...]; in CSV a JSON "
        "array or `from/to;from/to`")


WORK_SESSION_REQUIRED: frozenset[str] = frozenset(name for name, f in WorkSessionIn.model_fields.items()
                                                  if f.is_required())


class BreakSpan(BaseModel):
    start: datetime
    end: datetime


class WorkSessionRead(BaseModel):
    """A stored work session, as ingest kept it; times in UTC. Staff only (it names an agent)."""

    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    external_id: str
    agent_id: uuid.UUID
    agent_code: str
    login: datetime
    logout: datetime
    breaks: list[BreakSpan]
    ingested_at: datetime


class WorkSessionFilter(BaseModel):
    shop: uuid.UUID | None = None
    agent: str | None = Field(default=None, max_length=32, description="An agent's code")
    start: str | None = Field(default=None, description="Logged in at or after: a date or a datetime")
    end: str | None = Field(default=None, description="Logged in before, like `from`")


class AdherenceRow(BaseModel):
    """One agent's day: scheduled minutes (published shifts outside breaks), actual (logged in outside
    breaks) and both at once."""

    agent_id: uuid.UUID
    agent_code: str
    day: date
    scheduled_minutes: float
    actual_minutes: float
    in_adherence_minutes: float
    share: float | None = Field(description="In adherence / scheduled; null with nothing scheduled")


class OccupancyRow(BaseModel):
    """One shop's interval: handle time over logged-in chat-slot time (logged-in time x concurrency)."""

    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    interval_start: datetime
    handle_seconds: float
    logged_in_seconds: float
    capacity_seconds: float
    occupancy: float | None = Field(description="null: nobody logged in")
    band: str = Field(description="none, low (<75 %), healthy (75-85 %), high (85-90 %), burnout (>90 %)")


class OvertimeRow(BaseModel):
    """One agent's month of actual overtime by pay class, against the rule set's monthly cap (minutes)."""

    agent_id: uuid.UUID
    agent_code: str
    site_id: uuid.UUID
    month: str
    workday_minutes: int
    rest_day_minutes: int
    holiday_minutes: int
    total_minutes: int
    cap_minutes: int
    over_cap: bool


class OvertimeDayRow(BaseModel):
    """One agent's local day of actual overtime (minutes): worked, normal and overtime by pay class, the
    daily overtime cap (None under comprehensive hours) and the month so far against the monthly cap."""

    agent_id: uuid.UUID
    agent_code: str
    site_id: uuid.UUID
    day: date
    kind: str  # workday, rest_day or holiday
    worked_minutes: int
    normal_minutes: int
    day_norm_minutes: int = Field(description="the daily norm of the agent's labour rules")
    workday_minutes: int
    rest_day_minutes: int
    holiday_minutes: int
    overtime_minutes: int
    day_cap_minutes: int | None
    month_to_date_minutes: int
    month_cap_minutes: int


class AttendanceWindow(BaseModel):
    """A report's window: local days [from, to) in Asia/Shanghai (at most 92 days)."""

    start: date
    end: date
    shops: list[uuid.UUID] | None = None
    agents: list[str] | None = Field(default=None, description="Agents' codes")
