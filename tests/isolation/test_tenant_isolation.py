"""A client token of brand A, over every REST route and GraphQL field, never sees or changes brand B's
data; B's objects answer 404 (never 403, which would confirm they exist)."""

from __future__ import annotations

import json

import pytest

from service.app import ROUTERS
from service.schema import build_schema
from tests.conftest import auth
from tests.factories import client_key, finance_books, gql, graphql_probes, plan_for_world, seating_world


def _b_markers(world) -> list[str]:
    return [str(world.tenant_b.id), world.tenant_b.slug, *(str(s.id) for s in world.shops_b),
            *(s.name for s in world.shops_b)]


def _fill(path: str, world) -> str:
    # Every path parameter points at B's object (or at staff-only things, which clients may not reach).
    return (path.replace("{tenant}", world.tenant_b.slug).replace("{shop_id}", str(world.shops_b[0].id))
            .replace("{site_id}", str(world.site.id)).replace("{agent_id}", str(world.agent.id))
            .replace("{effective_from}", "2026-01-01")
            .replace("{plan_id}", str(getattr(world, "plan_id", "")))
            .replace("{roster_id}", str(world.roster_id))
            .replace("{contract_id}", str(world.contract_b)).replace("{statement_id}", str(world.statement_b))
            .replace("{month}", world.month).replace("{report}", "statements")
            .replace("{shift_id}", str(world.shift_id)).replace("{assignment_id}", str(world.assignment_id))
            .replace("{rule_set_id}", str(world.rule_set_id))
            .replace("{availability_id}", str(world.shift_id))
            .replace("{employment_type}", "intern").replace("{year}", "2026")
            .replace("{key_id}", str(getattr(world, "key_b", ""))).replace("{jti}", "some-jti"))


@pytest.fixture(scope="module", autouse=True)
async def _capacity_plan(db, world):
    """A stored capacity plan with lines for A's and B's shops: A's client must only ever see A's. And the
    books of both brands (contracts, statements): A's client must never see B's, nor any cost or rate."""

    world.plan_id = await plan_for_world(db)
    await seating_world(db, world)
    world.key_b = await client_key(db, world.tenant_b)  # B's API key: A may neither list nor revoke it
    await finance_books(db, world)


def _bodies(world) -> list[dict]:
    return [{}, {"tenant_id": str(world.tenant_b.id), "platform": "jd", "name": "smuggled"},
            {"name": "hijacked"}, {"name": "smuggled key", "tenant": world.tenant_b.slug}]


async def test_every_rest_route_hides_b(client, world):
    headers = world.client_of("a")
    markers = _b_markers(world)
    for router in ROUTERS:
        for route in router.routes:
            for method in route.methods:
                path = _fill(route.path, world)
                for body in _bodies(world) if method in ("POST", "PATCH", "PUT") else [None]:
                    listing = method == "GET" and "{" not in route.path
                    params = {"tenant": world.tenant_b.slug} if listing else None
                    r = await client.request(method, path, headers=headers, params=params,
                                             **({"json": body} if body is not None else {}))
                    where = f"{method} {route.path} {body}"
                    # 201: A's own API key (B's markers are still checked below)
                    assert r.status_code in (200, 201, 403, 404, 415, 422), where + r.text
                    if "{shop_id}" in route.path and r.status_code != 403:
                        assert r.status_code == 404, where  # B's shop: not found, not forbidden
                    json_body = "json" in r.headers.get("content-type", "")  # not the CSV exports
                    answer = r.json() if json_body else r.text
                    if isinstance(answer, dict):
                        answer.pop("instance", None)  # echoes the caller's own request path
                    text = json.dumps(answer, ensure_ascii=False)
                    for marker in markers:
                        assert marker not in text, f"{where} leaked {marker}"


async def test_b_is_unchanged(client, world):
    shops = (await client.get("/v1/shops", headers=auth("ops"),
                              params={"tenant": world.tenant_b.slug})).json()
    assert {s["name"] for s in shops["items"]} == {s.name for s in world.shops_b}
    tenant = (await client.get(f"/v1/tenants/{world.tenant_b.slug}", headers=auth("ops"))).json()
    assert tenant["name"] == world.tenant_b.name


def test_probes_cover_every_root_field():
    schema = build_schema()
    fields = {f.name for f in schema.get_type_by_name("Query").fields} | \
             {f.name for f in schema.get_type_by_name("Mutation").fields}
    import uuid
    from types import SimpleNamespace

    fake = SimpleNamespace(tenant_b=SimpleNamespace(id=uuid.uuid4(), slug="b"),
                           shops_b=[SimpleNamespace(id=1)],
                           site=SimpleNamespace(id=1), agent=SimpleNamespace(id=1))
    from strawberry.utils.str_converters import to_camel_case

    assert {to_camel_case(f) for f in fields} == set(graphql_probes(fake))


