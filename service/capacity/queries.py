"""The capacity domain's reads and writes: the shops a plan covers, their history as dense arrays, the
promotion masks, the stored plan (set-based, one statement a table), and the plan's shops and lines read
back by column name.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.capacity.forecast import Volumes
from service.capacity.models import ALL_PLATFORMS, CapacityPlan, CapacityPlanInterval, Promotion
from service.capacity.planning import PlanNumbers
from service.capacity.schemas import PlanLineRead, PlanShare, PlanShopRead
from service.kit.errors import NotFound
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest, page_of
from service.kit.pgbinary import INT8
from service.kit.pgbinary import values as array_values
from service.kit.time import INTERVAL, local_days
from service.shops.models import Shop, ShopStatus
from service.shops.service import get_shop
from service.sla.policies import ShopRef
from tenants.models import TIER_RANK, Tenant, TenantStatus


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
    return [PlanShop(**row._mapping) for row in (await session.execute(stmt)).all()]


# One row per shop: its rollups packed as int8 (interval index << 32 | offered) in one array, sent in binary
# (array_send). 500 rows of bytes instead of 1.3 million rows keeps the transfer and decoding cheap; the
# index scans per shop on the rollups' key are what is left.
_HISTORY_SQL = text("""
SELECT s.i::int AS i,
       array_send(array_agg((date_part('epoch', r.interval_start - CAST(:start AS timestamptz))::int8 / 900)
                            << 32 | r.offered)) AS cells,
       sum(r.handled)::float8 AS handled, sum(r.handle_sum_s)::float8 AS handle_sum_s
FROM unnest(CAST(:tenants AS uuid[]), CAST(:shops AS uuid[])) WITH ORDINALITY AS s(tenant_id, shop_id, i)
CROSS JOIN unnest(CAST(:lo AS timestamptz[]), CAST(:hi AS timestamptz[])) AS w(lo, hi)
JOIN shop_interval_stats r ON r.tenant_id = s.tenant_id AND r.shop_id = s.shop_id
 AND r.interval_start >= w.lo AND r.interval_start < w.hi
GROUP BY s.i
""")


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
        packed = array_values(cells, INT8)
        idx = packed >> 32
        offered[k, idx] = packed & 0xFFFFFFFF
        present[k, idx] = True
        handled[k], handle_sum[k] = h, hs
    return Volumes(start, offered, present, handled, handle_sum, covered)


async def promotion_mask(session: AsyncSession, shops: Sequence[PlanShop], start: datetime,
                         n: int) -> np.ndarray:
    """(S, n): the intervals from START that fall in a promotion of the shop's platform (or of all)."""
    end = start + n * INTERVAL
    mask = np.zeros((len(shops), n), bool)
    rows = (await session.execute(select(Promotion).where(
        Promotion.start_date <= (end + timedelta(days=1)).date(),
        Promotion.end_date >= (start - timedelta(days=1)).date()))).scalars().all()
    platforms = np.array([s.platform for s in shops])
    for p in rows:
        p_start, p_end = local_days(p.start_date, p.end_date, p.timezone)
        i0 = max(0, int((p_start - start) / INTERVAL))
        i1 = min(n, int((p_end - start) / INTERVAL))
        if i0 < i1:
            match = np.ones(len(shops), bool) if p.platform == ALL_PLATFORMS else platforms == p.platform
            mask[match, i0:i1] = True
    return mask


_INSERT_SHOPS = text("""
INSERT INTO capacity_plan_shops (tenant_id, plan_id, shop_id, tier, priority_weight, aht_s, concurrency,
    target_service_level, target_answer_s, patience_s, max_abandon_rate, forecast_volume, required, scheduled,
    allocated, missing, min_service_level, intervals_short)
SELECT s.tenant_id, CAST(:plan AS uuid), s.shop_id, s.tier, s.weight, s.aht, s.k, s.sl, s.ans,
       NULLIF(s.patience, 'NaN'::float8), NULLIF(s.abandon, 'NaN'::float8), s.volume, s.required, s.scheduled,
       s.allocated, s.missing, s.min_sl, s.short
FROM unnest(CAST(:tenants AS uuid[]), CAST(:shops AS uuid[]), CAST(:tiers AS text[]),
            CAST(:weights AS float8[]), CAST(:aht AS float8[]), CAST(:k AS int[]), CAST(:sl AS float8[]),
            CAST(:ans AS float8[]), CAST(:patience AS float8[]), CAST(:abandon AS float8[]),
            CAST(:volume AS float8[]), CAST(:required AS int[]), CAST(:scheduled AS int[]),
            CAST(:allocated AS int[]), CAST(:missing AS int[]), CAST(:min_sl AS float8[]),
            CAST(:short AS int[]))
     AS s(tenant_id, shop_id, tier, weight, aht, k, sl, ans, patience, abandon, volume, required, scheduled,
          allocated, missing, min_sl, short)
""")

