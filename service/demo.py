"""Demo data that looks like a real outsourcer, generated reproducibly from a seed.

Six client brands (two KA), seventeen shops over tmall, taobao, jd, pdd and douyin, three sites and
120 agents of every level with loaded hourly costs in CNY. Later domains add their own demo data here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import Database, Scope
from service.shops.schemas import ShopCreate
from service.shops.service import create_shop
from service.workforce.models import AgentLevel, EmploymentType
from service.workforce.schemas import AgentCreate, SiteCreate
from service.workforce.service import create_agent, create_site
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
        ("tmall", "麻糬家居旗舰店", "home"), ("pdd", "麻糬家居品牌店", "home"), ("jd", "麻糬家居京东店", "home")]),
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
    (AgentLevel.trainee, 0.15, (30, 36)), (AgentLevel.agent, 0.45, (38, 47)), (AgentLevel.senior, 0.22, (48, 60)),
    (AgentLevel.lead, 0.10, (60, 72)), (AgentLevel.supervisor, 0.06, (75, 90)), (AgentLevel.manager, 0.02, (95, 120)),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["静", "敏", "婷", "雪", "丽", "磊", "洋", "勇", "芳", "娜", "欣怡", "梓涵", "子轩", "浩然", "佳琪", "雨桐", "思远", "晓峰"]
SKILLS = ["presale", "aftersale", "beauty", "outdoor", "home", "appliances", "pets", "live-commerce", "english"]


@dataclass
class DemoSummary:
    tenants: int
    shops: int
    sites: int
    agents: int


async def is_empty(session: AsyncSession) -> bool:
    return (await session.execute(select(func.count()).select_from(Tenant))).scalar_one() == 0


async def load_demo(db: Database, seed: int = SEED) -> DemoSummary | None:
    """Load the demo into an empty database; None (and nothing written) when it already has tenants."""
    rng = random.Random(seed)
    async with db.transaction(Scope.system()) as session:
        if not await is_empty(session):
            return None
        shops = 0
        for slug, name, tier, weight, shop_specs in BRANDS:
            tenant = await create_tenant(session, TenantCreate(slug=slug, name=name, tier=tier, priority_weight=weight))
            for platform, shop_name, category in shop_specs:
                await create_shop(session, ShopCreate(tenant_id=tenant.id, platform=platform, name=shop_name,
                                                      category=category))
                shops += 1
        sites = [await create_site(session, SiteCreate(name=n, city=c, seat_capacity=cap)) for n, c, cap in SITES]
        agents = _agents(rng, sites)
        for agent in agents:
            await create_agent(session, agent)
    return DemoSummary(tenants=len(BRANDS), shops=shops, sites=len(sites), agents=len(agents))


def _agents(rng: random.Random, sites, count: int = 120) -> list[AgentCreate]:
    agents = []
    levels = [lvl for lvl, share, _ in LEVELS for _ in range(round(share * count))]
    levels = (levels + [AgentLevel.agent] * count)[:count]
    costs = {lvl: rng_range for lvl, _, rng_range in LEVELS}
    for i, level in enumerate(levels):
        site = sites[0] if i % 5 < 2 else sites[1] if i % 5 < 4 else sites[2]
        low, high = costs[level]
        hired = date(2026, 11, 1) - timedelta(days=rng.randint(20, 6 * 365))
        left = hired + timedelta(days=rng.randint(30, 400)) if rng.random() < 0.06 else None
        if left and left > date(2026, 11, 20):
            left = None
        agents.append(AgentCreate(
            site_id=site.id, code=f"A{i + 1:04d}",
            name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            level=level, skills=sorted(rng.sample(SKILLS, rng.randint(1, 3))),
            loaded_hourly_cost=Decimal(rng.randint(low * 100, high * 100)) / 100,
            max_concurrency=3 if level == AgentLevel.trainee else rng.choice([4, 5, 5, 6]),
            employment_type=EmploymentType.intern if level == AgentLevel.trainee and rng.random() < 0.3
            else EmploymentType.part_time if rng.random() < 0.1 else EmploymentType.full_time,
            hired_on=hired, left_on=left,
        ))
    return agents
