"""Sites (floors with seats) and agents: operator-level data, no tenant."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, ForeignKey, Numeric, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from service.kit.models import created_at_field, new_id, one_of, updated_at_field

AgentLevel = enum.StrEnum("AgentLevel", ["trainee", "agent", "senior", "lead", "supervisor", "manager"])
EmploymentType = enum.StrEnum("EmploymentType", ["full_time", "part_time", "contractor", "intern"])


class Site(SQLModel, table=True):
    __tablename__ = "sites"
    __table_args__ = (CheckConstraint("seat_capacity >= 0", name="seat_capacity_nonnegative"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    city: str = Field(max_length=100)
    seat_capacity: int
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Agent(SQLModel, table=True):
    __tablename__ = "agents"
    __table_args__ = (
        *one_of(level=AgentLevel, employment_type=EmploymentType),
        CheckConstraint("loaded_hourly_cost >= 0", name="cost_nonnegative"),
        CheckConstraint("max_concurrency BETWEEN 1 AND 20", name="concurrency_range"),
        CheckConstraint("left_on IS NULL OR left_on >= hired_on", name="left_after_hired"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    site_id: uuid.UUID = Field(sa_column=Column(ForeignKey("sites.id", ondelete="RESTRICT"), nullable=False,
                                                index=True))
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    level: str = Field(max_length=16)
    skills: list[str] = Field(default_factory=list,
                              sa_column=Column(ARRAY(String(32)), nullable=False, server_default="{}"))
    loaded_hourly_cost: Decimal = Field(sa_type=Numeric(14, 2))
    max_concurrency: int = Field(default=3)
    employment_type: str = Field(default=EmploymentType.full_time, max_length=16)
    hired_on: date
    left_on: date | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
