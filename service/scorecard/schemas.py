"""Scorecard shapes, declared once: REST bodies and answers, and the GraphQL types and inputs derived from
them (service.scorecard.gql). Months travel as YYYY-MM; shares are 0-1, scores and indices 0-100."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.kit.shapes import Identified, Stamped, partial
from service.kit.types import Text

# --- teams --------------------------------------------------------------------------------------------------


class TeamCreate(BaseModel):
    """A team of agents at a site, with its lead and supervisor; MEMBERS move to it from any other team."""

    site_id: uuid.UUID
    name: Text = Field(min_length=1, max_length=200)
    lead_id: uuid.UUID | None = None
    supervisor_id: uuid.UUID | None = None
    members: list[uuid.UUID] = Field(default_factory=list, max_length=500)


class TeamRead(Identified):
    site_id: uuid.UUID
    name: str
    lead_id: uuid.UUID | None
    supervisor_id: uuid.UUID | None
    members: list[uuid.UUID]


# --- client ratings -----------------------------------------------------------------------------------------


class ClientRatingFields(BaseModel):
    score: int = Field(ge=1, le=5, description="1-5")
    comment: Text | None = Field(default=None, max_length=2000)


class ClientRatingCreate(ClientRatingFields):
    """A brand user's rating of a month (default: this month), for one shop or the whole brand (no shop). One
    per user, month and shop; editable until the month's end."""

    month: Text | None = Field(default=None, max_length=7, description="YYYY-MM (default: this month)")
    shop_id: uuid.UUID | None = None
    tenant: Text | None = Field(default=None, max_length=100, description="Staff: the brand rated for")


class ClientRatingUpdate(partial(ClientRatingFields)):  # type: ignore[misc]
    """Change a rating of the current month."""


class ClientRatingRead(Stamped, ClientRatingFields, Identified):
    tenant_id: uuid.UUID
    shop_id: uuid.UUID | None
    month: date
    rater: str


# --- pulses -------------------------------------------------------------------------------------------------


class PulseAnswerIn(BaseModel):
    """One anonymous answer as a survey tool exports it: no agent, only team and site."""

    response_id: Text = Field(min_length=1, max_length=128)
    team_id: uuid.UUID
    recommend: int = Field(ge=0, le=10)
    wellbeing: int = Field(ge=1, le=5)


class PulseImport(BaseModel):
    survey: Text = Field(min_length=1, max_length=200)
    month: Text = Field(max_length=7, description="YYYY-MM")
    answers: list[PulseAnswerIn] = Field(max_length=20000)


class RejectedRow(BaseModel):
    row: int = Field(description="1-based, the header not counted")
    field: str
    reason: str


class PulseImportRead(BaseModel):
    survey_id: uuid.UUID
    survey: str
    inserted: int
    unchanged: int = Field(description="Answers already imported (a re-import is idempotent)")
    rejected: list[RejectedRow]


class PulseGroupRead(BaseModel):
    """A group's pulse, or hidden (below the anonymity threshold): then no number at all."""

    group_id: uuid.UUID | None
    hidden: bool
    respondents: int | None
    enps: float | None
    wellbeing: float | None


class PulseReportRead(BaseModel):
    survey: str
    month: date
    minimum: int
    total: PulseGroupRead
    sites: list[PulseGroupRead]
    teams: list[PulseGroupRead]


# --- QA -----------------------------------------------------------------------------------------------------


class CategoryFields(BaseModel):
    key: Text = Field(min_length=1, max_length=64)
    name: Text = Field(min_length=1, max_length=200)
    weight: float = Field(gt=0, le=1000)
    points: int = Field(description="2 (binary fail/pass), 3, 4 or 5", ge=2, le=5)
    critical: bool = False
    na_allowed: bool = True


class QaTemplateCreate(BaseModel):
    key: Text = Field(min_length=1, max_length=64)
    name: Text = Field(min_length=1, max_length=200)
    categories: list[CategoryFields] = Field(min_length=1, max_length=50)


class QaTemplateRead(QaTemplateCreate, Identified):
    pass


class CategoryRating(BaseModel):
    category: Text = Field(max_length=64)
    value: int | None = Field(default=None, description="A value of the category's scale; null: N/A")


class QaReviewCreate(BaseModel):
    shop_id: uuid.UUID
    conversation_id: Text = Field(min_length=1, max_length=128)
    conversation_on: date
    agent_id: uuid.UUID
    template_id: uuid.UUID
    ratings: list[CategoryRating] = Field(max_length=50)
    calibration_session_id: uuid.UUID | None = None


class QaReviewRead(QaReviewCreate, Identified):
    reviewer: str
    score: float | None = Field(description="0-100; 0 when a critical category failed; null: nothing applied")
    failed_critical: bool

    @field_validator("ratings", mode="before")
    @classmethod
    def _stored_ratings(cls, value: Any) -> Any:
        """A stored review holds its ratings as {category: value}: read as the list a review is sent as."""
        if isinstance(value, Mapping):
            return [{"category": k, "value": v} for k, v in value.items()]
        return value


class ReviewFilter(BaseModel):
    """The QA reviews a list holds: a month's (default: this month), of one agent, team, shop or reviewer."""

    month: str | None = None
    agent_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    shop_id: uuid.UUID | None = None
    reviewer: str | None = None


