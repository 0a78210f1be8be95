"""What the API accepts and answers for sites and agents."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from service.workforce.models import AgentLevel, EmploymentType

Money = Decimal  # CNY, two decimals; never float


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    seat_capacity: int = Field(ge=0, le=100_000)
    timezone: str = "Asia/Shanghai"


class SiteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    seat_capacity: int | None = Field(default=None, ge=0, le=100_000)


class SiteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    city: str
    seat_capacity: int
    timezone: str
    created_at: datetime
    updated_at: datetime


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: uuid.UUID
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    level: AgentLevel = AgentLevel.agent
    skills: list[str] = Field(default_factory=list, max_length=30)
    loaded_hourly_cost: Money = Field(ge=0, max_digits=12, decimal_places=2)
    max_concurrency: int = Field(default=3, ge=1, le=20)
    employment_type: EmploymentType = EmploymentType.full_time
    hired_on: date
    left_on: date | None = None


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: uuid.UUID | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    level: AgentLevel | None = None
    skills: list[str] | None = Field(default=None, max_length=30)
    loaded_hourly_cost: Money | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    max_concurrency: int | None = Field(default=None, ge=1, le=20)
    employment_type: EmploymentType | None = None
    left_on: date | None = None


class AgentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    site_id: uuid.UUID
    code: str
    name: str
    level: AgentLevel
    skills: list[str]
    loaded_hourly_cost: Money
    max_concurrency: int
    employment_type: EmploymentType
    hired_on: date
    left_on: date | None
    created_at: datetime
    updated_at: datetime


class AgentFilter(BaseModel):
    site_id: uuid.UUID | None = None
    level: AgentLevel | None = None
    employment_type: EmploymentType | None = None
    active: bool | None = None
    q: str | None = None
