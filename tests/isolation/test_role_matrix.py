"""The full role x route matrix, table-driven: what each route declares is what the table says, and
the server answers 403 exactly to the roles a route does not allow."""

from __future__ import annotations

import uuid

import pytest

from service.app import ROUTERS
from service.kit.identity import Role
from tests.conftest import auth
from tests.factories import (
    client_key,
    finance_books,
    gql,
    graphql_probes,
    issued_jti,
    plan_for_world,
    seating_world,
)

STAFF, WRITERS, ALL = "admin ops finance", "admin ops", "admin ops finance client"
BOOKS = "admin finance"  # finance writes: rates, contracts, the books


def collection(path: str, key: str, read: str = STAFF) -> dict[tuple[str, str], str]:
    """The four routes of a collection at PATH with items at PATH/KEY: list and get one for READ, create
    and update for the writers."""
    return {("GET", path): read, ("GET", f"{path}/{key}"): read, ("POST", path): WRITERS,
            ("PATCH", f"{path}/{key}"): WRITERS}


EXPECTED = {
    ("GET", "/v1/tenants"): STAFF,
    ("GET", "/v1/tenants/{tenant}"): ALL,  # a client: its own brand
    ("POST", "/v1/tenants"): WRITERS,
    ("PATCH", "/v1/tenants/{tenant}"): WRITERS,
    **collection("/v1/shops", "{shop_id}", read=ALL),
    **collection("/v1/sites", "{site_id}"),
    **collection("/v1/agents", "{agent_id}"),
    ("POST", "/v1/conversations"): "admin ops client",
    ("GET", "/v1/conversations"): ALL,  # a client: its own shops' records
    ("GET", "/v1/shops/{shop_id}/sla-policies"): ALL,
    ("GET", "/v1/shops/{shop_id}/sla-policy"): ALL,
    ("POST", "/v1/shops/{shop_id}/sla-policies"): WRITERS,
    ("PATCH", "/v1/shops/{shop_id}/sla-policies/{effective_from}"): WRITERS,
    ("GET", "/v1/shops/{shop_id}/sla"): ALL,
    ("GET", "/v1/sla/breaches"): ALL,
    ("GET", "/v1/tenants/{tenant}/sla-summary"): ALL,  # unlike the rest of /v1/tenants: a brand reads its own
    ("GET", "/v1/tenants/{tenant}/sla"): ALL,
    ("POST", "/v1/staffing/erlang"): STAFF,  # a what-if calculator: no data, finance may run it too
    ("POST", "/v1/promotions"): WRITERS,
    ("GET", "/v1/promotions"): ALL,  # the calendar
    ("POST", "/v1/capacity-plans"): WRITERS,
    ("GET", "/v1/capacity-plans"): ALL,  # a client: the plans with its shops, its share of each
    ("GET", "/v1/capacity-plans/{plan_id}"): STAFF,
    ("GET", "/v1/capacity-plans/{plan_id}/lines"): ALL,  # a client: its own shops' lines only
    ("GET", "/v1/capacity-plans/{plan_id}/lines.csv"): ALL,
    **collection("/v1/labour-rule-sets", "{rule_set_id}"),
    ("GET", "/v1/employment-type-rules"): STAFF,
    ("PUT", "/v1/employment-types/{employment_type}/rule-set"): WRITERS,
    ("GET", "/v1/agents/{agent_id}/rule-set"): STAFF,
    ("PUT", "/v1/agents/{agent_id}/rule-set"): WRITERS,
    ("GET", "/v1/holiday-calendars/{year}"): STAFF,
    ("PUT", "/v1/holiday-calendars/{year}"): WRITERS,
    ("GET", "/v1/agents/{agent_id}/availability"): STAFF,
    ("POST", "/v1/agents/{agent_id}/availability"): WRITERS,
    ("DELETE", "/v1/availability/{availability_id}"): WRITERS,
    ("GET", "/v1/shops/{shop_id}/requirements"): ALL,  # a client: its own shops' requirements
    ("PUT", "/v1/shops/{shop_id}/requirements"): WRITERS,
    ("POST", "/v1/capacity-plans/{plan_id}/rosters"): WRITERS,
    ("GET", "/v1/rosters"): STAFF,
    ("GET", "/v1/rosters/{roster_id}"): STAFF,
    ("POST", "/v1/rosters/{roster_id}/publish"): WRITERS,
    ("GET", "/v1/rosters/{roster_id}/coverage"): ALL,  # counts per shop and interval: a client, its own shops
    ("GET", "/v1/rosters/{roster_id}/coverage.csv"): ALL,
    **collection("/v1/shifts", "{shift_id}"),
    ("DELETE", "/v1/shifts/{shift_id}"): WRITERS,
    ("POST", "/v1/shifts/{shift_id}/assignments"): WRITERS,
    ("PATCH", "/v1/assignments/{assignment_id}"): WRITERS,
    ("DELETE", "/v1/assignments/{assignment_id}"): WRITERS,
    ("GET", "/v1/agents/{agent_id}/schedule.ics"): STAFF,
    ("POST", "/v1/ops/rebalance"): WRITERS,
    ("POST", "/v1/ops/rebalance/apply"): WRITERS,
    ("POST", "/v1/work-sessions"): WRITERS,  # attendance: it names agents, so staff only
    ("GET", "/v1/work-sessions"): STAFF,
    ("GET", "/v1/attendance/adherence"): STAFF,
    ("GET", "/v1/attendance/occupancy"): STAFF,
    ("GET", "/v1/attendance/overtime"): STAFF,
    ("GET", "/v1/tokens"): "admin",
    ("POST", "/v1/tokens/{jti}/revoke"): "admin",
    ("POST", "/v1/api-keys"): "admin client",  # a brand's user: keys of its own brand
    ("GET", "/v1/api-keys"): "admin client",
    ("POST", "/v1/api-keys/{key_id}/revoke"): "admin client",
    ("GET", "/v1/audit"): "admin client",  # a brand's user: its brand's entries
    # finance: staff read costs, margins and the books (GET); finance and admins write them (POST), but
    # admins alone reopen a month; a brand reads its own finalized statements, without rates
    **{(method, f"/v1/finance/{path}"): STAFF if method == "GET" else BOOKS for method, path in (
        ("POST", "agent-costs"), ("GET", "agent-costs"), ("POST", "seat-costs"), ("GET", "seat-costs"),
        ("POST", "overheads"), ("GET", "overheads"), ("POST", "overtime-multipliers"),
        ("GET", "overtime-multipliers"), ("POST", "contracts"), ("GET", "contracts"),
        ("GET", "contracts/{contract_id}"), ("POST", "contracts/{contract_id}/versions"), ("GET", "periods"),
        ("GET", "periods/{month}"), ("POST", "periods/{month}/compute"), ("POST", "periods/{month}/finalize"),
        ("POST", "periods/{month}/close"), ("GET", "statements"), ("GET", "statements/{statement_id}"),
        ("POST", "statements/{statement_id}/finalize"), ("GET", "costs"), ("GET", "margins"),
        ("GET", "balance"), ("GET", "capacity-plans/{plan_id}/estimate"),
        ("GET", "rosters/{roster_id}/estimate"), ("GET", "exports/{report}"))},
    ("POST", "/v1/finance/periods/{month}/reopen"): "admin",
    ("GET", "/v1/tenants/{tenant}/statements"): ALL,
    ("GET", "/v1/tenants/{tenant}/statements/{month}"): ALL,
    # scorecard: staff read every scope, pulses and QA; ops and admins write; a brand reads the client side
    # of its own shops and brand and rates its own months
    ("GET", "/v1/scorecards"): STAFF,
    ("POST", "/v1/scorecards/{month}/refresh"): WRITERS,
    ("GET", "/v1/scorecards/{scope}/{scope_id}/trend"): STAFF,
    ("GET", "/v1/tenants/{tenant}/scorecard"): ALL,
    ("GET", "/v1/shops/{shop_id}/scorecard-trend"): ALL,
    ("POST", "/v1/client-ratings"): "admin ops client",
    ("PATCH", "/v1/client-ratings/{rating_id}"): "admin ops client",
    ("GET", "/v1/client-ratings"): ALL,
    ("POST", "/v1/pulses"): WRITERS,
    ("GET", "/v1/pulses/{survey}"): STAFF,
    ("POST", "/v1/teams"): WRITERS,
    ("GET", "/v1/teams"): STAFF,
    ("POST", "/v1/qa/templates"): WRITERS,
    ("GET", "/v1/qa/templates"): STAFF,
    ("POST", "/v1/qa/reviews"): WRITERS,
    ("GET", "/v1/qa/reviews"): STAFF,
    ("POST", "/v1/qa/calibrations"): WRITERS,
    ("GET", "/v1/qa/calibrations"): STAFF,
    ("GET", "/v1/qa/calibrations/{calibration_id}"): STAFF,
    ("POST", "/v1/coaching"): WRITERS,
    ("GET", "/v1/coaching"): STAFF,
    ("GET", "/v1/coaching/{coaching_id}"): STAFF,
    ("GET", "/v1/scorecard/definitions"): STAFF,
    ("POST", "/v1/scorecard/definitions"): WRITERS,
    ("PUT", "/v1/scorecard/thresholds/{scope}/{scope_id}"): WRITERS,
    ("POST", "/v1/scorecard/promotions/{promotion_id}"): WRITERS,
}
# Allowed roles may also get these: a roster is published once (then 409), deletes go to unknown ids (404).
ALSO = {("POST", "/v1/rosters/{roster_id}/publish"): (409,),
        **{key: (404,) for key in (("PATCH", "/v1/client-ratings/{rating_id}"),
                                   ("GET", "/v1/pulses/{survey}"),
                                   ("GET", "/v1/qa/calibrations/{calibration_id}"),
                                   ("GET", "/v1/coaching/{coaching_id}"),
                                   ("POST", "/v1/scorecard/promotions/{promotion_id}"))}}


