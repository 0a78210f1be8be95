"""Tenants (client brands) and revoked tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime
from sqlmodel import Field, SQLModel

from service.kit.models import created_at_field, new_id, one_of, updated_at_field

Tier = enum.StrEnum("Tier", {"KA": "KA", "standard": "standard", "longtail": "longtail"})
TIER_RANK = {Tier.KA: 0, Tier.standard: 1, Tier.longtail: 2}
TenantStatus = enum.StrEnum("TenantStatus", ["active", "suspended", "offboarded"])


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"
    __table_args__ = (
        *one_of(tier=Tier, status=TenantStatus),
        CheckConstraint("priority_weight > 0", name="priority_weight_positive"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    slug: str = Field(max_length=63, unique=True)
    name: str = Field(max_length=200)
    tier: str = Field(max_length=16)
    priority_weight: float = Field(default=1.0)
    status: str = Field(default=TenantStatus.active, max_length=16)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class TokenRevocation(SQLModel, table=True):
    __tablename__ = "revoked_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    revoked_at: datetime = created_at_field()
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    reason: str | None = Field(default=None, max_length=200)
