"""Finance tables: versioned cost rates and the period book (operator-level); contracts with their versions,
statements with their lines, and the month's cost figures per shop (tenant-owned: RLS).

Money is numeric(14,2) (amounts, and the prices and costs per unit, which are quoted to the fen); shares and
multipliers have their own precision; a line's quantity and rate are numeric(18,6) (a pro-rated share of a
month, a commission share). What the database itself refuses (migration 0011_finance, triggers):

- a rate or contract version is never changed or deleted (a correction is a new version);
- a row of a closed month (statements, their lines, cost lines, usage) is never inserted, changed or
  deleted: closing a month freezes every figure of it, for every role, the owner included;
- a finalized statement and its lines are never changed or deleted; lines are never updated at all;
- a closed month opens again only in a transaction that records a `reopen` event for it; the events are
  append-only.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.kit.models import created_at_field, new_id, one_of, ref

# What the API and the statement lines name, stored as text (checked).
PeriodStatus = ("open", "closed")
PeriodAction = ("close", "reopen")
StatementStatus = ("draft", "finalized")
LineKinds = ("charge", "credit", "credit_pending", "credit_forgiven", "adjustment")
PoolScopes = ("brand", "shop")


def money(**column: Any) -> Any:
    """A numeric(14,2) column (CNY), NOT NULL unless told."""
    return Field(sa_column=Column(Numeric(14, 2), nullable=column.pop("nullable", False), **column))


def price() -> Any:
    """An optional price per unit of a contract component, numeric(14,2)."""
    return Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))


def share(precision: int = 7, scale: int = 6, nullable: bool = False) -> Any:
    return Field(default=None if nullable else ..., sa_column=Column(Numeric(precision, scale),
                                                                     nullable=nullable))


def first_of_month(column: str = "month") -> CheckConstraint:
    return CheckConstraint(f"date_part('day', {column}) = 1", name=f"{column}_first_day")


def _versioned() -> tuple[Any, ...]:
    return (CheckConstraint("effective_from >= DATE '2000-01-01'", name="effective_from_range"),)


# --- cost rates: operator-level, versioned by effective date, append-only ---------------------------------


class _Version(SQLModel):
    """A version of a rate: in force from `effective_from` until the next one's; who added it, and when."""

    effective_from: date = Field(primary_key=True)
    created_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class AgentCostVersion(_Version, table=True):
    """An agent's loaded hourly cost: wage plus the employer's social insurance and housing fund, CNY per
    worked hour."""

    __tablename__ = "agent_cost_versions"
    __table_args__ = (
        *_versioned(),
        CheckConstraint("wage >= 0 AND social_insurance >= 0 AND housing_fund >= 0", name="nonnegative"),
    )

    agent_id: uuid.UUID = ref("agents.id", ondelete="RESTRICT", primary_key=True)
    wage: Decimal = money()
    social_insurance: Decimal = money()
    housing_fund: Decimal = money()


class SeatCostVersion(_Version, table=True):
    """A site's seat cost per seat-hour (rent, equipment, licences)."""

    __tablename__ = "seat_cost_versions"
    __table_args__ = (*_versioned(), CheckConstraint("seat_hour_cost >= 0", name="nonnegative"))

    site_id: uuid.UUID = ref("sites.id", ondelete="RESTRICT", primary_key=True)
    seat_hour_cost: Decimal = money()


class OverheadVersion(_Version, table=True):
    """A site's management overhead: a share of its direct cost (labour + seat)."""

    __tablename__ = "overhead_versions"
    __table_args__ = (*_versioned(),
                      CheckConstraint("management_share >= 0 AND management_share <= 1", name="share_range"))

    site_id: uuid.UUID = ref("sites.id", ondelete="RESTRICT", primary_key=True)
    management_share: Decimal = share(5, 4)


class OvertimeMultiplierVersion(_Version, table=True):
    """The overtime pay multipliers by the seating domain's pay classes."""

    __tablename__ = "overtime_multiplier_versions"
    __table_args__ = (*_versioned(),
                      CheckConstraint("workday >= 1 AND rest_day >= 1 AND holiday >= 1", name="at_least_one"))

    workday: Decimal = share(5, 3)
    rest_day: Decimal = share(5, 3)
    holiday: Decimal = share(5, 3)


# --- the period book: operator-level ----------------------------------------------------------------------