class CalibrationCreate(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    held_on: date
    benchmark_reviewer: Text = Field(min_length=1, max_length=200)


class AlignmentRead(BaseModel):
    reviewer: str
    conversations: int
    alignment: float | None = Field(description="100 - mean |category score difference| to the benchmark")
    review_alignment: float | None
    na_mismatches: int


class CalibrationRead(CalibrationCreate, Identified):
    reviews: int
    alignments: list[AlignmentRead]


class ActionItem(BaseModel):
    text: Text = Field(min_length=1, max_length=500)
    due_on: date
    done: bool = False


class CoachingCreate(BaseModel):
    agent_id: uuid.UUID
    held_on: date
    template_id: uuid.UUID
    areas: list[Text] = Field(min_length=1, max_length=20, description="The template's category keys coached")
    review_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    shared_notes: Text | None = Field(default=None, max_length=5000)
    private_notes: Text | None = Field(default=None, max_length=5000, description="The coach's own")
    action_items: list[ActionItem] = Field(default_factory=list, max_length=20)
    follow_up_on: date | None = None


class CoachingEffectRead(BaseModel):
    """Mean score on the coached categories in the 28 days after the session minus the 28 days before."""

    ratings_before: int
    ratings_after: int
    mean_before: float | None
    mean_after: float | None
    change: float | None


class CoachingRead(CoachingCreate, Identified):
    coach: str
    effect: CoachingEffectRead


class CoachingFilter(BaseModel):
    """Which coaching sessions a list holds: held in a month (default: every month), of one agent, of a team's
    agents, or by one coach."""

    month: str | None = None
    agent_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    coach: str | None = None


# --- definitions, thresholds, promotions --------------------------------------------------------------------


class KpiSpecFields(BaseModel):
    key: Text = Field(max_length=64)
    side: Text = Field(pattern="^(client|employee|process)$", description="client, employee or process")
    weight: float = Field(gt=0, le=1000)
    worst: float | None = Field(default=None, description="Linear: 0 at worst, 100 at best")
    best: float | None = None
    band: list[float] | None = Field(
        default=None, min_length=4, max_length=4, description="Band: zero_below, low, high, zero_above"
    )


class DefinitionCreate(BaseModel):
    version: Text = Field(min_length=1, max_length=64)
    effective_from: Text = Field(max_length=7, description="YYYY-MM: the first month it applies to")
    headline: Text = Field(
        default="geometric",
        pattern="^(geometric|minimum)$",
        description="geometric or minimum (never the arithmetic mean)",
    )
    kpis: list[KpiSpecFields] = Field(min_length=1, max_length=40)


class DefinitionRead(BaseModel):
    version: str
    effective_from: date
    headline: str
    kpis: list[KpiSpecFields]


class ThresholdValue(BaseModel):
    name: Text = Field(max_length=64, description="A field of the thresholds, e.g. client_target")
    value: float


class ThresholdSet(BaseModel):
    values: list[ThresholdValue] = Field(max_length=20)


class ThresholdRead(ThresholdSet):
    scope_kind: str
    scope_id: str


class RelaxationRead(BaseModel):
    promotion_id: uuid.UUID
    name: str
    start: date
    end: date


# --- the scorecard ------------------------------------------------------------------------------------------


class EvidenceRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    value: float
    comparison: str
    threshold: float
    period_start: date
    period_end: date
    side: str
    note: str


class FlagRead(BaseModel):
    kind: str = Field(description="BURN, SERVICE_RISK, BOTH or RECOVERY_FAILED")
    evidence: list[EvidenceRead]


class KpiRead(BaseModel):
    key: str
    side: str
    value: float | None
    score: float | None = Field(description="0-100 between the definition's worst and best")
    weight: float
    share: float


class RecoveryRead(BaseModel):
    promotion: str
    window_start: date
    window_end: date
    state: str = Field(description="pending, met, failed or no_data")
    evidence: list[EvidenceRead]


class ProcessRead(BaseModel):
    """The process measures, beside the results and never inside them."""

    qa_reviews: int
    iqs: float | None
    pass_rate: float | None
    coaching_coverage: float | None


class ScorecardRead(BaseModel):
    scope: str
    scope_id: str
    name: str
    month: date
    definition: str
    headline_method: str
    client_index: float | None
    employee_index: float | None
    process_index: float | None
    headline: float | None
    quadrant: str | None
    flags: list[FlagRead]
    kpis: list[KpiRead]
    process: ProcessRead
    recoveries: list[RecoveryRead]


class MonthScorecards(BaseModel):
    month: date
    scope: str | None
    stale_shops: int = Field(description="Shops whose SLA data changed since the month's facts were computed")
    items: list[ScorecardRead]


class ClientScorecardRead(BaseModel):
    """What a brand sees: the client side of its own shops and brand. No employee data, no QA, no pulses."""

    scope: str
    scope_id: str
    name: str
    month: date
    definition: str
    client_index: float | None
    client_target: float
    kpis: list[KpiRead]
    flags: list[FlagRead]


class BrandScorecard(BaseModel):
    tenant_id: uuid.UUID
    slug: str
    month: date
    brand: ClientScorecardRead
    shops: list[ClientScorecardRead]


class RefreshRead(BaseModel):
    month: date
    shops: int = Field(description="Shops whose month facts were computed again")
    days: int
    agents: int = Field(description="Agents in the month's attendance facts, computed again")
