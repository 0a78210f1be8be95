"""SLA service credits: an at-risk pool split across metrics, capped at the pool, with optional earn-back.

Breaches are the SLA domain's (per shop, metric, month, target, actual) and are taken as they come: this
module never recomputes whether a metric was met. For earn-back it reads the SLA domain's monthly values
(:class:`Observation`) and compares them with the earn-back target (inclusive, like the SLA verdicts).

Rules (one :class:`CreditPolicy`, the contract version's in force for the month):

- The pool is ``at_risk_share`` x the month's charges (the "charge" lines of the contract's statement
  lines, before credits and adjustments), rounded once. With ``pool_scope="brand"`` there is one pool for
  the contract's statement; with ``"shop"`` each shop has its own pool from its own charges (brand-level
  lines, shop None, are then not at risk).
- A breached metric costs ``allocation`` x its pool (rounded once), for each breaching shop. Allocations
  sum to at most 1, so one breach per metric never exceeds the pool; several shops breaching within a
  brand pool can, and then the month's credits of that pool are capped at the pool: the pool is split
  over them in proportion to their uncapped amounts (money.allocate, largest remainder), so they sum to
  the pool exactly.
- Earn-back (a metric with ``earn_back_target`` and ``earn_back_months`` = N >= 1): the credit is held.
  On the breach month's statement it is a "credit_pending" line (shown, not counted). In each month of
  the window (the N months after the breach month) the shop's observed value of the metric is compared
  with the earn-back target: the first month that meets it forgives the credit (a "credit_forgiven" line
  on that month's statement, not counted); if the last month of the window does not meet it, the credit
  is applied on that month's statement (a "credit" line, counted). A month without an observation does not
  earn anything back. The amount is fixed, and capped, in the breach month: a credit applied later does
  not count against the later month's pool.

Public:

- ``MetricAllocation(metric: str, allocation: Decimal, earn_back_target: float | None = None,
  higher_is_better: bool = True)``
- ``CreditPolicy(at_risk_share: Decimal, allocations: tuple[MetricAllocation, ...], earn_back_months: int = 0,
  pool_scope: Literal["brand", "shop"] = "brand")``, ``.allocation_of(metric)``
- ``Breach(shop, metric: str, month: Month, target: float, actual: float)``
- ``Observation(shop, metric: str, month: Month, actual: float)``
- ``Credit``: the breach, allocation, pool, uncapped and (capped) amount, status ("applied", "pending",
  "forgiven"), the statement month that shows it, the earn-back terms, ``.line() -> Line``.
- ``assess(policy, month, fee_lines, breaches) -> list[Credit]``: credits of the month's breaches.
- ``resolve(held, month, observations) -> tuple[list[Credit], list[Credit]]``: (forgiven or applied on
  this month's statement, still held).
- ``MonthCredits(on_statement: tuple[Credit, ...], held: tuple[Credit, ...])``, ``.lines()``
- ``month_credits(policy | None, month, fee_lines, breaches, held=(), observations=()) -> MonthCredits``
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal

from service.finance.lines import Line, LineKind
from service.finance.money import EXACT, ZERO, allocate, round_line, to_decimal
from service.finance.periods import Month
from service.finance.refs import Ref, find, ref_order

PoolScope = Literal["brand", "shop"]
CreditStatus = Literal["applied", "pending", "forgiven"]
CREDIT_COMPONENT = "sla_credit"
_KIND_OF_STATUS: dict[CreditStatus, LineKind] = {
    "applied": "credit",
    "pending": "credit_pending",
    "forgiven": "credit_forgiven",
}


@dataclass(frozen=True, slots=True)
class MetricAllocation:
    """One SLA metric's share of the at-risk pool (a fraction: 0.25 is 25 % of the pool)."""

    metric: str
    allocation: Decimal
    earn_back_target: float | None = None
    higher_is_better: bool = True  # False for ceilings (frt_mean_s, abandon_rate)

    def __post_init__(self) -> None:
        if not 0 <= to_decimal(self.allocation) <= 1:
            raise ValueError("allocation must be within 0..1")


