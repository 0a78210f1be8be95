"""Capacity use cases: staffing what-ifs, promotions, capacity plans (forecast, staffing, allocation).

The maths lives in the pure modules (erlang.py, allocation.py, forecast.py); this module reads what they
need from the database set-based, lays it out as numpy arrays, calls them once for the whole plan, and
stores the result set-based.

A plan, step by step:
1. Window: a promotion's local days (start_date 00:00 to end_date + 1 00:00 in its timezone) or [from, to),
   in 15-minute intervals like the rollups.
2. Shops: every active shop of an active brand (of the promotion's platform unless it is `all`).
3. Forecast per shop and interval: baseline by interval-of-week (the shop's local time) from the last N
   weeks of rollups before the window, or before today for a window in the future (median per slot;
   intervals inside any promotion of the shop's platform are left out, as a baseline is ordinary days; a
   week without any rollup of the shop is missing, not zero), times the uplift. The uplift is learned when
   last year's promotion of the same name (or the one the promotion names in `uplift_from`) has history:
   pooled over the plan's shops, per 15-minute interval, that promotion's actual volume over its own
   baseline (N weeks before it), aligned on the last day (双11, 618 and 双12 all peak on their last day),
   times each shop's own intensity (forecast.shop_intensity: a brand that promoted harder keeps its
   share). Else the promotion's given curve, else 1. Only the history at the window's times of week is
   read, and the three reads run in parallel on their own connections when the pool is at hand.
4. Parameters per shop: AHT = handle_sum_s / handled over the baseline weeks (default 300 s), concurrency
   3 unless given, answer target and service level target from the shop's SLA policy in force on the
   plan's first day (service level 0.8 when the policy sets none), shrinkage and occupancy cap from the
   request; per-shop overrides last.
5. Staffing: required agents per cell (one call to erlang.required_agents for the whole plan), scheduled =
   required / (1 - shrinkage) rounded up.
6. Allocation (allocation.allocate_plan): seats go to required agents (logged-in agents occupy seats;
   shrinkage is paid time off the floor), KA first, then standard, then long-tail; within the short
   tier by weighted marginal gain in service level with weight = tenant priority_weight x forecast volume
   of the cell, i.e. the objective is the priority-weighted number of contacts answered within target, so
   a busy shop's seat counts for more contacts than a quiet one's.
7. Store, in the caller's one transaction: the header, the plan's shops (parameters and totals), the
   per-interval totals, and one line per shop and interval in a single INSERT .. SELECT FROM unnest(arrays)
   (COPY FROM is refused on a table with row-level security).
"""

from __future__ import annotations

import asyncio
import base64
import struct
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.capacity import forecast as fc
from service.capacity.allocation import allocate_plan, erlang_curve
from service.capacity.erlang import erlang_a_metrics, erlang_c_metrics, required_agents, scheduled
from service.capacity.models import (
    ALL_PLATFORMS,
    CapacityPlan,
    CapacityPlanInterval,
    PlanModel,
    PlanStatus,
    Promotion,
)
from service.capacity.schemas import (
    PlanCreate,
    PlanLineRead,
    PlanShopRead,
    PlanSummary,
    PromotionCreate,
    SeatsPerSite,
    SeatsSeries,
    StaffingRequest,
    TierSummary,
)
from service.db import Database, Scope
from service.kit.crud import flush, list_page, one_or_404
from service.kit.errors import Invalid, NotFound
from service.kit.pagination import PageRequest
from service.shops.models import Shop, ShopStatus
from service.shops.service import get_shop
from service.sla.service import ShopRef, policies_in_force
from service.workforce.models import Site
from tenants.auth import Principal
from tenants.models import TIER_RANK, Tenant, TenantStatus, Tier

INTERVAL_S = 900
INTERVAL = timedelta(seconds=INTERVAL_S)
WEEK = timedelta(days=7)
SLOTS_PER_WEEK = fc.SLOTS_PER_WEEK
DEFAULT_AHT_S = 300.0
DEFAULT_CONCURRENCY = 3
DEFAULT_SERVICE_LEVEL = 0.8
# required_agents needs a target below 1: a policy asking for 100% is planned at 99.9%.
MAX_TARGET_SERVICE_LEVEL = 0.999
# A policy allowing no abandonment at all is planned at 0.1% (Erlang A never reaches exactly 0).
MIN_ABANDON_RATE = 0.001
# Shops x intervals per plan: bounds the server's memory (a few hundred bytes per cell at the peak).
MAX_PLAN_CELLS = 1_500_000
TIER_NAMES = {rank: tier.value for tier, rank in TIER_RANK.items()}

Progress = Callable[[str], None]


# --- staffing what-ifs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staffing:
    """Per-interval staffing, as arrays of one length (asa_s is inf where unbounded)."""

    volume: np.ndarray
    load: np.ndarray
    agents: np.ndarray
    scheduled: np.ndarray
    service_level: np.ndarray
    asa_s: np.ndarray
    wait_probability: np.ndarray
    abandon_rate: np.ndarray
    occupancy: np.ndarray

    def rows(self) -> list[dict]:
        """JSON-ready dicts; an unbounded ASA is None (JSON has no infinity)."""
        asa = np.where(np.isfinite(self.asa_s), self.asa_s, np.nan).tolist()
        asa = [None if a != a else a for a in asa]  # NaN -> None
        keys = ("volume", "load", "agents", "scheduled", "service_level", "asa_s", "wait_probability",
                "abandon_rate", "occupancy")
        cols = (self.volume.tolist(), self.load.tolist(), self.agents.tolist(), self.scheduled.tolist(),
                self.service_level.tolist(), asa, self.wait_probability.tolist(), self.abandon_rate.tolist(),
                self.occupancy.tolist())
        return [dict(zip(keys, row, strict=True)) for row in zip(*cols, strict=True)]