# Per shop (WITH ORDINALITY i), its n consecutive cells are slice i of the flat shop-major arrays; an
# unbounded ASA travels as NaN (arrays without NULLs slice in O(1)) and is stored as NULL. (Measured
# alternatives: text array literals cost more to format than the driver's binary encoding saves; one unnest
# joined to the shops by index is no faster.)
_INSERT_LINES = text("""
INSERT INTO capacity_plan_lines (tenant_id, plan_id, shop_id, interval_start, forecast_volume, required,
                                 scheduled, allocated, expected_service_level, expected_asa_s)
SELECT s.tenant_id, CAST(:plan AS uuid), s.shop_id,
       CAST(:start AS timestamptz) + (c.t - 1) * interval '15 minutes',
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
        "sl": shop_major(x.service_level),
        "asa": shop_major(np.where(np.isfinite(x.asa_s), x.asa_s, np.nan))})
    await session.execute(text("""
        INSERT INTO capacity_plan_intervals (plan_id, interval_start, seats_available, seats_required,
                                             allocated, shortfall, shops_short)
        SELECT CAST(:plan AS uuid), CAST(:start AS timestamptz) + (c.t - 1) * interval '15 minutes', c.seats,
               c.required, c.allocated, c.short, c.shops_short
        FROM unnest(CAST(:seats AS int[]), CAST(:required AS int[]), CAST(:allocated AS int[]),
                    CAST(:short AS int[]), CAST(:shops_short AS int[])) WITH ORDINALITY
             AS c(seats, required, allocated, short, shops_short, t)"""), {
        "plan": plan_id, "start": start, "seats": x.seats.tolist(), "required": x.required.sum(1).tolist(),
        "allocated": x.allocated.sum(1).tolist(), "short": short.sum(1).tolist(),
        "shops_short": (short > 0).sum(1).tolist()})


async def intervals_of_plans(session: AsyncSession,
                             plan_ids: list[uuid.UUID]) -> list[list[CapacityPlanInterval]]:
    rows = (await session.execute(select(CapacityPlanInterval)
                                  .where(CapacityPlanInterval.plan_id.in_(set(plan_ids)))
                                  .order_by(CapacityPlanInterval.plan_id,
                                            CapacityPlanInterval.interval_start))
            ).scalars().all()
    grouped: dict[uuid.UUID, list[CapacityPlanInterval]] = {p: [] for p in plan_ids}
    for row in rows:
        grouped[row.plan_id].append(row)
    return [grouped[p] for p in plan_ids]


# Columns named as PlanShopRead's fields; tiers in TIER_RANK's order (KA first).
_SHOP_SUMMARY = text("""
SELECT p.plan_id, p.tenant_id, t.slug AS tenant_slug, p.tier, p.shop_id, s.name AS shop_name, s.platform,
       p.priority_weight, p.aht_s, p.concurrency, p.target_service_level, p.target_answer_s, p.patience_s,
       p.max_abandon_rate, p.forecast_volume, p.required, p.scheduled, p.allocated, p.missing,
       p.min_service_level, p.intervals_short
FROM capacity_plan_shops p
JOIN shops s ON s.tenant_id = p.tenant_id AND s.id = p.shop_id
JOIN tenants t ON t.id = p.tenant_id
WHERE p.plan_id = ANY(CAST(:plans AS uuid[]))
ORDER BY p.plan_id, array_position(CAST(:tiers AS text[]), p.tier), t.slug, s.name, p.shop_id
""")
_TIER_ORDER = [tier.value for tier in sorted(TIER_RANK, key=TIER_RANK.__getitem__)]


async def shops_of_plans(session: AsyncSession, plan_ids: list[uuid.UUID]) -> list[list[PlanShopRead]]:
    """Each plan's shops with their parameters and totals, KA first (staff: every brand's shops)."""
    rows = (await session.execute(_SHOP_SUMMARY, {"plans": list(set(plan_ids)), "tiers": _TIER_ORDER})).all()
    grouped: dict[uuid.UUID, list[PlanShopRead]] = {p: [] for p in plan_ids}
    for row in rows:
        grouped[row.plan_id].append(PlanShopRead.model_validate(row._mapping))
    return [grouped[p] for p in plan_ids]


# A brand's share of each plan: its shops' totals, summed (explicitly its own; RLS is the safety net).
_SHARES = text("""
SELECT plan_id, count(*) AS shops, sum(forecast_volume) AS forecast_volume, sum(required)::int AS required,
       sum(scheduled)::int AS scheduled, sum(allocated)::int AS allocated, sum(missing)::int AS missing,
       count(*) FILTER (WHERE missing > 0) AS shops_short, min(min_service_level) AS min_service_level
