"""The GraphQL contract: the SDL in graphql/ matches the code, every documented operation runs,
lists are batched (statement count flat in the number of items), limits are on."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import event

from service.schema import sdl
from tests.conftest import auth
from tests.factories import gql, issued_jti, plan_for_world, seating_world

ROOT = Path(__file__).resolve().parents[2] / "graphql"
OPERATIONS = sorted((ROOT / "operations").glob("*.graphql"))


def test_sdl_matches_code():
    assert (ROOT / "schema.graphql").read_text() == sdl(), \
        "graphql/schema.graphql drifted: run `uv run seatwise graphql-schema > graphql/schema.graphql`"


def test_graphql_folder_has_no_python():
    assert not list(ROOT.rglob("*.py")), "graphql/ must not hold Python (it would shadow graphql-core)"


def variables_for(name: str, world) -> tuple[dict, dict]:
    """Variables and headers each documented operation is run with."""
    tag = uuid.uuid4().hex[:6]
    ops = auth("ops")
    plan = getattr(world, "plan_id", uuid.UUID(int=0))  # set by _capacity_plan
    table = {
        "me": ({}, world.client_of("a")),
        "my-shops": ({"first": 10}, world.client_of("a")),
        "brand": ({"slug": world.tenant_a.slug}, ops),
        "brands-by-tier": ({"tier": "KA"}, ops),
        "onboard-brand": ({"brand": {"slug": f"new-{tag}", "name": "新品牌", "tier": "longtail"},
                           "firstShop": {"tenant": f"new-{tag}", "platform": "tmall",
                                         "name": "新品牌旗舰店"}},
                          ops),
        "add-shop": ({"shop": {"tenant": world.tenant_b.slug, "platform": "pdd", "name": f"B pdd {tag}"}},
                     ops),
        "floor": ({"siteId": str(world.site.id)}, auth("finance")),
        "hire-agent": ({"agent": {"siteId": str(world.site.id), "code": f"H{tag}", "name": "周敏",
                                  "level": "trainee", "loadedHourlyCost": "33.50",
                                  "hiredOn": "2026-11-01"}}, ops),
        "shop-sla": ({"shopId": str(world.shops_a[0].id), "from": "2026-10-01", "to": "2026-11-01"},
                     world.client_of("a")),
        "send-conversations": ({"records": [
            {"externalId": f"gql-{tag}", "shopId": str(world.shops_a[0].id),
             "startedAt": "2026-11-20T10:00:00+08:00",
             "firstResponseAt": "2026-11-20T10:00:08+08:00", "kind": "presale", "converted": True,
             "orderAmount": "199.00", "csat": 5}]}, world.client_of("a")),
        "breaches": ({"from": "2026-10-01", "to": "2026-11-01", "metric": "service_level"}, auth("finance")),
        "set-sla-policy": ({"shopId": str(world.shops_a[0].id), "policy": {
            "effectiveFrom": f"{2030 + int(tag, 16) % 900}-01-01", "serviceLevelTarget": 0.8,
            "responseRate3minTarget": 0.9, "csatTarget": 0.85}}, ops),
        "brand-sla-summary": ({"tenant": world.tenant_a.slug, "asOf": "2026-10-15"}, world.client_of("a")),
        "staffing-what-if": ({"input": {"model": "erlang_c", "intervalS": 1800, "ahtS": 180,
                                        "targetServiceLevel": 0.8, "targetAnswerS": 20, "shrinkage": 0.3,
                                        "intervals": [{"volume": 100}, {"volume": 100, "agents": 10}]}},
                             auth("finance")),
        "add-promotion": ({"promotion": {"name": f"Double 12 {tag}", "startDate": "2026-12-10",
                                         "endDate": "2026-12-12", "upliftByDay": [1.5, 2, 4]}}, ops),
        "promotions": ({"year": 2026}, world.client_of("a")),
        "brand-sla": ({"tenant": world.tenant_a.slug, "from": "2026-10-01", "to": "2026-12-01",
                       "granularity": "month"}, world.client_of("a")),
        "conversations": ({"shop": str(world.shops_a[0].id), "externalId": "gql-1"}, world.client_of("a")),
        "my-plans": ({"first": 5}, world.client_of("a")),
        "plan-seats": ({"plan": {"name": f"what if {tag}", "from": "2026-12-12T00:00:00+08:00",
                                 "to": "2026-12-12T06:00:00+08:00", "seats": {"total": 40},
                                 "shrinkage": 0.25}}, ops),
        "capacity-plan": ({"id": str(plan)}, auth("finance")),
        "my-plan-lines": ({"planId": str(plan), "first": 5}, world.client_of("a")),
        "add-contract": ({"contract": {
            "tenantId": str(world.tenant_b.id), "name": f"B {tag}", "effectiveFrom": "2026-01-01",
            "seatHourRate": "42.00", "monthlyBaseFee": "8000.00", "perConversationRate": "0.40",
            "gmvCommissionShare": "0.012", "peakSurchargePerSeatDay": "60.00",
            "creditPolicy": {"atRiskShare": "0.10", "earnBackMonths": 1, "allocations": [
                {"metric": "service_level", "allocation": "0.5", "earnBackTarget": 0.9},
                {"metric": "response_rate_3min", "allocation": "0.3"}]}}}, auth("finance")),
        "compute-month": ({"month": "2026-11"}, auth("finance")),
        "margins": ({"from": "2026-01", "to": "2026-12", "tier": "KA"}, auth("ops")),
        "my-statements": ({"tenant": world.tenant_a.slug}, world.client_of("a")),
        "plan-estimate": ({"planId": str(plan)}, auth("finance")),
        "shop-balance": ({"month": "2026-11"}, auth("ops")),
        "build-roster": ({"planId": str(plan), "roster": {"name": f"r {tag}", "mode": "fast"}}, ops),
        "publish-roster": ({"id": str(getattr(world, "roster_id", plan))}, ops),
        "my-roster-coverage": ({"rosterId": str(getattr(world, "roster_id", plan))}, world.client_of("a")),
        "agent-shifts": ({"agentId": str(world.site.id if not hasattr(world, "agent") else world.agent.id),
                          "start": "2026-12-01T00:00:00+08:00"}, auth("finance")),
        "place-shift": ({"shift": {"agentId": str(getattr(world, "agent", world.site).id),
                                   "from": f"2026-12-{22 + int(tag, 16) % 6}T09:00:00+08:00",
                                   "to": f"2026-12-{22 + int(tag, 16) % 6}T13:00:00+08:00"}}, ops),
        "labour-rules": ({"rules": {"name": f"evening {tag}", "shiftMin": 120, "shiftMax": 360}}, ops),
        "protect-ka": ({"snapshot": {"at": "2026-12-12T21:00:00+08:00", "shops": [
            {"shopId": str(world.shops_a[0].id), "waiting": 12, "volume": 40}]}}, ops),
        "machine-key": ({"key": {"name": f"jd exporter {tag}"}}, world.client_of("a")),
        "my-keys": ({}, world.client_of("a")),
        "tokens": ({}, auth("admin")),
        "brand-audit": ({"objectType": "shops"}, world.client_of("a")),
        "revoke-token": ({"jti": getattr(world, "jti", "")}, auth("admin")),
        "scorecards": ({"month": "2026-11", "scope": "brand"}, auth("finance")),
        "qa-and-coaching": ({"month": "2026-11"}, auth("finance")),
        "my-scorecard": ({"tenant": world.tenant_a.slug, "month": "2026-11"}, world.client_of("a")),
        "rate-month": ({"rating": {"score": 4, "comment": f"稳定 {tag}"}}, world.client_of("b")),
        "send-attendance": ({"records": [
            {"externalId": f"gql-ws-{tag}", "agentCode": getattr(getattr(world, "agent", None), "code", "A1"),
             "shopId": str(world.shops_a[0].id),
             "login": "2026-11-20T09:00:00+08:00", "logout": "2026-11-20T18:00:00+08:00",
             "breaks": [["2026-11-20T12:00:00+08:00", "2026-11-20T13:00:00+08:00"]]}]}, ops),
        "work-sessions": ({"from": "2026-11-20", "to": "2026-11-21"}, auth("finance")),
        "attendance-report": ({"month": "2026-11", "from": "2026-11-20", "to": "2026-11-21",
                               "agents": [getattr(getattr(world, "agent", None), "code", "A1")],
                               "shops": [str(world.shops_a[0].id)]},
                              auth("finance")),
    }
    return table[name]


@pytest.fixture(scope="module", autouse=True)
async def _capacity_plan(db, world):
    """A stored capacity plan over the world's shops for the capacity operations."""

    world.plan_id = await plan_for_world(db)
    await seating_world(db, world)
    world.jti = await issued_jti(db)