@dataclass(frozen=True, slots=True)
class CreditPolicy:
    at_risk_share: Decimal  # of the month's charges, 0..1 (0.10 is a 10 % pool)
    allocations: tuple[MetricAllocation, ...]
    earn_back_months: int = 0
    pool_scope: PoolScope = "brand"

    def __post_init__(self) -> None:
        if not 0 <= to_decimal(self.at_risk_share) <= 1:
            raise ValueError("at_risk_share must be within 0..1")
        metrics = [a.metric for a in self.allocations]
        if len(set(metrics)) != len(metrics):
            raise ValueError("a metric is allocated once")
        if sum((a.allocation for a in self.allocations), Decimal(0)) > 1:
            raise ValueError("allocations sum to at most 1 (100 % of the pool)")
        if self.earn_back_months < 0:
            raise ValueError("earn_back_months must be >= 0")
        if any(a.earn_back_target is not None for a in self.allocations) and self.earn_back_months < 1:
            raise ValueError("an earn-back target needs earn_back_months >= 1")
        if self.pool_scope not in ("brand", "shop"):
            raise ValueError("pool_scope is 'brand' or 'shop'")

    def allocation_of(self, metric: str) -> MetricAllocation | None:
        return find(self.allocations, "metric", metric)


@dataclass(frozen=True, slots=True)
class Breach:
    """A breached SLA metric of a shop in a month, as the SLA domain reported it."""

    shop: Ref
    metric: str
    month: Month
    target: float
    actual: float


@dataclass(frozen=True, slots=True)
class Observation:
    """The SLA domain's value of a metric for a shop and month, read only for earn-back."""

    shop: Ref
    metric: str
    month: Month
    actual: float


def _pct(share: Decimal) -> str:
    return f"{(share * 100).normalize():f} %"


def _value(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True, slots=True)
class Credit:
    breach: Breach
    allocation: Decimal
    at_risk_share: Decimal
    fees: Decimal  # the charges the pool was taken from
    pool: Decimal
    pool_scope: PoolScope
    uncapped: Decimal  # -(allocation x pool), rounded; <= 0
    amount: Decimal  # after the cap; <= 0
    status: CreditStatus
    statement_month: Month  # the month whose statement shows this credit in this status
    earn_back_target: float | None = None
    higher_is_better: bool = True
    window_end: Month | None = None  # the last month that can earn it back
    earned_back_by: Observation | None = None

    @property
    def shop(self) -> Ref:
        return self.breach.shop

    @property
    def metric(self) -> str:
        return self.breach.metric

    @property
    def capped(self) -> bool:
        return self.amount != self.uncapped

    def line(self) -> Line:
        b = self.breach
        kind = _KIND_OF_STATUS[self.status]
        words = (
            f"{b.metric} {_value(b.actual)} against target {_value(b.target)} in {b.month}: "
            f"{_pct(self.allocation)} of the at-risk pool ({_pct(self.at_risk_share)} of CNY {self.fees:,f})"
        )
        if self.capped:
            words += f"; the month's credits exceeded the pool, CNY {-self.uncapped:,f} scaled to the pool"
        if self.status == "pending":
            words += f"; held until {self.window_end}, forgiven if {b.metric} reaches {self.earn_back_target}"
        elif self.status == "forgiven":
            assert self.earned_back_by is not None
            obs = self.earned_back_by
            words += f"; forgiven: {b.metric} {_value(obs.actual)} met {self.earn_back_target} in {obs.month}"
        elif self.window_end is not None:
            words += f"; not earned back by {self.window_end}"
        return Line(
            component=f"{CREDIT_COMPONENT}.{b.metric}",
            shop=b.shop,
            quantity=self.allocation,
            unit=f"share of {b.month} {'shop ' if self.pool_scope == 'shop' else ''}pool",
            rate=self.pool,
            amount=self.amount,
            source=words,
            kind=kind,
        )


def _pools(policy: CreditPolicy, fee_lines: Iterable[Line]) -> dict[Ref | None, tuple[Decimal, Decimal]]:
    """(fees, pool) per pool key: None for the brand pool, the shop for shop pools."""
    fees: dict[Ref | None, Decimal] = defaultdict(Decimal)
    for line in fee_lines:
        if line.kind != "charge":
            continue
        if policy.pool_scope == "brand":
            fees[None] += line.amount
        elif line.shop is not None:
            fees[line.shop] += line.amount
    with localcontext(EXACT):
        return {k: (v, round_line(policy.at_risk_share * v)) for k, v in fees.items()}


