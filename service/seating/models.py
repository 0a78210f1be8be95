"""Seating tables: labour rule sets and who they apply to, the holiday calendar, agents' availability,
rosters with their shifts (operator-level); what a shop requires of its agents, the parts of shifts given to
shops and the attendance actually worked on them (tenant-owned).

Time ranges are `tstzrange` [start, end) and breaks `tstzmultirange`, so the database itself can refuse
double-booking: an exclusion constraint (btree_gist) over the agent and the time of its live shifts.
Inside any one roster (drafts included) and inside one shift (its assignments), statement triggers refuse
overlaps as exclusion violations of the same names, set-based (migration 0010). Seat capacity cannot be
a constraint (it counts rows); the use cases hold the site's row lock while they check it
(service.seating.queries).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZMULTIRANGE, TSTZRANGE, ExcludeConstraint
from sqlmodel import Field, SQLModel

from service.kit.models import created_at_field, new_id, one_of, ref, updated_at_field
from service.seating.calendar import DayKind
from service.seating.rules import HoursSystem
from service.workforce.models import EmploymentType

RosterStatus = ("draft", "published", "superseded")
ShiftStatus = ("draft", "published")
ShiftSource = ("roster", "manual")
AvailabilityKind = ("leave", "unavailable", "preferred")
# A calendar day's kind as data: statutory holidays, the other days off of a holiday block, and make-up
# working days (调休上班日); a date not listed is a workday Monday to Friday and a rest day at the weekend.
HolidayKind = (DayKind.holiday.value, "day_off", "make_up_workday")


class LabourRuleSet(SQLModel, table=True):
    """A named set of labour rules (service.seating.rules.LabourRules), in minutes."""

    __tablename__ = "labour_rule_sets"
    __table_args__ = (
        *one_of(hours_system=HoursSystem),
        CheckConstraint("shift_min > 0 AND shift_min <= shift_max", name="shift_bounds"),
        CheckConstraint("meal_break_min > 0 AND meal_break_min <= meal_break_max", name="meal_break_bounds"),
        CheckConstraint("hours_system = 'standard' OR normal_per_period > 0",
                        name="period_for_comprehensive"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    shift_min: int
    shift_max: int
    normal_per_day: int
    normal_per_week: int
    overtime_cap_per_day: int
    overtime_cap_per_month: int
    min_rest_between_shifts: int
    max_consecutive_days: int
    min_rest_days_per_week: int
    meal_break_after: int
    meal_break_min: int
    meal_break_max: int
    meal_break_earliest: int
    meal_break_latest_end: int
    max_meal_breaks: int
    hours_system: str = Field(max_length=32)
    normal_per_period: int | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class EmploymentTypeRules(SQLModel, table=True):
    """The rule set of every agent of an employment type that has none of its own (agents.rule_set_id)."""

    __tablename__ = "employment_type_rules"
    __table_args__ = (*one_of(employment_type=EmploymentType),)

    employment_type: str = Field(primary_key=True, max_length=16)
    rule_set_id: uuid.UUID = ref("labour_rule_sets.id", ondelete="RESTRICT")


class AgentRules(SQLModel, table=True):
    """An agent's own rule set, overriding its employment type's."""

    __tablename__ = "agent_rule_sets"

    agent_id: uuid.UUID = ref("agents.id", ondelete="CASCADE", primary_key=True)
    rule_set_id: uuid.UUID = ref("labour_rule_sets.id", ondelete="RESTRICT")


class ShopRequirements(SQLModel, table=True):
    """The skills an agent needs, beyond the shop's platform, to serve a shop: a brand certificate
    (`cert:<brand slug>`), presale or aftersale. Tenant-owned."""

    __tablename__ = "shop_requirements"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="CASCADE"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    skills: list[str] = Field(default_factory=list,
                              sa_column=Column(ARRAY(String(64)), nullable=False, server_default="{}"))


class HolidayDay(SQLModel, table=True):
    """One day of the operator's holiday calendar (per year: the year of the day)."""

    __tablename__ = "holiday_days"
    __table_args__ = (*one_of(kind=HolidayKind),)

    day: date = Field(primary_key=True)
    kind: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=100)