# Finance: staff fields refuse a client outright; a brand's statements of another brand are not found.
FINANCE_FIELDS = ["agentCosts", "seatCosts", "overheads", "overtimeMultipliers", "contracts", "contract",
                  "financePeriods", "financePeriod", "statements", "statement", "brandStatements",
                  "brandStatement", "costReport", "marginReport", "shopBalance", "planEstimate",
                  "rosterEstimate", "addAgentCost", "addSeatCost", "addOverhead", "addOvertimeMultipliers",
                  "createContract", "addContractVersion", "computePeriod", "finalizePeriod", "closePeriod",
                  "reopenPeriod", "finalizeStatement"]
SCORECARD_FIELDS = ["scorecards", "scorecardTrend", "brandScorecard", "shopScorecardTrend", "clientRatings",
                    "pulseReport", "teams", "qaTemplates", "qaReviews", "calibration", "calibrations",
                    "coaching", "coachingSessions", "scorecardDefinitions", "rateMonth", "updateClientRating",
                    "importPulses", "createTeam", "createQaTemplate", "createQaReview", "createCalibration",
                    "createCoaching",
                    "refreshScorecardFacts", "addScorecardDefinition", "setScorecardThresholds",
                    "declarePromotion"]
ROOT_FIELDS = ["me", "tenants", "tenant", "shops", "shop", "sites", "agents", "createTenant", "updateTenant",
               "createShop", "updateShop", "createSite", "updateSite", "createAgent", "updateAgent",
               "breaches", "slaPolicies", "slaSummary", "createSlaPolicy", "updateSlaPolicy",
               "staffing", "promotions", "capacityPlans", "capacityPlan", "capacityPlanLines",
               "createPromotion", "createCapacityPlan", "ingestConversations", "brandSla", "conversations",
               "labourRuleSets", "labourRuleSet", "employmentTypeRules", "agentRules", "holidayCalendar",
               "agentAvailability", "shopRequirements", "rosters", "roster", "rosterCoverage", "shifts",
               "rebalance",
               "createLabourRuleSet", "updateLabourRuleSet", "setEmploymentTypeRuleSet", "setAgentRuleSet",
               "setHolidayCalendar", "addAvailability", "removeAvailability", "setShopRequirements",
               "createRoster",
               "publishRoster", "createShift", "updateShift", "deleteShift", "createAssignment",
               "updateAssignment", "deleteAssignment", "applyMoves", *FINANCE_FIELDS, *SCORECARD_FIELDS]


@pytest.mark.parametrize("field", ROOT_FIELDS)
async def test_every_graphql_field_hides_b(client, world, field):
    query, variables = graphql_probes(world)[field]
    result = await gql(client, query, variables, world.client_of("a"))
    text = json.dumps(result, ensure_ascii=False)
    for marker in _b_markers(world):
        assert marker not in text, f"{field} leaked {marker}"
    if field == "shop":
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    if field == "shops":
        assert result["data"]["shops"]["items"] == []
    if field in ("slaPolicies", "slaSummary", "tenant", "brandSla", "brandScorecard", "shopScorecardTrend"):
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    if field == "conversations":  # B's shop is not found; unfiltered, only A's own records
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        mine = await gql(client, "{ conversations(first: 500) { items { tenantId } } }", {},
                         world.client_of("a"))
        assert {c["tenantId"] for c in mine["data"]["conversations"]["items"]} <= {str(world.tenant_a.id)}
    if field == "capacityPlans":  # the plans with A's shops, with A's share: never the plan's totals
        plans = result["data"]["capacityPlans"]["items"]
        assert plans and all(p["share"]["shops"] == len(world.shops_a) for p in plans)
    if field == "breaches":
        assert result["data"]["a"] == {"items": [], "nextCursor": None} and result["data"]["b"]["items"] == []
    if field in ("staffing", "capacityPlan", "createPromotion", "createCapacityPlan"):
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # plan headers are not a brand's
    if field in FINANCE_FIELDS and field not in ("brandStatements", "brandStatement"):
        assert {e["extensions"]["code"] for e in result["errors"]} == {"FORBIDDEN"}  # costs, rates, books
    if field in ("brandStatements", "brandStatement"):
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # B's, asked for by A
    if field == "shopRequirements":
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    if field == "rosterCoverage":  # A's own shops' counts, and only those
        cells = result["data"]["rosterCoverage"]["items"]
        assert cells and {c["tenantId"] for c in cells} == {str(world.tenant_a.id)}
    if field in ("rosters", "roster", "shifts", "labourRuleSets", "rebalance", "createShift", "applyMoves"):
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # seating names agents: staff only
    if field == "capacityPlanLines":  # A's own lines, and only those
        lines = result["data"]["capacityPlanLines"]["items"]
        assert lines and {x["tenantId"] for x in lines} == {str(world.tenant_a.id)}
        b_shop = await gql(client, "query($p: UUID!, $s: UUID) { capacityPlanLines(planId: $p, shopId: $s) "
                           "{ items { shopId } } }", {"p": str(world.plan_id), "s": str(world.shops_b[0].id)},
                           world.client_of("a"))
        assert b_shop["errors"][0]["extensions"]["code"] == "NOT_FOUND"
