"""Shared test factories and checks: what several test modules build or assert, in one place (test modules
import from here, never from one another)."""

from __future__ import annotations

import math
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import insert, text
from typer.testing import CliRunner

from service.capacity.schemas import PlanCreate
from service.capacity.service import create_plan
from service.conversations.day_rollup import rebuild_day_frt
from service.conversations.models import ShopIntervalStat
from service.conversations.records import ConversationRecord
from service.conversations.rollups import COUNTERS
from service.kit.db import SYSTEM_SCOPE, Database
from service.kit.identity import OPERATOR
from tests.conftest import auth
from tests.sla.reference import rollup_of


def assert_problem(response, status: int, field: str | None = None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"].startswith("https://")
    if field:
        assert field in {e["field"] for e in body["errors"]}, body
    return body


async def gql(client, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
    body = {"query": query, "variables": variables or {}}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def graphql_probes(world) -> dict[str, tuple[str, dict]]:
    b_shop = str(world.shops_b[0].id)
    plan = str(getattr(world, "plan_id", "00000000-0000-0000-0000-000000000000"))
    return {
        "me": ("{ me { subject role tenantId tenant { id slug } } }", {}),
        "tenants": ("{ tenants { items { id slug } } }", {}),
        "tenant": ("query($s: String!) { tenant(slug: $s) { id slug } }", {"s": world.tenant_b.slug}),
        "shops": ("query($t: String) { shops(tenant: $t) { items { id name tenant { slug } } } }",
                  {"t": world.tenant_b.slug}),
        "shop": ("query($id: UUID!) { shop(id: $id) { id name tenant { slug } sla { total { offered } } "
                 "breaches { shopId } slaPolicy { shopId } } }", {"id": b_shop}),
        "sites": ("{ sites { items { id } } }", {}),
        "agents": ("{ agents { items { id site { id } } } }", {}),
        "createTenant": ("mutation { createTenant(input: {slug: \"evil\", name: \"e\", tier: KA}) { id } }",
                         {}),
        "updateTenant": ("mutation($s: String!) { updateTenant(slug: $s, input: {name: \"x\"}) { id } }",
                         {"s": world.tenant_b.slug}),
        "createShop": ("mutation($t: UUID!) { createShop(input: {tenantId: $t, platform: jd, name: \"s\"}) "
                       "{ id } }", {"t": str(world.tenant_b.id)}),
        "updateShop": ("mutation($id: UUID!) { updateShop(id: $id, input: {name: \"hijacked\"}) { id } }",
                       {"id": b_shop}),
        "createSite": ("mutation { createSite(input: {name: \"s\", city: \"c\", seatCapacity: 1}) { id } }",
                       {}),
        "updateSite": ("mutation($id: UUID!) { updateSite(id: $id, input: {seatCapacity: 1}) { id } }",
                       {"id": str(world.site.id)}),
        "createAgent": ("mutation($s: UUID!) { createAgent(input: {siteId: $s, code: \"Z\", name: \"z\", "
                        "loadedHourlyCost: \"1\", hiredOn: \"2026-01-01\"}) { id } }",
                        {"s": str(world.site.id)}),
        "updateAgent": ("mutation($id: UUID!) { updateAgent(id: $id, input: {name: \"z\"}) { id } }",
                        {"id": str(world.agent.id)}),
        "breaches": ("query($t: String, $s: UUID) { a: breaches(tenant: $t) { items { shopId } nextCursor } "
                     "b: breaches(shop: $s) { items { shopId } } }", {"t": world.tenant_b.slug, "s": b_shop}),
        "slaPolicies": ("query($s: UUID!) { slaPolicies(shopId: $s) { items { shopId effectiveFrom } } }",
                        {"s": b_shop}),
        "slaSummary": ("query($t: String!) { slaSummary(tenant: $t) { tenantId shops { shopId name } } }",
                       {"t": world.tenant_b.slug}),
        "createSlaPolicy": ("mutation($s: UUID!) { createSlaPolicy(shopId: $s, "
                            "input: {effectiveFrom: \"2026-01-01\", csatTarget: 0.9}) { id shopId } }",
                            {"s": b_shop}),
        "updateSlaPolicy": ("mutation($s: UUID!) { updateSlaPolicy(shopId: $s, "
                            "effectiveFrom: \"2026-01-01\", input: {csatTarget: 0.1}) { id shopId } }",
                            {"s": b_shop}),
        "staffing": ("{ staffing(input: {model: erlang_c, intervalS: 900, ahtS: 180, "
                     "targetServiceLevel: 0.8, targetAnswerS: 20, intervals: [{volume: 10}]}) "
                     "{ intervals { agents } } }", {}),
        "promotions": ("{ promotions { items { id name } } }", {}),
        "capacityPlans": ("{ capacityPlans { items { id name share { shops required } } } }", {}),
        "brandSla": ("query($t: String!) { brandSla(tenant: $t, from: \"2026-11-01\", to: \"2026-12-01\") "
                     "{ tenantId shops { shopId name total { offered } } } }", {"t": world.tenant_b.slug}),
        "conversations": ("query($s: UUID) { conversations(shop: $s, externalId: \"x\") "
                          "{ items { shopId externalId } nextCursor } }", {"s": b_shop}),
        "capacityPlan": ("query($id: UUID!) { capacityPlan(id: $id) { id shops { shopId shopName tenantId } "
                         "intervals { shortfall } } }", {"id": plan}),
        "capacityPlanLines": ("query($p: UUID!) { capacityPlanLines(planId: $p, first: 500) "
                              "{ items { tenantId shopId } nextCursor } }", {"p": plan}),
        "createPromotion": ("mutation { createPromotion(input: {name: \"evil\", startDate: \"2026-12-12\", "
                            "endDate: \"2026-12-11\"}) { id } }", {}),
        "createCapacityPlan": ("mutation { createCapacityPlan(input: {name: \"evil\", "
                               "promotion: \"no such\", seats: {total: 1}}) { id } }", {}),
        "tokens": ("{ tokens { items { jti subject } } }", {}),
        "auditLog": ("query($t: String) { a: auditLog(tenant: $t) { items { tenantId before after } } "
                     "b: auditLog { items { tenantId objectId before after } } }",
                     {"t": world.tenant_b.slug}),
        "revokeToken": ("mutation($j: String!) { revokeToken(jti: $j) { jti status } }",
                        {"j": getattr(world, "jti", "none")}),
        "apiKeys": ("{ apiKeys { items { id name tenantId } } }", {}),
        "createApiKey": ("mutation($t: String) { createApiKey(input: {name: \"probe\", tenant: $t}) "
                         "{ id tenantId } }", {"t": world.tenant_b.slug}),
        "revokeApiKey": ("mutation($id: UUID!) { revokeApiKey(id: $id) { id tenantId } }",
                         {"id": str(getattr(world, "key_b", uuid.UUID(int=0)))}),
        "ingestConversations": ("mutation($s: UUID!) { ingestConversations(records: [{externalId: \"x\", "
                                "shopId: $s, startedAt: \"2026-11-20T10:00:00+08:00\", kind: \"presale\"}]) "
                                "{ inserted rejected { field reason } } }", {"s": b_shop}),
        **seating_probes(world, b_shop, plan),
    }


def seating_probes(world, b_shop: str, plan: str) -> dict[str, tuple[str, dict]]:
    zero = "00000000-0000-0000-0000-000000000000"
    roster, shift = str(getattr(world, "roster_id", zero)), str(getattr(world, "shift_id", zero))
    rule_set, agent = str(getattr(world, "rule_set_id", zero)), str(world.agent.id)
    assignment = str(getattr(world, "assignment_id", zero))
    span = 'from: "2026-12-20T09:00:00+08:00", to: "2026-12-20T13:00:00+08:00"'
    return {
        "labourRuleSets": ("{ labourRuleSets { items { id name } } }", {}),
        "labourRuleSet": ("query($id: UUID!) { labourRuleSet(id: $id) { id name } }", {"id": rule_set}),
        "employmentTypeRules": ("{ employmentTypeRules { employmentType ruleSetId } }", {}),
        "agentRules": ("query($a: UUID!) { agentRules(agentId: $a) { source ruleSet { name } } }",
                       {"a": agent}),
        "holidayCalendar": ("{ holidayCalendar(year: 2026) { year days { day kind } } }", {}),
        "agentAvailability": ("query($a: UUID!) { agentAvailability(agentId: $a) { items { id kind } } }",
                              {"a": agent}),
        "shopRequirements": ("query($s: UUID!) { shopRequirements(shopId: $s) { shopId tenantId skills } }",
                             {"s": b_shop}),
        "rosters": ("{ rosters { items { id summary { total { covered } } } } }", {}),
        "roster": ("query($id: UUID!) { roster(id: $id) { id summary { shopsCoverage { shopId shopName } "
                   "uncovered { shopId } } } }", {"id": roster}),
        "rosterCoverage": ("query($r: UUID!) { rosterCoverage(rosterId: $r, first: 500) { items { tenantId "
                           "shopId intervalStart rostered } nextCursor } }", {"r": roster}),
        "shifts": ("{ shifts { items { id agentCode assignments { shopId tenantId } } } }", {}),
        "rebalance": ("{ rebalance(input: {}) { shopsAtRisk moves { agentId toShopId } } }", {}),
        "createLabourRuleSet": ("mutation { createLabourRuleSet(input: {name: \"evil\", shiftMin: 600, "
                                "shiftMax: 240}) { id } }", {}),
        "updateLabourRuleSet": ("mutation($id: UUID!) { updateLabourRuleSet(id: $id, input: {shiftMax: 1}) "
                                "{ id } }", {"id": rule_set}),
        "setEmploymentTypeRuleSet": ("mutation($r: UUID) { setEmploymentTypeRuleSet(employmentType: intern, "
                                     "input: {ruleSetId: $r}) { employmentType } }", {"r": zero}),
        "setAgentRuleSet": ("mutation($a: UUID!, $r: UUID) { setAgentRuleSet(agentId: $a, "
                            "input: {ruleSetId: $r}) { source } }", {"a": agent, "r": zero}),
        "setHolidayCalendar": ("mutation { setHolidayCalendar(year: 2031, input: {days: [{day: "
                               "\"2031-01-06\", kind: \"make_up_workday\"}]}) { year } }", {}),
        "addAvailability": ("mutation($a: UUID!) { addAvailability(agentId: $a, input: {kind: \"nope\", "
                            f"{span}}}) {{ id }} }}", {"a": agent}),
        "removeAvailability": ("mutation($id: UUID!) { removeAvailability(id: $id) }", {"id": zero}),
        "setShopRequirements": ("mutation($s: UUID!) { setShopRequirements(shopId: $s, input: {skills: "
                                "[\"presale\"]}) { skills } }", {"s": b_shop}),
        "createRoster": ("mutation($p: UUID!, $r: UUID) { createRoster(planId: $p, input: {replaces: $r}) "
                         "{ id } }", {"p": plan, "r": zero}),
        "publishRoster": ("mutation($id: UUID!) { publishRoster(id: $id) { id } }", {"id": zero}),
        "createShift": ("mutation($a: UUID!) { createShift(input: {agentId: $a, "
                        "from: \"2026-12-20T09:00:00+08:00\", to: \"2026-12-20T09:30:00+08:00\"}) { id } }",
                        {"a": agent}),
        "updateShift": ("mutation($id: UUID!) { updateShift(id: $id, input: "
                        "{from: \"2026-12-20T09:07:00+08:00\"}) { id } }", {"id": shift}),
        "deleteShift": ("mutation($id: UUID!) { deleteShift(id: $id) }", {"id": zero}),
        "createAssignment": ("mutation($id: UUID!, $s: UUID!) { createAssignment(shiftId: $id, "
                             f"input: {{shopId: $s, {span}}}) {{ id }} }}", {"id": zero, "s": b_shop}),
        "updateAssignment": ("mutation($id: UUID!) { updateAssignment(id: $id, input: {to: "
                             "\"2026-12-20T09:07:00+08:00\"}) { id } }", {"id": assignment}),
        "deleteAssignment": ("mutation($id: UUID!) { deleteAssignment(id: $id) }", {"id": zero}),
        "applyMoves": ("mutation($a: UUID!, $s: UUID!) { applyMoves(input: {moves: [{agentId: $a, "
                       "fromShopId: null, toShopId: $s}]}) { intervalStart } }", {"a": agent, "s": b_shop}),
    }


async def plan_for_world(db: Database) -> uuid.UUID:
    """A small plan over whatever shops exist (the world's brands): lines for A's and B's shops."""
    async with db.system_transaction() as session:
        plan = await create_plan(session, db.sessions(SYSTEM_SCOPE), OPERATOR, PlanCreate.model_validate({
            "name": "world", "from": "2026-12-12T00:00:00+08:00",
            "to": "2026-12-12T02:00:00+08:00", "seats": 4}))
    return plan.id


async def make_shop(db: Database, tz: str = "Asia/Shanghai", platform: str = "tmall", tenant=None):
    """A shop (and a new brand unless TENANT is given) in timezone TZ."""
    from service.shops.schemas import ShopCreate
    from service.shops.service import create_shop
    from tenants.schemas import TenantCreate
    from tenants.service import create_tenant

    tag = uuid.uuid4().hex[:8]
    async with db.system_transaction() as session:
        if tenant is None:
            tenant = await create_tenant(session, TenantCreate(slug=f"sla-{tag}", name=f"SLA {tag}",
                                                               tier="KA"))
        shop = await create_shop(session, ShopCreate(tenant_id=tenant.id, platform=platform,
                                                     name=f"shop {tag}", timezone=tz))
    return tenant, shop


def random_frt(rng: np.random.Generator) -> float:
    kind = rng.integers(6)
    if kind == 0:
        return 0.0
    if kind == 1:
        return float(rng.integers(1, 700))  # whole seconds, as many platforms report
    if kind == 2:
        return float(rng.choice([30, 180, 599, 600, 601, 612]))
    if kind == 3:
        return float(rng.exponential(40))
    return float(np.exp(rng.uniform(0, math.log(200_000))))


def random_records(rng: np.random.Generator, shop_id: uuid.UUID, n: int, start: datetime, end: datetime,
                   answered_share: float = 0.85) -> list[ConversationRecord]:
    span_s = (end - start).total_seconds()
    out = []
    for i in range(n):
        started = start + timedelta(seconds=float(rng.uniform(0, span_s)))
        answered = rng.random() < answered_share
        first = started + timedelta(seconds=round(random_frt(rng), 3)) if answered else None
        times = ([random_frt(rng) for _ in range(rng.integers(1, 4))]
                 if answered and rng.random() < 0.4 else None)
        ended = ((first or started) + timedelta(seconds=float(rng.exponential(300)))
                 if rng.random() < 0.8 else None)
        kind = "presale" if rng.random() < 0.6 else "aftersale"
        converted = bool(rng.random() < (0.3 if kind == "presale" else 0.05))
        amount = Decimal(int(rng.integers(0, 100_000))) / 100 if converted and rng.random() < 0.9 else None
        out.append(ConversationRecord(
            external_id=f"r{i}", shop_id=shop_id, started_at=started, kind=kind, first_response_at=first,
            ended_at=ended, response_times_s=times, converted=converted, order_amount=amount,
            csat=int(rng.integers(1, 6)) if rng.random() < 0.4 else None))
    return out


async def insert_rollups(db: Database, tenant_id: uuid.UUID, records: list[ConversationRecord]) -> int:
    """Rollups of RECORDS written directly, and their shops' day histograms rebuilt from them."""
    rollups = rollup_of(records)
    rows = [dict(tenant_id=tenant_id, shop_id=shop_id, interval_start=start, frt_bins=list(r.frt_bins),
                 frt_counts=list(r.frt_counts), **{c: getattr(r, c) for c in COUNTERS})
            for (shop_id, start), r in rollups.items()]
    async with db.system_transaction() as session:
        for i in range(0, len(rows), 2000):
            await session.execute(insert(ShopIntervalStat), rows[i:i + 2000])
        await rebuild_day_frt(session, [shop_id for shop_id, _ in rollups])
    return len(rows)


def within_tolerance(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= max(1.0, 0.02 * exact) + 1e-9 * max(1.0, exact)


def assert_bucket_matches(got: dict, ref, where: str = "") -> None:
    """A report bucket (JSON) against reference_metrics."""
    for name in ("offered", "answered"):
        assert got[name] == getattr(ref, name), (where, name)
    for name in ("abandon_rate", "service_level", "response_rate_3min", "csat", "dsat", "conversion_rate",
                 "frt_mean_s", "avg_response_s", "handle_mean_s"):
        g, r = got[name], getattr(ref, name)
        assert (g is None) == (r is None), (where, name, g, r)
        if r is not None:
            assert g == pytest.approx(r, rel=1e-9, abs=1e-9), (where, name)
    for name in ("frt_p50_s", "frt_p90_s"):
        g, r = got[name], getattr(ref, name)
        assert (g is None) == (r is None), (where, name)
        if r is not None:
            assert within_tolerance(g, r), (where, name, g, r)
    assert Decimal(got["gmv"]) == ref.gmv, where
    assert (got["aov"] is None and ref.aov is None) or Decimal(got["aov"]) == ref.aov, where


async def add_policy(client, shop_id, **body) -> dict:
    r = await client.post(f"/v1/shops/{shop_id}/sla-policies", json=body, headers=auth("ops"))
    assert r.status_code == 201, r.text
    return r.json()


def cli_env(database, data_dir, **extra: str) -> dict[str, str]:
    """The environment of a `seatwise` command run against the test DATABASE."""
    return {"SEATWISE_JWT_SECRET": "k" * 40, "SEATWISE_DATA_DIR": str(data_dir),
            "DATABASE_URL": database.owner_url, "SEATWISE_APP_DATABASE_URL": database.app_url, **extra}


def run_cli(args, env):
    from service.cli import app
    from service.settings import get_settings

    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, args, env=env)
    finally:
        get_settings.cache_clear()


_SCOPE = text("SELECT set_config('app.staff', :s, true), set_config('app.tenant_id', :t, true)")


async def rls_execute(engine, sql: str, staff: str, tenant: str, **params):
    """Raw SQL in one transaction of ENGINE's role, scoped the way the app scopes a caller: STAFF 'on' (or
    ''), TENANT a tenant id (or ''). The result is buffered."""
    async with engine.begin() as conn:
        await conn.execute(_SCOPE, {"s": staff, "t": tenant})
        return await conn.execute(text(sql), params)


async def rls_count(engine, sql: str, staff: str, tenant: str, **params) -> int:
    return (await rls_execute(engine, sql, staff, tenant, **params)).scalar_one()


ROSTER_WINDOW = ("2026-12-12T08:00:00+08:00", "2026-12-12T22:00:00+08:00")


async def roster_plan(db: Database, world, agents: int = 8) -> uuid.UUID:
    """A plan over the world's shops for 2026-12-12 08:00-22:00 (Shanghai) whose allocated agents are set
    directly (no history needed): A's tmall shop (KA) 2 agents 09:00-21:00, B's tmall shop 1 agent 10:00-18:00
    and B's douyin shop 1 agent 12:00-20:00; and AGENTS agents at the world's site who can serve them."""
    from datetime import date

    from service.workforce.schemas import AgentCreate
    from service.workforce.service import create_agent

    async with db.system_transaction() as session:
        plan = await create_plan(session, db.sessions(SYSTEM_SCOPE), OPERATOR, PlanCreate.model_validate({
            "name": "roster world", "from": ROSTER_WINDOW[0], "to": ROSTER_WINDOW[1], "seats": 20}))
        await session.execute(text("UPDATE capacity_plan_lines SET required = 0, allocated = 0 "
                                   "WHERE plan_id = :p"), {"p": plan.id})
        for shop, count, lo, hi in ((world.shops_a[0], 2, "09:00", "21:00"),
                                    (world.shops_b[0], 1, "10:00", "18:00"),
                                    (world.shops_b[1], 1, "12:00", "20:00")):
            await session.execute(text("""
                UPDATE capacity_plan_lines SET required = :n + 1, allocated = :n
                WHERE plan_id = :p AND shop_id = :s AND interval_start >= :lo AND interval_start < :hi"""),
                {"p": plan.id, "s": shop.id, "n": count,
                 "lo": datetime.fromisoformat(f"2026-12-12T{lo}:00+08:00"),
                 "hi": datetime.fromisoformat(f"2026-12-12T{hi}:00+08:00")})
        tag = uuid.uuid4().hex[:5]
        world.roster_agents = []
        for i in range(agents):
            skills = ["tmall", "presale"] + (["douyin"] if i % 2 else ["jd"])
            world.roster_agents.append(await create_agent(session, AgentCreate(
                site_id=world.site.id, code=f"R{tag}{i}", name=f"排班{i}",
                level="senior" if i < 3 else "agent",
                skills=skills, loaded_hourly_cost=Decimal("40.00") + i, hired_on=date(2025, 1, 6))))
    return plan.id


async def seating_world(db: Database, world) -> None:
    """A roster of the world's plan, a manual shift with an assignment and a rule set, for the routes and
    fields that take their ids (world.roster_id, shift_id, assignment_id, rule_set_id)."""
    from service.seating.schemas import RosterCreate, RuleSetCreate, ShiftCreate
    from service.seating.service import create_roster, create_rule_set, create_shift
    from service.workforce.schemas import AgentUpdate
    from service.workforce.service import update_agent

    plan = getattr(world, "plan_id", None) or await plan_for_world(db)
    world.plan_id = plan
    async with db.system_transaction() as session:
        await update_agent(session, world.agent.id, AgentUpdate(skills=["tmall", "jd"]))
        world.roster_id = (await create_roster(session, OPERATOR, plan, RosterCreate())).id
        rules = RuleSetCreate(name=f"rules {uuid.uuid4().hex[:6]}")
        world.rule_set_id = (await create_rule_set(session, rules)).id
        shift = await create_shift(session, OPERATOR, ShiftCreate.model_validate({
            "agent_id": str(world.agent.id), "from": "2026-12-21T09:00:00+08:00",
            "to": "2026-12-21T13:00:00+08:00",
            "assignments": [{"shop_id": str(world.shops_a[0].id), "from": "2026-12-21T09:00:00+08:00",
                             "to": "2026-12-21T13:00:00+08:00"}]}))
    world.shift_id, world.assignment_id = shift.id, shift.assignments[0].id


async def owner_count(database, sql: str) -> int:
    """A count read as the owner (catalogs, partitions): no RLS scope involved."""
    from service.kit.db import make_engine

    engine = make_engine(database.owner_url, 1)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


async def issued_jti(db: Database, role: str = "ops") -> str:
    """The id of a token recorded by the built-in issuer (what admins list and revoke)."""
    from datetime import timedelta as _td

    from service.kit.identity import Role
    from tenants.service import issue_token
    from tests.conftest import JWT_SECRET

    async with db.system_transaction() as session:
        _, record = await issue_token(session, JWT_SECRET, subject=f"issued-{role}", role=Role(role),
                                      tenant_id=None, ttl=_td(hours=1), issued_by="tests")
    return record.jti


async def client_key(db: Database, tenant) -> uuid.UUID:
    """An API key of TENANT's brand (a client key)."""
    from service.kit.identity import Principal, Role
    from tenants.schemas import ApiKeyCreate
    from tenants.service import create_api_key

    admin = Principal(subject="tests", role=Role.admin, tenant_id=None, jti="")
    async with db.system_transaction() as session:
        created = await create_api_key(session, admin, ApiKeyCreate(name="probe", tenant=str(tenant.id)))
    return created.id


@contextmanager
def serving(database, data_dir, args: tuple[str, ...] = (), **env: str):
    """`seatwise serve` on a free loopback port against DATABASE, ready (/readyz answered): its URL, then
    the process (stopped afterwards, if it has not stopped itself)."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.bench.server import free_port
    from tests.conftest import JWT_SECRET

    port = free_port()
    environment = os.environ | {"DATABASE_URL": database.owner_url, "SEATWISE_APP_DATABASE_URL":
                                database.app_url, "SEATWISE_JWT_SECRET": JWT_SECRET,
                                "SEATWISE_DATA_DIR": str(data_dir), "SEATWISE_RATE_LIMIT": "", **env}
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # generous: a loaded 2-core CI machine spawns slowly
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the server did not become ready"
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
