"""The finance demo on the demo's brands, shops and agents (without the 90 days of conversations: a few
rollups stand in for them): contracts for every brand, two closed months and the current one open, a late
adjustment, a KA brand with SLA credits and a long-tail brand with a negative margin."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal

import numpy as np

from service.demo import BRANDS, SITES, _agents
from service.finance.demo import LOSS_LEADER, load_finance_demo
from service.finance.service import margin_report, report_filter
from service.shops.schemas import ShopCreate
from service.shops.service import create_shop
from service.workforce.schemas import SiteCreate
from service.workforce.service import create_agent, create_site
from tenants.schemas import TenantCreate
from tenants.service import create_tenant
from tests.factories import insert_rollups, random_records

TODAY = date(2026, 12, 1)


async def test_the_finance_demo_tells_its_story(db):
    rng = random.Random(1)
    async with db.system_transaction() as session:
        shops = {}
        for slug, name, tier, weight, specs in BRANDS:
            tenant = await create_tenant(session, TenantCreate(slug=slug, name=name, tier=tier,
                                                               priority_weight=weight))
            for platform, shop_name, category in specs:
                shops[shop_name] = await create_shop(session, ShopCreate(
                    tenant_id=tenant.id, platform=platform, name=shop_name, category=category))
        sites = [await create_site(session, SiteCreate(name=n, city=c, seat_capacity=cap))
                 for n, c, cap in SITES]
        for agent in _agents(rng, sites):
            await create_agent(session, agent)
    thin = shops["璐米美妆拼多多旗舰店"]  # Lumi's thin PDD shop: slow answers, a breached service level
    start, end = (datetime.fromisoformat(f"2026-{m}-01T00:00+08:00") for m in (10, 12))
    records = random_records(np.random.default_rng(3), thin.id, 400, start, end, answered_share=0.6)
    await insert_rollups(db, thin.tenant_id, records)
    done = await load_finance_demo(db, TODAY)
    assert done["closed"] == ["2026-10", "2026-11"] and done["open"] == "2026-12"
    assert len(done["numbers"]) == 2 * len(BRANDS) and done["adjustments"] >= 1
    async with db.system_transaction() as session:
        report = await margin_report(session, report_filter("2026-10", "2026-11", "brand"))
    by_brand = {(r.name, r.month): r for r in report.rows}
    assert {name for name, _ in by_brand} == {slug for slug, *_ in BRANDS}  # every brand has a contract
    for month in ("2026-10", "2026-11"):
        assert by_brand[(LOSS_LEADER, month)].margin < 0
        assert by_brand[("lumi-beauty", month)].credits < 0  # the KA brand's SLA credits
        for priced_by_the_hour in ("lumi-beauty", "zest-kitchen", "northpeak"):
            assert by_brand[(priced_by_the_hour, month)].margin > 0
    assert sum(r.margin for r in report.rows) == report.total.margin != Decimal(0)