def declared_routes() -> dict[tuple[str, str], frozenset[Role]]:
    routes = {}
    for router in ROUTERS:
        for route in router.routes:
            roles = [d.call.roles for d in route.dependant.dependencies if hasattr(d.call, "roles")]
            assert len(roles) == 1, f"{route.path} must declare its roles exactly once"
            for method in route.methods:
                routes[(method, route.path)] = roles[0]
    return routes


def test_every_route_declares_the_expected_roles():
    declared = {key: " ".join(sorted(r.value for r in roles)) for key, roles in declared_routes().items()}
    assert declared == {key: " ".join(sorted(v.split())) for key, v in EXPECTED.items()}


def _path(template: str, world, method: str = "GET") -> str:
    ids = {"{roster_id}": world.roster_id, "{shift_id}": world.shift_id,
           "{assignment_id}": world.assignment_id, "{rule_set_id}": world.rule_set_id,
           "{availability_id}": uuid.uuid4(), "{employment_type}": "intern",
           "{year}": 2026, "{rating_id}": uuid.uuid4(), "{survey}": "no-such-survey",
           "{calibration_id}": uuid.uuid4(), "{coaching_id}": uuid.uuid4(), "{promotion_id}": uuid.uuid4(),
           "{scope_id}": world.shops_a[0].id, "{scope}": "shop"}
    for key, value in ids.items():
        template = template.replace(key, str(uuid.uuid4() if method == "DELETE" and "_id}" in key else value))
    return (template.replace("{tenant}", world.tenant_a.slug).replace("{shop_id}", str(world.shops_a[0].id))
            .replace("{site_id}", str(world.site.id)).replace("{agent_id}", str(world.agent.id))
            .replace("{effective_from}", "2026-01-01").replace("{plan_id}", str(world.plan_id))
            .replace("{contract_id}", str(world.contract_a)).replace("{statement_id}", str(world.statement_a))
            .replace("{month}", world.month).replace("{report}", "statements")
            .replace("{jti}", world.jti).replace("{key_id}", str(world.key_a)))


