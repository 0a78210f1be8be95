"""Demo data that looks like a real outsourcer, generated reproducibly from a seed and the day it is loaded.

Six client brands (two KA), seventeen shops over tmall, taobao, jd, pdd and douyin, each with an SLA policy
of its platform's usual targets (KA stricter), three sites and 120 agents of every level with loaded hourly
costs in CNY, and 24 seasonal temps at Hangzhou for the story peak's last days (its spike); 90 days of
conversations ending yesterday (shop-local) with the year's peaks in them (service.conversations.demo);
the peaks as promotions, and the next one after today ready to plan, with two plans for it. Four shops are
staffed thin: their SLAs breach, while the KA brands' other shops mostly meet theirs; each has home floors
(THIN_HOMES) whose agents serve it first. Later domains add their own demo data here.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.conversations import demo as history
from service.finance.demo import load_finance_books, load_finance_setup
from service.kit import collector, demoload
from service.kit.db import SYSTEM_SCOPE, Database
from service.kit.identity import OPERATOR
from service.kit.time import DEFAULT_TZ, local_day_start, local_today
from service.scorecard.demo import load_scorecard_setup, refresh_demo_facts
from service.seating.demo import load_attendance_demo
from service.shops.schemas import ShopCreate
from service.shops.service import create_shop
from service.sla.schemas import SlaPolicyCreate
from service.sla.service import create_policy
from service.workforce.models import AgentLevel, EmploymentType
from service.workforce.schemas import AgentCreate, SiteCreate
from service.workforce.service import create_agents, create_site
from tenants.models import Tenant, Tier
from tenants.schemas import TenantCreate
from tenants.service import create_tenant

SEED = 20261111

BRANDS = [
    # slug, name, tier, priority weight, [(platform, shop name, category)]
    ("lumi-beauty", "Lumi Beauty 璐米美妆", Tier.KA, 3.0, [
        ("tmall", "璐米美妆官方旗舰店", "beauty"), ("jd", "璐米美妆京东自营旗舰店", "beauty"),
        ("douyin", "璐米美妆抖音官方旗舰店", "beauty"), ("pdd", "璐米美妆拼多多旗舰店", "beauty")]),
    ("northpeak", "Northpeak Outdoor 北峰户外", Tier.KA, 2.5, [
        ("tmall", "北峰户外旗舰店", "outdoor"), ("jd", "北峰户外京东旗舰店", "outdoor"),
        ("taobao", "北峰户外工厂店", "outdoor"), ("douyin", "北峰户外抖音旗舰店", "outdoor")]),
    ("mochi-home", "Mochi Home 麻糬家居", Tier.standard, 1.5, [
        ("tmall", "麻糬家居旗舰店", "home"), ("pdd", "麻糬家居品牌店", "home"),
        ("jd", "麻糬家居京东店", "home")]),
    ("zest-kitchen", "Zest Kitchen 热厨电器", Tier.standard, 1.2, [
        ("jd", "热厨电器京东旗舰店", "appliances"), ("tmall", "热厨电器天猫旗舰店", "appliances")]),
    ("pawsome", "Pawsome Pets 爪爪宠物", Tier.longtail, 1.0, [
        ("taobao", "爪爪宠物小铺", "pets"), ("douyin", "爪爪宠物抖音小店", "pets")]),
    ("inkleaf", "Inkleaf Stationery 墨叶文具", Tier.longtail, 0.8, [
        ("taobao", "墨叶文具店", "stationery"), ("pdd", "墨叶文具拼多多店", "stationery")]),
]

SITES = [("杭州西溪职场", "Hangzhou", 420), ("合肥高新职场", "Hefei", 300), ("成都远程坐席", "Chengdu", 160)]

# level, share of headcount, loaded hourly cost range in CNY (wage + social insurance + housing fund)
LEVELS = [
    (AgentLevel.trainee, 0.15, (30, 36)), (AgentLevel.agent, 0.45, (38, 47)),
    (AgentLevel.senior, 0.22, (48, 60)), (AgentLevel.lead, 0.10, (60, 72)),
    (AgentLevel.supervisor, 0.06, (75, 90)), (AgentLevel.manager, 0.02, (95, 120)),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["静", "敏", "婷", "雪", "丽", "磊", "洋", "勇", "芳", "娜", "欣怡", "梓涵", "子轩", "浩然", "佳琪",
         "雨桐", "思远", "晓峰"]
SKILLS = ["presale", "aftersale", "beauty", "outdoor", "home", "appliances", "pets", "live-commerce",
          "english"]


# Shops staffed thin in the demo: their SLAs breach, most of all at the peaks.
THIN_SHOPS = {"璐米美妆拼多多旗舰店", "麻糬家居品牌店", "爪爪宠物抖音小店", "热厨电器京东旗舰店"}
# The thin shops' home floors (cities), spread deliberately: those floors' agents serve them first, at the
# peak too, so no floor's client index sits at the edge of the target: the KA one is the KA floor's (it
# serves it at the peak anyway), Hefei has one of its own, the biggest is every floor's and the smallest
# Hangzhou's and Chengdu's.
THIN_HOMES = {"璐米美妆拼多多旗舰店": ("Hangzhou",), "热厨电器京东旗舰店": ("Hangzhou", "Hefei", "Chengdu"),
              "麻糬家居品牌店": ("Hefei",), "爪爪宠物抖音小店": ("Hangzhou", "Chengdu")}
# A calm shop answered in time whose buyers are often unhappy: the scorecard's SERVICE RISK.
LOW_CSAT_SHOPS = {"墨叶文具店"}

# Each platform's usual SLA terms (GLOSSARY.md): Tmall/Taobao judge the 3-minute response rate and the first
# response time, JD the 30-second answer rate, Douyin and Pinduoduo the 3-minute rate; satisfaction
# everywhere. Per target: (KA, other tiers); KA brands pay for stricter ones.
PLATFORM_TERMS: dict[str, dict[str, tuple[float, float]]] = {
    "tmall": {"response_rate_3min_target": (0.95, 0.90), "frt_mean_target_s": (15, 20),
              "csat_target": (0.8, 0.8)},
    "taobao": {"response_rate_3min_target": (0.95, 0.90), "frt_mean_target_s": (15, 20),
               "csat_target": (0.8, 0.8)},
    "jd": {"service_level_target": (0.85, 0.80), "csat_target": (0.8, 0.8)},
    "douyin": {"response_rate_3min_target": (0.90, 0.85), "frt_mean_target_s": (20, 25),
               "csat_target": (0.8, 0.8)},
    "pdd": {"response_rate_3min_target": (0.90, 0.85), "csat_target": (0.8, 0.8)},
}
# The next peak's uplift when no past peak's history can teach one: run-up days, then a 3.5x last day.
GIVEN_RUN_UP, GIVEN_SPIKE = 1.4, 3.5


@dataclass
class DemoSummary:
    tenants: int
    shops: int
    sites: int
    agents: int
    conversations: int = 0
    history: tuple[date, date] | None = None
    story_peak: str | None = None
    next_peak: str | None = None
    books: dict[str, Any] | None = None  # the finance demo's: months closed, statement numbers, the open one
    scorecard: dict[str, Any] | None = None  # the scorecard demo's: teams, months, QA, coaching


async def is_empty(session: AsyncSession) -> bool:
    return (await session.execute(select(func.count()).select_from(Tenant))).scalar_one() == 0


def demo_today(now: datetime | None = None) -> date:
    """The day the demo is loaded on, in the demo shops' local time: its history ends the day before."""
    return local_today(DEFAULT_TZ, now)