class FinancePeriod(SQLModel, table=True):
    """A month of the books: open (figures are drafts, recomputable) or closed (every figure frozen)."""

    __tablename__ = "finance_periods"
    __table_args__ = (*one_of(status=PeriodStatus), first_of_month())

    month: date = Field(primary_key=True)
    status: str = Field(default="open", max_length=16)
    computed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    computed_by: str | None = Field(default=None, max_length=200)
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    closed_by: str | None = Field(default=None, max_length=200)


class FinancePeriodEvent(SQLModel, table=True):
    """A close or a reopening of a month: who, when and why. Append-only."""

    __tablename__ = "finance_period_events"
    __table_args__ = (*one_of(action=PeriodAction), first_of_month(),
                      Index(None, "month", "at"))

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    month: date
    action: str = Field(max_length=16)
    actor: str = Field(max_length=200)
    reason: str | None = Field(default=None, max_length=500)
    at: datetime = created_at_field()


class StatementCounter(SQLModel, table=True):
    """The last statement number given in a year: the finalizing transaction takes the next ones with the
    row locked, so numbers are gapless (a rolled-back finalization gives its numbers back)."""

    __tablename__ = "statement_counters"
    __table_args__ = (CheckConstraint("last_number >= 0", name="nonnegative"),)

    year: int = Field(primary_key=True)
    last_number: int


# --- contracts: tenant-owned ------------------------------------------------------------------------------


