"""Capacity planning tables: promotions, plan headers and per-interval totals (operator-level); a plan's
shops and its lines per shop and interval (tenant-owned).

A plan header and its per-interval seat totals belong to the outsourcer (they sum over every brand).
A plan shop (its parameters and totals) and a line (one shop's forecast and staffing for one interval)
belong to the shop's brand: tenant_id first in their keys, foreign keys that include tenant_id, and the
tenant isolation policy (migration 0004).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.kit.models import created_at_field, new_id, one_of
from service.shops.models import Platform

ALL_PLATFORMS = "all"
PROMOTION_PLATFORMS = (*(p.value for p in Platform), ALL_PLATFORMS)


PlanModel = enum.StrEnum("PlanModel", ["erlang_c", "erlang_a"])
# complete: computed and stored in one transaction; approved: reserved for the seating workflow.
PlanStatus = enum.StrEnum("PlanStatus", ["complete", "approved", "archived"])


class Promotion(SQLModel, table=True):
    """A peak event (双11, 618, 双12, ...) on local dates of `timezone`, start and end inclusive."""

    __tablename__ = "promotions"
    __table_args__ = (
        UniqueConstraint("name", "year"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("year = date_part('year', start_date)::int", name="year_of_start"),
        *one_of(platform=PROMOTION_PLATFORMS),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100)
    year: int
    platform: str = Field(default=ALL_PLATFORMS, max_length=16)
    start_date: date
    end_date: date
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    # Optional given uplift: one factor per day, or per day a list of 96 per-interval factors.
    uplift: Any | None = Field(default=None, sa_type=JSONB)
    # Learn the uplift from this past promotion's history rather than last year's one of the same name
    # (e.g. Double 12 from this year's Double 11). Aligned on the last day either way.
    uplift_from_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("promotions.id", ondelete="SET NULL")))
    created_at: datetime = created_at_field()


class CapacityPlan(SQLModel, table=True):
    """A plan's header: what was asked for and the totals of what came out. Operator-level."""

    __tablename__ = "capacity_plans"
    __table_args__ = (
        *one_of(model=PlanModel, status=PlanStatus),
        CheckConstraint("ends_at > starts_at", name="window_ordered"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    promotion_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("promotions.id", ondelete="RESTRICT"), index=True))
    # UTC instants on quarter hours; intervals are 15 minutes like the rollups.
    starts_at: datetime = Field(sa_type=DateTime(timezone=True))
    ends_at: datetime = Field(sa_type=DateTime(timezone=True))
    model: str = Field(max_length=16)
    seats: Any = Field(sa_type=JSONB)  # the seats spec as given
    params: Any = Field(sa_type=JSONB)  # model parameters as resolved/given
    status: str = Field(default=PlanStatus.complete, max_length=16)
    created_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()
    summary: Any = Field(sa_type=JSONB)


class CapacityPlanInterval(SQLModel, table=True):
    """Seats against requirements for one interval of a plan, over every brand. Operator-level."""

    __tablename__ = "capacity_plan_intervals"

    plan_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("capacity_plans.id", ondelete="CASCADE"), primary_key=True))
    interval_start: datetime = Field(primary_key=True, sa_type=DateTime(timezone=True))
    seats_available: int
    seats_required: int
    allocated: int
    shortfall: int
    shops_short: int


class CapacityPlanShop(SQLModel, table=True):
    """One shop in a plan: the parameters it was staffed with and its totals over the plan. Tenant-owned
    (RLS).

    The lines reference this row (tenant_id, plan_id, shop_id), and it references the shop (tenant_id, id)
    and the plan: integrity both ways with a single foreign-key check per line instead of two (see the
    lines).
    """

    __tablename__ = "capacity_plan_shops"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="CASCADE"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    plan_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("capacity_plans.id", ondelete="CASCADE"), primary_key=True))
    shop_id: uuid.UUID = Field(primary_key=True)
    # What the shop was planned with (the brand's tier and weight at the time; history and policy values).
    tier: str = Field(max_length=16)
    priority_weight: float = Field(sa_type=Double)
    aht_s: float = Field(sa_type=Double)
    concurrency: int
    target_service_level: float = Field(sa_type=Double)
    target_answer_s: float = Field(sa_type=Double)
    patience_s: float | None = Field(default=None, sa_type=Double)
    max_abandon_rate: float | None = Field(default=None, sa_type=Double)
    # Totals over the plan's intervals (agent-intervals).
    forecast_volume: float = Field(sa_type=Double)
    required: int
    scheduled: int
    allocated: int
    missing: int
    min_service_level: float = Field(sa_type=Double)
    intervals_short: int


class CapacityPlanLine(SQLModel, table=True):
    """One shop's forecast and staffing for one interval of a plan. Tenant-owned (RLS).

    No foreign key: a Double 11 plan stores 144,000 lines in one statement and a per-row referential
    check costs ~0.7 s of the 2 s budget. Lines are written only by create_plan, in the transaction that
    writes their plan and plan shops (which do carry foreign keys to plans and shops), and plans are
    never deleted, so a line cannot be orphaned.
    """

    __tablename__ = "capacity_plan_lines"
    __table_args__ = (
        CheckConstraint("allocated <= required", name="allocated_within_required"),
    )

    # tenant_id leads the key (Citus distribution column); staff reads by plan_id use a skip scan.
    tenant_id: uuid.UUID = Field(primary_key=True)
    plan_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    interval_start: datetime = Field(primary_key=True, sa_type=DateTime(timezone=True))
    forecast_volume: float = Field(sa_type=Double)  # contacts offered
    required: int  # agents logged in to meet the targets
    scheduled: int  # required / (1 - shrinkage), rounded up
    allocated: int  # seats given (<= required)
    expected_service_level: float = Field(sa_type=Double)  # with `allocated`
    expected_asa_s: float | None = Field(default=None, sa_type=Double)  # null: unbounded (no answer)