async def load_demo(db: Database, seed: int = SEED, today: date | None = None,
                    scale: float = 1.0) -> DemoSummary | None:
    """Load the demo into an empty database; None (and nothing written) when it already has tenants. The
    same SEED and TODAY (default: the local date now) give the same data; SCALE multiplies the volume of
    conversations (tests load a lighter one). The brands, shops, policies, sites and agents are one
    transaction; then each domain's part loads in transactions of its own, side by side where none needs
    another's (PARTS). The first transaction records that the load started, the last step that it completed
    (service.kit.demoload): a database left by an interrupted load raises InterruptedDemo here."""
    # No cyclic collection while it loads: its ORM rows, statements and results are freed by reference
    # counting, and the collector's passes over them were a quarter of the load's own Python CPU (0.94-1.04 s
    # with them, 0.70-0.77 s without).
    with collector.paused():
        return await _load_demo(db, seed, today or demo_today(), scale)


async def _load_demo(db: Database, seed: int, today: date, scale: float) -> DemoSummary | None:
    rng = random.Random(seed)
    async with db.system_transaction() as session:
        await demoload.check_not_interrupted(session)
        if not await is_empty(session):
            return None
        await demoload.started(session, seed, today)
        shops = []
        first, _ = history.history(today)
        for slug, name, tier, weight, shop_specs in BRANDS:
            tenant = await create_tenant(session, TenantCreate(slug=slug, name=name, tier=tier,
                                                               priority_weight=weight))
            for platform, shop_name, category in shop_specs:
                shop = await create_shop(session, ShopCreate(tenant_id=tenant.id, platform=platform,
                                                             name=shop_name, category=category))
                # In force from the first of the history's first month: every month shown is judged.
                terms = policy_for(platform, tier, first.replace(day=1))
                await create_policy(session, OPERATOR, shop.id, terms)
                shops.append((shop, tier))
        sites = [await create_site(session, SiteCreate(name=n, city=c, seat_capacity=cap))
                 for n, c, cap in SITES]
        agents = _agents(rng, sites, today)
        agents += _temps(random.Random(seed + 1), sites[0], history.story_peak(today))
        await create_agents(session, agents)
    done = await load_parts(PARTS, Demo(db=db, today=today, seed=seed, scale=scale, shops=shops))
    async with db.system_transaction() as session:
        await demoload.completed(session)
    story, upcoming = done["capacity"]
    return DemoSummary(tenants=len(BRANDS), shops=len(shops), sites=len(sites), agents=len(agents),
                       conversations=done["conversations"], history=history.history(today),
                       story_peak=story.name,
                       next_peak=f"{upcoming.name} {upcoming.start:%Y-%m-%d}..{upcoming.end:%m-%d}",
                       books=done["books"], scorecard=done["scorecard"])


