"""Scorecard tables. Operator-level: agent teams, pulse surveys and their anonymous answers, QA templates and
categories, calibration and coaching sessions, scorecard definitions (versioned, append-only), threshold
overrides per scope, promotion relaxations. Tenant-owned (RLS): client ratings (a brand's own), QA reviews
(of the brand's conversations; read by staff only) and the per shop and day facts a month's scorecard reads
(SLA verdicts met / judged and the satisfaction and conversion counters, kept under the shop's SLA report
version so that a month never re-judges ~3,000 intervals a shop at request time).

Pulse answers carry no agent id, by design: only the team and site of the respondent.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL, UUID
from sqlmodel import Field, SQLModel

from service.kit.models import created_at_field, new_id, one_of, ref, updated_at_field

Headlines = ("geometric", "minimum")
ScopeKinds = ("shop", "brand", "site", "team", "agent")


FLOOR = 0.85  # the hot floor: the top of the healthy band (GLOSSARY); occupancy thresholds may not go below


def first_day(column: str) -> CheckConstraint:
    return CheckConstraint(f"date_part('day', {column}) = 1", name=f"{column}_first_day")


# --- teams: an agent's lead or supervisor -------------------------------------------------------------------


class AgentTeam(SQLModel, table=True):
    __tablename__ = "agent_teams"
    __table_args__ = (Index(None, "site_id", "name", unique=True),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    site_id: uuid.UUID = ref("sites.id")
    name: str = Field(max_length=200)
    lead_id: uuid.UUID | None = ref("agents.id", nullable=True)
    supervisor_id: uuid.UUID | None = ref("agents.id", nullable=True)
    created_at: datetime = created_at_field()


class AgentTeamMember(SQLModel, table=True):
    """An agent's team (one at a time)."""

    __tablename__ = "agent_team_members"
    __table_args__ = (Index(None, "team_id"),)

    agent_id: uuid.UUID = ref("agents.id", primary_key=True)
    team_id: uuid.UUID = ref("agent_teams.id", ondelete="CASCADE")


# --- client ratings: a brand's users rate the service each month ------------------------------------------


class ClientRating(SQLModel, table=True):
    """One user's rating of a month, for one shop or the whole brand (shop_id null); editable until the
    month's end."""

    __tablename__ = "client_ratings"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="RESTRICT"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="RESTRICT"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        first_day("month"),
        Index(
            "uq_client_ratings_brand_wide",
            "tenant_id",
            "month",
            "rater",
            unique=True,
            postgresql_where=text("shop_id IS NULL"),
        ),
        Index(
            "uq_client_ratings_shop",
            "tenant_id",
            "month",
            "rater",
            "shop_id",
            unique=True,
            postgresql_where=text("shop_id IS NOT NULL"),
        ),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    shop_id: uuid.UUID | None = None
    month: date
    rater: str = Field(max_length=200)
    score: int = Field(sa_type=SmallInteger)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


# --- pulse surveys: anonymous -------------------------------------------------------------------------------


class PulseSurvey(SQLModel, table=True):
    __tablename__ = "pulse_surveys"
    __table_args__ = (first_day("month"), Index(None, "month"))

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    month: date
    created_at: datetime = created_at_field()


class PulseAnswer(SQLModel, table=True):
    """One respondent's answers: the survey tool's response id (a re-import is idempotent by it), the team
    and site, eNPS 0-10 and wellbeing 1-5. No agent id."""

    __tablename__ = "pulse_answers"
    __table_args__ = (
        CheckConstraint("recommend BETWEEN 0 AND 10", name="recommend_range"),
        CheckConstraint("wellbeing BETWEEN 1 AND 5", name="wellbeing_range"),
    )

    survey_id: uuid.UUID = ref("pulse_surveys.id", ondelete="CASCADE", primary_key=True)
    response_id: str = Field(sa_column=Column(String(128), primary_key=True))
    site_id: uuid.UUID = ref("sites.id")
    team_id: uuid.UUID = ref("agent_teams.id")
    recommend: int = Field(sa_type=SmallInteger)
    wellbeing: int = Field(sa_type=SmallInteger)


# --- QA -----------------------------------------------------------------------------------------------------