def test_every_operation_has_variables():
    from types import SimpleNamespace

    fake = SimpleNamespace(tenant_a=SimpleNamespace(slug="a", id=uuid.uuid4()),
                           tenant_b=SimpleNamespace(id=uuid.uuid4(), slug="b"),
                           site=SimpleNamespace(id=uuid.uuid4()), client_of=lambda _: {},
                           shops_a=[SimpleNamespace(id=uuid.uuid4())])
    for path in OPERATIONS:
        variables_for(path.stem, fake)


@pytest.mark.parametrize("path", OPERATIONS, ids=[p.stem for p in OPERATIONS])
async def test_documented_operation_runs(client, world, path):
    variables, headers = variables_for(path.stem, world)
    result = await gql(client, path.read_text(), variables, headers)
    assert "errors" not in result, result
    assert result["data"] and all(v is not None for v in result["data"].values())


async def test_client_operation_sees_own_brand(client, world):
    query = (ROOT / "operations" / "my-shops.graphql").read_text()
    result = await gql(client, query, {}, world.client_of("a"))
    slugs = {s["tenant"]["slug"] for s in result["data"]["shops"]["items"]}
    assert slugs == {world.tenant_a.slug}


async def test_shops_with_tenants_is_batched(client, db, world):
    for i in range(10):  # enough shops over both brands that an unbatched resolver would show
        tenant = world.tenant_a if i % 2 else world.tenant_b
        await gql(client, "mutation($s: ShopCreateInput!) { createShop(input: $s) { id } }",
                  {"s": {"tenantId": str(tenant.id), "platform": "jd", "name": f"batch {i}"}}, auth("ops"))
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        query = "query($n: Int!) { shops(first: $n) { items { name tenant { slug tier } } } }"
        counts = {}
        for n in (1, 14):
            statements.clear()
            result = await gql(client, query, {"n": n}, auth("ops"))
            assert len(result["data"]["shops"]["items"]) == n
            counts[n] = len(statements)
        assert counts[1] == counts[14], counts
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_alias_and_token_limits(client):
    aliases = "{ " + " ".join(f"a{i}: me {{ role }}" for i in range(40)) + " }"
    result = await gql(client, aliases, headers=auth("ops"))
    assert result["errors"] and "alias" in result["errors"][0]["message"].lower()
    huge = "{ me { " + " ".join(["role"] * 2500) + " } }"
    response = await client.post("/graphql", json={"query": huge}, headers=auth("ops"))
    assert "errors" in response.json()


