"""A capacity plan's numbers, computed from the arrays the queries read: forecast (service.capacity.forecast),
staffing (erlang.required_agents) and KA-first allocation (allocation.allocate_plan), and the plan's
summary. No I/O: the use case reads, calls `compute` once for the whole plan (in a thread), and stores.

Layout: per-shop arrays are (S,) in the order of the plan's shops; per-cell arrays are (T, S).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypedDict

import numpy as np
from numpy.typing import NDArray

from service.capacity import forecast as fc
from service.capacity.allocation import allocate_plan, erlang_curve
from service.capacity.erlang import required_agents, scheduled
from service.capacity.models import PlanModel
from service.capacity.schemas import PlanCreate, PlanSummary, TierSummary
from service.kit.errors import Invalid
from service.kit.time import INTERVAL_S
from service.sla.policies import Terms
from tenants.models import TIER_RANK, Tier

DEFAULT_CONCURRENCY = 3
DEFAULT_SERVICE_LEVEL = 0.8
# required_agents needs a target below 1: a policy asking for 100% is planned at 99.9%.
MAX_TARGET_SERVICE_LEVEL = 0.999
# A policy allowing no abandonment at all is planned at 0.1% (Erlang A never reaches exactly 0).
MIN_ABANDON_RATE = 0.001
TIER_NAMES = {rank: tier.value for tier, rank in TIER_RANK.items()}


class PlanShop(Protocol):
    """What the plan needs of a shop (queries.PlanShop)."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    timezone: str
    tier: str
    priority_weight: float


def tier_ranks(shops: Sequence[PlanShop]) -> NDArray[np.int64]:
    return np.array([TIER_RANK[Tier(s.tier)] for s in shops], np.int64)


@dataclass
class ShopTargets:
    aht_s: np.ndarray
    concurrency: np.ndarray
    service_level: np.ndarray
    answer_s: np.ndarray
    patience_s: np.ndarray | None
    max_abandon: np.ndarray | None


class Allocated(TypedDict):
    """What `allocate` gives, (T, S) each: the PlanNumbers fields of the same names."""

    required: NDArray[np.int64]
    scheduled: NDArray[np.int64]
    allocated: NDArray[np.int64]
    service_level: NDArray[np.float64]
    asa_s: NDArray[np.float64]


def allocate(model: PlanModel, volume: np.ndarray, p: ShopTargets, seats: np.ndarray, tier: np.ndarray,
             priority: np.ndarray, shrinkage: float, max_occupancy: float) -> Allocated:
    """Staff every cell, then allocate the seats. volume is (T, S); per-shop arrays are (S,)."""
    erlang_a = model == PlanModel.erlang_a
    m = required_agents("erlang_a" if erlang_a else "erlang_c", volume, p.aht_s, INTERVAL_S, p.service_level,
                        p.answer_s, p.concurrency, max_occupancy, None, p.max_abandon if erlang_a else None,
                        p.patience_s if erlang_a else None)
    curve = erlang_curve(volume, p.aht_s, INTERVAL_S, p.answer_s, p.concurrency,
                         p.patience_s if erlang_a else None)
    res = allocate_plan(seats, m.agents, tier, priority[None, :] * volume, curve,
                        sl_at_required=m.service_level, asa_at_required=m.asa_s)
    return {"required": m.agents, "scheduled": scheduled(m.agents, shrinkage), "allocated": res.allocated,
            "service_level": res.service_level, "asa_s": res.asa_s}



def shop_targets(data: PlanCreate, shops: Sequence[PlanShop], terms: Sequence[Terms], aht: NDArray[np.float64]
                 ) -> ShopTargets:
    """Each shop's parameters: AHT from history, targets from its SLA policy in force, the request's
    concurrency and patience, then the per-shop overrides."""
    s = len(shops)
    sl = np.array([t.targets.service_level if t.targets.service_level is not None else DEFAULT_SERVICE_LEVEL
                   for t in terms], float)
    p = ShopTargets(
        aht_s=aht.copy(),
        concurrency=np.full(s, data.concurrency or DEFAULT_CONCURRENCY, float),
        service_level=np.minimum(sl, MAX_TARGET_SERVICE_LEVEL),
        answer_s=np.array([t.targets.answer_target_s for t in terms], float),
        patience_s=np.full(s, data.patience_s if data.patience_s is not None else np.nan),
        max_abandon=np.array([max(t.targets.max_abandon_rate, MIN_ABANDON_RATE)
                              if t.targets.max_abandon_rate is not None else np.inf for t in terms]),
    )
    index = {shop.id: i for i, shop in enumerate(shops)}
    for shop_id, o in data.params.items():
        if shop_id not in index:
            raise Invalid(f"params.{shop_id}", "not a shop in this plan (active, of an active brand and the "
                          "promotion's platform)")
        i = index[shop_id]
        for name, attr in (("aht_s", "aht_s"), ("concurrency", "concurrency"),
                           ("target_service_level", "service_level"), ("target_answer_s", "answer_s"),
                           ("patience_s", "patience_s"), ("max_abandon_rate", "max_abandon")):
            value = getattr(o, name)
            if value is not None:
                getattr(p, attr)[i] = value
    if data.model == PlanModel.erlang_a:
        assert p.patience_s is not None  # set above, cleared below for erlang_c only
        missing = np.isnan(p.patience_s)
        if missing.any():
            raise Invalid("patience_s", "required by model erlang_a (or params.<shop>.patience_s for every "
                          "shop)")
    else:
        p.patience_s = p.max_abandon = None
    return p