@dataclass
class Demo:
    """What every part of the demo load is given: the database, the day, the seed, the volume, the shops
    made by the first transaction ((shop, tier) pairs), and the results of the parts done (by name)."""

    db: Database
    today: date
    seed: int
    scale: float
    shops: list
    done: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    """One part of the demo load: LOAD(demo) in transactions of its own, once every part named in AFTER is
    done (its result is then in demo.done[NAME])."""

    name: str
    load: Callable[[Demo], Awaitable[Any]]
    after: tuple[str, ...] = ()


async def load_parts(parts: Sequence[Part], demo: Demo) -> dict[str, Any]:
    """Run PARTS, each as soon as the parts it comes after are done, the others side by side (PostgreSQL
    works on one, Python on another); the first failure cancels the rest and is raised."""
    names = {part.name for part in parts}
    missing = {name for part in parts for name in part.after} - names
    if missing:
        raise ValueError(f"demo parts come after unknown parts: {sorted(missing)}")
    events = {part.name: asyncio.Event() for part in parts}

    async def run(part: Part) -> None:
        for name in part.after:
            await events[name].wait()
        demo.done[part.name] = await part.load(demo)
        events[part.name].set()

    tasks = [asyncio.ensure_future(run(part)) for part in parts]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return demo.done


# The history goes in as this many batches of whole shops, side by side (one per core).
CONVERSATION_BATCHES = 2


async def _conversations(demo: Demo) -> int:
    async def batch(data: bytes) -> int:
        async with demo.db.system_transaction() as session:
            return await ingest_copy(session, data)

    copies = demo_copies(demo.shops, demo.seed, demo.today, demo.scale, CONVERSATION_BATCHES)
    # The history's monthly partitions first, committed: a batch making one would hold the others back to
    # its commit.
    first, last = history.history(demo.today)
    async with demo.db.system_transaction() as session:
        await session.execute(text("SELECT seatwise_ensure_conversation_partitions(:lo, :hi)"), {
            "lo": local_day_start(first, DEFAULT_TZ) - timedelta(days=1),
            "hi": local_day_start(last + timedelta(days=1), DEFAULT_TZ) + timedelta(days=1)})
    return sum(await asyncio.gather(*(batch(data) for data in copies)))


