"""What the API accepts and answers for costs, contracts, statements, the books and the reports: each shape
declared once; the GraphQL types and inputs derive from these.

Money is Decimal (CNY, to the fen) on the way in and out, never float; a month is "YYYY-MM". The rules of a
credit policy are the maths' own (service.finance.credits.CreditPolicy): validating a policy builds one, so
both doors refuse exactly what the maths refuses, named by field.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from service.finance.credits import CreditPolicy, MetricAllocation
from service.finance.periods import Month
from service.kit.types import Text
from service.sla.figures import Metric

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Share = Annotated[Decimal, Field(ge=0, le=1, max_digits=7, decimal_places=6)]
Amount = Decimal  # an answered amount, CNY to the fen (may be negative: credits, adjustments)
PoolScope = Literal["brand", "shop"]
By = Literal["shop", "brand", "site"]


def _month(value: str) -> str:
    try:
        return str(Month.parse(value))
    except ValueError:
        raise ValueError("a month, YYYY-MM") from None


MonthText = Annotated[Text, AfterValidator(_month), Field(description="A month, YYYY-MM")]


class Versioned(BaseModel):
    """A version of a rate, in force from a day until the next version's (never overwritten)."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date = Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))


class Recorded(BaseModel):
    """Who added a version, and when."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    created_by: str
    created_at: datetime


# --- cost rates -------------------------------------------------------------------------------------------


class AgentCostCreate(Versioned):
    """An agent's loaded hourly cost from a day on: wage plus the employer's social insurance and housing
    fund, CNY per worked hour."""

    agent_id: uuid.UUID
    wage: Money
    social_insurance: Money = Decimal("0.00")
    housing_fund: Money = Decimal("0.00")


class AgentCostRead(Recorded, AgentCostCreate):
    """A version of an agent's loaded hourly cost."""

    loaded: Decimal = Field(description="wage + social_insurance + housing_fund")


class SeatCostCreate(Versioned):
    """A site's seat cost per seat-hour (rent, equipment, licences) from a day on."""

    site_id: uuid.UUID
    seat_hour_cost: Money


class SeatCostRead(Recorded, SeatCostCreate):
    """A version of a site's seat cost."""


class OverheadCreate(Versioned):
    """A site's management overhead from a day on: a share of its direct cost (labour + seat)."""

    site_id: uuid.UUID
    management_share: Decimal = Field(ge=0, le=1, max_digits=5, decimal_places=4)


class OverheadRead(Recorded, OverheadCreate):
    """A version of a site's overhead rule."""


Multiplier = Annotated[Decimal, Field(ge=1, le=10, max_digits=5, decimal_places=3)]


class OvertimeCreate(Versioned):
    """The overtime pay multipliers by pay class from a day on (workday 1.5, rest day 2, holiday 3 by law)."""

    workday: Multiplier
    rest_day: Multiplier
    holiday: Multiplier


class OvertimeRead(Recorded, OvertimeCreate):
    """A version of the overtime multipliers."""


# --- contracts ----------------------------------------------------------------------------------------------


class CreditAllocationFields(BaseModel):
    """One SLA metric's share of the at-risk pool, and the level that earns a held credit back."""

    model_config = ConfigDict(extra="forbid")

    metric: Metric
    allocation: Share
    earn_back_target: float | None = Field(default=None, ge=0, le=86_400, allow_inf_nan=False,
                                           description="A later month at this level forgives the credit")


class CreditPolicyFields(BaseModel):
    """SLA service credits: `at_risk_share` of the month's charges is at risk, split across metrics by
    their allocations; a breached metric costs its allocation x the pool; credits are capped at the pool."""

    model_config = ConfigDict(extra="forbid")

    at_risk_share: Share
    allocations: list[CreditAllocationFields] = Field(min_length=1, max_length=len(Metric))
    earn_back_months: int = Field(default=0, ge=0, le=12)
    pool_scope: PoolScope = "brand"

    @model_validator(mode="after")
    def _rules(self) -> CreditPolicyFields:
        try:
            self.policy()
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self

    def policy(self) -> CreditPolicy:
        """The maths' policy (higher is better but for ceilings: mean FRT, abandon rate)."""
        ceilings = {"frt_mean_s", "abandon_rate"}
        return CreditPolicy(self.at_risk_share, tuple(
            MetricAllocation(a.metric.value, a.allocation, a.earn_back_target, a.metric.value not in ceilings)
            for a in self.allocations), self.earn_back_months, self.pool_scope)


