"""The balance of service level against cost, per shop, and the price of a capacity plan or roster.

Per shop and month (:func:`shop_balance`): the service level reached against its target (both from the
SLA domain), what it cost (costing's total: labour + seat + overhead), the credit exposure where it fell
short (the shop's credits of that month's breaches, applied or held, as a positive amount) and the
marginal cost of one more point (0.01) of service level (:func:`marginal_cost`).

Marginal cost of a point, from the Erlang curves (service.capacity.erlang): for each interval, with its
volume, AHT and the agents it had, the expected service level SL(N); the agents needed to lift that
interval to SL(N) + 0.01 (required_agents); lifting every interval by 0.01 lifts the volume-weighted
month by 0.01. Two readings are reported:

- ``extra_agents``: whole agents, summed over intervals, what a roster would add; priced as
  ``whole_agent_cost``. Lumpy: one agent often lifts an interval by more than a point.
- ``extra_agent_hours``: the same lift with agents interpolated linearly between the whole numbers
  around the target (N* - 1 + (target - SL(N* - 1)) / (SL(N*) - SL(N* - 1))), a rate of change rather
  than a roster; priced as ``cost_per_point``. This is the figure that rises smoothly towards high
  service levels, where each point costs more agents (the curve is concave above the load). Just above
  the load it is S-shaped instead: there the first agents buy a stable queue, so a point is dear at a
  service level near 0 and gets cheaper before it gets dearer again.

Agent-hours are priced at the loaded hourly cost plus, if given, the seat cost per seat-hour (an extra
agent holds a seat), and divided by (1 - shrinkage) when given (paid time per productive hour). An
interval already within a point of 1 is lifted only to 0.9999 (the Erlang curve never reaches 1); a shop
whose reached level is above 0.99 has no point left to buy: ``cost_per_point`` is None.

Plan or roster estimate (:func:`estimate_plan`): per-interval agents per shop (a capacity plan's
allocation or a published roster's counts), priced at a loaded hourly cost (one figure or per shop: a
plan has no named agents) plus seat cost; with a contract, the projected statement lines (seat-hours
from the plan, conversations = the offered volume answered, GMV as forecast, promotion seat-days = the
day's peak agents on each promotion day) and the projected service-level credit of every shop whose
expected service level falls short of its target; margin per shop. :func:`plan_difference` compares two
plans (say "KA first" against proportional shares) shop by shop: what the first costs and what it
protects (credits avoided, revenue kept).

Public:

- ``IntervalLoad(volume: float, aht_s: float, agents: int)``
- ``MarginalCost(extra_agents, extra_agent_hours, whole_agent_cost, cost_per_point)``
- ``Queue(answer_s=30, interval_s=900, concurrency=1, model="erlang_c", patience_s=None)``: the Erlang
  parameters of a shop's intervals.
- ``marginal_cost(intervals, hourly_cost, queue=Queue(), *, seat_hour_cost=0, shrinkage=0.0, step=0.01)
  -> MarginalCost``
- ``expected_service_level(intervals, queue=Queue()) -> float | None`` (volume-weighted; None without
  volume)
- ``ShopBalance``; ``shop_balance(shop, month, target_sl, reached_sl, cost, credits=(), marginal=None)``
- ``PlannedInterval(shop, day: date, agents: int, volume: float, aht_s: float)``
- ``PlanShopEstimate``, ``PlanEstimate``; ``estimate_plan(...)``; ``PlanDelta``; ``plan_difference(a, b)``
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

import numpy as np

from service.capacity.erlang import Model, erlang_a_metrics, erlang_c_metrics, required_agents
from service.finance.billing import (
    Contract,
    ShopUsage,
    Usage,
    billable_hours,
    statement_lines,
    terms_for_month,
)
from service.finance.credits import Breach, Credit, assess
from service.finance.lines import Line
from service.finance.money import EXACT, ZERO, Summed, allocate, round_line, to_decimal
from service.finance.periods import Month
from service.finance.refs import Ref, find, ref_order

#: The highest service level a lift aims at: Erlang C approaches 1 but never reaches it.
SL_CEILING = 0.9999
#: Above this reached level there is no whole point left to buy.
LAST_POINT = 0.99
SERVICE_LEVEL_METRIC = "service_level"


@dataclass(frozen=True, slots=True)
class IntervalLoad:
    """One interval's offered conversations, handle time (seconds) and the agents that served it."""

    volume: float
    aht_s: float
    agents: int


@dataclass(frozen=True, slots=True)
class MarginalCost:
    extra_agents: int
    extra_agent_hours: Decimal  # interpolated, to 0.0001 h
    whole_agent_cost: Decimal
    cost_per_point: Decimal | None  # None: no point left to buy


