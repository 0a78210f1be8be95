"""Shops: a brand's store on one platform. Tenant-owned."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, UniqueConstraint, select
from sqlalchemy.orm import column_property
from sqlmodel import Field, SQLModel

from service.kit.models import created_at_field, new_id, one_of, updated_at_field
from tenants.models import Tenant

Platform = enum.StrEnum("Platform", ["tmall", "taobao", "jd", "pdd", "douyin", "other"])
ShopStatus = enum.StrEnum("ShopStatus", ["active", "paused", "closed"])


class Shop(SQLModel, table=True):
    __tablename__ = "shops"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="RESTRICT"),
        UniqueConstraint("tenant_id", "platform", "name"),
        *one_of(platform=Platform, status=ShopStatus),
        # Staff look shops up by id alone; clients always with their tenant (the primary key).
        Index(None, "id"),
    )

    # tenant_id leads the primary key: the Citus distribution column (DESIGN.md 2.1).
    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    platform: str = Field(max_length=16)
    name: str = Field(max_length=200)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    category: str | None = Field(default=None, max_length=100)
    status: str = Field(default=ShopStatus.active, max_length=16)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


# The brand's slug on every shop row the ORM loads (read shapes carry it: a shop names its brand in words).
Shop.tenant_slug = column_property(  # type: ignore[attr-defined]
    select(Tenant.slug).where(Tenant.id == Shop.tenant_id).correlate_except(Tenant).scalar_subquery())