Price = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class ContractTermsFields(BaseModel):
    """A contract version's prices (a component left null is not in the contract) and its credit policy."""

    model_config = ConfigDict(extra="forbid")

    seat_hour_rate: Price | None = Field(default=None, description="CNY per seat-hour worked")
    dedicated_seats: int = Field(default=0, ge=0, le=100_000, description="Seats held all month")
    dedicated_seat_monthly_rate: Price | None = Field(default=None, description="CNY per seat and month")
    per_conversation_rate: Price | None = Field(default=None, description="CNY per conversation handled")
    monthly_base_fee: Price | None = None
    gmv_commission_share: Share | None = Field(default=None, description="Of assisted GMV, 0.015 = 1.5 %")
    peak_surcharge_per_seat_day: Price | None = Field(default=None, description="CNY per promotion seat-day")
    credit_policy: CreditPolicyFields | None = None


class ContractVersionCreate(ContractTermsFields, Versioned):
    """A new version of a contract's prices from a day on (a month is billed by the version in force on its
    first day; amend on a 1st)."""


class ContractOwner(BaseModel):
    """Whose contract: a brand's (every shop without one of its own) or one shop's."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID
    shop_id: uuid.UUID | None = None
    name: Text = Field(min_length=1, max_length=200)


class ContractCreate(ContractVersionCreate, ContractOwner):
    """A contract with its first version."""


class ContractVersionRead(Recorded, ContractVersionCreate):
    """A version of a contract's prices."""


class ContractRead(BaseModel):
    """A contract and its versions, by effective date."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    shop_id: uuid.UUID | None
    name: str
    created_by: str
    created_at: datetime
    versions: list[ContractVersionRead]


# --- statements ---------------------------------------------------------------------------------------------


class LineView(BaseModel):
    """A statement line as its brand reads it: what, where, how much, and where the quantity comes from."""

    position: int
    kind: Literal["charge", "credit", "credit_pending", "credit_forgiven", "adjustment"]
    component: str
    shop_id: uuid.UUID | None = Field(description="null: brand level")
    quantity: Decimal
    unit: str
    amount: Amount
    source: str = Field(description="The source of the quantity, in words")
    corrects_month: str | None = Field(description="An adjustment: the closed month it corrects")
    reason: str | None = Field(description="An adjustment: its reason code")


class LineRead(LineView):
    """A statement line with its rate and, for an adjustment, the line it corrects."""

    rate: Decimal
    corrects_statement_id: uuid.UUID | None
    corrects_position: int | None


class Totals(BaseModel):
    """A statement's totals: each the sum of its lines of that kind; total = charges + credits +
    adjustments (pending and forgiven credits are shown, not counted)."""

    charges: Amount
    credits: Amount
    adjustments: Amount
    total: Amount
    pending_credits: Amount
    forgiven_credits: Amount


class StatementView(Totals):
    """A brand's finalized statement of a month: charges, credits and the quantities behind them."""

    tenant_id: uuid.UUID
    month: str
    number: str
    finalized_at: datetime
    lines: list[LineView]


class StatementSummary(Totals):
    """A statement of a brand and month: draft (recomputable) or finalized (numbered); frozen once its
    month is closed."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    month: str
    status: Literal["draft", "finalized"]
    number: str | None
    closed: bool
    computed_at: datetime
    finalized_at: datetime | None
    finalized_by: str | None


class StatementRead(StatementSummary):
    """A statement with every line."""

    lines: list[LineRead]


class StatementFilter(BaseModel):
    month: MonthText | None = None
    tenant: Text | None = None
    status: Literal["draft", "finalized"] | None = None


# --- the books ----------------------------------------------------------------------------------------------


class PeriodEventRead(BaseModel):
    """A close or a reopening."""

    model_config = ConfigDict(from_attributes=True)

    action: Literal["close", "reopen"]
    actor: str
    reason: str | None
    at: datetime


class PeriodRead(BaseModel):
    """A month of the books: open (drafts) or closed (frozen), with what it holds."""

    month: str
    status: Literal["open", "closed"]
    computed_at: datetime | None
    computed_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    drafts: int
    finalized: int
    events: list[PeriodEventRead]


class ComputeRead(BaseModel):
    """What a computation of a month wrote."""

    month: str
    statements: int = Field(description="Draft statements written")
    kept: int = Field(description="Finalized statements of the month, left as they are")
    lines: int = Field(description="Their lines")
    adjustments: int = Field(description="Adjustment lines for closed months (late data)")
    cost_lines: int = Field(description="Cost lines: the month's and its corrections of closed months")
    corrected_months: list[str] = Field(description="Closed months recomputed for late data")
    seconds: float


class CloseRead(ComputeRead):
    """A month closed: computed once more, every draft finalized with its number, every figure frozen."""

    numbers: list[str]
    closed_at: datetime


class FinalizeRead(BaseModel):
    month: str
    numbers: list[str]


class ReopenRequest(BaseModel):
    """Why a closed month opens again (recorded with who and when)."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=3, max_length=500)


# --- reports ------------------------------------------------------------------------------------------------


