"""Capacity use cases: staffing what-ifs, promotions, capacity plans (forecast, staffing, allocation).

The maths lives in the pure modules (erlang.py, allocation.py, forecast.py, planning.py); the reads and
writes in queries.py. A plan, step by step:
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
   read, and the three reads run in parallel, each in its own transaction of the caller's scope.
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
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Date, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.capacity import forecast as fc
from service.capacity.models import CapacityPlan, CapacityPlanShop, PlanStatus, Promotion
from service.capacity.planning import (
    DEFAULT_CONCURRENCY,
    DEFAULT_SERVICE_LEVEL,
    GivenUplift,
    History,
    compute,
    shop_targets,
    summarize,
)
from service.capacity.queries import (
    csv_query,
    intervals_of_plans,
    line_scope,
    list_lines,
    plan_exists,
    plan_shares,
    plan_shops,
    promotion_mask,
    read_volumes,
    shops_of_plans,
    store_numbers,
)
from service.capacity.schemas import (
    PlanCreate,
    PlanDetail,
    PlanIntervalRead,
    PlanRead,
    PromotionCreate,
    SeatsPerSite,
    SeatsSeries,
    SeatsTotal,
)
from service.kit import observe
from service.kit.crud import flush, list_page, one_or_404
from service.kit.db import ScopedSessions
from service.kit.errors import Invalid
from service.kit.export import copy_csv
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest
from service.kit.time import INTERVAL, INTERVAL_S, local_days, local_today
from service.kit.timing import StageClock
from service.sla.service import policies_in_force
from service.workforce.models import Site

WEEK = timedelta(days=7)
# Shops x intervals per plan: bounds the server's memory (a few hundred bytes per cell at the peak).
MAX_PLAN_CELLS = 1_500_000

Progress = Callable[[str], Any]
log = logging.getLogger("seatwise.capacity")


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
                          year: int | None = None, upcoming: bool | None = None) -> Paged[Promotion]:
    """The promotions calendar (operator-level: every role reads it). UPCOMING: only the editions not over
    yet by their own local today (or, False, only those over)."""
    stmt = select(Promotion)
    if name:
        stmt = stmt.where(Promotion.name == name)
    if year:
        stmt = stmt.where(Promotion.year == year)
    if upcoming is not None:
        local_today_sql = func.timezone(Promotion.timezone, func.now()).cast(Date)
        stmt = stmt.where((Promotion.end_date >= local_today_sql) == upcoming)
    return await list_page(session, stmt, Promotion.id, page)


async def find_promotion(session: AsyncSession, key: str, year: int | None = None,
                         before: date | None = None, now: datetime | None = None) -> Promotion | None:
    """By id, or by name: the given year's edition; else (BEFORE given) the one starting last and ending
    before BEFORE; else the next upcoming edition (the first not over by its local today, NOW), or the
    latest when none is."""
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
    editions = list((await session.execute(stmt.order_by(Promotion.start_date))).scalars())
    if year is None and before is None:
        upcoming = [p for p in editions if p.end_date >= local_today(p.timezone, now)]
        if upcoming:
            return upcoming[0]
    return editions[-1] if editions else None


def promotion_window(p: Promotion) -> tuple[datetime, datetime]:
    """[first local midnight, the midnight after the last day) in UTC."""
    return local_days(p.start_date, p.end_date, p.timezone)


# --- creating a plan ----------------------------------------------------------------------------------


async def _window(session: AsyncSession, data: PlanCreate, now: datetime | None = None
                  ) -> tuple[datetime, datetime, Promotion | None]:
    if data.promotion is None:
        assert data.start is not None and data.end is not None  # the schema guarantees it
        return data.start.astimezone(UTC), data.end.astimezone(UTC), None
    promotion = await find_promotion(session, data.promotion, data.year, now=now)
    if promotion is None:
        raise Invalid("promotion", f"no promotion named {data.promotion!r}"
                      + (f" in {data.year}" if data.year else ""))
    start, end = promotion_window(promotion)
    return start, end, promotion


async def _seats(session: AsyncSession, spec: int | SeatsTotal | SeatsPerSite | SeatsSeries,
                 n: int) -> np.ndarray:
    if isinstance(spec, SeatsTotal):
        return np.full(n, spec.total, np.int64)
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


@observe.timing("plan")
async def create_plan(session: AsyncSession, sessions: ScopedSessions, principal: Principal, data: PlanCreate,
                      progress: Progress | None = None, now: datetime | None = None) -> CapacityPlan:
    """Forecast, staff, allocate and store a plan in the caller's transaction. The history is read on
    further transactions of the caller's scope (SESSIONS), in parallel. NOW (default: the clock) bounds the
    history of a plan in the future."""
    step = progress or StageClock(log, "plan stage").lap
    start, end, promotion = await _window(session, data, now)
    n = int((end - start) / INTERVAL)
    shops = await plan_shops(session, promotion.platform if promotion else None)
    if not shops:
        raise Invalid("promotion" if promotion else "body", "no active shops to plan for")
    if n * len(shops) > MAX_PLAN_CELLS:
        raise Invalid("body", f"{len(shops)} shops x {n} intervals is more than {MAX_PLAN_CELLS:,} cells; "
                      "plan a shorter window")
    seats = await _seats(session, data.seats, n)
    step("shops")

    # The last N weeks of history before the plan starts, or before today for a plan in the future.
    weeks = data.history_weeks
    span = weeks * fc.SLOTS_PER_WEEK
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
    windows = [(history_start, span, fc.same_slots(start, n, history_start, span))]
    if previous is not None:
        p_start, p_end = promotion_window(previous)
        p_n = int((p_end - p_start) / INTERVAL)
        windows += [(p_start, p_n, None),
                    (p_start - weeks * WEEK, span, fc.same_slots(p_start, p_n, p_start - weeks * WEEK, span))]

    async def read(w_start: datetime, w_n: int, covered: np.ndarray | None) -> fc.Volumes:
        async with sessions() as own:
            return await read_volumes(own, shops, w_start, w_n, covered)

    async def small_reads() -> tuple[list[np.ndarray], list[Any]]:
        masks = [await promotion_mask(session, shops, w_start, w_n) for w_start, w_n, _ in windows]
        # The policy in force on the plan's first local day (the promotion's timezone, or the offset of
        # `from`).
        first_day = start.astimezone(ZoneInfo(promotion.timezone)).date() if promotion else data.start.date()
        return masks, await policies_in_force(session, [s.ref for s in shops], first_day)

    # The rollup reads are the heavy part: on their own connections they run in parallel, beside the small
    # reads on the plan's own transaction.
    *volumes, (masks, terms) = await asyncio.gather(*(read(*w) for w in windows), small_reads())
    history = History(volumes[0], masks[0]) if previous is None else \
        History(volumes[0], masks[0], volumes[1], volumes[2], masks[2], previous.id)
    step("history")

    targets = shop_targets(data, shops, terms, fc.mean_aht(volumes[0].handle_sum_s, volumes[0].handled))
    given = GivenUplift(promotion.uplift, promotion.start_date, promotion.timezone) \
        if promotion is not None and promotion.uplift else None
    numbers = await asyncio.to_thread(compute, data, shops, start, n, seats, history, targets, weeks, given)
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


def _jsonable_seats(spec: int | SeatsTotal | SeatsPerSite | SeatsSeries) -> object:
    return spec if isinstance(spec, int) else spec.model_dump(mode="json")


def _params_json(data: PlanCreate) -> dict[str, Any]:
    return data.model_dump(mode="json", include={"shrinkage", "max_occupancy", "concurrency", "patience_s",
                                                 "history_weeks", "params"}) | {
        "interval_s": INTERVAL_S, "default_concurrency": DEFAULT_CONCURRENCY,
        "default_aht_s": fc.DEFAULT_AHT_S, "default_service_level": DEFAULT_SERVICE_LEVEL}


# --- reading plans ------------------------------------------------------------------------------------


async def list_plans(session: AsyncSession, principal: Principal, page: PageRequest,
                     promotion: uuid.UUID | None = None) -> Paged[PlanRead]:
    """Plans by creation. Staff: every plan, whole. A client: the plans that include its shops, each with
    its share and without the outsourcer's totals."""
    stmt = select(CapacityPlan)
    if promotion is not None:
        stmt = stmt.where(CapacityPlan.promotion_id == promotion)
    if principal.is_staff:
        found = await list_page(session, stmt, CapacityPlan.id, page)
        return Paged([PlanRead.model_validate(p) for p in found.items], found.next_cursor)
    tenant = principal.tenant_id
    assert tenant is not None  # a client's token always names its brand
    stmt = stmt.where(exists().where(CapacityPlanShop.tenant_id == tenant,
                                     CapacityPlanShop.plan_id == CapacityPlan.id))
    found = await list_page(session, stmt, CapacityPlan.id, page)
    shares = await plan_shares(session, tenant, [p.id for p in found.items])
    hidden = dict.fromkeys(("summary", "seats", "params", "created_by"))
    return Paged([PlanRead.model_validate(p).model_copy(update={**hidden, "share": shares[p.id]})
                  for p in found.items], found.next_cursor)


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> CapacityPlan:
    return await one_or_404(session, select(CapacityPlan).where(CapacityPlan.id == plan_id), "capacity plan")


