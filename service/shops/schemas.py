"""What the API accepts and answers for shops."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.shops.models import Platform, ShopStatus

_ZONES = available_timezones()


def _zone(value: str | None) -> str | None:
    if value is not None and value not in _ZONES:
        raise ValueError("not an IANA timezone (e.g. Asia/Shanghai)")
    return value


class ShopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID
    platform: Platform
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "Asia/Shanghai"
    category: str | None = Field(default=None, max_length=100)
    status: ShopStatus = ShopStatus.active

    _tz = field_validator("timezone")(_zone)


class ShopUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    category: str | None = Field(default=None, max_length=100)
    status: ShopStatus | None = None

    _tz = field_validator("timezone")(_zone)


class ShopRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    platform: Platform
    name: str
    timezone: str
    category: str | None
    status: ShopStatus
    created_at: datetime
    updated_at: datetime


class ShopFilter(BaseModel):
    tenant: str | None = None
    platform: Platform | None = None
    status: ShopStatus | None = None
    q: str | None = None
