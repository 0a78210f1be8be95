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


class ShopPlatform(BaseModel):
    platform: Platform


class ShopOwner(ShopPlatform):
    """What a shop is, fixed at creation: whose (by slug or id, like everywhere else) and where."""

    tenant: str | None = Field(default=None, min_length=1, max_length=100,
                               description="The brand, by slug or id (or give `tenant_id`)")
    tenant_id: uuid.UUID | None = Field(default=None, description="The brand's id (or give `tenant`)")


class ShopCreate(ShopFields, ShopOwner):
    """Add a shop to a client brand: name the brand with `tenant` (slug or id) or `tenant_id`."""


class ShopUpdate(partial(ShopFields)):  # type: ignore[misc]
    """Change a shop: the fields sent (null clears `category`)."""


class ShopBrand(ShopPlatform):
    tenant_id: uuid.UUID
    tenant_slug: str = Field(description="The brand's slug")


class ShopRead(Stamped, ShopFields, ShopBrand, Identified):
    """A brand's store on one platform."""


class ShopFilter(BaseModel):
    tenant: str | None = None
    platform: Platform | None = None
    status: ShopStatus | None = None
    q: str | None = None
