"""What the API accepts and answers for sites and agents: each shape's fields are declared once."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from service.kit.shapes import Identified, Stamped, partial
from service.kit.types import Text, TimeZone
from service.workforce.models import AgentLevel, EmploymentType

Money = Decimal  # CNY, two decimals; never float


class SiteFields(BaseModel):
    """A floor with seats."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    city: Text = Field(min_length=1, max_length=100)
    seat_capacity: int = Field(ge=0, le=100_000)
    timezone: TimeZone = "Asia/Shanghai"


class SiteCreate(SiteFields):
    """Open a site."""


class SiteUpdate(partial(SiteFields, exclude={"timezone"})):  # type: ignore[misc]
    """Change a site: the fields sent (its timezone stays: shifts and attendance are kept in it)."""


class SiteRead(Stamped, SiteFields, Identified):
    """A floor with seats."""


class AgentFields(BaseModel):
    """An employee answering chats."""

    model_config = ConfigDict(extra="forbid")

    site_id: uuid.UUID
    code: Text = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: Text = Field(min_length=1, max_length=200)
    level: AgentLevel = AgentLevel.agent
    skills: list[Annotated[Text, Field(max_length=32)]] = Field(default_factory=list, max_length=30)
    loaded_hourly_cost: Money = Field(ge=0, max_digits=12, decimal_places=2)
    max_concurrency: int = Field(default=3, ge=1, le=20)
    employment_type: EmploymentType = EmploymentType.full_time
    hired_on: date
    left_on: date | None = None


class AgentCreate(AgentFields):
    """Hire an agent."""


class AgentUpdate(partial(AgentFields, exclude={"code", "hired_on"})):  # type: ignore[misc]
    """Change an agent: the fields sent (null clears `left_on`). Code and hiring date are fixed."""


class AgentRead(Stamped, AgentFields, Identified):
    """An employee answering chats."""


class AgentFilter(BaseModel):
    site_id: uuid.UUID | None = None
    level: AgentLevel | None = None
    employment_type: EmploymentType | None = None
    active: bool | None = None
    q: str | None = None