class QaTemplate(SQLModel, table=True):
    __tablename__ = "qa_templates"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class QaCategory(SQLModel, table=True):
    """A category of a template: weight, scale (2 = binary fail/pass, 3, 4 or 5 points), critical, N/A."""

    __tablename__ = "qa_categories"
    __table_args__ = (
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("points IN (2, 3, 4, 5)", name="points"),
    )

    template_id: uuid.UUID = ref("qa_templates.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(sa_column=Column(String(64), primary_key=True))
    position: int
    name: str = Field(max_length=200)
    weight: float = Field(sa_type=Double)
    points: int = Field(sa_type=SmallInteger)
    critical: bool = False
    na_allowed: bool = True


class CalibrationSession(SQLModel, table=True):
    __tablename__ = "calibration_sessions"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    held_on: date
    benchmark_reviewer: str = Field(max_length=200)
    created_at: datetime = created_at_field()


# One review per reviewer and conversation (Zendesk QA's rule): in a calibration session, per brand (the
# alignment pairs a reviewer's grade with the benchmark's by the brand's conversation, whatever the template);
# outside calibration, per shop's conversation and template (a second review of the same conversation on the
# same scorecard would count it twice in IQS and pass rate). Migration 0017_qa_review_unique.
CALIBRATION_REVIEW = "uq_qa_reviews_calibration"
PLAIN_REVIEW = "uq_qa_reviews_review"


class QaReview(SQLModel, table=True):
    """A reviewer's rating of one conversation of a brand's shop. Its score is the QA maths' (qa.score_review)
    at the time of writing; calibration reviews (calibration_session_id set) never count in IQS. A reviewer
    reviews a conversation once: once per calibration session, and once per template outside calibration."""

    __tablename__ = "qa_reviews"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="RESTRICT"),
        Index(None, "conversation_on"),
        Index(None, "agent_id", "conversation_on"),
        Index(CALIBRATION_REVIEW, "tenant_id", "calibration_session_id", "reviewer", "conversation_id",
              unique=True, postgresql_where=text("calibration_session_id IS NOT NULL")),
        Index(PLAIN_REVIEW, "tenant_id", "shop_id", "conversation_id", "reviewer", "template_id",
              unique=True, postgresql_where=text("calibration_session_id IS NULL")),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    shop_id: uuid.UUID
    conversation_id: str = Field(max_length=128)
    conversation_on: date
    agent_id: uuid.UUID = ref("agents.id")
    reviewer: str = Field(max_length=200)
    template_id: uuid.UUID = ref("qa_templates.id")
    ratings: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    calibration_session_id: uuid.UUID | None = ref("calibration_sessions.id", nullable=True)
    score: float | None = Field(default=None, sa_type=Double)
    failed_critical: bool = False
    created_at: datetime = created_at_field()


class CoachingSession(SQLModel, table=True):
    __tablename__ = "coaching_sessions"
    __table_args__ = (Index(None, "agent_id", "held_on"), Index(None, "held_on"))

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    agent_id: uuid.UUID = ref("agents.id")
    coach: str = Field(max_length=200)
    held_on: date
    template_id: uuid.UUID = ref("qa_templates.id")
    areas: list[str] = Field(sa_column=Column(ARRAY(String(64)), nullable=False))
    review_ids: list[uuid.UUID] = Field(
        default_factory=list, sa_column=Column(ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}")
    )
    shared_notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    private_notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    action_items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    follow_up_on: date | None = None
    created_at: datetime = created_at_field()


# --- scorecard definitions, thresholds, promotions ----------------------------------------------------------


class ScorecardDefinitionRow(SQLModel, table=True):
    """A version of the scorecard definition, in force from its month until the next one's. Append-only."""

    __tablename__ = "scorecard_definitions"
    __table_args__ = (*one_of(headline=Headlines), first_day("effective_from"))

    version: str = Field(sa_column=Column(String(64), primary_key=True))
    effective_from: date = Field(unique=True)
    headline: str = Field(max_length=16)
    kpis: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class ThresholdOverride(SQLModel, table=True):
    """Partial threshold overrides of one scope (field -> value)."""

    __tablename__ = "scorecard_thresholds"
    __table_args__ = one_of(scope_kind=ScopeKinds)

    scope_kind: str = Field(sa_column=Column(String(16), primary_key=True))
    scope_id: str = Field(sa_column=Column(String(64), primary_key=True))
    values: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    updated_by: str = Field(max_length=200)
    updated_at: datetime = updated_at_field()