class ReportFilter(BaseModel):
    """Whole months from `start` to `end` (inclusive), grouped by shop, brand or site; optionally one tier,
    platform or brand."""

    start: Text
    end: Text
    by: By = "brand"
    tier: Text | None = None
    platform: Text | None = None
    tenant: Text | None = None


class Keyed(BaseModel):
    by: By
    key: uuid.UUID | None = Field(description="The shop, brand or site (null: brand-level revenue of a brand "
                                  "with no worked time)")
    name: str | None
    month: str


class CostRow(Keyed):
    """Cost of a shop, brand or site in a month, with the hours behind it and the unit costs."""

    hours: Decimal
    attendance_hours: Decimal
    roster_hours: Decimal
    overtime_workday_hours: Decimal
    overtime_rest_day_hours: Decimal
    overtime_holiday_hours: Decimal
    labour_base: Amount
    overtime_premium: Amount
    labour: Amount
    seat: Amount
    overhead: Amount
    total: Amount
    conversations: int | None = Field(description="Handled (answered by an agent); null for a site")
    cost_per_conversation: Decimal | None
    cost_per_seat_hour: Decimal | None


class RevenueComponent(BaseModel):
    component: str
    amount: Amount


class MarginRow(Keyed):
    """Revenue by component, credits, adjustments, labour, seat, overhead and margin of a month."""

    revenue: Amount
    revenue_by_component: list[RevenueComponent]
    credits: Amount
    adjustments: Amount
    labour: Amount
    seat: Amount
    overhead: Amount
    cost: Amount
    margin: Amount
    margin_pct: Decimal | None = Field(description="Margin / revenue x 100, to 0.01 (null without revenue)")


class CostReport(BaseModel):
    start: str
    end: str
    by: By
    rows: list[CostRow]


class MarginReport(BaseModel):
    start: str
    end: str
    by: By
    rows: list[MarginRow]
    total: MarginRow = Field(description="Every row summed (key null)")


# --- the balance view ---------------------------------------------------------------------------------------


class MarginalCostRead(BaseModel):
    """What one more point (0.01) of service level costs, from the Erlang curves."""

    extra_agents: int = Field(description="Whole agents over the intervals (what a roster would add)")
    extra_agent_hours: Decimal = Field(description="Interpolated agent-hours (the rate of change)")
    whole_agent_cost: Amount
    cost_per_point: Amount | None = Field(description="null: no point left to buy (above 0.99)")


class ShopBalanceRead(BaseModel):
    """A shop's month: service level reached against target, what it cost, the credit exposure where it fell
    short, the margin, and the price of one more point."""

    shop_id: uuid.UUID
    tenant_id: uuid.UUID
    shop_name: str
    month: str
    target_sl: float | None
    reached_sl: float | None
    met: bool | None
    gap: float | None
    cost: Amount
    revenue: Amount
    credit_exposure: Amount = Field(description="Credits of the month's breaches, applied or held")
    margin: Amount
    agent_hours: Decimal
    hourly_cost: Decimal | None = Field(description="Labour + seat per agent-hour worked")
    marginal: MarginalCostRead | None


class PlanShopRead(BaseModel):
    """A shop in a plan or roster: its agent-hours and their cost, the service level they buy, and with its
    contract the projected revenue, credit and margin."""

    shop_id: uuid.UUID
    tenant_id: uuid.UUID
    shop_name: str
    tier: str
    month: str
    agent_hours: Decimal
    labour: Amount
    seat: Amount
    cost: Amount
    expected_sl: float | None
    target_sl: float | None
    revenue: Amount
    credits: Amount
    margin: Amount


class PlanDeltaRead(BaseModel):
    """KA first minus the same seats without tiers, for one shop."""

    shop_id: uuid.UUID
    shop_name: str
    tier: str
    agent_hours: Decimal
    cost: Amount
    revenue: Amount
    credits: Amount
    margin: Amount
    expected_sl: float | None


class KaFirstRead(BaseModel):
    """What serving KA shops first costs, against the same seats given by contacts alone: its price (the
    margin the other tiers lose) and what it protects (the KA shops' credits avoided and revenue kept)."""

    price: Amount
    protects: Amount
    net: Amount = Field(description="The plan's margin with KA first minus without")
    shops: list[PlanDeltaRead]


class PlanEstimateRead(BaseModel):
    """A capacity plan's or roster's cost estimate and projected margin before the promotion starts."""

    plan_id: uuid.UUID
    roster_id: uuid.UUID | None
    name: str
    hourly_cost: Decimal = Field(description="Loaded cost per agent-hour the estimate prices")
    seat_hour_cost: Decimal
    shops: list[PlanShopRead]
    labour: Amount
    seat: Amount
    cost: Amount
    revenue: Amount
    credits: Amount
    margin: Amount
    ka_first: KaFirstRead | None