@pytest.fixture(scope="module", autouse=True)
async def _capacity_plan(db, world):
    """A stored capacity plan over the world's shops, so {plan_id} routes answer 200 to allowed roles, and
    the world's books: contracts, this month's statements finalized, a roster of the plan."""

    world.plan_id = await plan_for_world(db)
    await seating_world(db, world)
    world.jti = await issued_jti(db)
    world.key_a = await client_key(db, world.tenant_a)
    await finance_books(db, world)


CASES = [(method, path, role) for (method, path) in EXPECTED for role in Role]


@pytest.mark.parametrize(("method", "path", "role"), CASES, ids=[f"{m} {p} {r.value}" for m, p, r in CASES])
async def test_matrix(client, world, method, path, role):
    headers = auth(role, world.tenant_a.id if role == Role.client else None)
    # An empty JSON object: allowed roles get past authorization (then 2xx or 422), others stop at 403.
    kwargs = {"json": {}} if method in ("POST", "PATCH") else {}
    response = await client.request(method, _path(path, world, method), headers=headers, **kwargs)
    allowed = role.value in EXPECTED[(method, path)].split()
    if allowed:
        assert response.status_code not in (401, 403), response.text
        extra = (204, 404) if method == "DELETE" else ALSO.get((method, path), ())
        assert response.status_code in (200, 201, 415, 422, *extra), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_unauthenticated_is_401_everywhere(client, world):
    for method, path in EXPECTED:
        response = await client.request(method, _path(path, world, method))
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_unknown_ids_are_404(client):
    for path in ("/v1/shops/{}", "/v1/sites/{}", "/v1/agents/{}", "/v1/tenants/{}"):
        response = await client.get(path.format(uuid.uuid4()), headers=auth("admin"))
        assert response.status_code == 404 and response.json()["status"] == 404