def staffing(req: StaffingRequest) -> Staffing:
    """Required agents for the intervals without `agents`, the metrics of the given count for the others:
    one vectorised call each, whatever the number of intervals. Repeated (volume, agents) pairs are
    computed once (a day's what-if often repeats volumes; Erlang A costs ~0.4 ms per distinct cell)."""
    n = len(req.intervals)
    all_volume = np.fromiter((i.volume for i in req.intervals), float, n)
    all_given = np.fromiter((-1 if i.agents is None else i.agents for i in req.intervals), np.int64, n)
    cells, back = np.unique(np.stack([all_volume, all_given.astype(float)], axis=1), axis=0, return_inverse=True)
    back = back.ravel()
    volume, given = cells[:, 0], cells[:, 1].astype(np.int64)
    n = volume.size
    need = given < 0
    out = {k: np.zeros(n) for k in ("load", "service_level", "asa_s", "wait_probability", "abandon_rate",
                                     "occupancy")}
    agents = np.where(need, 0, given)
    try:
        parts = []
        if need.any():
            parts.append((need, required_agents(
                req.model, volume[need], req.aht_s, req.interval_s, req.target_service_level, req.target_answer_s,
                req.concurrency, req.max_occupancy, req.target_asa_s, req.max_abandon_rate, req.patience_s)))
        if (~need).any():
            g = ~need
            args = (volume[g], req.aht_s, req.interval_s, given[g], req.target_answer_s)
            metrics = erlang_c_metrics(*args, req.concurrency) if req.model == PlanModel.erlang_c else \
                erlang_a_metrics(*args, req.patience_s, req.concurrency)
            parts.append((g, metrics))
        for mask, m in parts:
            agents[mask] = m.agents
            for k in out:
                out[k][mask] = getattr(m, k)
        sched = scheduled(agents, req.shrinkage)
    except ValueError as exc:  # the schema checks everything first; this is the maths' own guard
        raise Invalid("body", str(exc)) from None
    return Staffing(volume=all_volume, agents=agents[back], scheduled=sched[back],
                    **{k: v[back] for k, v in out.items()})


# --- promotions ---------------------------------------------------------------------------------------


async def create_promotion(session: AsyncSession, data: PromotionCreate) -> Promotion:
    promotion = Promotion(**data.model_dump(mode="json", exclude={"uplift_from"}))
    promotion.start_date, promotion.end_date = data.start_date, data.end_date
    promotion.year = data.start_date.year
    if data.uplift_from is not None:
        source = await find_promotion(session, data.uplift_from, before=data.start_date)
        if source is None:
            raise Invalid("uplift_from", f"no promotion {data.uplift_from!r} ending before {data.start_date}")
        promotion.uplift_from_id = source.id
    session.add(promotion)
    await flush(session, f"a promotion named '{data.name}' in {data.start_date.year}")
    return promotion


async def list_promotions(session: AsyncSession, page: PageRequest, name: str | None = None,
                          year: int | None = None):
    stmt = select(Promotion)
    if name:
        stmt = stmt.where(Promotion.name == name)
    if year:
        stmt = stmt.where(Promotion.year == year)
    return await list_page(session, stmt, Promotion.id, page)


async def find_promotion(session: AsyncSession, key: str, year: int | None = None,
                         before: date | None = None) -> Promotion | None:
    """By id, or by name: the given year's, else the one starting last (and ending before BEFORE)."""
    try:
        found = await session.get(Promotion, uuid.UUID(key))
        return found if found is None or before is None or found.end_date < before else None
    except ValueError:
        pass
    stmt = select(Promotion).where(Promotion.name == key)
    if year is not None:
        stmt = stmt.where(Promotion.year == year)
    if before is not None:
        stmt = stmt.where(Promotion.end_date < before)
    return (await session.execute(stmt.order_by(Promotion.start_date.desc()).limit(1))).scalars().first()


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)


def promotion_window(p: Promotion) -> tuple[datetime, datetime]:
    """[first local midnight, the midnight after the last day) in UTC."""
    return local_midnight(p.start_date, p.timezone), local_midnight(p.end_date + timedelta(days=1), p.timezone)


# --- plan inputs read from the database ---------------------------------------------------------------


@dataclass(frozen=True)
class PlanShop:
    tenant_id: uuid.UUID
    id: uuid.UUID
    name: str
    platform: str
    timezone: str
    tier: str
    priority_weight: float

    @property
    def ref(self) -> ShopRef:
        return ShopRef(self.tenant_id, self.id, self.name, self.platform, self.timezone)


async def plan_shops(session: AsyncSession, platform: str | None) -> list[PlanShop]:
    """Active shops of active brands, ordered like the lines' key (tenant, shop)."""
    stmt = (select(Shop.tenant_id, Shop.id, Shop.name, Shop.platform, Shop.timezone, Tenant.tier,
                   Tenant.priority_weight)
            .join(Tenant, Tenant.id == Shop.tenant_id)
            .where(Shop.status == ShopStatus.active, Tenant.status == TenantStatus.active)
            .order_by(Shop.tenant_id, Shop.id))
    if platform and platform != ALL_PLATFORMS:
        stmt = stmt.where(Shop.platform == platform)
    return [PlanShop(*row) for row in (await session.execute(stmt)).all()]


@dataclass
class Volumes:
    """Dense per-shop history over n consecutive intervals from `start`."""

    start: datetime
    offered: np.ndarray  # (S, n)
    present: np.ndarray  # (S, n) bool: a rollup row exists
    handled: np.ndarray  # (S,)
    handle_sum_s: np.ndarray  # (S,)
    covered: np.ndarray  # (n,) bool: intervals read (the others are unknown, not zero)


