"""The finance demo: the books of the demo outsourcer around a given today, reproducible from a seed.

- Cost rates: every agent's loaded hourly cost split into wage, social insurance and housing fund (from
  January), a raise for the seniors from the first of last month (a second version), each site's seat cost
  and overhead share, the statutory overtime multipliers. The holiday calendar, the labour rules and the SLA
  policies are the seating and SLA demos' (service.demo): finance reads them as they are.
- Contracts for every brand, of mixed kinds: Lumi Beauty (KA) on seat-hours, a base fee, GMV commission and a
  promotion surcharge, with a 10 % at-risk pool on the 3-minute rate and service level (a service-level
  credit earned back when a month reaches 95 %): its thin PDD shop misses its 3-minute target, so it has
  credits; Northpeak (KA) on
  dedicated seats and conversations with per-shop pools; Mochi Home on conversations and a base fee with its
  PDD shop on a seat-hour contract of its own; Zest Kitchen on seat-hours and commission; Pawsome on
  conversations; and Inkleaf (long-tail) on cheap conversations while six agents work its shops full time: a
  negative margin, so the balance view has a story to tell.
- The seating demo's attendance (service.seating.demo, loaded before the books: overtime on some workdays,
  Saturday work, Hangzhou's run-up to the peak); the two months before today's closed (numbered statements,
  frozen figures), then four and a half hours of last month's attendance arrive late through the seating
  ingest and become an adjustment on this month's open draft.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from service.finance import service
from service.finance.periods import Month
from service.finance.schemas import (
    AgentCostCreate,
    ContractCreate,
    OverheadCreate,
    OvertimeCreate,
    SeatCostCreate,
)
from service.kit.db import SYSTEM_SCOPE, Database
from service.kit.identity import OPERATOR
from service.kit.time import DEFAULT_TZ
from service.seating import demo as attendance

SEED = 1212
D = Decimal
# Per site (by city): seat cost per seat-hour and management overhead share.
SITE_COSTS = {"Hangzhou": (D("7.50"), D("0.08")), "Hefei": (D("5.80"), D("0.07")),
              "Chengdu": (D("2.20"), D("0.05"))}
SL_CREDITS = {"at_risk_share": "0.10", "earn_back_months": 1, "allocations": [
    {"metric": "response_rate_3min", "allocation": "0.5"},
    {"metric": "service_level", "allocation": "0.3", "earn_back_target": 0.95}]}
PER_SHOP_POOL = {"at_risk_share": "0.08", "pool_scope": "shop", "allocations": [
    {"metric": "service_level", "allocation": "0.6"}]}
# slug -> brand-wide terms; (slug, platform) -> a shop's own terms.
CONTRACTS: dict[Any, dict[str, Any]] = {
    "lumi-beauty": {"seat_hour_rate": "84.00", "monthly_base_fee": "30000.00",
                    "gmv_commission_share": "0.008", "peak_surcharge_per_seat_day": "80.00",
                    "credit_policy": SL_CREDITS},
    "northpeak": {"dedicated_seats": 24, "dedicated_seat_monthly_rate": "11800.00",
                  "per_conversation_rate": "0.60", "credit_policy": PER_SHOP_POOL},
    "mochi-home": {"seat_hour_rate": "68.00", "monthly_base_fee": "3000.00"},
    ("mochi-home", "pdd"): {"per_conversation_rate": "2.40"},
    "zest-kitchen": {"seat_hour_rate": "72.00", "gmv_commission_share": "0.010"},
    "pawsome": {"monthly_base_fee": "26000.00", "per_conversation_rate": "0.90"},
    "inkleaf": {"per_conversation_rate": "0.35"},
}
# Agents per brand (the 120 demo agents in code order, the seating demo's attendance): Inkleaf's six work its
# shops full time for cheap conversations, the long-tail brand whose margin is negative.
STAFFING, LOSS_LEADER = attendance.STAFFING, attendance.LOSS_LEADER


async def _rates(db: Database, first: Month) -> None:
    jan = date(first.year, 1, 1)
    raise_day = first.shift(1).first_day
    async with db.system_transaction() as session:
        sites = (await session.execute(text("SELECT id, city FROM sites"))).all()
        agents = (await session.execute(text(
            "SELECT id, loaded_hourly_cost, level FROM agents ORDER BY code"))).all()
        for site_id, city in sites:
            seat, share = SITE_COSTS.get(city, (D("5.00"), D("0.06")))
            await service.add_rate(session, OPERATOR, "seat", SeatCostCreate(
                site_id=site_id, effective_from=jan, seat_hour_cost=seat))
            await service.add_rate(session, OPERATOR, "overhead", OverheadCreate(
                site_id=site_id, effective_from=jan, management_share=share))
        await service.add_rate(session, OPERATOR, "overtime", OvertimeCreate(
            effective_from=jan, workday=D("1.5"), rest_day=D("2"), holiday=D("3")))
        versions = []
        for agent_id, loaded, level in agents:
            for day, cost in ((jan, loaded), (raise_day, (loaded * D("1.06")).quantize(D("0.01")))):
                if day == raise_day and level not in ("senior", "lead"):
                    continue
                wage = (cost * D("0.72")).quantize(D("0.01"))
                social = (cost * D("0.21")).quantize(D("0.01"))
                versions.append(AgentCostCreate(agent_id=agent_id, effective_from=day, wage=wage,
                                                social_insurance=social, housing_fund=cost - wage - social))
        await service.add_rates(session, OPERATOR, "agent", versions)


async def _contracts(db: Database, since: date) -> None:
    async with db.system_transaction() as session:
        shops = (await session.execute(text(
            "SELECT t.id, t.slug, s.id, s.platform, s.name FROM shops s JOIN tenants t ON t.id = s.tenant_id "
            "ORDER BY t.slug, s.name"))).all()
        brands = {slug: tenant for tenant, slug, *_ in shops}
        for key, terms in CONTRACTS.items():
            slug, platform = key if isinstance(key, tuple) else (key, None)
            if slug not in brands:
                continue
            shop = next((s for _, sl, s, p, _ in shops if sl == slug and p == platform), None) \
                if platform else None
            body = {"tenant_id": brands[slug], "shop_id": shop, "effective_from": since,
                    "name": f"{slug}{' ' + platform if platform else ''} {since.year}", **terms}
            await service.create_contract(session, OPERATOR, ContractCreate.model_validate(body))


# --- attendance: the seating demo's ---------------------------------------------------------------------
# The seating domain owns attendance (work_sessions, its ingest and its demo: service.seating.demo, loaded
# before the books); finance reads it. Late attendance arrives the way any export does: through its ingest.


async def late_attendance(db: Database, shop: Any, agent: uuid.UUID, day: date, today: date) -> None:
    """Four and a half hours of AGENT's work on SHOP on DAY (a closed month's), reported after the close."""
    start = datetime.combine(day, time(10), ZoneInfo(DEFAULT_TZ))
    async with db.system_transaction() as session:
        code = (await session.execute(text("SELECT code FROM agents WHERE id = :a"),
                                      {"a": agent})).scalar_one()
    pause = start + timedelta(hours=2)
    await attendance.send(db, [{
        "external_id": f"late-{uuid.uuid4().hex[:8]}", "agent_code": code, "shop_id": str(shop.id),
        "login": start.isoformat(), "logout": (start + timedelta(minutes=270)).isoformat(),
        "breaks": [[pause.isoformat(), (pause + timedelta(minutes=30)).isoformat()]]}], today)


async def _idle_agent(db: Database, day: date) -> uuid.UUID:
    """An agent employed on DAY with no attendance on it (the last by code)."""
    lo = datetime.combine(day, time(), ZoneInfo(DEFAULT_TZ))
    async with db.system_transaction() as session:
        found: uuid.UUID = (await session.execute(text(
            "SELECT a.id FROM agents a WHERE a.hired_on <= :d AND (a.left_on IS NULL OR a.left_on >= :d) "
            "AND NOT EXISTS (SELECT 1 FROM work_sessions w WHERE w.agent_id = a.id "
            "AND w.during && tstzrange(:lo, :hi)) ORDER BY a.code DESC LIMIT 1"),
            {"d": day, "lo": lo, "hi": lo + timedelta(days=1)})).scalar_one()
    return found


async def load_finance_demo(db: Database, today: date, seed: int = SEED) -> dict[str, Any]:
    """The books around TODAY: the two months before its month closed, its month open with a late
    adjustment. Returns what it did (months closed, statement numbers, the late adjustment's month)."""
    await load_finance_setup(db, today)
    return await load_finance_books(db, today)


async def load_finance_setup(db: Database, today: date) -> None:
    """What the books are made of that needs only the agents, sites and shops: the cost rates and the
    contracts (the demo loads them beside the other domains' parts)."""
    first = Month.of(today).shift(-2)
    await _rates(db, first)
    await _contracts(db, first.first_day)


async def load_finance_books(db: Database, today: date) -> dict[str, Any]:
    """The books over load_finance_setup's rates and contracts, the attendance and the SLA breaches (and the
    published roster where there is no attendance): the two months before TODAY's closed, its month open with
    a late adjustment. Returns what it did (months closed, statement numbers, the late adjustment's month)."""
    this = Month.of(today)
    first = this.shift(-2)
    async with db.system_transaction() as session:
        shops = (await session.execute(text(
            "SELECT s.tenant_id, s.id, t.slug, t.tier FROM shops s JOIN tenants t ON t.id = s.tenant_id "
            "ORDER BY t.slug, s.name"))).all()
    numbers = []
    for month in (first, first.shift(1)):
        async with db.system_transaction() as session:
            closed = await service.close_month(session, db.sessions(SYSTEM_SCOPE), OPERATOR, str(month),
                                                 today)
            numbers += closed.numbers
    # Last month's attendance of one more agent arrives after its close: an adjustment on this month's draft.
    lumi = next(s for s in shops if s.slug == "lumi-beauty")
    late_day = this.shift(-1).last_day - timedelta(days=2)
    await late_attendance(db, lumi, await _idle_agent(db, late_day), late_day, today)
    async with db.system_transaction() as session:
        computed = await service.compute_month(session, db.sessions(SYSTEM_SCOPE), OPERATOR, str(this))
    return {"closed": [str(first), str(first.shift(1))], "numbers": numbers, "open": str(this),
            "adjustments": computed.adjustments}