# GraphQL: every root field (and every nested field that loads more data) declares its roles.
EXPECTED_GQL = {
    "Query.me": ALL, "Query.tenants": STAFF, "Query.tenant": ALL, "Query.shops": ALL, "Query.shop": ALL,
    "Query.conversations": ALL, "Query.brandSla": ALL,
    "Query.sites": STAFF, "Query.agents": STAFF,
    "Mutation.ingestConversations": "admin ops client",
    "Mutation.createTenant": WRITERS, "Mutation.updateTenant": WRITERS, "Mutation.createShop": WRITERS,
    "Mutation.updateShop": WRITERS, "Mutation.createSite": WRITERS, "Mutation.updateSite": WRITERS,
    "Mutation.createAgent": WRITERS, "Mutation.updateAgent": WRITERS,
    "Shop.tenant": ALL, "Agent.site": STAFF, "Me.tenant": None,
    "Query.breaches": ALL, "Query.slaPolicies": ALL, "Query.slaSummary": ALL,
    "Mutation.createSlaPolicy": WRITERS, "Mutation.updateSlaPolicy": WRITERS,
    "Shop.sla": ALL, "Shop.breaches": ALL, "Shop.slaPolicy": ALL,
    "Query.staffing": STAFF, "Query.promotions": ALL, "Query.capacityPlans": ALL,
    "Query.capacityPlan": STAFF, "Query.capacityPlanLines": ALL,
    "Mutation.createPromotion": WRITERS, "Mutation.createCapacityPlan": WRITERS,
    "CapacityPlan.intervals": STAFF, "CapacityPlan.shops": STAFF,
    "Query.labourRuleSets": STAFF, "Query.labourRuleSet": STAFF, "Query.employmentTypeRules": STAFF,
    "Query.agentRules": STAFF, "Query.holidayCalendar": STAFF, "Query.agentAvailability": STAFF,
    "Query.shopRequirements": ALL, "Query.rosters": STAFF, "Query.roster": STAFF, "Query.rosterCoverage": ALL,
    "Query.shifts": STAFF, "Query.rebalance": WRITERS,
    "Query.workSessions": STAFF, "Query.attendanceAdherence": STAFF, "Query.attendanceOccupancy": STAFF,
    "Query.attendanceOvertime": STAFF,
    **{f"Mutation.{name}": WRITERS for name in (
        "createLabourRuleSet", "updateLabourRuleSet", "setEmploymentTypeRuleSet", "setAgentRuleSet",
        "setHolidayCalendar", "addAvailability", "removeAvailability", "setShopRequirements", "createRoster",
        "publishRoster", "createShift", "updateShift", "deleteShift", "createAssignment", "updateAssignment",
        "deleteAssignment", "applyMoves", "ingestWorkSessions")},
    "Query.tokens": "admin", "Mutation.revokeToken": "admin",
    "Query.apiKeys": "admin client", "Mutation.createApiKey": "admin client",
    "Mutation.revokeApiKey": "admin client", "Query.auditLog": "admin client",
    "Query.agentCosts": STAFF, "Query.seatCosts": STAFF, "Query.overheads": STAFF,
    "Query.overtimeMultipliers": STAFF, "Query.contracts": STAFF, "Query.contract": STAFF,
    "Query.financePeriods": STAFF, "Query.financePeriod": STAFF, "Query.statements": STAFF,
    "Query.statement": STAFF, "Query.brandStatements": ALL, "Query.brandStatement": ALL,
    "Query.costReport": STAFF, "Query.marginReport": STAFF, "Query.shopBalance": STAFF,
    "Query.planEstimate": STAFF, "Query.rosterEstimate": STAFF,
    "Mutation.addAgentCost": BOOKS, "Mutation.addSeatCost": BOOKS, "Mutation.addOverhead": BOOKS,
    "Mutation.addOvertimeMultipliers": BOOKS, "Mutation.createContract": BOOKS,
    "Mutation.addContractVersion": BOOKS, "Mutation.computePeriod": BOOKS, "Mutation.finalizePeriod": BOOKS,
    "Mutation.closePeriod": BOOKS, "Mutation.reopenPeriod": "admin", "Mutation.finalizeStatement": BOOKS,
    "Query.scorecards": STAFF, "Query.scorecardTrend": STAFF, "Query.brandScorecard": ALL,
    "Query.shopScorecardTrend": ALL, "Query.clientRatings": ALL, "Query.pulseReport": STAFF,
    "Query.teams": STAFF, "Query.qaTemplates": STAFF, "Query.qaReviews": STAFF, "Query.calibration": STAFF,
    "Query.calibrations": STAFF, "Query.coaching": STAFF, "Query.coachingSessions": STAFF,
    "Query.scorecardDefinitions": STAFF,
    "Mutation.rateMonth": "admin ops client", "Mutation.updateClientRating": "admin ops client",
    **{f"Mutation.{name}": WRITERS for name in (
        "importPulses", "createTeam", "createQaTemplate", "createQaReview", "createCalibration",
        "createCoaching",
        "refreshScorecardFacts", "addScorecardDefinition", "setScorecardThresholds", "declarePromotion")},
}


