"""What the API accepts and answers for tenants."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tenants.models import TenantStatus, Tier

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG, description="URL-safe short name, e.g. `lumi-beauty`.")
    name: str = Field(min_length=1, max_length=200)
    tier: Tier
    priority_weight: float = Field(default=1.0, gt=0, le=100)
    status: TenantStatus = TenantStatus.active


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tier: Tier | None = None
    priority_weight: float | None = Field(default=None, gt=0, le=100)
    status: TenantStatus | None = None


class TenantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    tier: Tier
    priority_weight: float
    status: TenantStatus
    created_at: datetime
    updated_at: datetime


class TenantFilter(BaseModel):
    tier: Tier | None = None
    status: TenantStatus | None = None
    q: str | None = None