class AgentAvailability(SQLModel, table=True):
    """Leave, unavailability (hard: no work then) and preferred windows (soft) of an agent."""

    __tablename__ = "agent_availability"
    __table_args__ = (
        *one_of(kind=AvailabilityKind),
        CheckConstraint("NOT isempty(during)", name="during_not_empty"),
        Index(None, "agent_id", "during", postgresql_using="gist"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    agent_id: uuid.UUID = ref("agents.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    during: Any = Field(sa_column=Column(TSTZRANGE, nullable=False))
    note: str | None = Field(default=None, max_length=200)
    created_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class Roster(SQLModel, table=True):
    """Shifts and assignments covering a capacity plan's window: built (fast or optimised), then published.
    A re-plan of a published roster is a new roster that `replaces` it (the old one is superseded when the
    new one is published)."""

    __tablename__ = "rosters"
    # The summary is the roster's figures, derived from its shifts (some megabytes for Double 11): the audit
    # entry of its creation records the rest, and the stored shifts' own entry their counts.
    __audit_exclude__ = frozenset({"summary"})
    __table_args__ = (
        *one_of(status=RosterStatus, mode=("fast", "optimise")),
        CheckConstraint("ends_at > starts_at", name="window_ordered"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    plan_id: uuid.UUID = ref("capacity_plans.id", ondelete="RESTRICT", index=True)
    replaces_id: uuid.UUID | None = Field(default=None, sa_column=Column(ForeignKey("rosters.id",
                                                                                    ondelete="SET NULL")))
    name: str = Field(max_length=200)
    status: str = Field(default="draft", max_length=16)
    mode: str = Field(max_length=16)
    starts_at: datetime = Field(sa_type=DateTime(timezone=True))
    ends_at: datetime = Field(sa_type=DateTime(timezone=True))
    summary: Any = Field(sa_column=Column(JSONB, nullable=False))  # coverage, bound, hours, cost, solver
    created_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    published_by: str | None = Field(default=None, max_length=200)


class Shift(SQLModel, table=True):
    """One agent's working time at one site, with its breaks: from a roster, or placed by hand (manual).
    Published and manual shifts are live: what the floor works and finance pays."""

    __tablename__ = "shifts"
    __table_args__ = (
        *one_of(status=ShiftStatus, source=ShiftSource),
        CheckConstraint("NOT isempty(during) AND NOT lower_inf(during) AND NOT upper_inf(during)",
                        name="during_bounded"),
        CheckConstraint("breaks <@ tstzmultirange(during)", name="breaks_inside"),
        CheckConstraint("(source = 'manual') = (roster_id IS NULL)", name="roster_or_manual"),
        # The database refuses one agent in two places at once: among live shifts (this constraint), and
        # inside one roster (`no_overlap_in_roster`, a statement trigger over the btree index below since
        # migration 0010: a roster's storing no longer pays a GiST entry per shift).
        ExcludeConstraint(("agent_id", "="), ("during", "&&"), name="no_double_booking",
                          using="gist", where=text("status = 'published'")),
        Index(None, "roster_id", "agent_id"),
        Index(None, "site_id", "during", postgresql_using="gist",
              postgresql_where=text("status = 'published'")),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    roster_id: uuid.UUID | None = ref("rosters.id", ondelete="CASCADE", nullable=True)
    agent_id: uuid.UUID = ref("agents.id", ondelete="RESTRICT")
    site_id: uuid.UUID = ref("sites.id", ondelete="RESTRICT")
    status: str = Field(default="draft", max_length=16)
    source: str = Field(max_length=16)
    during: Any = Field(sa_column=Column(TSTZRANGE, nullable=False))
    breaks: Any = Field(sa_column=Column(TSTZMULTIRANGE, nullable=False, server_default=text("'{}'")))
    created_by: str = Field(max_length=200)
    updated_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ShiftAssignment(SQLModel, table=True):
    """A part of a shift given to one shop. Tenant-owned (the shop's brand): a client may count the agents
    serving its shops per interval, never see who they are."""

    __tablename__ = "shift_assignments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="RESTRICT"),
        CheckConstraint("NOT isempty(during)", name="during_not_empty"),
        # No GiST index here: coverage reads go through the roster's shifts (0009), and two assignments of
        # a shift never overlap by `one_shop_at_a_time`, a statement trigger over the shift_id index (0010):
        # a roster stores some 44,000 assignments at once, a GiST entry each was most of its storing time.
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    shift_id: uuid.UUID = ref("shifts.id", ondelete="CASCADE", index=True)
    shop_id: uuid.UUID
    during: Any = Field(sa_column=Column(TSTZRANGE, nullable=False))
    # Who made and last changed it (migration 0009): a manual seat move is on record like a shift's.
    created_by: str = Field(max_length=200)
    updated_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class WorkSession(SQLModel, table=True):
    """Attendance: an agent logged in on a shop's workbench, from a platform's export. Idempotent by
    (shop, external_id), like conversations; tenant-owned.

    A feed records what happened, so the table refuses only what cannot be a session (logout after login,
    at most 24 hours, breaks inside it): sessions of one agent may overlap (an agent is logged in on
    several shops' workbenches at once; exports also repeat a session under two ids). No foreign keys
    (0013_attendance): ingest resolves the shop and the agent code itself, and a bulk load does not pay a
    lookup per row twice. Reads go by agent and login (btree) and by time window (BRIN over login: an
    export arrives roughly in time order)."""

    __tablename__ = "work_sessions"
    __table_args__ = (
        CheckConstraint("NOT isempty(during) AND NOT lower_inf(during) AND NOT upper_inf(during)",
                        name="during_bounded"),
        CheckConstraint("breaks <@ tstzmultirange(during)", name="breaks_inside"),
        CheckConstraint(
            "upper(during) > lower(during) AND upper(during) - lower(during) <= interval '24 hours'",
            name="at_most_a_day"),
        Index("ix_work_sessions_agent_login", "agent_id", text("lower(during)")),
        Index("ix_work_sessions_login", text("lower(during)"), postgresql_using="brin"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    external_id: str = Field(sa_column=Column(String(128, collation="C"), primary_key=True))
    agent_id: uuid.UUID
    during: Any = Field(sa_column=Column(TSTZRANGE, nullable=False))
    breaks: Any = Field(sa_column=Column(TSTZMULTIRANGE, nullable=False, server_default=text("'{}'")))
    ingested_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False,
                                                   server_default=func.now()))