def declared_fields() -> dict[str, str | None]:
    from strawberry.utils.str_converters import to_camel_case

    from service.schema import build_schema

    schema = build_schema()
    found = {}
    for type_name in ("Query", "Mutation", "Shop", "Agent", "Me", "CapacityPlan"):
        definition = schema.get_type_by_name(type_name)
        for field in definition.fields:
            if type_name not in ("Query", "Mutation") and field.base_resolver is None:
                continue  # plain attributes of an object the caller was already allowed to read
            roles = [p.roles for p in field.permission_classes if hasattr(p, "roles")]
            found[f"{type_name}.{to_camel_case(field.python_name)}"] = \
                " ".join(sorted(r.value for r in roles[0])) if roles else None
    return found


def test_every_graphql_field_declares_the_expected_roles():
    expected = {k: " ".join(sorted(v.split())) if v else None for k, v in EXPECTED_GQL.items()}
    assert declared_fields() == expected


ROOT_CASES = [(field, role) for field in EXPECTED_GQL if field.startswith(("Query.", "Mutation."))
              for role in Role]


@pytest.mark.parametrize(("field", "role"), ROOT_CASES, ids=[f"{f} {r.value}" for f, r in ROOT_CASES])
async def test_graphql_matrix(client, world, field, role):

    name = field.split(".", 1)[1]
    query, variables = graphql_probes(world)[name]
    headers = auth(role, world.tenant_a.id if role == Role.client else None)
    result = await gql(client, query, variables, headers)
    codes = {e.get("extensions", {}).get("code") for e in result.get("errors", [])}
    if role.value in EXPECTED_GQL[field].split():
        assert "FORBIDDEN" not in codes and "UNAUTHENTICATED" not in codes, result
    else:
        assert codes == {"FORBIDDEN"}, result


async def test_graphql_anonymous_is_refused(client):

    result = await gql(client, "{ shops { items { id } } }")
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = await client.post("/graphql", json={"query": "{ me { role } }"},
                            headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