class Contract(SQLModel, table=True):
    """A brand's contract (shop_id null: every shop without one of its own) or one shop's. Its prices are
    its versions."""

    __tablename__ = "contracts"
    __audit_tenant__ = None  # its entries are staff's: a brand never reads its prices, even in its trail
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="RESTRICT"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="RESTRICT"),
        # One brand-wide contract per brand and one contract per shop: a change is a new version.
        Index("uq_contracts_brand_wide", "tenant_id", unique=True, postgresql_where=text("shop_id IS NULL")),
        Index("uq_contracts_shop", "tenant_id", "shop_id", unique=True,
              postgresql_where=text("shop_id IS NOT NULL")),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    shop_id: uuid.UUID | None = None
    name: str = Field(max_length=200)
    created_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class ContractVersion(SQLModel, table=True):
    """A contract's prices from `effective_from` on (a component left null is not in the contract), with
    its SLA credit policy. Append-only."""

    __tablename__ = "contract_versions"
    __audit_tenant__ = None  # staff's entries, like the contract's: the rates are in them
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contract_id"], ["contracts.tenant_id", "contracts.id"],
                             ondelete="RESTRICT"),
        *_versioned(),
        *one_of(pool_scope=PoolScopes),
        CheckConstraint("dedicated_seats >= 0", name="dedicated_seats_nonnegative"),
        CheckConstraint("earn_back_months BETWEEN 0 AND 12", name="earn_back_range"),
        CheckConstraint("gmv_commission_share IS NULL OR gmv_commission_share BETWEEN 0 AND 1",
                        name="commission_range"),
        CheckConstraint("at_risk_share IS NULL OR at_risk_share BETWEEN 0 AND 1", name="at_risk_range"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    contract_id: uuid.UUID = Field(primary_key=True)
    effective_from: date = Field(primary_key=True)
    seat_hour_rate: Decimal | None = price()
    dedicated_seats: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    dedicated_seat_monthly_rate: Decimal | None = price()
    per_conversation_rate: Decimal | None = price()
    monthly_base_fee: Decimal | None = price()
    gmv_commission_share: Decimal | None = share(nullable=True)
    peak_surcharge_per_seat_day: Decimal | None = price()
    # The SLA credit policy (at_risk_share null: none): [{metric, allocation, earn_back_target}].
    at_risk_share: Decimal | None = share(5, 4, nullable=True)
    pool_scope: str = Field(default="brand", max_length=8)
    earn_back_months: int = Field(default=0, sa_column=Column(SmallInteger, nullable=False,
                                                              server_default="0"))
    credit_allocations: Any = Field(default_factory=list, sa_column=Column(JSONB, nullable=False,
                                                                           server_default="[]"))
    created_by: str = Field(max_length=200)
    created_at: datetime = created_at_field()


# --- statements and the month's cost figures: tenant-owned, frozen when the month closes ------------------


class Statement(SQLModel, table=True):
    """A brand's statement of a month: draft (recomputable) until finalized with its number. The totals are
    the sums of its lines (charges, applied credits, adjustments; pending and forgiven credits shown)."""

    __tablename__ = "statements"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="RESTRICT"),
        *one_of(status=StatementStatus),
        first_of_month(),
        CheckConstraint("(status = 'finalized') = (number IS NOT NULL)", name="numbered_when_finalized"),
        CheckConstraint("total = charges + credits + adjustments", name="total_is_the_sum"),
        Index("uq_statements_tenant_id_month", "tenant_id", "month", unique=True),
        # Numbers are unique by the gapless counter; the index is per brand, as a distributed table allows.
        Index("uq_statements_tenant_id_number", "tenant_id", "number", unique=True),
        Index(None, "month"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    month: date
    status: str = Field(default="draft", max_length=16)
    number: str | None = Field(default=None, max_length=20)
    charges: Decimal = money()
    credits: Decimal = money()
    adjustments: Decimal = money()
    total: Decimal = money()
    pending_credits: Decimal = money()
    forgiven_credits: Decimal = money()
    computed_at: datetime = Field(sa_type=DateTime(timezone=True))
    finalized_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    finalized_by: str | None = Field(default=None, max_length=200)


class StatementLine(SQLModel, table=True):
    """One line of a statement: component, shop (null: brand level), quantity x rate = amount (rounded once)
    and the source of the quantity in words. An adjustment names the month it corrects, its reason code,
    and the line it corrects (null: a component the corrected statement did not have)."""

    __tablename__ = "statement_lines"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "statement_id"], ["statements.tenant_id", "statements.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "corrects_statement_id", "corrects_position"],
                             ["statement_lines.tenant_id", "statement_lines.statement_id",
                              "statement_lines.position"], ondelete="RESTRICT",
                             name="fk_statement_lines_corrects_line"),
        *one_of(kind=LineKinds),
        first_of_month(),
        CheckConstraint("(kind = 'adjustment') = (reason IS NOT NULL AND corrects_month IS NOT NULL)",
                        name="adjustments_say_why"),
        CheckConstraint("corrects_statement_id IS NULL OR kind = 'adjustment'", name="only_adjustments_link"),
        Index(None, "tenant_id", "corrects_month"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    statement_id: uuid.UUID = Field(primary_key=True)
    position: int = Field(primary_key=True)
    month: date  # the statement's (what the close guards)
    kind: str = Field(max_length=16)
    component: str = Field(max_length=64)
    shop_id: uuid.UUID | None = None
    quantity: Decimal = Field(sa_column=Column(Numeric(18, 6), nullable=False))
    unit: str = Field(max_length=40)
    rate: Decimal = Field(sa_column=Column(Numeric(18, 6), nullable=False))
    amount: Decimal = money()
    source: str = Field(sa_column=Column(Text, nullable=False))
    corrects_statement_id: uuid.UUID | None = None
    corrects_position: int | None = None
    corrects_month: date | None = None
    reason: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # A credit's terms, for earn-back and the balance view: breach, allocation, pool, window.
    credit: Any | None = Field(default=None, sa_column=Column(JSONB, nullable=True))


class CostLine(SQLModel, table=True):
    """Labour, seat and overhead cost of a shop at a site, booked in `month`, for the work of `of_month`:
    the month's own cost (of_month = month) or, in an open month, the correction of a closed month's cost
    by data that arrived after it closed."""

    __tablename__ = "cost_lines"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="RESTRICT"),
        ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="RESTRICT"),
        first_of_month(),
        first_of_month("of_month"),
        CheckConstraint("of_month <= month", name="corrects_the_past"),
        Index(None, "month"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    month: date = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    site_id: uuid.UUID = Field(primary_key=True)
    of_month: date = Field(primary_key=True)
    minutes: int
    attendance_minutes: int
    roster_minutes: int
    overtime_workday_minutes: int
    overtime_rest_day_minutes: int
    overtime_holiday_minutes: int
    labour_base: Decimal = money()
    overtime_premium: Decimal = money()
    seat: Decimal = money()
    overhead: Decimal = money()


class ShopMonthUsage(SQLModel, table=True):
    """What a shop's month handled, as its statement and unit costs read it: conversations answered by an
    agent (from the rollups) and their assisted GMV."""

    __tablename__ = "shop_month_usage"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"], ondelete="RESTRICT"),
        first_of_month(),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    month: date = Field(primary_key=True)
    shop_id: uuid.UUID = Field(primary_key=True)
    conversations: int
    assisted_gmv: Decimal | None = money(nullable=True)  # null: no commission billed on it (not read)
    promotion_seat_days: int


OPERATOR_TABLES = ("agent_cost_versions", "seat_cost_versions", "overhead_versions",
                   "overtime_multiplier_versions", "finance_periods", "finance_period_events",
                   "statement_counters")
TENANT_TABLES = ("contracts", "contract_versions", "statements", "statement_lines", "cost_lines",
                 "shop_month_usage")