FROM capacity_plan_shops
WHERE tenant_id = :tenant AND plan_id = ANY(CAST(:plans AS uuid[]))
GROUP BY plan_id
""")


async def plan_shares(session: AsyncSession, tenant_id: uuid.UUID, plan_ids: list[uuid.UUID]
                      ) -> dict[uuid.UUID, PlanShare]:
    rows = (await session.execute(_SHARES, {"tenant": tenant_id, "plans": plan_ids})).all()
    return {row.plan_id: PlanShare.model_validate({k: v for k, v in row._mapping.items() if k != "plan_id"})
            for row in rows}


async def plan_exists(session: AsyncSession, plan_id: uuid.UUID) -> None:
    found = (await session.execute(select(CapacityPlan.id).where(CapacityPlan.id == plan_id))).first()
    if found is None:
        raise NotFound("capacity plan not found")


async def line_scope(session: AsyncSession, principal: Principal, plan_id: uuid.UUID,
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


_LINE_KEY = (uuid.UUID, uuid.UUID, datetime)


async def list_lines(session: AsyncSession, principal: Principal, plan_id: uuid.UUID,
                     shop_id: uuid.UUID | None, page: PageRequest) -> Paged[PlanLineRead]:
    """A page of the plan's lines the caller may read, in key order (tenant, shop, interval)."""
    after = page.after(*_LINE_KEY)
    where, params = await line_scope(session, principal, plan_id, shop_id)
    if after is not None:
        # The full key prefix in a row comparison: an index condition on the primary key.
        where += (" AND (l.tenant_id, l.plan_id, l.shop_id, l.interval_start)"
                  " > (:a_tenant, :plan, :a_shop, :a_at)")
        params |= {"a_tenant": after[0], "a_shop": after[1], "a_at": after[2]}
    rows = (await session.execute(text(f"""
        SELECT l.tenant_id, l.shop_id, l.interval_start, l.forecast_volume, p.aht_s, l.required, l.scheduled,
               l.allocated, l.required - l.allocated AS shortfall, l.expected_service_level, l.expected_asa_s
        FROM capacity_plan_lines l
        JOIN capacity_plan_shops p
          ON p.tenant_id = l.tenant_id AND p.plan_id = l.plan_id AND p.shop_id = l.shop_id
        WHERE {where}
        ORDER BY l.tenant_id, l.plan_id, l.shop_id, l.interval_start LIMIT :limit"""),
        params | {"limit": page.limit + 1})).all()
    lines = [PlanLineRead.model_validate(row._mapping) for row in rows]
    return page_of(lines, page, key=lambda x: (x.tenant_id, x.shop_id, x.interval_start))


def csv_query(where: str) -> str:
    """The CSV export's query over line_scope's WHERE (named parameters)."""
    return f"""
        SELECT l.shop_id, s.name AS shop, s.platform,
               to_char(l.interval_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS interval_start,
               round(l.forecast_volume::numeric, 3) AS forecast_volume, round(p.aht_s::numeric, 1) AS aht_s,
               l.required, l.scheduled, l.allocated, l.required - l.allocated AS shortfall,
               round(l.expected_service_level::numeric, 4) AS expected_service_level,
               round(l.expected_asa_s::numeric, 2) AS expected_asa_s
        FROM capacity_plan_lines l
        JOIN capacity_plan_shops p
          ON p.tenant_id = l.tenant_id AND p.plan_id = l.plan_id AND p.shop_id = l.shop_id
        JOIN shops s ON s.tenant_id = l.tenant_id AND s.id = l.shop_id
        WHERE {where}
        ORDER BY l.tenant_id, l.plan_id, l.shop_id, l.interval_start"""


