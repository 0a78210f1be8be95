"""What the API accepts and answers for tenants: the fields are declared once, on TenantFields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from service.kit.shapes import Identified, Stamped, partial
from service.kit.types import Text
from tenants.models import TenantStatus, Tier

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class TenantFields(BaseModel):
    """A client brand's editable fields."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    tier: Tier
    priority_weight: float = Field(default=1.0, gt=0, le=100)
    status: TenantStatus = TenantStatus.active


class TenantSlug(BaseModel):
    slug: Text = Field(pattern=SLUG, description="URL-safe short name, e.g. `lumi-beauty`.")


class TenantCreate(TenantFields, TenantSlug):
    """Onboard a client brand."""


class TenantUpdate(partial(TenantFields)):  # type: ignore[misc]
    """Change a client brand: the fields sent."""


class TenantRead(Stamped, TenantCreate, Identified):
    """A client brand."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")


class TenantFilter(BaseModel):
    tier: Tier | None = None
    status: TenantStatus | None = None
    q: str | None = None
