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
    __audit_tenant__ = "id"  # a brand's own record is in its audit trail
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


class ApiKey(SQLModel, table=True):
    """A machine's credential: scoped to a role (and, for a client, its brand); only the secret's SHA-256 is
    kept. Identity, read before a caller's scope exists: operator-level, no RLS (use cases filter a brand's
    own by brand_id)."""

    __tablename__ = "api_keys"
    __audit_tenant__ = "brand_id"
    __audit_exclude__ = frozenset({"secret_hash"})
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'ops', 'finance', 'client')", name="role"),
        CheckConstraint("(role = 'client') = (brand_id IS NOT NULL)", name="client_has_brand"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, unique=True)
    secret_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    brand_id: uuid.UUID | None = Field(default=None, foreign_key="tenants.id", ondelete="RESTRICT",
                                       index=True)
    created_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class IssuedToken(SQLModel, table=True):
    """A bearer token the built-in issuer signed: what admins list and revoke (the token itself is never
    stored)."""

    __tablename__ = "issued_tokens"
    __audit_tenant__ = "brand_id"

    jti: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=200)
    role: str = Field(max_length=16)
    brand_id: uuid.UUID | None = None
    issued_by: str = Field(max_length=200)
    issued_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