@dataclass
class PlanNumbers:
    forecast: np.ndarray  # (T, S)
    aht_s: np.ndarray  # (S,)
    required: np.ndarray  # (T, S)
    scheduled: np.ndarray
    allocated: np.ndarray
    service_level: np.ndarray  # expected with the allocation
    asa_s: np.ndarray
    seats: np.ndarray  # (T,)
    targets: ShopTargets
    uplift_source: str
    learned_from: uuid.UUID | None = None
    timings: dict[str, float] = field(default_factory=dict)




@dataclass(frozen=True)
class History:
    """What the plan read: the recent weeks before it, and last year's promotion with its own baseline weeks
    (None when there is no promotion to learn from), each with its promotion mask."""

    recent: fc.Volumes
    recent_mask: NDArray[np.bool_]
    last: fc.Volumes | None = None
    last_base: fc.Volumes | None = None
    last_mask: NDArray[np.bool_] | None = None
    learned_from: uuid.UUID | None = None


@dataclass(frozen=True)
class GivenUplift:
    curve: Sequence[Any]
    first_day: date
    timezone: str


def compute(data: PlanCreate, shops: Sequence[PlanShop], start: datetime, n: int, seats: NDArray[np.int64],
            history: History, targets: ShopTargets, weeks: int, given: GivenUplift | None) -> PlanNumbers:
    """Forecast every (interval, shop), staff it and allocate the seats: the whole plan in one pass."""
    tzs = [s.timezone for s in shops]
    base = fc.baseline(fc.weekly_history(history.recent, tzs, weeks, history.recent_mask))
    volume = fc.laid_over(base, tzs, start, n)  # (S, T)
    source, learned_from = "none", None
    last, last_base = history.last, history.last_base
    if last is not None and last_base is not None and last.offered.sum() > 0:
        base_prev = fc.laid_over(fc.baseline(fc.weekly_history(last_base, tzs, weeks, history.last_mask)),
                                 tzs, last.start, last.offered.shape[1])
        if base_prev.sum() > 0:
            volume = volume * fc.learned_uplift(last.offered, base_prev, n)
            source, learned_from = "learned", history.learned_from
    if source == "none" and given is not None:
        volume = volume * fc.given_uplift(given.curve, start, n, given.first_day, given.timezone)[None, :]
        source = "given"
    volume = np.ascontiguousarray(volume.T)  # (T, S), the maths' layout
    priority = np.array([s.priority_weight for s in shops], float)
    res = allocate(data.model, volume, targets, seats, tier_ranks(shops), priority, data.shrinkage,
                   data.max_occupancy)
    return PlanNumbers(forecast=volume, aht_s=targets.aht_s, seats=seats, targets=targets,
                       uplift_source=source, learned_from=learned_from, **res)


def summarize(x: PlanNumbers, shops: Sequence[PlanShop], weeks: int, history_start: datetime,
              history_end: datetime) -> PlanSummary:
    short = x.required - x.allocated  # (T, S)
    per_interval = short.sum(1)
    tier = tier_ranks(shops)
    tiers = []
    for rank in sorted(set(tier.tolist())):
        g = tier == rank
        tiers.append(TierSummary(
            tier=TIER_NAMES[rank], shops=int(g.sum()), required=int(x.required[:, g].sum()),
            allocated=int(x.allocated[:, g].sum()), missing=int(short[:, g].sum()),
            shops_short=int((short[:, g].sum(0) > 0).sum()),
            intervals_short=int((short[:, g].sum(1) > 0).sum())))
    return PlanSummary(
        intervals=int(x.required.shape[0]), shops=len(shops), tenants=len({s.tenant_id for s in shops}),
        forecast_volume=round(float(x.forecast.sum()), 3), seats_available=int(x.seats.sum()),
        seats_required=int(x.required.sum()), allocated=int(x.allocated.sum()),
        seats_missing=int(short.sum()),
        intervals_short=int((per_interval > 0).sum()), peak_required=int(x.required.sum(1).max()),
        peak_shortfall=int(per_interval.max()), uplift_source=x.uplift_source, learned_from=x.learned_from,
        history_weeks=weeks, history_from=history_start, history_to=history_end, tiers=tiers)


