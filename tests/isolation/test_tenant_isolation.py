"""A client token of brand A, over every REST route and GraphQL field, never sees or changes brand B's
data; B's objects answer 404 (never 403, which would confirm they exist)."""

from __future__ import annotations

import json

import pytest

from service.app import ROUTERS
from service.schema import build_schema
from tests.conftest import auth
from tests.gql.test_schema import gql


def _b_markers(world) -> list[str]:
    return [str(world.tenant_b.id), world.tenant_b.slug, *(str(s.id) for s in world.shops_b),
            *(s.name for s in world.shops_b)]


def _fill(path: str, world) -> str:
    # Every path parameter points at B's object (or at staff-only things, which clients may not reach).
    return (path.replace("{tenant}", world.tenant_b.slug).replace("{shop_id}", str(world.shops_b[0].id))
            .replace("{site_id}", str(world.site.id)).replace("{agent_id}", str(world.agent.id))
            .replace("{effective_from}", "2026-01-01").replace("{plan_id}", str(getattr(world, "plan_id", ""))))


@pytest.fixture(scope="module", autouse=True)
async def _capacity_plan(db, world):
    """A stored capacity plan with lines for A's and B's shops: A's client must only ever see A's."""
    from tests.capacity.test_plans import plan_for_world

    world.plan_id = await plan_for_world(db)


def _bodies(world) -> list[dict]:
    return [{}, {"tenant_id": str(world.tenant_b.id), "platform": "jd", "name": "smuggled"}, {"name": "hijacked"}]


async def test_every_rest_route_hides_b(client, world):
    headers = world.client_of("a")
    markers = _b_markers(world)
    for router in ROUTERS:
        for route in router.routes:
            for method in route.methods:
                path = _fill(route.path, world)
                for body in _bodies(world) if method in ("POST", "PATCH", "PUT") else [None]:
                    params = {"tenant": world.tenant_b.slug} if method == "GET" and "{" not in route.path else None
                    r = await client.request(method, path, headers=headers, params=params,
                                             **({"json": body} if body is not None else {}))
                    where = f"{method} {route.path} {body}"
                    assert r.status_code in (200, 403, 404, 415, 422), where + r.text
                    if "{shop_id}" in route.path and r.status_code != 403:
                        assert r.status_code == 404, where  # B's shop: not found, not forbidden
                    answer = r.json() if "json" in r.headers.get("content-type", "") else r.text  # CSV exports
                    if isinstance(answer, dict):
                        answer.pop("instance", None)  # echoes the caller's own request path
                    text = json.dumps(answer, ensure_ascii=False)
                    for marker in markers:
                        assert marker not in text, f"{where} leaked {marker}"


async def test_b_is_unchanged(client, world):
    shops = (await client.get("/v1/shops", headers=auth("ops"), params={"tenant": world.tenant_b.slug})).json()
    assert {s["name"] for s in shops["items"]} == {s.name for s in world.shops_b}
    tenant = (await client.get(f"/v1/tenants/{world.tenant_b.slug}", headers=auth("ops"))).json()
    assert tenant["name"] == world.tenant_b.name