# One row per shop: its rollups packed as int8 (interval index << 32 | offered) in one array, sent in binary
# (array_send). 500 rows of bytes instead of 1.3 million rows keeps the transfer and decoding cheap; the
# index scans per shop on the rollups' key are what is left.
_HISTORY_SQL = text("""
SELECT s.i::int AS i,
       array_send(array_agg((date_part('epoch', r.interval_start - CAST(:start AS timestamptz))::int8 / 900) << 32
                            | r.offered)) AS cells,
       sum(r.handled)::float8 AS handled, sum(r.handle_sum_s)::float8 AS handle_sum_s
FROM unnest(CAST(:tenants AS uuid[]), CAST(:shops AS uuid[])) WITH ORDINALITY AS s(tenant_id, shop_id, i)
CROSS JOIN unnest(CAST(:lo AS timestamptz[]), CAST(:hi AS timestamptz[])) AS w(lo, hi)
JOIN shop_interval_stats r ON r.tenant_id = s.tenant_id AND r.shop_id = s.shop_id
 AND r.interval_start >= w.lo AND r.interval_start < w.hi
GROUP BY s.i
""")
# array_send of a one-dimensional int8[]: a 20-byte header, then per element its length (4) and value (8).
_CELL = np.dtype([("length", ">i4"), ("value", ">i8")])