class PromotionRelaxation(SQLModel, table=True):
    """A promotion declared to the scorecard: its days are judged by the relaxed thresholds, and it creates a
    recovery obligation over the weeks after it."""

    __tablename__ = "promotion_relaxations"

    promotion_id: uuid.UUID = ref("promotions.id", ondelete="CASCADE", primary_key=True)
    declared_by: str = Field(max_length=200)
    declared_at: datetime = created_at_field()


# --- facts: per shop and day, kept under the shop's SLA report version --------------------------------------


class ShopDayFacts(SQLModel, table=True):
    """One shop's local day as the scorecard reads it: the SLA domain's day verdicts (met of judged) and the
    rollups' satisfaction and conversion counters. Written by scorecard.service.refresh_facts."""

    __tablename__ = "scorecard_shop_days"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="CASCADE"),
        Index(None, "day"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    verdicts: int = Field(sa_column=Column(Integer, nullable=False))
    met: int = Field(sa_column=Column(Integer, nullable=False))
    csat_count: int
    csat_good: int
    csat_bad: int
    presale_offered: int
    presale_converted: int
    handle_sum_s: float = Field(sa_type=Double)


class ShopMonthFacts(SQLModel, table=True):
    """A shop's month of day facts was computed under this SLA report version (None: the shop had none)."""

    __tablename__ = "scorecard_shop_months"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="CASCADE"),
        first_day("month"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    month: date = Field(primary_key=True)
    report_version: uuid.UUID | None = None
    refreshed_at: datetime = updated_at_field()


# --- attendance facts: occupancy and overtime as the seating domain's maths gave them at the last refresh


class DayLoad(SQLModel):
    """A local day of attendance for one scope (shop, site, team or agent): handle seconds and logged-in
    chat-slot seconds, the occupancy of each of the day's intervals above the hot floor (FLOOR, ascending:
    any occupancy threshold at or above it re-counts the hot intervals of the day exactly), and the
    intervals rostered below requirement (a shop's own; a site's, team's or agent's: the shop-intervals its
    agents were rostered on)."""

    day: date = Field(primary_key=True)
    handle_s: float = Field(sa_type=Double)
    capacity_s: float = Field(sa_type=Double)
    occupancies: list[float] = Field(sa_type=ARRAY(REAL))
    understaffed: int


class ShopDayLoad(DayLoad, table=True):
    """One shop's local day of attendance."""

    __tablename__ = "scorecard_shop_load_days"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="CASCADE"),
        Index(None, "day"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)


class SiteDayLoad(DayLoad, table=True):
    """The same for a site: its agents' interval-level handle time (each agent's chat-slot time on a shop
    times the shop's occupancy in the interval) over their chat-slot time."""

    __tablename__ = "scorecard_site_load_days"

    site_id: uuid.UUID = ref("sites.id", ondelete="CASCADE", primary_key=True)


class TeamDayLoad(DayLoad, table=True):
    """The same for a team (its members')."""

    __tablename__ = "scorecard_team_load_days"

    team_id: uuid.UUID = ref("agent_teams.id", ondelete="CASCADE", primary_key=True)


class AgentDayOvertime(DayLoad, table=True):
    """An agent's local day: its occupancy as for the other scopes, and its overtime minutes that day (the
    seating domain's overtime by day) with its monthly cap."""

    __tablename__ = "scorecard_agent_days"
    __table_args__ = (Index(None, "day"),)

    agent_id: uuid.UUID = ref("agents.id", ondelete="CASCADE", primary_key=True)
    overtime_min: int
    cap_min: int
    normal_min: int  # normal minutes worked that day
    norm_min: int  # the daily norm of the agent's labour rules


class AgentShopMonth(SQLModel, table=True):
    """An agent's logged-in chat-slot seconds on a shop in a month: the weights of the client side of sites,
    teams and agents. Staff data (no tenant: a shop's brand never reads who worked it)."""

    __tablename__ = "scorecard_agent_shop_months"
    __table_args__ = (first_day("month"), Index(None, "month"), Index(None, "shop_id", "month"))

    agent_id: uuid.UUID = ref("agents.id", ondelete="CASCADE", primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    month: date = Field(primary_key=True)
    slot_s: float = Field(sa_type=Double)


class AttendanceMonth(SQLModel, table=True):
    """When a month's attendance facts were last computed."""

    __tablename__ = "scorecard_attendance_months"
    __table_args__ = (first_day("month"),)

    month: date = Field(primary_key=True)
    refreshed_at: datetime = updated_at_field()