async def plan_detail(session: AsyncSession, plan_id: uuid.UUID) -> PlanDetail:
    """A plan's header with its seats per interval and its shops (KA first)."""
    plan = PlanRead.model_validate(await get_plan(session, plan_id))
    intervals = (await intervals_of_plans(session, [plan_id]))[0]
    shops = (await shops_of_plans(session, [plan_id]))[0]
    return PlanDetail(**plan.__dict__, intervals=[PlanIntervalRead.model_validate(i) for i in intervals],
                      shops=shops)


# --- plan lines: a client sees its own shops' lines only -----------------------------------------------

CSV_COLUMNS = ("shop_id", "shop", "platform", "interval_start", "forecast_volume", "aht_s", "required",
               "scheduled", "allocated", "shortfall", "expected_service_level", "expected_asa_s")


async def check_lines_visible(session: AsyncSession, principal: Principal, plan_id: uuid.UUID,
                              shop_id: uuid.UUID | None) -> None:
    """Raise 404 before a CSV export starts streaming (its status cannot change afterwards)."""
    await line_scope(session, principal, plan_id, shop_id)


async def lines_csv(sessions: ScopedSessions, principal: Principal, plan_id: uuid.UUID,
                    shop_id: uuid.UUID | None) -> AsyncIterator[bytes]:
    """The lines as CSV, streamed from PostgreSQL's COPY TO in chunks: the export never sits in memory."""

    async def query(session: AsyncSession) -> tuple[str, dict[str, Any]]:
        where, params = await line_scope(session, principal, plan_id, shop_id)
        return csv_query(where), params

    async for chunk in copy_csv(sessions, query):
        yield chunk


__all__ = ["CSV_COLUMNS", "MAX_PLAN_CELLS", "check_lines_visible", "create_plan",
           "create_promotion", "find_promotion", "get_plan", "lines_csv", "list_lines", "list_plans",
           "list_promotions", "intervals_of_plans", "plan_detail", "plan_exists", "promotion_window",
           "shops_of_plans"]