async def _promotions(demo: Demo) -> None:
    await load_promotions_demo(demo.db, demo.today)


async def _capacity(demo: Demo) -> tuple[history.Peak, history.Peak]:
    return await load_plans_demo(demo.db, demo.today)


async def _seating_setup(demo: Demo) -> None:
    await load_seating_setup(demo.db)


async def _roster(demo: Demo) -> Any:
    _, upcoming = demo.done["capacity"]
    return await load_roster_demo(demo.db, upcoming.name)


async def _attendance(demo: Demo) -> Any:
    # The story's peak (its run-up burns Hangzhou) is known from the day alone; the floor is staffed for the
    # conversations' handle time (their rollups).
    story = history.story_peak(demo.today)
    return await load_attendance_demo(demo.db, demo.today, (story.start, story.end), demo.seed,
                                      LOW_CSAT_SHOPS, THIN_HOMES)


async def _finance_setup(demo: Demo) -> None:
    await load_finance_setup(demo.db, demo.today)


async def _books(demo: Demo) -> dict[str, Any]:
    return await load_finance_books(demo.db, demo.today)


async def _scorecard_setup(demo: Demo) -> dict[str, Any]:
    story = history.story_peak(demo.today)
    first, _ = history.history(demo.today)
    return await load_scorecard_setup(demo.db, demo.today, first, (story.name, story.start, story.end))


async def _scorecard_sla(demo: Demo) -> None:
    await refresh_demo_facts(demo.db, demo.done["scorecard setup"]["months"], sla_only=True)


async def _scorecard(demo: Demo) -> dict[str, Any]:
    summary: dict[str, Any] = demo.done["scorecard setup"]
    await refresh_demo_facts(demo.db, summary["months"])
    return summary


# The demo's parts after its first transaction, and what each needs first: the history (conversations and
# their rollups), the seating rules and skills, the finance rates and contracts and the promotions side by
# side; the scorecard's teams, surveys, ratings and reviews once the story's peak is a promotion (while the
# history loads: it needs none of it); the attendance after the seating rules; the plans from the history;
# the roster from a plan and the seating rules; the books from all of it (SLA credits from the breaches,
# worked hours from attendance else the published roster); the scorecard's SLA facts from the history
# beside the attendance, its attendance facts last (the books' late sessions in them). A new domain's demo
# adds its Part here, after what it reads.
PARTS: tuple[Part, ...] = (
    Part("conversations", _conversations),
    Part("seating", _seating_setup),
    Part("finance", _finance_setup),
    Part("promotions", _promotions),
    Part("scorecard setup", _scorecard_setup, after=("promotions",)),
    Part("attendance", _attendance, after=("seating", "conversations")),
    Part("capacity", _capacity, after=("conversations", "promotions")),
    Part("roster", _roster, after=("capacity", "seating")),
    Part("books", _books, after=("roster", "finance", "conversations", "attendance")),
    Part("scorecard sla", _scorecard_sla, after=("scorecard setup", "conversations")),
    Part("scorecard", _scorecard, after=("scorecard setup", "scorecard sla", "books", "capacity",
                                         "attendance", "conversations")),
)


def policy_for(platform: str, tier: str, effective_from: date) -> SlaPolicyCreate:
    """A demo shop's policy: its platform's usual targets, KA's stricter ones for KA brands."""
    k = 0 if tier == Tier.KA else 1
    return SlaPolicyCreate(effective_from=effective_from, answer_target_s=30,
                           **{name: pair[k] for name, pair in PLATFORM_TERMS[platform].items()})


async def load_demo_conversations(session: AsyncSession, shops: list, seed: int = SEED,
                                  today: date | None = None, scale: float = 1.0) -> int:
    """90 days of conversations for SHOPS ((shop, tier) pairs) in the session's transaction: one binary COPY
    of the generated columns into the ingest's staging table, then the ingest's own matching, storing and
    rollups (so rollups and day histograms are real)."""
    (data,) = demo_copies(shops, seed, today or demo_today(), scale, 1)
    return await ingest_copy(session, data)