def same_slots(target_start: datetime, n_target: int, start: datetime, n: int, margin: int = 4) -> np.ndarray:
    """(n,) bool: which of n intervals from START share a time of week with an interval of the target window,
    give or take MARGIN quarter hours (a DST shift). The same UTC time of week is the same local time of week
    in every timezone with a fixed offset, so one answer serves every shop. A baseline only needs these."""
    phases = (int(target_start.timestamp()) // INTERVAL_S + np.arange(n_target)) % SLOTS_PER_WEEK
    need = np.zeros(SLOTS_PER_WEEK, bool)
    for d in range(-margin, margin + 1):
        need[(phases + d) % SLOTS_PER_WEEK] = True
    return need[(int(start.timestamp()) // INTERVAL_S + np.arange(n)) % SLOTS_PER_WEEK]


async def read_volumes(session: AsyncSession, shops: Sequence[PlanShop], start: datetime, n: int,
                       covered: np.ndarray | None = None) -> Volumes:
    """Rollups of n intervals from START, per shop; only the COVERED ones (default: all), read as a few
    ranges by index scans on the rollups' key."""
    s = len(shops)
    covered = np.ones(n, bool) if covered is None else covered
    edges = np.flatnonzero(np.diff(np.concatenate(([0], covered.astype(np.int8), [0]))))
    ranges = [(start + int(a) * INTERVAL, start + int(b) * INTERVAL) for a, b in zip(edges[::2], edges[1::2],
                                                                                    strict=True)]
    offered = np.zeros((s, n))
    present = np.zeros((s, n), bool)
    handled = np.zeros(s)
    handle_sum = np.zeros(s)
    rows = (await session.execute(_HISTORY_SQL, {
        "tenants": [x.tenant_id for x in shops], "shops": [x.id for x in shops], "start": start,
        "lo": [a for a, _ in ranges], "hi": [b for _, b in ranges]})).all() if ranges else []
    for i, cells, h, hs in rows:
        k = i - 1
        packed = np.frombuffer(cells, _CELL, offset=20)["value"]
        idx = packed >> 32
        offered[k, idx] = packed & 0xFFFFFFFF
        present[k, idx] = True
        handled[k], handle_sum[k] = h, hs
    return Volumes(start, offered, present, handled, handle_sum, covered)


def local_slots(tz: str, start: datetime, n: int) -> np.ndarray:
    """Interval-of-week (0 = Monday 00:00 local time) of n consecutive 15-minute intervals from start."""
    zone = ZoneInfo(tz)
    q0 = int(start.timestamp()) // INTERVAL_S

    def offset(j: int) -> int:
        return int((start + j * INTERVAL).astimezone(zone).utcoffset().total_seconds()) // INTERVAL_S

    # Most windows see one UTC offset (check every 6 hours and the end); a DST change costs a full pass.
    probes = {offset(j) for j in [*range(0, n, 24), n - 1]}
    off = np.full(n, probes.pop(), np.int64) if len(probes) == 1 else np.array([offset(j) for j in range(n)])
    # 1970-01-01 was a Thursday: slot 3 * 96 of the week.
    return (q0 + np.arange(n) + off + 3 * fc.SLOTS_PER_DAY) % SLOTS_PER_WEEK


def weekly_history(v: Volumes, tzs: Sequence[str], weeks: int, mask: np.ndarray | None = None) -> np.ndarray:
    """(S, weeks, 672) by local interval-of-week. Missing (NaN): intervals under MASK (other promotions:
    a baseline is ordinary days), and whole weeks without any rollup of the shop (no data is not zero)."""
    s, n = v.offered.shape
    unknown = ~v.covered[None, :] if mask is None else (mask | ~v.covered[None, :])
    offered, present = np.where(unknown, np.nan, v.offered), v.present & ~unknown
    hist = np.zeros((s, weeks, SLOTS_PER_WEEK))
    week = np.minimum(np.arange(n) // SLOTS_PER_WEEK, weeks - 1)
    for tz in set(tzs):
        g = np.flatnonzero(np.asarray(tzs) == tz)
        slot = local_slots(tz, v.start, n)
        hist[g[:, None], week[None, :], slot[None, :]] = offered[g]
    has_week = np.zeros((s, weeks), bool)
    for w in range(weeks):
        has_week[:, w] = present[:, week == w].any(axis=1)
    hist[~has_week] = np.nan
    return hist


async def promotion_mask(session: AsyncSession, shops: Sequence[PlanShop], start: datetime, n: int) -> np.ndarray:
    """(S, n): the intervals from START that fall in a promotion of the shop's platform (or of all)."""
    end = start + n * INTERVAL
    mask = np.zeros((len(shops), n), bool)
    rows = (await session.execute(select(Promotion).where(
        Promotion.start_date <= (end + timedelta(days=1)).date(),
        Promotion.end_date >= (start - timedelta(days=1)).date()))).scalars().all()
    platforms = np.array([s.platform for s in shops])
    for p in rows:
        p_start, p_end = promotion_window(p)
        i0 = max(0, int((p_start - start) / INTERVAL))
        i1 = min(n, int((p_end - start) / INTERVAL))
        if i0 < i1:
            match = np.ones(len(shops), bool) if p.platform == ALL_PLATFORMS else platforms == p.platform
            mask[match, i0:i1] = True
    return mask


def laid_over(base: np.ndarray, tzs: Sequence[str], start: datetime, n: int) -> np.ndarray:
    """A (S, 672) weekly baseline read at each shop's local slots of n intervals from start: (S, n)."""
    out = np.zeros((base.shape[0], n))
    for tz in set(tzs):
        g = np.flatnonzero(np.asarray(tzs) == tz)
        out[g] = base[g][:, local_slots(tz, start, n)]
    return out


# --- the plan computation (pure numpy over arrays read above) ------------------------------------------


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


def learned_uplift(actual: np.ndarray, base: np.ndarray, n_target: int) -> np.ndarray:
    """(S, n_target) uplift from last year's (S, n_prev) actual volume and its own baseline, aligned on the
    last interval; target intervals before last year's first day reuse its first day's time of day."""
    s, n_prev = actual.shape
    days = -(-n_prev // fc.SLOTS_PER_DAY)
    pad = days * fc.SLOTS_PER_DAY - n_prev

    def whole_days(x: np.ndarray) -> np.ndarray:
        return np.pad(x, (0, pad)).reshape(days, fc.SLOTS_PER_DAY)

    pooled = fc.uplift_curve(whole_days(actual.sum(0)), whole_days(base.sum(0))).ravel()[:n_prev]
    intensity = fc.shop_intensity(actual.sum(1), base.sum(1))
    idx = np.arange(n_target) + (n_prev - n_target)
    idx = np.where(idx < 0, idx % fc.SLOTS_PER_DAY, idx)
    idx = np.clip(idx, 0, n_prev - 1)
    return intensity[:, None] * pooled[idx][None, :]


def given_uplift(curve: list, start: datetime, n: int, promotion: Promotion) -> np.ndarray:
    """(n,) factors from a promotion's given curve (per day, or per day and interval), by local day."""
    zone = ZoneInfo(promotion.timezone)
    out = np.ones(n)
    for t in range(n):
        local = (start + t * INTERVAL).astimezone(zone)
        day = (local.date() - promotion.start_date).days
        if 0 <= day < len(curve):
            entry = curve[day]
            out[t] = entry[local.hour * 4 + local.minute // 15] if isinstance(entry, list) else entry
    return out


@dataclass
class ShopTargets:
    aht_s: np.ndarray
    concurrency: np.ndarray
    service_level: np.ndarray
    answer_s: np.ndarray
    patience_s: np.ndarray | None
    max_abandon: np.ndarray | None


def allocate(model: str, volume: np.ndarray, p: ShopTargets, seats: np.ndarray, tier: np.ndarray,
             priority: np.ndarray, shrinkage: float, max_occupancy: float) -> dict[str, np.ndarray]:
    """Staff every cell, then allocate the seats. volume is (T, S); per-shop arrays are (S,)."""
    erlang_a = model == PlanModel.erlang_a
    m = required_agents(model, volume, p.aht_s, INTERVAL_S, p.service_level, p.answer_s, p.concurrency,
                        max_occupancy, None, p.max_abandon if erlang_a else None,
                        p.patience_s if erlang_a else None)
    curve = erlang_curve(volume, p.aht_s, INTERVAL_S, p.answer_s, p.concurrency,
                         p.patience_s if erlang_a else None)
    res = allocate_plan(seats, m.agents, tier, priority[None, :] * volume, curve,
                        sl_at_required=m.service_level, asa_at_required=m.asa_s)
    return {"required": m.agents, "scheduled": scheduled(m.agents, shrinkage), "allocated": res.allocated,
            "service_level": res.service_level, "asa_s": res.asa_s}


# --- creating a plan ----------------------------------------------------------------------------------


async def _window(session: AsyncSession, data: PlanCreate) -> tuple[datetime, datetime, Promotion | None]:
    if data.promotion is None:
        assert data.start is not None and data.end is not None  # the schema guarantees it
        return data.start.astimezone(UTC), data.end.astimezone(UTC), None
    promotion = await find_promotion(session, data.promotion, data.year)
    if promotion is None:
        raise Invalid("promotion", f"no promotion named {data.promotion!r}"
                      + (f" in {data.year}" if data.year else ""))
    start, end = promotion_window(promotion)
    return start, end, promotion


async def _seats(session: AsyncSession, spec, n: int) -> np.ndarray:
    if isinstance(spec, SeatsSeries):
        if len(spec.series) != n:
            raise Invalid("seats.series", f"needs one number per interval of the plan ({n})")
        return np.asarray(spec.series, np.int64)
    if isinstance(spec, SeatsPerSite):
        sites = (await session.execute(select(Site))).scalars().all()
        by_key = {str(s.id): s for s in sites} | {s.name: s for s in sites}
        total = 0
        for key, count in spec.per_site.items():
            site = by_key.get(key)
            if site is None:
                raise Invalid(f"seats.per_site.{key}", "no such site (give its id or name)")
            if count is not None and count > site.seat_capacity:
                raise Invalid(f"seats.per_site.{key}", f"the site has {site.seat_capacity} seats")
            total += site.seat_capacity if count is None else count
        return np.full(n, total, np.int64)
    return np.full(n, int(spec), np.int64)


def _targets(data: PlanCreate, shops: Sequence[PlanShop], terms, aht: np.ndarray) -> ShopTargets:
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
        missing = np.isnan(p.patience_s)
        if missing.any():
            raise Invalid("patience_s", "required by model erlang_a (or params.<shop>.patience_s for every shop)")
    else:
        p.patience_s = p.max_abandon = None
    return p


async def _read_volumes(db: Database, shops: Sequence[PlanShop], start: datetime, n: int,
                        covered: np.ndarray | None) -> Volumes:
    async with db.transaction(Scope.system()) as own:
        return await read_volumes(own, shops, start, n, covered)


def _stage_logger() -> Progress:
    """Log how long each stage of a plan took (ops read this when a plan is slow)."""
    import logging
    import time as _time

    log = logging.getLogger("seatwise.capacity")
    last = [_time.perf_counter()]

    def step(stage: str) -> None:
        now = _time.perf_counter()
        log.info("plan stage %s: %.3f s", stage, now - last[0])
        last[0] = now

    return step


async def create_plan(session: AsyncSession, principal: Principal, data: PlanCreate,
                      progress: Progress | None = None, now: datetime | None = None,
                      db: Database | None = None) -> CapacityPlan:
    """Forecast, staff, allocate and store a plan in the session's transaction (staff scope). With DB, the
    history is read on separate connections in parallel (read-only; the plan itself is one transaction).
    NOW (default: the clock) bounds the history of a plan in the future."""
    step = progress or _stage_logger()
    start, end, promotion = await _window(session, data)
    n = int((end - start) / INTERVAL)
    shops = await plan_shops(session, promotion.platform if promotion else None)
    if not shops:
        raise Invalid("promotion" if promotion else "body", "no active shops to plan for")
    if n * len(shops) > MAX_PLAN_CELLS:
        raise Invalid("body", f"{len(shops)} shops x {n} intervals is more than {MAX_PLAN_CELLS:,} cells; "
                      "plan a shorter window")
    seats = await _seats(session, data.seats, n)
    tzs = [s.timezone for s in shops]
    step("shops")

    # The last N weeks of history before the plan starts, or before today for a plan in the future.
    weeks = data.history_weeks
    span = weeks * SLOTS_PER_WEEK
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    history_end = min(start, today)
    history_start = history_end - weeks * WEEK
    previous = None
    if promotion is not None:
        # The history to learn from: the promotion named by uplift_from, else last year's of the same name.
        previous = await session.get(Promotion, promotion.uplift_from_id) if promotion.uplift_from_id else \
            await find_promotion(session, promotion.name, promotion.year - 1)
        if previous is not None and previous.id == promotion.id:
            previous = None
    # A baseline needs only the history at the window's times of week (all of it for a week or more).
    windows = [(history_start, span, same_slots(start, n, history_start, span))]
    if previous is not None:
        p_start, p_end = promotion_window(previous)
        p_n = int((p_end - p_start) / INTERVAL)
        windows += [(p_start, p_n, None), (p_start - weeks * WEEK, span, same_slots(p_start, p_n,
                                                                                   p_start - weeks * WEEK, span))]

    async def small_reads():
        masks = [await promotion_mask(session, shops, w_start, w_n) for w_start, w_n, _ in windows]
        # The policy in force on the plan's first local day (the promotion's timezone, or the offset of `from`).
        first_day = start.astimezone(ZoneInfo(promotion.timezone)).date() if promotion else data.start.date()
        return masks, await policies_in_force(session, [s.ref for s in shops], first_day)

    # The rollup reads are the heavy part: on their own connections (when the pool is at hand) they run in
    # parallel, beside the small reads on the plan's own transaction; else one after the other on it.
    if db is not None:
        volumes = await asyncio.gather(*(_read_volumes(db, shops, *w) for w in windows), small_reads())
    else:
        volumes = [await read_volumes(session, shops, *w) for w in windows] + [await small_reads()]
    (masks, terms) = volumes.pop()
    recent, recent_mask = volumes[0], masks[0]
    last, last_base, last_mask = (volumes[1], volumes[2], masks[2]) if previous is not None else (None,) * 3
    step("history")

    aht = np.where(recent.handled > 0, recent.handle_sum_s / np.maximum(recent.handled, 1), DEFAULT_AHT_S)
    targets = _targets(data, shops, terms, aht)
    tier = np.array([TIER_RANK[Tier(s.tier)] for s in shops])
    priority = np.array([s.priority_weight for s in shops], float)

    def compute() -> PlanNumbers:
        base = fc.baseline(weekly_history(recent, tzs, weeks, recent_mask))
        volume = laid_over(base, tzs, start, n)  # (S, T)
        source, learned_from = "none", None
        if last is not None and last.offered.sum() > 0:
            base_prev = laid_over(fc.baseline(weekly_history(last_base, tzs, weeks, last_mask)), tzs, last.start,
                                  last.offered.shape[1])
            if base_prev.sum() > 0:
                volume = volume * learned_uplift(last.offered, base_prev, n)
                source, learned_from = "learned", previous.id
        if source == "none" and promotion is not None and promotion.uplift:
            volume = volume * given_uplift(promotion.uplift, start, n, promotion)[None, :]
            source = "given"
        volume = np.ascontiguousarray(volume.T)  # (T, S), the maths' layout
        res = allocate(data.model, volume, targets, seats, tier, priority, data.shrinkage, data.max_occupancy)
        return PlanNumbers(forecast=volume, aht_s=targets.aht_s, seats=seats, targets=targets,
                           uplift_source=source, learned_from=learned_from, **res)

    numbers = await asyncio.to_thread(compute)
    step("staffing and allocation")

    plan = CapacityPlan(
        name=data.name, promotion_id=promotion.id if promotion else None, starts_at=start, ends_at=end,
        model=data.model, seats=_jsonable_seats(data.seats), params=_params_json(data),
        status=PlanStatus.complete, created_by=principal.subject,
        summary=summarize(numbers, shops, weeks, history_start, history_end).model_dump(mode="json"))
    session.add(plan)
    await flush(session, "plan")
    await store_numbers(session, plan.id, start, shops, numbers)
    step("stored")
    return plan


def _jsonable_seats(spec) -> object:
    return spec if isinstance(spec, int) else spec.model_dump(mode="json")


def _params_json(data: PlanCreate) -> dict:
    return data.model_dump(mode="json", include={"shrinkage", "max_occupancy", "concurrency", "patience_s",
                                                 "history_weeks", "params"}) | {
        "interval_s": INTERVAL_S, "default_concurrency": DEFAULT_CONCURRENCY, "default_aht_s": DEFAULT_AHT_S,
        "default_service_level": DEFAULT_SERVICE_LEVEL}


def summarize(x: PlanNumbers, shops: Sequence[PlanShop], weeks: int, history_start: datetime,
              history_end: datetime) -> PlanSummary:
    short = x.required - x.allocated  # (T, S)
    per_interval = short.sum(1)
    tier = np.array([TIER_RANK[Tier(s.tier)] for s in shops])
    tiers = []
    for rank in sorted(set(tier.tolist())):
        g = tier == rank
        tiers.append(TierSummary(
            tier=TIER_NAMES[rank], shops=int(g.sum()), required=int(x.required[:, g].sum()),
            allocated=int(x.allocated[:, g].sum()), missing=int(short[:, g].sum()),
            shops_short=int((short[:, g].sum(0) > 0).sum()), intervals_short=int((short[:, g].sum(1) > 0).sum())))
    return PlanSummary(
        intervals=int(x.required.shape[0]), shops=len(shops), tenants=len({s.tenant_id for s in shops}),
        forecast_volume=round(float(x.forecast.sum()), 3), seats_available=int(x.seats.sum()),
        seats_required=int(x.required.sum()), allocated=int(x.allocated.sum()), seats_missing=int(short.sum()),
        intervals_short=int((per_interval > 0).sum()), peak_required=int(x.required.sum(1).max()),
        peak_shortfall=int(per_interval.max()), uplift_source=x.uplift_source, learned_from=x.learned_from,
        history_weeks=weeks, history_from=history_start, history_to=history_end, tiers=tiers)


_INSERT_SHOPS = text("""
INSERT INTO capacity_plan_shops (tenant_id, plan_id, shop_id, tier, priority_weight, aht_s, concurrency,
    target_service_level, target_answer_s, patience_s, max_abandon_rate, forecast_volume, required, scheduled,
    allocated, missing, min_service_level, intervals_short)
SELECT s.tenant_id, CAST(:plan AS uuid), s.shop_id, s.tier, s.weight, s.aht, s.k, s.sl, s.ans,
       NULLIF(s.patience, 'NaN'::float8), NULLIF(s.abandon, 'NaN'::float8), s.volume, s.required, s.scheduled,
       s.allocated, s.missing, s.min_sl, s.short
FROM unnest(CAST(:tenants AS uuid[]), CAST(:shops AS uuid[]), CAST(:tiers AS text[]), CAST(:weights AS float8[]),
            CAST(:aht AS float8[]), CAST(:k AS int[]), CAST(:sl AS float8[]), CAST(:ans AS float8[]),
            CAST(:patience AS float8[]), CAST(:abandon AS float8[]), CAST(:volume AS float8[]),
            CAST(:required AS int[]), CAST(:scheduled AS int[]), CAST(:allocated AS int[]), CAST(:missing AS int[]),
            CAST(:min_sl AS float8[]), CAST(:short AS int[]))
     AS s(tenant_id, shop_id, tier, weight, aht, k, sl, ans, patience, abandon, volume, required, scheduled,
          allocated, missing, min_sl, short)
""")

# Per shop (WITH ORDINALITY i), its n consecutive cells are slice i of the flat shop-major arrays; an unbounded
# ASA travels as NaN (arrays without NULLs slice in O(1)) and is stored as NULL. (Measured alternatives: text
# array literals cost more to format than the driver's binary encoding saves; one unnest joined to the shops
# by index is no faster.)
_INSERT_LINES = text("""
INSERT INTO capacity_plan_lines (tenant_id, plan_id, shop_id, interval_start, forecast_volume, required,
                                 scheduled, allocated, expected_service_level, expected_asa_s)
SELECT s.tenant_id, CAST(:plan AS uuid), s.shop_id, CAST(:start AS timestamptz) + (c.t - 1) * interval '15 minutes',
       c.volume, c.required, c.scheduled, c.allocated, c.sl, NULLIF(c.asa, 'NaN'::float8)
FROM unnest(CAST(:tenants AS uuid[]), CAST(:shops AS uuid[])) WITH ORDINALITY AS s(tenant_id, shop_id, i)
CROSS JOIN LATERAL unnest((CAST(:volume AS float8[]))[(s.i - 1) * :n + 1 : s.i * :n],
                          (CAST(:required AS int[]))[(s.i - 1) * :n + 1 : s.i * :n],
                          (CAST(:scheduled AS int[]))[(s.i - 1) * :n + 1 : s.i * :n],
                          (CAST(:allocated AS int[]))[(s.i - 1) * :n + 1 : s.i * :n],
                          (CAST(:sl AS float8[]))[(s.i - 1) * :n + 1 : s.i * :n],
                          (CAST(:asa AS float8[]))[(s.i - 1) * :n + 1 : s.i * :n])
     WITH ORDINALITY AS c(volume, required, scheduled, allocated, sl, asa, t)
""")


def _nan_for_none(a: np.ndarray | None, size: int) -> list[float]:
    return [float("nan")] * size if a is None else np.where(np.isfinite(a), a, np.nan).tolist()


async def store_numbers(session: AsyncSession, plan_id: uuid.UUID, start: datetime, shops: Sequence[PlanShop],
                        x: PlanNumbers) -> None:
    """The plan's shops, its lines (one per shop and interval) and per-interval totals: one statement each."""
    n = x.required.shape[0]
    size = len(shops)
    short = x.required - x.allocated
    ids = {"plan": plan_id, "tenants": [s.tenant_id for s in shops], "shops": [s.id for s in shops]}
    p = x.targets
    await session.execute(_INSERT_SHOPS, ids | {
        "tiers": [s.tier for s in shops], "weights": [s.priority_weight for s in shops],
        "aht": p.aht_s.tolist(), "k": p.concurrency.astype(int).tolist(), "sl": p.service_level.tolist(),
        "ans": p.answer_s.tolist(), "patience": _nan_for_none(p.patience_s, size),
        "abandon": _nan_for_none(p.max_abandon, size), "volume": x.forecast.sum(0).tolist(),
        "required": x.required.sum(0).tolist(), "scheduled": x.scheduled.sum(0).tolist(),
        "allocated": x.allocated.sum(0).tolist(), "missing": short.sum(0).tolist(),
        "min_sl": x.service_level.min(0).tolist(), "short": (short > 0).sum(0).tolist()})

    def shop_major(a: np.ndarray) -> list:
        return np.ascontiguousarray(a.T).ravel().tolist()

    await session.execute(_INSERT_LINES, ids | {
        "start": start, "n": n, "volume": shop_major(x.forecast), "required": shop_major(x.required),
        "scheduled": shop_major(x.scheduled), "allocated": shop_major(x.allocated),
        "sl": shop_major(x.service_level), "asa": shop_major(np.where(np.isfinite(x.asa_s), x.asa_s, np.nan))})
    await session.execute(text("""
        INSERT INTO capacity_plan_intervals (plan_id, interval_start, seats_available, seats_required, allocated,
                                             shortfall, shops_short)
        SELECT CAST(:plan AS uuid), CAST(:start AS timestamptz) + (c.t - 1) * interval '15 minutes', c.seats,
               c.required, c.allocated, c.short, c.shops_short
        FROM unnest(CAST(:seats AS int[]), CAST(:required AS int[]), CAST(:allocated AS int[]),
                    CAST(:short AS int[]), CAST(:shops_short AS int[])) WITH ORDINALITY
             AS c(seats, required, allocated, short, shops_short, t)"""), {
        "plan": plan_id, "start": start, "seats": x.seats.tolist(), "required": x.required.sum(1).tolist(),
        "allocated": x.allocated.sum(1).tolist(), "short": short.sum(1).tolist(),
        "shops_short": (short > 0).sum(1).tolist()})


# --- reading plans ------------------------------------------------------------------------------------


async def list_plans(session: AsyncSession, page: PageRequest, promotion: uuid.UUID | None = None):
    stmt = select(CapacityPlan)
    if promotion is not None:
        stmt = stmt.where(CapacityPlan.promotion_id == promotion)
    return await list_page(session, stmt, CapacityPlan.id, page)


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> CapacityPlan:
    return await one_or_404(session, select(CapacityPlan).where(CapacityPlan.id == plan_id), "capacity plan")


async def plan_exists(session: AsyncSession, plan_id: uuid.UUID) -> None:
    found = (await session.execute(select(CapacityPlan.id).where(CapacityPlan.id == plan_id))).first()
    if found is None:
        raise NotFound("capacity plan not found")


async def intervals_of_plans(session: AsyncSession, plan_ids: list[uuid.UUID]) -> list[list[CapacityPlanInterval]]:
    rows = (await session.execute(select(CapacityPlanInterval)
                                  .where(CapacityPlanInterval.plan_id.in_(set(plan_ids)))
                                  .order_by(CapacityPlanInterval.plan_id, CapacityPlanInterval.interval_start))
            ).scalars().all()
    grouped: dict[uuid.UUID, list[CapacityPlanInterval]] = {p: [] for p in plan_ids}
    for row in rows:
        grouped[row.plan_id].append(row)
    return [grouped[p] for p in plan_ids]


_SHOP_SUMMARY = text("""
SELECT p.plan_id, p.tenant_id, t.slug, p.tier, p.shop_id, s.name, s.platform, p.priority_weight, p.aht_s,
       p.concurrency, p.target_service_level, p.target_answer_s, p.patience_s, p.max_abandon_rate,
       p.forecast_volume, p.required, p.scheduled, p.allocated, p.missing, p.min_service_level, p.intervals_short
FROM capacity_plan_shops p
JOIN shops s ON s.tenant_id = p.tenant_id AND s.id = p.shop_id
JOIN tenants t ON t.id = p.tenant_id
WHERE p.plan_id = ANY(CAST(:plans AS uuid[]))
ORDER BY p.plan_id, CASE p.tier WHEN 'KA' THEN 0 WHEN 'standard' THEN 1 ELSE 2 END, t.slug, s.name, p.shop_id
""")


async def shops_of_plans(session: AsyncSession, plan_ids: list[uuid.UUID]) -> list[list[PlanShopRead]]:
    """Each plan's shops with their parameters and totals, KA first (staff: every brand's shops)."""
    rows = (await session.execute(_SHOP_SUMMARY, {"plans": list(set(plan_ids))})).all()
    grouped: dict[uuid.UUID, list[PlanShopRead]] = {p: [] for p in plan_ids}
    fields = list(PlanShopRead.model_fields)  # the query selects them in this order, after plan_id
    for row in rows:
        grouped[row[0]].append(PlanShopRead(**dict(zip(fields, row[1:], strict=True))))
    return [grouped[p] for p in plan_ids]


@dataclass(frozen=True)
class PlanDetailData:
    plan: CapacityPlan
    intervals: list[CapacityPlanInterval]
    shops: list[PlanShopRead]


async def plan_detail(session: AsyncSession, plan_id: uuid.UUID) -> PlanDetailData:
    plan = await get_plan(session, plan_id)
    return PlanDetailData(plan, (await intervals_of_plans(session, [plan_id]))[0],
                          (await shops_of_plans(session, [plan_id]))[0])


# --- plan lines: a client sees its own shops' lines only -----------------------------------------------


_LINE_CURSOR = struct.Struct(">16s16sq")


def encode_line_cursor(line: PlanLineRead) -> str:
    micros = int(line.interval_start.timestamp() * 1_000_000)
    raw = _LINE_CURSOR.pack(line.tenant_id.bytes, line.shop_id.bytes, micros)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_line_cursor(cursor: str, where: str = "query.cursor") -> tuple[uuid.UUID, uuid.UUID, datetime]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tenant, shop, micros = _LINE_CURSOR.unpack(raw)
        return uuid.UUID(bytes=tenant), uuid.UUID(bytes=shop), datetime.fromtimestamp(micros / 1e6, UTC)
    except (ValueError, TypeError, struct.error, OverflowError):
        raise Invalid(where, "not a cursor returned by this API") from None


async def _line_scope(session: AsyncSession, principal: Principal, plan_id: uuid.UUID,
                      shop_id: uuid.UUID | None) -> tuple[str, dict]:
    """The WHERE clause of the lines a caller may read: 404 for an unknown plan, or a shop the caller may
    not see; a client's lines are its own tenant's, explicitly (RLS is the safety net)."""
    await plan_exists(session, plan_id)
    where, params = ["l.plan_id = :plan"], {"plan": plan_id}
    if not principal.is_staff:
        where.append("l.tenant_id = :tenant")
        params["tenant"] = principal.tenant_id
    if shop_id is not None:
        shop = await get_shop(session, principal, shop_id)
        where += ["l.tenant_id = :shop_tenant", "l.shop_id = :shop"]
        params |= {"shop_tenant": shop.tenant_id, "shop": shop.id}
    return " AND ".join(where), params


async def list_lines(session: AsyncSession, principal: Principal, plan_id: uuid.UUID, shop_id: uuid.UUID | None,
                     limit: int, cursor: str | None, cursor_field: str = "query.cursor") -> tuple[list[PlanLineRead], str | None]:
    after = decode_line_cursor(cursor, cursor_field) if cursor else None
    where, params = await _line_scope(session, principal, plan_id, shop_id)
    if after is not None:
        # The full key prefix in a row comparison: an index condition on the primary key.
        where += " AND (l.tenant_id, l.plan_id, l.shop_id, l.interval_start) > (:a_tenant, :plan, :a_shop, :a_at)"
        params |= {"a_tenant": after[0], "a_shop": after[1], "a_at": after[2]}
    rows = (await session.execute(text(f"""
        SELECT l.tenant_id, l.shop_id, l.interval_start, l.forecast_volume, p.aht_s, l.required, l.scheduled,
               l.allocated, l.required - l.allocated, l.expected_service_level, l.expected_asa_s
        FROM capacity_plan_lines l
        JOIN capacity_plan_shops p ON p.tenant_id = l.tenant_id AND p.plan_id = l.plan_id AND p.shop_id = l.shop_id
        WHERE {where}
        ORDER BY l.tenant_id, l.plan_id, l.shop_id, l.interval_start LIMIT :limit"""),
        params | {"limit": limit + 1})).all()
    fields = list(PlanLineRead.model_fields)  # the query selects them in this order
    lines = [PlanLineRead(**dict(zip(fields, row, strict=True))) for row in rows]
    if len(lines) > limit:
        lines = lines[:limit]
        return lines, encode_line_cursor(lines[-1])
    return lines, None


CSV_COLUMNS = ("shop_id", "shop", "platform", "interval_start", "forecast_volume", "aht_s", "required",
               "scheduled", "allocated", "shortfall", "expected_service_level", "expected_asa_s")


async def check_lines_visible(db: Database, principal: Principal, plan_id: uuid.UUID,
                              shop_id: uuid.UUID | None) -> None:
    """Raise 404 before a CSV export starts streaming (its status cannot change afterwards)."""
    async with db.transaction(principal.scope) as session:
        await _line_scope(session, principal, plan_id, shop_id)


async def lines_csv(db: Database, principal: Principal, plan_id: uuid.UUID,
                    shop_id: uuid.UUID | None) -> AsyncIterator[bytes]:
    """The lines as CSV, streamed from PostgreSQL's COPY TO in chunks: the export never sits in memory."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=8)
    done = object()

    async def produce() -> None:
        try:
            async with db.transaction(principal.scope) as session:
                where, params = await _line_scope(session, principal, plan_id, shop_id)
                conn = await session.connection()
                raw = (await conn.get_raw_connection()).driver_connection
                sql = _csv_query(where)
                args = [params[k] for k in ("plan", "tenant", "shop_tenant", "shop") if k in params]
                await raw.copy_from_query(sql, *args, output=queue.put, format="csv", header=True)
            await queue.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            await queue.put(exc)

    task = asyncio.create_task(produce())
    try:
        while True:
            item = await queue.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield bytes(item)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _csv_query(where: str) -> str:
    # Positional parameters for asyncpg, in the order of _line_scope's keys.
    n = iter(range(1, 5))
    for key in ("plan", "tenant", "shop_tenant", "shop"):
        if f":{key}" in where:
            where = where.replace(f":{key}", f"${next(n)}")
    return f"""
        SELECT l.shop_id, s.name AS shop, s.platform,
               to_char(l.interval_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS interval_start,
               round(l.forecast_volume::numeric, 3) AS forecast_volume, round(p.aht_s::numeric, 1) AS aht_s,
               l.required, l.scheduled, l.allocated, l.required - l.allocated AS shortfall,
               round(l.expected_service_level::numeric, 4) AS expected_service_level,
               round(l.expected_asa_s::numeric, 2) AS expected_asa_s
        FROM capacity_plan_lines l
        JOIN capacity_plan_shops p ON p.tenant_id = l.tenant_id AND p.plan_id = l.plan_id AND p.shop_id = l.shop_id
        JOIN shops s ON s.tenant_id = l.tenant_id AND s.id = l.shop_id
        WHERE {where}
        ORDER BY l.tenant_id, l.plan_id, l.shop_id, l.interval_start"""


async def plans_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[CapacityPlan | None]:
    rows = (await session.execute(select(CapacityPlan).where(CapacityPlan.id.in_(set(ids))))).scalars().all()
    found = {r.id: r for r in rows}
    return [found.get(i) for i in ids]
