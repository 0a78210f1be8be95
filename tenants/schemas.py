"""What the API accepts and answers for tenants: the fields are declared once, on TenantFields."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from service.kit.identity import Role
from service.kit.shapes import Identified, Stamped, partial
from service.kit.types import Text
from tenants.models import TenantStatus, Tier

TokenStatus = enum.StrEnum("TokenStatus", ["active", "expired", "revoked"])

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
SLUG_RULE = ("lowercase letters, digits and hyphens, 1 to 63 characters, starting and ending with a letter "
             "or a digit (e.g. lumi-beauty)")


class TenantFields(BaseModel):
    """A client brand's editable fields."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    tier: Tier
    priority_weight: float = Field(default=1.0, gt=0, le=100)
    status: TenantStatus = TenantStatus.active


class TenantSlug(BaseModel):
    slug: Text = Field(description=f"URL-safe short name: {SLUG_RULE}.", json_schema_extra={"pattern": SLUG})

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(SLUG, value):
            raise ValueError(f"must be {SLUG_RULE}")
        return value


class TenantCreate(TenantFields, TenantSlug):
    """Onboard a client brand."""


class TenantUpdate(partial(TenantFields)):  # type: ignore[misc]
    """Change a client brand: the fields sent."""


class TenantRead(Stamped, TenantCreate, Identified):
    """A client brand."""


class TenantFilter(BaseModel):
    tier: Tier | None = None
    status: TenantStatus | None = None
    q: str | None = None


class TokenRead(BaseModel):
    """A bearer token the built-in issuer signed (the token itself is never kept)."""

    model_config = ConfigDict(from_attributes=True)

    jti: str = Field(description="The token's id: what `token revoke` and the revoke route take")
    subject: str
    role: Role
    tenant_id: uuid.UUID | None = Field(default=None, validation_alias=AliasChoices("brand_id", "tenant_id"))
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    status: TokenStatus


class ApiKeyCreate(BaseModel):
    """A machine's key: a client key acts for one brand (a brand's user makes keys for its own brand only)."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=100, description="What the key is for, e.g. `jd exporter`")
    role: Role = Role.client
    tenant: Text | None = Field(default=None, max_length=100, description="The brand (id or slug) of a "
                                "client key; a brand's own user may leave it out")
    expires_at: datetime | None = Field(default=None,
                                        description="When the key stops working (default: never)")


class ApiKeyRead(BaseModel):
    """An API key as listed: its prefix and last use, never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters (`swk_<prefix>_...`), to recognise it")
    role: Role
    tenant_id: uuid.UUID | None = Field(default=None, validation_alias=AliasChoices("brand_id", "tenant_id"))
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = Field(default=None, description="Last authenticated call (to the minute)")
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyRead):
    """A new key: `key` is shown this once (only its hash is kept)."""

    key: str = Field(description="Send as `Authorization: Bearer <key>`; it is not shown again")