async def test_graphiql_page(client):
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_graphql_update_clears_with_null_and_keeps_what_is_omitted(client, world):
    """As REST PATCH: an omitted field stays, an explicit null clears it (or is refused by name where the
    column may not be empty), with literal arguments and with variables alike."""
    shop = world.shops_a[1]
    ops = auth("ops")
    set_category = ('mutation($id: UUID!) { updateShop(id: $id, input: {category: "beauty"}) '
                    '{ category name } }')
    literal_clear = 'mutation($id: UUID!) { updateShop(id: $id, input: {category: null}) { category name } }'
    variables_update = ("mutation($id: UUID!, $in: ShopUpdateInput!) { updateShop(id: $id, input: $in) "
                        "{ category name } }")
    ident = {"id": str(shop.id)}
    for clear in ((literal_clear, ident), (variables_update, ident | {"in": {"category": None}})):
        assert (await gql(client, set_category, ident, ops))["data"]["updateShop"]["category"] == "beauty"
        untouched = await gql(client, variables_update, ident | {"in": {"status": "active"}}, ops)
        assert untouched["data"]["updateShop"] == {"category": "beauty", "name": shop.name}  # omitted: kept
        cleared = await gql(client, *clear, ops)
        assert cleared["data"]["updateShop"] == {"category": None, "name": shop.name}
    for refused in (('mutation($id: UUID!) { updateShop(id: $id, input: {name: null}) { name } }', ident),
                    (variables_update, ident | {"in": {"name": None}})):
        error = (await gql(client, *refused, ops))["errors"][0]
        assert error["extensions"]["status"] == 422 and error["extensions"]["errors"][0]["field"] == "name"
    rest = (await client.get(f"/v1/shops/{shop.id}", headers=ops)).json()
    assert rest["category"] is None and rest["name"] == shop.name
