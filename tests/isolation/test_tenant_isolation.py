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
            .replace("{site_id}", str(world.site.id)).replace("{agent_id}", str(world.agent.id)))


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
                    answer = r.json()
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
    return {
        "me": ("{ me { subject role tenantId tenant { id slug } } }", {}),
        "tenants": ("{ tenants { items { id slug } } }", {}),
        "tenant": ("query($s: String!) { tenant(slug: $s) { id slug } }", {"s": world.tenant_b.slug}),
        "shops": ("query($t: String) { shops(tenant: $t) { items { id name tenant { slug } } } }",
                  {"t": world.tenant_b.slug}),
        "shop": ("query($id: UUID!) { shop(id: $id) { id name tenant { slug } } }", {"id": b_shop}),
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
               "createShop", "updateShop", "createSite", "updateSite", "createAgent", "updateAgent"]


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