def assess(
    policy: CreditPolicy, month: Month, fee_lines: Iterable[Line], breaches: Iterable[Breach]
) -> list[Credit]:
    """Credits of the breaches of `month` (other months' breaches and unallocated metrics are ignored)."""
    mine = [b for b in breaches if b.month == month and policy.allocation_of(b.metric) is not None]
    seen: set[tuple[str, str]] = set()
    for b in mine:
        if (str(b.shop), b.metric) in seen:
            raise ValueError(f"breach of {b.metric} for shop {b.shop} in {month} listed twice")
        seen.add((str(b.shop), b.metric))
    mine.sort(key=lambda b: (ref_order(b.shop), b.metric))
    pools = _pools(policy, fee_lines)
    by_pool: dict[Ref | None, list[tuple[Breach, MetricAllocation, Decimal]]] = defaultdict(list)
    with localcontext(EXACT):
        for b in mine:
            alloc = policy.allocation_of(b.metric)
            assert alloc is not None
            key = None if policy.pool_scope == "brand" else b.shop
            _, pool = pools.get(key, (ZERO, ZERO))
            by_pool[key].append((b, alloc, -round_line(alloc.allocation * pool)))
    out: list[Credit] = []
    for key, items in by_pool.items():
        fees, pool = pools.get(key, (ZERO, ZERO))
        uncapped = [u for _, _, u in items]
        amounts = uncapped
        if -sum(uncapped, ZERO) > pool:
            amounts = allocate(-pool, [-u for u in uncapped])
        for (b, alloc, u), amount in zip(items, amounts, strict=True):
            held = alloc.earn_back_target is not None and policy.earn_back_months > 0
            out.append(
                Credit(
                    breach=b,
                    allocation=alloc.allocation,
                    at_risk_share=policy.at_risk_share,
                    fees=fees,
                    pool=pool,
                    pool_scope=policy.pool_scope,
                    uncapped=u,
                    amount=amount,
                    status="pending" if held else "applied",
                    statement_month=month,
                    earn_back_target=alloc.earn_back_target if held else None,
                    higher_is_better=alloc.higher_is_better,
                    window_end=month.shift(policy.earn_back_months) if held else None,
                )
            )
    out.sort(key=lambda c: (ref_order(c.shop), c.metric))
    return out


def _meets(credit: Credit, obs: Observation) -> bool:
    target = credit.earn_back_target
    assert target is not None
    return obs.actual >= target if credit.higher_is_better else obs.actual <= target


def resolve(
    held: Iterable[Credit], month: Month, observations: Iterable[Observation]
) -> tuple[list[Credit], list[Credit]]:
    """Held credits of earlier months on `month`'s statement: (forgiven or applied now, still held).

    Forgiven when `month` is in the window and meets the earn-back target; applied when `month` is the
    window's last (or later: a month skipped by the caller does not let a credit escape).
    """
    seen = {(str(o.shop), o.metric): o for o in observations if o.month == month}
    now: list[Credit] = []
    still: list[Credit] = []
    for c in held:
        if c.status != "pending" or c.window_end is None:
            raise ValueError("only pending credits are held")
        if month <= c.breach.month:
            raise ValueError(f"a credit of {c.breach.month} is resolved in a later month, not {month}")
        obs = seen.get((str(c.shop), c.metric))
        if obs is not None and month <= c.window_end and _meets(c, obs):
            now.append(dataclasses.replace(c, status="forgiven", statement_month=month, earned_back_by=obs))
        elif month >= c.window_end:
            now.append(dataclasses.replace(c, status="applied", statement_month=month))
        else:
            still.append(c)
    key = lambda c: (c.breach.month, ref_order(c.shop), c.metric)  # noqa: E731
    return sorted(now, key=key), sorted(still, key=key)


@dataclass(frozen=True, slots=True)
class MonthCredits:
    """What a month's statement shows (`on_statement`) and the credits still held after it (`held`)."""

    on_statement: tuple[Credit, ...]
    held: tuple[Credit, ...]

    def lines(self) -> list[Line]:
        return [c.line() for c in self.on_statement]


def month_credits(
    policy: CreditPolicy | None,
    month: Month,
    fee_lines: Sequence[Line],
    breaches: Iterable[Breach],
    held: Iterable[Credit] = (),
    observations: Iterable[Observation] = (),
) -> MonthCredits:
    """Earlier held credits resolved on `month`, then the month's own breaches assessed.

    Pass the returned `held` as next month's `held`; with no policy in force only earlier credits resolve.
    """
    resolved, still = resolve(held, month, observations)
    new = assess(policy, month, fee_lines, breaches) if policy is not None else []
    pending = [c for c in new if c.status == "pending"]
    return MonthCredits(on_statement=(*resolved, *new), held=(*still, *pending))
