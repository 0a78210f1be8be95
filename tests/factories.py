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
        **finance_probes(world),
        **seating_probes(world, b_shop, plan),
        **scorecard_probes(world, b_shop),
    }


def scorecard_probes(world, b_shop: str) -> dict[str, tuple[str, dict]]:
    """The scorecard root fields, asking for brand B's client side (or staff-only scopes, pulses and QA).
    Mutations get input the use cases refuse (422) or ids that do not exist (404)."""
    nothing = "00000000-0000-0000-0000-000000000000"
    b_slug = world.tenant_b.slug
    return {
        "scorecards": ("{ scorecards(month: \"2026-11\") { items { scope scopeId name clientIndex "
                       "employeeIndex } } }", {}),
        "scorecardTrend": ("query($s: String!) { scorecardTrend(scope: \"shop\", scopeId: $s) { name "
                           "clientIndex } }", {"s": b_shop}),
        "brandScorecard": ("query($t: String!) { brandScorecard(tenant: $t, month: \"2026-11\") { slug brand "
                           "{ clientIndex } shops { name scopeId } } }", {"t": b_slug}),
        "shopScorecardTrend": ("query($s: UUID!) { shopScorecardTrend(shopId: $s) { name clientIndex } }",
                               {"s": b_shop}),
        "clientRatings": ("query($t: String) { clientRatings(tenant: $t) { items { tenantId shopId comment } "
                          "} }",
                          {"t": b_slug}),
        "pulseReport": ("{ pulseReport(survey: \"no such\") { survey } }", {}),
        "teams": ("{ teams { items { id name members } } }", {}),
        "qaTemplates": ("{ qaTemplates { items { id key } } }", {}),
        "qaReviews": ("{ qaReviews { items { id shopId agentId score } } }", {}),
        "calibration": ("query($id: UUID!) { calibration(id: $id) { name } }", {"id": nothing}),
        "calibrations": ("{ calibrations { items { name alignments { reviewer } } } }", {}),
        "coaching": ("query($id: UUID!) { coaching(id: $id) { privateNotes } }", {"id": nothing}),
        "coachingSessions": ("{ coachingSessions { items { agentId privateNotes } } }", {}),
        "scorecardDefinitions": ("{ scorecardDefinitions { items { version } } }", {}),
        "rateMonth": ("mutation($s: UUID) { rateMonth(input: {score: 9, shopId: $s}) { id } }",
                      {"s": b_shop}),
        "updateClientRating": ("mutation($id: UUID!) { updateClientRating(id: $id, input: {score: 1}) "
                               "{ id } }", {"id": nothing}),
        "importPulses": ("mutation { importPulses(input: {survey: \"p\", month: \"2026-13\", answers: []}) "
                         "{ inserted } }", {}),
        "createTeam": ("mutation($s: UUID!) { createTeam(input: {siteId: $s, name: \"\"}) { id } }",
                       {"s": str(world.site.id)}),
        "createQaTemplate": ("mutation { createQaTemplate(input: {key: \"k\", name: \"n\", categories: []}) "
                             "{ id } }", {}),
        "createQaReview": ("mutation($s: UUID!, $a: UUID!, $t: UUID!) { createQaReview(input: {shopId: $s, "
                           "conversationId: \"c\", conversationOn: \"2026-11-01\", agentId: $a, "
                           "templateId: $t, "
                           "ratings: []}) { id } }", {"s": b_shop, "a": str(world.agent.id), "t": nothing}),
        "createCalibration": ("mutation { createCalibration(input: {name: \"\", heldOn: \"2026-11-01\", "
                              "benchmarkReviewer: \"x\"}) { id } }", {}),
        "createCoaching": ("mutation($a: UUID!, $t: UUID!) { createCoaching(input: {agentId: $a, "
                           "heldOn: \"2026-11-01\", templateId: $t, areas: []}) { id } }",
                           {"a": str(world.agent.id), "t": nothing}),
        "refreshScorecardFacts": ("mutation { refreshScorecardFacts(month: \"2026-13\") { shops } }", {}),
        "addScorecardDefinition": ("mutation { addScorecardDefinition(input: {version: \"v\", "
                                   "effectiveFrom: \"2026-01\", kpis: []}) { version } }", {}),
        "setScorecardThresholds": ("mutation { setScorecardThresholds(scope: \"site\", scopeId: \"x\", "
                                   "input: {values: [{name: \"nope\", value: 1}]}) { scopeId } }", {}),
        "declarePromotion": ("mutation($p: UUID!) { declarePromotion(promotionId: $p) { name } }",
                             {"p": nothing}),
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
        "workSessions": ("{ workSessions { items { shopId tenantId agentCode login } } }", {}),
        "attendanceAdherence": ('{ attendanceAdherence(from: "2026-10-01", to: "2026-10-08") { agentCode day '
                                "actualMinutes } }", {}),
        "attendanceOccupancy": ('{ attendanceOccupancy(from: "2026-10-01", to: "2026-10-02") { shopId '
                                "tenantId occupancy } }", {}),
        "attendanceOvertime": ('{ attendanceOvertime(month: "2026-10") { agentCode totalMinutes } }', {}),
        "ingestWorkSessions": ("mutation($s: UUID!) { ingestWorkSessions(records: [{externalId: \"x\", "
                               "agentCode: \"A-none\", shopId: $s, login: \"2026-10-01T09:00:00+08:00\", "
                               "logout: \"2026-10-01T10:00:00+08:00\"}]) { inserted rejected { reason } } }",
                               {"s": b_shop}),
    }


