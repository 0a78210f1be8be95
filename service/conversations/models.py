"""Raw conversations (partitioned by month on started_at), per-shop 15-minute rollups and per-shop-day
FRT histograms.

All are tenant-owned: tenant_id leads every key, and the foreign key to shops includes it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKeyConstraint,
    Integer,
    Numeric,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

import service.kit.models  # noqa: F401  (constraint naming convention)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        # No foreign key to shops here: ingest only writes rows it joined to a visible shop, and a
        # per-row referential check would cost a third of the insert (shops are never deleted).
        CheckConstraint("kind IN ('presale', 'aftersale')", name="kind"),
        CheckConstraint("first_response_at IS NULL OR first_response_at >= started_at",
                        name="response_after_start"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="end_after_start"),
        CheckConstraint("order_amount IS NULL OR order_amount >= 0", name="amount_nonnegative"),
        CheckConstraint("csat IS NULL OR csat BETWEEN 1 AND 5", name="csat_range"),
        # Monthly partitions are created on demand by seatwise_ensure_conversation_partitions().
        {"postgresql_partition_by": "RANGE (started_at)"},
    )

    # (tenant, shop, external_id) identifies a conversation; started_at is in the key because a
    # partitioned table's keys must hold the partition column. Ingest finds a record's earlier
    # version by the key's first three columns, so a corrected started_at still replaces it.
    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    # Byte order (COLLATE "C"): an id has no linguistic order, and memcmp keeps key inserts cheap.
    external_id: str = Field(sa_column=Column(String(128, collation="C"), primary_key=True))
    started_at: datetime = Field(primary_key=True, sa_type=DateTime(timezone=True))
    first_response_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    kind: str = Field(max_length=10)
    response_times_s: list[float] | None = Field(default=None, sa_type=ARRAY(Double))
    agent_code: str | None = Field(default=None, max_length=64)
    converted: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))
    order_amount: Decimal | None = Field(default=None, sa_type=Numeric(14, 2))
    csat: int | None = Field(default=None, sa_type=SmallInteger)
    ingested_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False,
                                                   server_default=func.now()))


class ShopIntervalStat(SQLModel, table=True):
    """Additive counters of one shop's conversations started in one 15-minute interval (UTC-aligned):
    exactly what the SLA metrics need, so reports never scan raw conversations."""

    __tablename__ = "shop_interval_stats"
    # No foreign key to shops: ingest, the only writer, resolves every shop under RLS first, and the
    # check cost a trigger call per new interval row (shops are never deleted).

    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    interval_start: datetime = Field(primary_key=True, sa_type=DateTime(timezone=True))
    offered: int
    answered: int
    presale_offered: int
    presale_converted: int
    converted: int
    gmv: Decimal = Field(sa_type=Numeric(14, 2))
    frt_sum_s: float = Field(sa_type=Double)
    # Sparse FRT histogram (bins of service.sla.metrics.frt_bin): service level for any integer T
    # up to 600 s exactly, percentiles within max(1 s, 2%).
    frt_bins: list[int] = Field(sa_type=ARRAY(SmallInteger))
    frt_counts: list[int] = Field(sa_type=ARRAY(Integer))
    rounds: int
    rounds_within_180: int
    response_capped_sum_s: float = Field(sa_type=Double)
    handled: int
    handle_sum_s: float = Field(sa_type=Double)
    csat_count: int
    csat_good: int
    csat_bad: int


class ShopDayFrt(SQLModel, table=True):
    """One shop's FRT histogram per shop-local day: the sum of that day's interval histograms (same bins,
    sorted, no zero counts), so day, week and month reports merge ~30 of these instead of ~3,000.
    Kept by service.conversations.day_rollup; a day with no answered conversation has no row."""

    __tablename__ = "shop_day_frt"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="CASCADE"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    frt_bins: list[int] = Field(sa_type=ARRAY(SmallInteger))
    frt_counts: list[int] = Field(sa_type=ARRAY(Integer))