@dataclass(frozen=True, slots=True)
class Queue:
    """How a shop's intervals are served, as the Erlang curves read it: the model (``erlang_a`` needs the
    mean patience), T of the service level, the interval length and the chats an agent works at once."""

    answer_s: float = 30
    interval_s: float = 900
    concurrency: int = 1
    model: Model = "erlang_c"
    patience_s: float | None = None

    def __post_init__(self) -> None:
        if self.model == "erlang_a" and self.patience_s is None:
            raise ValueError("erlang_a needs patience_s")

    def metrics(self, volume: np.ndarray, aht: np.ndarray, agents: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """(service level, abandon rate) per interval."""
        if self.model == "erlang_a":
            assert self.patience_s is not None
            m = erlang_a_metrics(volume, aht, self.interval_s, agents, self.answer_s, self.patience_s,
                                 self.concurrency)
        else:
            m = erlang_c_metrics(volume, aht, self.interval_s, agents, self.answer_s, self.concurrency)
        return np.asarray(m.service_level, float), np.asarray(m.abandon_rate, float)

    def agents_for(self, volume: np.ndarray, aht: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The fewest agents reaching `target` service level per interval."""
        req = required_agents(self.model, volume, aht, self.interval_s, target, self.answer_s,
                              self.concurrency, patience_s=self.patience_s)
        return np.asarray(req.agents, np.int64)

    @property
    def hours_per_interval(self) -> Decimal:
        return Decimal(str(self.interval_s)) / Decimal(3600)


def _arrays(intervals: Iterable[IntervalLoad]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    items = [i for i in intervals if i.volume > 0]
    vol = np.array([i.volume for i in items], float)
    aht = np.array([i.aht_s for i in items], float)
    n = np.array([i.agents for i in items], np.int64)
    return vol, aht, n


def expected_service_level(intervals: Iterable[IntervalLoad], queue: Queue = Queue()) -> float | None:
    """Volume-weighted expected service level of the intervals with their agents; None without volume."""
    vol, aht, n = _arrays(intervals)
    if not vol.size:
        return None
    sl, _ = queue.metrics(vol, aht, n)
    return float((vol * sl).sum() / vol.sum())


def _price(hourly_cost: Decimal, seat_hour_cost: Decimal, shrinkage: float) -> Decimal:
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    with localcontext(EXACT):
        return (to_decimal(hourly_cost) + to_decimal(seat_hour_cost)) / (1 - Decimal(str(shrinkage)))


def marginal_cost(
    intervals: Iterable[IntervalLoad],
    hourly_cost: Decimal,
    queue: Queue = Queue(),
    *,
    seat_hour_cost: Decimal = ZERO,
    shrinkage: float = 0.0,
    step: float = 0.01,
) -> MarginalCost:
    """What lifting every interval's expected service level by `step` (one point) costs."""
    if not 0 < step < 1:
        raise ValueError("step must be in (0, 1)")
    price = _price(hourly_cost, seat_hour_cost, shrinkage)
    vol, aht, n = _arrays(intervals)
    if not vol.size:
        return MarginalCost(0, Decimal("0.0000"), ZERO, None)
    sl, _ = queue.metrics(vol, aht, n)
    reached = float((vol * sl).sum() / vol.sum())
    target = np.minimum(sl + step, SL_CEILING)
    lift = target > sl  # intervals already at the ceiling cannot be lifted
    extra_whole = np.zeros(vol.size, np.int64)
    extra_frac = np.zeros(vol.size)
    if lift.any():
        v, a, cur, tgt = vol[lift], aht[lift], n[lift], target[lift]
        n_req = np.maximum(queue.agents_for(v, a, tgt), cur + 1)
        s_req, _ = queue.metrics(v, a, n_req)
        s_prev, _ = queue.metrics(v, a, n_req - 1)
        gain = np.where(s_req > s_prev, s_req - s_prev, 1.0)
        partial = np.clip((tgt - s_prev) / gain, 0.0, 1.0)
        extra_whole[lift] = n_req - cur
        extra_frac[lift] = np.maximum(0.0, (n_req - 1 - cur) + partial)
    with localcontext(EXACT):
        whole_hours = int(extra_whole.sum()) * queue.hours_per_interval
        frac_hours = Decimal(repr(float(extra_frac.sum()))) * queue.hours_per_interval
        return MarginalCost(
            extra_agents=int(extra_whole.sum()),
            extra_agent_hours=frac_hours.quantize(Decimal("0.0001")),
            whole_agent_cost=round_line(whole_hours * price),
            cost_per_point=None if reached > LAST_POINT else round_line(frac_hours * price),
        )


@dataclass(frozen=True, slots=True)
class ShopBalance:
    shop: Ref
    month: Month
    target_sl: float
    reached_sl: float
    cost: Decimal  # labour + seat + overhead of the month
    credit_exposure: Decimal  # >= 0: credits of the month's breaches, applied or held
    marginal: MarginalCost | None

    @property
    def gap(self) -> float:
        """Reached minus target: negative when the shop fell short."""
        return self.reached_sl - self.target_sl

    @property
    def met(self) -> bool:
        return self.reached_sl >= self.target_sl


def shop_balance(
    shop: Ref,
    month: Month,
    target_sl: float,
    reached_sl: float,
    cost: Decimal,
    credits: Iterable[Credit] = (),
    marginal: MarginalCost | None = None,
) -> ShopBalance:
    """A shop's month in balance: `credits` may hold any credits; those of this shop's breaches of this
    month count as its exposure (held ones too: they are applied unless earned back)."""
    exposure = -sum(
        (c.amount for c in credits if c.shop == shop and c.breach.month == month and c.status != "forgiven"),
        ZERO,
    )
    return ShopBalance(shop, month, target_sl, reached_sl, to_decimal(cost), exposure, marginal)


# ---------------------------------------------------------------- plans and rosters


@dataclass(frozen=True, slots=True)
class PlannedInterval:
    """Agents on seat for a shop in one interval of a plan or roster, with the forecast it serves."""

    shop: Ref
    day: date
    agents: int
    volume: float
    aht_s: float


@dataclass(frozen=True, slots=True)
class PlanShopEstimate:
    shop: Ref
    agent_minutes: int
    labour: Decimal
    seat: Decimal
    expected_sl: float | None
    target_sl: float | None
    revenue: Decimal  # projected charges, brand-level ones spread over shops by agent minutes
    credits: Decimal  # projected service-level credit, <= 0

    @property
    def agent_hours(self) -> Decimal:
        return billable_hours(self.agent_minutes)

    @property
    def cost(self) -> Decimal:
        return self.labour + self.seat

    @property
    def margin(self) -> Decimal:
        return self.revenue + self.credits - self.cost


@dataclass(frozen=True, slots=True)
class PlanEstimate:
    month: Month
    shops: tuple[PlanShopEstimate, ...]
    lines: tuple[Line, ...]  # projected charge lines and credit lines (empty without a contract)

    def shop(self, shop: Ref) -> PlanShopEstimate | None:
        return find(self.shops, "shop", shop)

    # The plan's totals: each the sum of its shops' figure of the same name.
    labour = Summed("shops")
    seat = Summed("shops")
    revenue = Summed("shops")
    credits = Summed("shops")
    margin = Summed("shops")


@dataclass(frozen=True, slots=True)
class _PlanCost:
    """A shop's planned agent-minutes, what they cost, and the service level they are expected to buy."""

    minutes: int
    labour: Decimal
    seat: Decimal
    expected: float | None


def estimate_plan(
    intervals: Iterable[PlannedInterval],
    month: Month,
    hourly_cost: Decimal | Mapping[Ref, Decimal],
    *,
    seat_hour_cost: Decimal = ZERO,
    contract: Contract | None = None,
    targets: Mapping[Ref, float] | None = None,
    assisted_gmv: Mapping[Ref, Decimal] | None = None,
    promotion_days: Iterable[date] = (),
    queue: Queue | Mapping[Ref, Queue] = Queue(),
) -> PlanEstimate:
    """Cost, and with a contract revenue, credits and margin, of a month's plan or roster, per shop.

    The contract's credit policy prices a projected service-level breach (metric "service_level") of
    every shop with a target whose expected level falls short of it.
    """
    by_shop: dict[Ref, list[PlannedInterval]] = defaultdict(list)
    for i in intervals:
        if not month.contains(i.day):
            raise ValueError(f"interval of {i.day} outside {month}")
        if i.agents < 0:
            raise ValueError("agents must be >= 0")
        by_shop[i.shop].append(i)
    shops = sorted(by_shop, key=ref_order)
    queues = queue if isinstance(queue, Mapping) else dict.fromkeys(by_shop, queue)
    promo = set(promotion_days)
    targets = targets or {}
    gmv = assisted_gmv or {}

    usage: list[ShopUsage] = []
    partial: dict[Ref, _PlanCost] = {}
    for shop in shops:
        items = by_shop[shop]
        rate = hourly_cost[shop] if isinstance(hourly_cost, Mapping) else hourly_cost
        shop_queue = queues[shop]
        minutes_per_interval = Decimal(str(shop_queue.interval_s)) / 60
        with localcontext(EXACT):
            minutes = sum((i.agents * minutes_per_interval for i in items), Decimal(0))
            labour = round_line(minutes * to_decimal(rate) / 60)
            seat = round_line(minutes * to_decimal(seat_hour_cost) / 60)
        loads = [IntervalLoad(i.volume, i.aht_s, i.agents) for i in items]
        vol, aht, n = _arrays(loads)
        expected: float | None = None
        answered = 0
        if vol.size:
            sl, ab = shop_queue.metrics(vol, aht, n)
            expected = float((vol * sl).sum() / vol.sum())
            answered = int(round(float((vol * (1 - ab)).sum())))
        peak: dict[date, int] = defaultdict(int)
        for i in items:
            if i.day in promo:
                peak[i.day] = max(peak[i.day], i.agents)
        agent_minutes = int(minutes)
        usage.append(
            ShopUsage(
                shop=shop,
                seat_hours=billable_hours(agent_minutes),
                seat_hours_source="plan",
                handled_conversations=answered,
                assisted_gmv=to_decimal(gmv.get(shop, ZERO)),
                promotion_seat_days=sum(peak.values()),
            )
        )
        partial[shop] = _PlanCost(agent_minutes, labour, seat, expected)

    lines: list[Line] = []
    credits: list[Credit] = []
    if contract is not None:
        covered = [u for u in usage if contract.shop is None or u.shop == contract.shop]
        lines = statement_lines(contract, Usage(month, tuple(covered)), month)
        tif = terms_for_month(contract, month)
        policy = tif.terms.credit_policy if tif is not None else None
        if policy is not None:
            breaches = []
            for u in covered:
                level = partial[u.shop].expected
                target = targets.get(u.shop)
                if target is not None and level is not None and level < target:
                    breaches.append(Breach(u.shop, SERVICE_LEVEL_METRIC, month, target, level))
            credits = assess(policy, month, lines, breaches)

    revenue: dict[Ref, Decimal] = defaultdict(Decimal)
    weights = {s: partial[s].minutes for s in shops}
    for line in lines:
        if line.shop is not None:
            revenue[line.shop] += line.amount
        elif sum(weights.values()):
            for s, part in zip(shops, allocate(line.amount, [weights[s] for s in shops]), strict=True):
                revenue[s] += part
    credit_of: dict[Ref, Decimal] = defaultdict(Decimal)
    for c in credits:
        credit_of[c.shop] += c.amount

    estimates = []
    for shop in shops:
        p = partial[shop]
        estimates.append(
            PlanShopEstimate(
                shop=shop,
                agent_minutes=p.minutes,
                labour=p.labour,
                seat=p.seat,
                expected_sl=p.expected,
                target_sl=targets.get(shop),
                revenue=revenue.get(shop, ZERO),
                credits=credit_of.get(shop, ZERO),
            )
        )
    return PlanEstimate(month, tuple(estimates), (*lines, *(c.line() for c in credits)))


@dataclass(frozen=True, slots=True)
class PlanDelta:
    """`alternative` minus `base` for one shop: positive cost is what the base saves by comparison."""

    shop: Ref
    agent_minutes: int
    cost: Decimal
    revenue: Decimal
    credits: Decimal
    margin: Decimal
    expected_sl: float | None


def plan_difference(base: PlanEstimate, alternative: PlanEstimate) -> list[PlanDelta]:
    """Per shop, `alternative` - `base`: with base = proportional and alternative = "KA first", a KA
    shop's cost delta is the price of serving it first and its credit delta what that protects."""
    shops = sorted({s.shop for s in base.shops} | {s.shop for s in alternative.shops}, key=ref_order)
    empty = PlanShopEstimate("", 0, ZERO, ZERO, None, None, ZERO, ZERO)
    out = []
    for shop in shops:
        a = base.shop(shop) or empty
        b = alternative.shop(shop) or empty
        sl = None if a.expected_sl is None or b.expected_sl is None else b.expected_sl - a.expected_sl
        out.append(
            PlanDelta(
                shop=shop,
                agent_minutes=b.agent_minutes - a.agent_minutes,
                cost=b.cost - a.cost,
                revenue=b.revenue - a.revenue,
                credits=b.credits - a.credits,
                margin=b.margin - a.margin,
                expected_sl=sl,
            )
        )
    return out


__all__ = [
    "IntervalLoad",
    "MarginalCost",
    "PlanDelta",
    "PlanEstimate",
    "PlanShopEstimate",
    "PlannedInterval",
    "Queue",
    "ShopBalance",
    "estimate_plan",
    "expected_service_level",
    "marginal_cost",
    "plan_difference",
    "shop_balance",
]