def finance_probes(world) -> dict[str, tuple[str, dict]]:
    """The finance root fields, each asking for brand B's things (or for staff-only figures). Mutations are
    given input the use cases refuse (422) or ids that do not exist, so an allowed role changes nothing."""
    nothing = "00000000-0000-0000-0000-000000000000"
    b_slug, month = world.tenant_b.slug, getattr(world, "month", "2026-12")
    contract, statement = (str(getattr(world, k, nothing)) for k in ("contract_b", "statement_b"))
    return {
        "agentCosts": ("{ agentCosts { items { agentId wage loaded } } }", {}),
        "seatCosts": ("{ seatCosts { items { siteId seatHourCost } } }", {}),
        "overheads": ("{ overheads { items { siteId managementShare } } }", {}),
        "overtimeMultipliers": ("{ overtimeMultipliers { items { effectiveFrom holiday } } }", {}),
        "contracts": ("query($t: String) { contracts(tenant: $t) { items { id tenantId versions "
                      "{ seatHourRate } } } }", {"t": b_slug}),
        "contract": ("query($id: UUID!) { contract(id: $id) { id tenantId } }", {"id": contract}),
        "financePeriods": ("{ financePeriods { items { month status } } }", {}),
        "financePeriod": ("query($m: String!) { financePeriod(month: $m) { month drafts } }", {"m": month}),
        "statements": ("query($t: String) { statements(tenant: $t) { items { id tenantId total } } }",
                       {"t": b_slug}),
        "statement": ("query($id: UUID!) { statement(id: $id) { id lines { rate amount shopId } } }",
                      {"id": statement}),
        "brandStatements": ("query($t: String!) { brandStatements(tenant: $t) { items { tenantId total "
                            "lines { shopId amount } } } }", {"t": b_slug}),
        "brandStatement": ("query($t: String!, $m: String!) { brandStatement(tenant: $t, month: $m) "
                           "{ tenantId total } }", {"t": b_slug, "m": month}),
        "costReport": ("query($t: String) { costReport(tenant: $t, by: \"shop\") { rows { key total } } }",
                       {"t": b_slug}),
        "marginReport": ("query($t: String) { marginReport(tenant: $t) { rows { key margin } } }",
                         {"t": b_slug}),
        "shopBalance": ("query($t: String) { shopBalance(tenant: $t) { items { shopId cost } } }",
                        {"t": b_slug}),
        "planEstimate": ("query($p: UUID!) { planEstimate(planId: $p) { shops { shopId cost } } }",
                         {"p": str(getattr(world, "plan_id", nothing))}),
        "rosterEstimate": ("query($r: UUID!) { rosterEstimate(rosterId: $r) { shops { shopId cost } } }",
                           {"r": str(getattr(world, "roster_id", nothing))}),
        "addAgentCost": ("mutation($a: UUID!) { addAgentCost(input: {agentId: $a, effectiveFrom: "
                         "\"2026-01-01\", wage: \"-1\"}) { agentId } }", {"a": str(world.agent.id)}),
        "addSeatCost": ("mutation($s: UUID!) { addSeatCost(input: {siteId: $s, "
                        "effectiveFrom: \"1999-01-01\", seatHourCost: \"5\"}) { siteId } }",
                        {"s": str(world.site.id)}),
        "addOverhead": ("mutation($s: UUID!) { addOverhead(input: {siteId: $s, "
                        "effectiveFrom: \"2026-01-01\", managementShare: \"2\"}) { siteId } }",
                        {"s": str(world.site.id)}),
        "addOvertimeMultipliers": ("mutation { addOvertimeMultipliers(input: {effectiveFrom: \"2026-01-01\", "
                                   "workday: \"0.5\", restDay: \"2\", holiday: \"3\"}) { holiday } }", {}),
        "createContract": ("mutation($t: UUID!) { createContract(input: {tenantId: $t, name: \"\", "
                           "effectiveFrom: \"2026-01-01\"}) { id } }", {"t": str(world.tenant_b.id)}),
        "addContractVersion": ("mutation($c: UUID!) { addContractVersion(contractId: $c, input: "
                               "{effectiveFrom: \"2026-01-01\", seatHourRate: \"-1\"}) { id } }",
                               {"c": contract}),
        "computePeriod": ("mutation { computePeriod(month: \"2026-13\") { month } }", {}),
        "finalizePeriod": ("mutation { finalizePeriod(month: \"2026-13\") { month } }", {}),
        "closePeriod": ("mutation { closePeriod(month: \"2099-01\") { month } }", {}),
        "reopenPeriod": ("mutation { reopenPeriod(month: \"2026-13\", reason: \"test\") { month } }", {}),
        "finalizeStatement": ("mutation($id: UUID!) { finalizeStatement(id: $id) { number } }",
                              {"id": nothing}),
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


# --- finance ----------------------------------------------------------------------------------------------

FINANCE_MONTH = "2026-10"


def _work(agent, start: str, end: str, breaks: tuple[str, str] | None = None) -> dict:
    """A work span on an October 2026 day of Asia/Shanghai: 'DD HH:MM' strings."""
    def at(x: str) -> datetime:
        return datetime.fromisoformat(f"2026-10-{x}:00+08:00".replace(" ", "T"))
    return {"agent": agent, "lo": at(start), "hi": at(end),
            "blo": at(breaks[0]) if breaks else None, "bhi": at(breaks[1]) if breaks else None}


async def add_work_session(db: Database, tenant_id, shop_id, external_id: str, span: dict) -> None:
    """Attendance written straight into the seating domain's table."""
    async with db.system_transaction() as session:
        await session.execute(text(
            "INSERT INTO work_sessions (tenant_id, shop_id, external_id, agent_id, during, breaks) VALUES "
            "(:t, :s, :x, :agent, tstzrange(:lo, :hi), CASE WHEN CAST(:blo AS timestamptz) IS NULL "
            "THEN '{}'::tstzmultirange ELSE tstzmultirange(tstzrange(:blo, :bhi)) END)"),
            {"t": tenant_id, "s": shop_id, "x": external_id, **span})


# A shift's assignment to a shop over [lo, hi), written as SQL (seating's table).
ASSIGN = ("INSERT INTO shift_assignments (tenant_id, id, shift_id, shop_id, during, created_by, updated_by) "
          "VALUES (:t, gen_random_uuid(), :shift, :s, tstzrange(:lo, :hi), 'tests', 'tests')")


async def world_rates(session, world) -> None:
    """Cost rates from 2026-01-01 for the world's agent (42.00 loaded) and site (6.00 a seat-hour, 8 %
    overhead), unless it has them."""
    for sql in (
        "INSERT INTO agent_cost_versions (agent_id, effective_from, wage, social_insurance, "
        "housing_fund, created_by) VALUES (:agent, DATE '2026-01-01', 30, 9, 3, 'test')",
        "INSERT INTO seat_cost_versions (site_id, effective_from, seat_hour_cost, created_by) "
        "VALUES (:site, DATE '2026-01-01', 6, 'test')",
        "INSERT INTO overhead_versions (site_id, effective_from, management_share, created_by) "
        "VALUES (:site, DATE '2026-01-01', 0.08, 'test')",
    ):
        await session.execute(text(sql + " ON CONFLICT DO NOTHING"), {"agent": world.agent.id,
                                                                     "site": world.site.id})


async def finance_world(db: Database, world) -> dict:
    """October 2026 of the world's two brands, for the books: cost rates; attendance of two agents (overtime
    on a workday and on the National Day holiday), a published roster shift on a day without attendance (and
    one under attendance, ignored);
    the 2026 holiday calendar; conversations on three shops and an unreachable service-level target on A's
    first shop, so the SLA domain reports a breach (the contracts: finance_contracts)."""
    from service.seating.calendar import CHINA_2026
    from service.workforce.schemas import AgentCreate
    from service.workforce.service import create_agent

    a, b = world.tenant_a, world.tenant_b
    tag = uuid.uuid4().hex[:6]
    async with db.system_transaction() as session:
        second = await create_agent(session, AgentCreate(site_id=world.site.id, code=f"F{tag}", name="第二",
                                                         level="agent", loaded_hourly_cost=Decimal("36.00"),
                                                         hired_on=datetime(2025, 3, 1).date()))
        for kind, days in (("holiday", CHINA_2026.holidays), ("day_off", CHINA_2026.days_off),
                           ("make_up_workday", CHINA_2026.make_up_workdays)):
            for day in days:
                await session.execute(text("INSERT INTO holiday_days (day, kind) VALUES (:d, :k) "
                                           "ON CONFLICT DO NOTHING"), {"d": day, "k": kind})
        await world_rates(session, world)
        shift = uuid.uuid4()
        for day, shift_id in (("15", shift), ("14", uuid.uuid4())):
            span = _work(second.id, f"{day} 09:00", f"{day} 17:00")
            await session.execute(text(
                "INSERT INTO shifts (id, agent_id, site_id, status, source, during, created_by, updated_by) "
                "VALUES (:id, :agent, :site, 'published', 'manual', tstzrange(:lo, :hi), 't', 't')"),
                {"id": shift_id, "site": world.site.id, **span})
            await session.execute(text(ASSIGN), {"t": b.id, "s": world.shops_b[1].id, "shift": shift_id,
                                                 **span})
    sessions = [
        (a, world.shops_a[0], _work(world.agent.id, "12 09:00", "12 18:00", ("12 12:00", "12 13:00"))),  # 480
        (a, world.shops_a[1], _work(world.agent.id, "13 09:00", "13 19:30", ("13 12:00", "13 12:30"))),  # 600
        (b, world.shops_b[0], _work(world.agent.id, "03 10:00", "03 14:00")),  # 240, National Day
        (b, world.shops_b[1], _work(second.id, "14 09:00", "14 17:00")),  # 480
    ]
    for i, (tenant, shop, span) in enumerate(sessions):
        await add_work_session(db, tenant.id, shop.id, f"ws-{tag}-{i}", span)
    rng = np.random.default_rng(7)
    start, end = (datetime.fromisoformat(f"2026-{m}-01T00:00+08:00") for m in (10, 11))
    volumes = ((a, world.shops_a[0], 300), (a, world.shops_a[1], 120), (b, world.shops_b[0], 200))
    for tenant, shop, n in volumes:
        await insert_rollups(db, tenant.id, random_records(rng, shop.id, n, start, end))
    async with db.system_transaction() as session:
        await session.execute(text(
            "INSERT INTO sla_policies (tenant_id, id, shop_id, effective_from, answer_target_s, "
            "service_level_target, assessed_start, assessed_end) "
            "VALUES (:t, gen_random_uuid(), :s, DATE '2026-01-01', 30, 0.999, '08:00', '23:00')"),
            {"t": a.id, "s": world.shops_a[0].id})
    return {"second": second, "sessions": sessions}


def finance_contracts(world) -> list[dict]:
    """The world's contracts as REST bodies: A brand-wide, B's first shop on its own."""
    return [
        {"tenant_id": str(world.tenant_a.id), "name": "A 2026", "effective_from": "2026-01-01",
         "seat_hour_rate": "45.00", "monthly_base_fee": "5000.00", "per_conversation_rate": "0.50",
         "credit_policy": {"at_risk_share": "0.10", "allocations": [
             {"metric": "service_level", "allocation": "0.6"}]}},
        {"tenant_id": str(world.tenant_b.id), "shop_id": str(world.shops_b[0].id), "name": "B tmall",
         "effective_from": "2026-01-01", "per_conversation_rate": "1.20", "gmv_commission_share": "0.01"},
    ]


async def roster_for_plan(db: Database, world, plan_id) -> uuid.UUID:
    """A roster of PLAN: the world's agent on A's first shop for its first hour (seating's tables, as SQL)."""
    roster, shift = uuid.uuid4(), uuid.uuid4()
    lo, hi = (datetime.fromisoformat(f"2026-12-12T0{h}:00+08:00") for h in (0, 1))
    async with db.system_transaction() as session:
        await session.execute(text(
            "INSERT INTO rosters (id, plan_id, name, status, mode, starts_at, ends_at, summary, created_by) "
            "VALUES (:id, :plan, 'r', 'draft', 'fast', :lo, :hi, '{}', 'test')"),
            {"id": roster, "plan": plan_id, "lo": lo, "hi": hi})
        await session.execute(text(
            "INSERT INTO shifts (id, roster_id, agent_id, site_id, status, source, during, created_by, "
            "updated_by) VALUES (:id, :r, :agent, :site, 'draft', 'roster', tstzrange(:lo, :hi), 't', 't')"),
            {"id": shift, "r": roster, "agent": world.agent.id, "site": world.site.id, "lo": lo, "hi": hi})
        await session.execute(text(ASSIGN), {"t": world.tenant_a.id, "s": world.shops_a[0].id, "shift": shift,
                                             "lo": lo, "hi": hi})
    return roster


async def finance_books(db: Database, world) -> None:
    """The world's books for the role matrix and the isolation probes: its contracts, this month computed and
    its statements finalized (a client reads its own; the month stays open, so no door closes it twice), a
    roster of the world's plan unless it has one. Sets world.contract_a/_b, statement_a/_b, roster_id and
    month."""
    from service.finance.periods import Month
    from service.finance.schemas import ContractCreate
    from service.finance.service import compute_month, create_contract, finalize_month
    from service.kit.time import DEFAULT_TZ, local_today

    world.month = str(Month.of(local_today(DEFAULT_TZ)))
    async with db.system_transaction() as session:
        await world_rates(session, world)  # seating_world's shifts this month are worked time to cost
        made = [await create_contract(session, OPERATOR, ContractCreate.model_validate(body))
                for body in finance_contracts(world)]
        await compute_month(session, db.sessions(SYSTEM_SCOPE), OPERATOR, world.month)
        await finalize_month(session, OPERATOR, world.month)
        ids = {r[0]: r[1] for r in await session.execute(text(
            "SELECT tenant_id, id FROM statements WHERE month = :m"),
            {"m": Month.parse(world.month).first_day})}
    world.contract_a, world.contract_b = made[0].id, made[1].id
    world.statement_a, world.statement_b = ids[world.tenant_a.id], ids[world.tenant_b.id]
    if getattr(world, "roster_id", None) is None:  # seating_world's roster, else one of finance's own
        world.roster_id = await roster_for_plan(db, world, world.plan_id)


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


def in_flight(url: str, timeout: float = 60) -> None:
    """Until the server at URL (one process, otherwise idle) is inside a request: one of its pooled
    connections is checked out (a handler's transaction begins before the handler runs). A test that signals
    a server mid-request waits for this first: on a loaded machine the server may not have read the request
    yet, and a SIGTERM then closes a connection that had no request in flight."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        metrics = httpx.get(f"{url}/metrics", headers=auth("admin"), timeout=10).text
        if any(line.startswith("seatwise_db_pool_in_use") and float(line.rsplit(" ", 1)[1]) >= 1
               for line in metrics.splitlines()):
            return
        assert time.monotonic() < deadline, "the server never began the request"
        time.sleep(0.05)


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