def demo_copies(shops: list, seed: int, today: date, scale: float, batches: int) -> list[bytes]:
    """The conversations of SHOPS as BATCHES binary COPY streams of whole shops (in shop order, of about
    the same size), numbered on from one to the next: the same records as one stream, in parts that ingest
    side by side (the ingest locks per shop)."""
    specs = [history.DemoShop(id=str(shop.id), platform=shop.platform, tier=tier, category=shop.category,
                              timezone=shop.timezone, thin=shop.name in THIN_SHOPS,
                              grumpy=shop.name in LOW_CSAT_SHOPS) for shop, tier in shops]
    ids = {str(shop.id): (shop.tenant_id.bytes, shop.id.bytes) for shop, _ in shops}
    parts = [(*ids[spec.id], columns) for spec, columns in history.generate(specs, seed, today, scale=scale)]
    total = sum(len(c) for *_, c in parts)
    groups: list[list] = [[] for _ in range(batches)]
    seen = 0
    for part in parts:
        groups[min(batches - 1, seen * batches // max(total, 1))].append(part)
        seen += len(part[2])
    copies, number = [], 1
    for group in groups:
        if group:
            copies.append(history.copy_records(group, number))
            number += sum(len(c) for *_, c in group)
    return copies


async def ingest_copy(session: AsyncSession, data: bytes) -> int:
    """One demo_copies stream through the ingest, in the session's transaction; the conversations stored."""
    from service.conversations.service import ingest_staged

    async def stage(raw) -> None:
        await raw.execute(history.RAW_TABLE)
        await raw.copy_to_table("demo_raw", source=io.BytesIO(data), format="binary")
        await raw.execute(history.RAW_SELECT)

    return (await ingest_staged(session, stage)).inserted


async def load_capacity_demo(db: Database, today: date | None = None) -> tuple[history.Peak, history.Peak]:
    """The peaks of the demo's history as promotions (the story's peak among them: its spike is in the
    conversations) and the next peak after TODAY, ready to plan: its uplift is learned from the story's
    peak (aligned on the last day), with a given curve as the fallback when there is no history. When
    rollups exist, two plans for the next peak: every site's seats (880), and 65% of the peak requirement
    (KA-first shows). Returns (the story's peak, the next one). Two transactions: load_promotions_demo,
    then load_plans_demo (the demo's parts run them apart, the promotions before the history is in)."""
    today = today or demo_today()
    await load_promotions_demo(db, today)
    return await load_plans_demo(db, today)


async def load_promotions_demo(db: Database, today: date) -> None:
    """The promotions of load_capacity_demo, in a transaction of their own (they need no history)."""
    from service.capacity.schemas import PromotionCreate
    from service.capacity.service import create_promotion

    first, last = history.history(today)
    story, upcoming = history.story_peak(today), history.next_peak(today)
    async with db.system_transaction() as session:
        for peak in history.peaks_touching(first, last):
            if peak.start <= last:
                await create_promotion(session, PromotionCreate(name=peak.name, start_date=peak.start,
                                                                end_date=peak.end))
        curve = [GIVEN_RUN_UP] * (upcoming.days - 1) + [GIVEN_SPIKE]
        await create_promotion(session, PromotionCreate(name=upcoming.name, start_date=upcoming.start,
                                                        end_date=upcoming.end, uplift=curve,
                                                        uplift_from=story.name))


async def load_plans_demo(db: Database, today: date) -> tuple[history.Peak, history.Peak]:
    """The plans of load_capacity_demo for the next peak (its promotions loaded), when rollups exist; returns
    (the story's peak, the next one)."""
    from service.capacity.schemas import PlanCreate
    from service.capacity.service import create_plan

    story, upcoming = history.story_peak(today), history.next_peak(today)
    async with db.system_transaction() as session:
        if (await session.execute(text("SELECT EXISTS (SELECT 1 FROM shop_interval_stats)"))).scalar_one():
            now = local_day_start(today, DEFAULT_TZ)  # the plans' history ends before the day of the demo
            sites = {name: None for name, _, _ in SITES}
            full = await create_plan(session, db.sessions(SYSTEM_SCOPE), OPERATOR,
                                     PlanCreate(name=f"{upcoming.name}, every site", promotion=upcoming.name,
                                                year=upcoming.start.year, seats={"per_site": sites}),
                                     now=now)
            # The demo brands need far fewer than 880 seats: a floor of 65% of the peak makes KA-first show.
            seats = max(1, int(full.summary["peak_required"] * 0.65))
            await create_plan(session, db.sessions(SYSTEM_SCOPE), OPERATOR,
                              PlanCreate(name=f"{upcoming.name}, {seats} seats", promotion=upcoming.name,
                                         year=upcoming.start.year, seats=seats), now=now)
    return story, upcoming


PLATFORMS = ("tmall", "jd", "taobao", "pdd", "douyin")


async def load_seating_demo(db: Database, promotion: str, plan_id=None):
    """Seating on top of the capacity demo: its setup (load_seating_setup) and a published roster for a plan
    of PROMOTION (load_roster_demo). Returns the roster's id (None without a plan)."""
    await load_seating_setup(db)
    return await load_roster_demo(db, promotion, plan_id)


async def load_seating_setup(db: Database) -> None:
    """Seating's setup, which needs only the agents and shops: the official 2026 holiday calendar; three
    labour rule sets (comprehensive hours by the month for full-timers, contractors, supervisors and managers:
    the approved hours system of a floor open seven days a week, whose weekend shifts are workdays of a
    rota; part-time for part-timers and interns; the standard rules kept for agents set to them); agents'
    platforms, queues and the KA brands' certificates (seniors and up first); KA shops on tmall and jd
    require their brand's certificate, standard brands' tmall shops presale."""
    from service.kit.crud import apply_changes, flush
    from service.seating.rules import CHINA_COMPREHENSIVE_MONTH, CHINA_PART_TIME, CHINA_STANDARD
    from service.seating.schemas import RequirementsSet, RuleSetChoice
    from service.seating.service import (
        ensure_rule_set,
        load_official_calendar,
        set_agent_rules,
        set_employment_type_rules,
        set_requirements,
    )
    from service.shops.models import Shop
    from service.workforce.models import Agent
    from service.workforce.schemas import AgentUpdate

    async with db.system_transaction() as session:
        await load_official_calendar(session)
        await ensure_rule_set(session, "standard", CHINA_STANDARD)  # kept for agents set to it
        part_time = await ensure_rule_set(session, "part-time", CHINA_PART_TIME)
        comprehensive = await ensure_rule_set(session, "comprehensive (month)", CHINA_COMPREHENSIVE_MONTH)
        for kind, rules in ((EmploymentType.full_time, comprehensive),
                            (EmploymentType.contractor, comprehensive),
                            (EmploymentType.part_time, part_time), (EmploymentType.intern, part_time)):
            await set_employment_type_rules(session, kind, RuleSetChoice(rule_set_id=rules.id))
        ka = [(t.id, t.slug) for t in (await session.execute(
            select(Tenant).where(Tenant.tier == Tier.KA).order_by(Tenant.slug))).scalars()]
        agents = (await session.execute(select(Agent).order_by(Agent.code))).scalars().all()
        seniors = [a for a in agents if a.level not in (AgentLevel.trainee, AgentLevel.agent)]
        chosen = seniors[:2 * len(seniors) // 3]
        certified = {a.id: f"cert:{ka[i % len(ka)][1]}" for i, a in enumerate(chosen)}
        for i, a in enumerate(agents):  # every agent's new skills in one flush (each update audited)
            skills = {*a.skills, PLATFORMS[i % 5], PLATFORMS[(i + 2) % 5], "presale", "aftersale"}
            if a.id in certified:
                skills |= {certified[a.id], "tmall", "jd"}
            apply_changes(a, AgentUpdate(skills=sorted(skills)))
        await flush(session, "agent")
        for a in agents:
            if a.level in (AgentLevel.supervisor, AgentLevel.manager):
                await set_agent_rules(session, a.id, RuleSetChoice(rule_set_id=comprehensive.id))
        shops = (await session.execute(select(Shop, Tenant).join(Tenant, Tenant.id == Shop.tenant_id))).all()
        for shop, tenant in shops:
            if tenant.tier == Tier.KA and shop.platform in ("tmall", "jd"):
                await set_requirements(session, OPERATOR, shop.id,
                                       RequirementsSet(skills=[f"cert:{tenant.slug}"]))
            elif tenant.tier == Tier.standard and shop.platform == "tmall":
                await set_requirements(session, OPERATOR, shop.id, RequirementsSet(skills=["presale"]))


async def load_roster_demo(db: Database, promotion: str, plan_id=None):
    """A published roster for a plan of PROMOTION (PLAN_ID, default its latest plan), built by the fast path
    over the seating setup. Returns the roster's id (None without a plan)."""
    from service.seating.schemas import RosterCreate
    from service.seating.service import create_roster, publish_roster

    async with db.system_transaction() as session:
        if plan_id is None:
            plan_id = (await session.execute(text(
                "SELECT c.id FROM capacity_plans c JOIN promotions p ON p.id = c.promotion_id "
                "WHERE p.name = :name ORDER BY c.created_at DESC LIMIT 1"), {"name": promotion})).scalar()
        if plan_id is None:
            return None
        roster = await create_roster(session, OPERATOR, plan_id, RosterCreate(name=f"{promotion} roster"))
        await publish_roster(session, OPERATOR, roster.id)
    return roster.id


def _one_chat(rng: random.Random, level: AgentLevel) -> int:
    """One chat at a time, after the draw of an earlier concurrency (kept where it was: the figures drawn
    after it stay the same)."""
    if level != AgentLevel.trainee:
        rng.choice([4, 5, 5, 6])
    return 1


# Seasonal temps: Hangzhou hires them for the story peak's last days (its spike), so the spike's handle time
# has agents logged in for it (service.seating.demo: the KA shops', after the floor's own agents).
TEMPS, TEMP_DAYS = 24, 3


def _temps(rng: random.Random, site: Any, peak: history.Peak) -> list[AgentCreate]:
    low, high = next(r for lvl, _, r in LEVELS if lvl == AgentLevel.agent)
    return [AgentCreate(
        site_id=site.id, code=f"T{i + 1:04d}", name=rng.choice(SURNAMES) + rng.choice(GIVEN),
        level=AgentLevel.agent, skills=["presale", "aftersale"],
        loaded_hourly_cost=Decimal(rng.randint(low * 100, high * 100)) / 100, max_concurrency=1,
        employment_type=EmploymentType.contractor, hired_on=peak.end - timedelta(days=TEMP_DAYS - 1),
        left_on=peak.end) for i in range(TEMPS)]


def _agents(rng: random.Random, sites, today: date, count: int = 120) -> list[AgentCreate]:
    agents = []
    levels = [lvl for lvl, share, _ in LEVELS for _ in range(round(share * count))]
    levels = (levels + [AgentLevel.agent] * count)[:count]
    costs = {lvl: rng_range for lvl, _, rng_range in LEVELS}
    for i, level in enumerate(levels):
        site = sites[0] if i % 5 < 2 else sites[1] if i % 5 < 4 else sites[2]
        low, high = costs[level]
        hired = today - timedelta(days=rng.randint(50, 6 * 365))
        left = hired + timedelta(days=rng.randint(30, 400)) if rng.random() < 0.06 else None
        if left and left >= today:
            left = None
        agents.append(AgentCreate(
            site_id=site.id, code=f"A{i + 1:04d}",
            name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            level=level, skills=sorted(rng.sample(SKILLS, rng.randint(1, 3))),
            loaded_hourly_cost=Decimal(rng.randint(low * 100, high * 100)) / 100,
            # One chat at a time: the conversations' handle time is the agent's time on them, so occupancy
            # reads as a contact centre's (the attendance is staffed for it: service.seating.demo).
            max_concurrency=_one_chat(rng, level),
            employment_type=EmploymentType.intern if level == AgentLevel.trainee and rng.random() < 0.3
            else EmploymentType.part_time if rng.random() < 0.1 else EmploymentType.full_time,
            hired_on=hired, left_on=left,
        ))
    return agents
