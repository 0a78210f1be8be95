"""What the API accepts and answers for tenants: the fields are declared once, on TenantFields."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.kit.shapes import Identified, Stamped, partial
from tenants.models import TenantStatus, Tier

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
SLUG_RULE = ("lowercase letters, digits and hyphens, 1 to 63 characters, starting and ending with a letter "
             "or a digit (e.g. lumi-beauty)")


class TenantFields(BaseModel):
    """A client brand's editable fields."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    tier: Tier
    priority_weight: float = Field(default=1.0, gt=0, le=100)
    status: TenantStatus = TenantStatus.active


class TenantSlug(BaseModel):
    slug: str = Field(description=f"URL-safe short name: {SLUG_RULE}.", json_schema_extra={"pattern": SLUG})

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
