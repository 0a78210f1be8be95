"""SLA policies: a shop's targets, versioned by the local date from which each version applies.

Tenant-owned (tenant_id leads the key, the foreign key to shops includes it, RLS in the migration).
A shop without any version is judged by its platform's default (service.sla.service.platform_default).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Column,
    Double,
    ForeignKeyConstraint,
    Integer,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from service.kit.models import created_at_field, new_id, updated_at_field

_RATES = ("service_level_target", "response_rate_3min_target", "csat_target", "conversion_rate_target",
          "max_abandon_rate")


def _rate_check(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IS NULL OR ({column} >= 0 AND {column} <= 1)", name=f"{column}_range")


def _quarter_hour(column: str) -> CheckConstraint:
    return CheckConstraint(f"date_part('minute', {column})::int % 15 = 0 "
                           f"AND date_part('second', {column}) = 0",
                           name=f"{column}_quarter_hour")


class SlaPolicy(SQLModel, table=True):
    __tablename__ = "sla_policies"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="CASCADE"),
        # One version per shop and day; reports look versions up by (shop, effective_from).
        UniqueConstraint("tenant_id", "shop_id", "effective_from"),
        CheckConstraint("answer_target_s BETWEEN 1 AND 600", name="answer_target_range"),
        CheckConstraint("frt_mean_target_s IS NULL OR frt_mean_target_s >= 0",
                        name="frt_mean_target_nonnegative"),
        *(_rate_check(c) for c in _RATES),
        _quarter_hour("assessed_start"),
        _quarter_hour("assessed_end"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    shop_id: uuid.UUID
    # Shop-local date from which this version applies (until the next version's).
    effective_from: date
    # T of the service level: answered within T seconds / offered. Whole seconds (the FRT histogram
    # makes the service level exact for every integer T up to 600 s).
    answer_target_s: int = Field(default=30, sa_column=Column(Integer, nullable=False, server_default="30"))
    service_level_target: float | None = Field(default=None, sa_type=Double)
    response_rate_3min_target: float | None = Field(default=None, sa_type=Double)
    frt_mean_target_s: float | None = Field(default=None, sa_type=Double)
    csat_target: float | None = Field(default=None, sa_type=Double)
    conversion_rate_target: float | None = Field(default=None, sa_type=Double)
    max_abandon_rate: float | None = Field(default=None, sa_type=Double)
    # Assessed hours of the 3-minute response rate, shop-local [start, end); end < start crosses
    # midnight, start == end is the whole day. Whole quarter hours.
    assessed_start: time
    assessed_end: time
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ShopReportVersion(SQLModel, table=True):
    """A version of what a shop's SLA reports read (its rollups, day histograms and policy versions): a new
    random uuid from the database's triggers in every statement that writes any of them for the shop
    (migration 0012). Reports and breaches found in the server's memory under the version read in the
    caller's transaction are the ones it would compute (service.sla.service, service.kit.cache)."""

    __tablename__ = "shop_report_versions"
    # No foreign key to shops, as shop_interval_stats has none: a write of rollups is never refused for it.

    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    version: uuid.UUID
