"""What the API accepts and answers for shops: the fields are declared once, on ShopFields."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from service.kit.shapes import Identified, Stamped, partial
from service.kit.types import Text, TimeZone
from service.shops.models import Platform, ShopStatus


class ShopFields(BaseModel):
    """A shop's editable fields."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    timezone: TimeZone = "Asia/Shanghai"
    category: Text | None = Field(default=None, max_length=100)
    status: ShopStatus = ShopStatus.active


class ShopOwner(BaseModel):
    """What a shop is, fixed at creation: whose and where."""

    tenant_id: uuid.UUID
    platform: Platform


class ShopCreate(ShopFields, ShopOwner):
    """Add a shop to a client brand."""


class ShopUpdate(partial(ShopFields)):  # type: ignore[misc]
    """Change a shop: the fields sent (null clears `category`)."""


class ShopRead(Stamped, ShopCreate, Identified):
    """A brand's store on one platform."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")


class ShopFilter(BaseModel):
    tenant: str | None = None
    platform: Platform | None = None
    status: ShopStatus | None = None
    q: str | None = None