def _graphql_probes(world) -> dict[str, tuple[str, dict]]:
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
        "createTenant": ("mutation { createTenant(input: {slug: \"evil\", name: \"e\", tier: KA}) { id } }", {}),
        "updateTenant": ("mutation($s: String!) { updateTenant(slug: $s, input: {name: \"x\"}) { id } }",
                         {"s": world.tenant_b.slug}),
        "createShop": ("mutation($t: UUID!) { createShop(input: {tenantId: $t, platform: jd, name: \"s\"}) { id } }",
                       {"t": str(world.tenant_b.id)}),
        "updateShop": ("mutation($id: UUID!) { updateShop(id: $id, input: {name: \"hijacked\"}) { id } }", {"id": b_shop}),
        "createSite": ("mutation { createSite(input: {name: \"s\", city: \"c\", seatCapacity: 1}) { id } }", {}),
        "updateSite": ("mutation($id: UUID!) { updateSite(id: $id, input: {seatCapacity: 1}) { id } }",
                       {"id": str(world.site.id)}),
        "createAgent": ("mutation($s: UUID!) { createAgent(input: {siteId: $s, code: \"Z\", name: \"z\", "
                        "loadedHourlyCost: \"1\", hiredOn: \"2026-01-01\"}) { id } }", {"s": str(world.site.id)}),
        "updateAgent": ("mutation($id: UUID!) { updateAgent(id: $id, input: {name: \"z\"}) { id } }",
                        {"id": str(world.agent.id)}),
        "breaches": ("query($t: String, $s: UUID) { a: breaches(tenant: $t) { items { shopId } nextCursor } "
                     "b: breaches(shop: $s) { items { shopId } } }", {"t": world.tenant_b.slug, "s": b_shop}),
        "slaPolicies": ("query($s: UUID!) { slaPolicies(shopId: $s) { items { shopId effectiveFrom } } }",
                        {"s": b_shop}),
        "slaSummary": ("query($t: String!) { slaSummary(tenant: $t) { tenantId shops { shopId name } } }",
                       {"t": world.tenant_b.slug}),
        "createSlaPolicy": ("mutation($s: UUID!) { createSlaPolicy(shopId: $s, input: {effectiveFrom: \"2026-01-01\", "
                            "csatTarget: 0.9}) { id shopId } }", {"s": b_shop}),
        "updateSlaPolicy": ("mutation($s: UUID!) { updateSlaPolicy(shopId: $s, effectiveFrom: \"2026-01-01\", "
                            "input: {csatTarget: 0.1}) { id shopId } }", {"s": b_shop}),
        "staffing": ("{ staffing(input: {model: erlang_c, intervalS: 900, ahtS: 180, targetServiceLevel: 0.8, "
                     "targetAnswerS: 20, intervals: [{volume: 10}]}) { intervals { agents } } }", {}),
        "promotions": ("{ promotions { items { id name } } }", {}),
        "capacityPlans": ("{ capacityPlans { items { id shops { shopId tenantSlug } } } }", {}),
        "capacityPlan": ("query($id: UUID!) { capacityPlan(id: $id) { id shops { shopId shopName tenantId } "
                         "intervals { shortfall } } }", {"id": plan}),
        "capacityPlanLines": ("query($p: UUID!) { capacityPlanLines(planId: $p, first: 500) { items { tenantId shopId } "
                              "nextCursor } }", {"p": plan}),
        "createPromotion": ("mutation { createPromotion(input: {name: \"evil\", startDate: \"2026-12-12\", "
                            "endDate: \"2026-12-11\"}) { id } }", {}),
        "createCapacityPlan": ("mutation { createCapacityPlan(input: {name: \"evil\", promotion: \"no such\", "
                               "seats: {total: 1}}) { id } }", {}),
        "ingestConversations": ("mutation($s: UUID!) { ingestConversations(records: [{externalId: \"x\", shopId: $s, "
                                "startedAt: \"2026-11-20T10:00:00+08:00\", kind: \"presale\"}]) "
                                "{ inserted rejected { field reason } } }", {"s": b_shop}),
    }


def test_probes_cover_every_root_field():
    schema = build_schema()
    fields = {f.name for f in schema.get_type_by_name("Query").fields} | \
             {f.name for f in schema.get_type_by_name("Mutation").fields}
    import uuid
    from types import SimpleNamespace

    fake = SimpleNamespace(tenant_b=SimpleNamespace(id=uuid.uuid4(), slug="b"), shops_b=[SimpleNamespace(id=1)],
                           site=SimpleNamespace(id=1), agent=SimpleNamespace(id=1))
    from strawberry.utils.str_converters import to_camel_case

    assert {to_camel_case(f) for f in fields} == set(_graphql_probes(fake))


ROOT_FIELDS = ["me", "tenants", "tenant", "shops", "shop", "sites", "agents", "createTenant", "updateTenant",
               "createShop", "updateShop", "createSite", "updateSite", "createAgent", "updateAgent",
               "breaches", "slaPolicies", "slaSummary", "createSlaPolicy", "updateSlaPolicy",
               "staffing", "promotions", "capacityPlans", "capacityPlan", "capacityPlanLines", "createPromotion",
               "createCapacityPlan", "ingestConversations"]


@pytest.mark.parametrize("field", ROOT_FIELDS)
async def test_every_graphql_field_hides_b(client, world, field):
    query, variables = _graphql_probes(world)[field]
    result = await gql(client, query, variables, world.client_of("a"))
    text = json.dumps(result, ensure_ascii=False)
    for marker in _b_markers(world):
        assert marker not in text, f"{field} leaked {marker}"
    if field == "shop":
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    if field == "shops":
        assert result["data"]["shops"]["items"] == []
    if field in ("slaPolicies", "slaSummary"):
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    if field == "breaches":
        assert result["data"]["a"] == {"items": [], "nextCursor": None} and result["data"]["b"]["items"] == []
    if field in ("staffing", "promotions", "capacityPlans", "capacityPlan", "createPromotion", "createCapacityPlan"):
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # plan headers are not a brand's
    if field == "capacityPlanLines":  # A's own lines, and only those
        lines = result["data"]["capacityPlanLines"]["items"]
        assert lines and {x["tenantId"] for x in lines} == {str(world.tenant_a.id)}
        b_shop = await gql(client, "query($p: UUID!, $s: UUID) { capacityPlanLines(planId: $p, shopId: $s) "
                           "{ items { shopId } } }", {"p": str(world.plan_id), "s": str(world.shops_b[0].id)},
                           world.client_of("a"))
        assert b_shop["errors"][0]["extensions"]["code"] == "NOT_FOUND"
