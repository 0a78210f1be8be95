"""REST create, read, update, list with filters and cursor pagination, for each foundation resource."""

from __future__ import annotations

import uuid

from tests.conftest import auth

OPS = auth("ops")


async def test_tenant_lifecycle(client):
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    created = await client.post("/v1/tenants", headers=OPS,
                                json={"slug": slug, "name": "Acme 品牌", "tier": "KA"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["tier"] == "KA" and body["priority_weight"] == 1.0 and body["status"] == "active"
    by_slug = await client.get(f"/v1/tenants/{slug}", headers=auth("finance"))
    by_id = await client.get(f"/v1/tenants/{body['id']}", headers=auth("finance"))
    assert by_slug.json() == by_id.json() == body
    changed = await client.patch(f"/v1/tenants/{slug}", headers=OPS,
                                 json={"tier": "standard", "priority_weight": 1.5})
    assert changed.status_code == 200 and changed.json()["tier"] == "standard"
    assert changed.json()["priority_weight"] == 1.5 and changed.json()["name"] == "Acme 品牌"
    duplicate = await client.post("/v1/tenants", headers=OPS,
                                  json={"slug": slug, "name": "again", "tier": "KA"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"


async def test_tenant_filters(client, world):
    ka = (await client.get("/v1/tenants", headers=OPS, params={"tier": "KA", "limit": 500})).json()["items"]
    assert world.tenant_a.slug in {t["slug"] for t in ka}
    assert all(t["tier"] == "KA" for t in ka)
    found = (await client.get("/v1/tenants", headers=OPS, params={"q": world.tenant_b.slug})).json()["items"]
    assert [t["slug"] for t in found] == [world.tenant_b.slug]


async def test_cursor_pagination_walks_every_item_once(client, world):
    tenant = world.tenant_a.id
    for i in range(5):
        r = await client.post("/v1/shops", headers=OPS, json={"tenant_id": str(tenant), "platform": "pdd",
                                                               "name": f"page shop {i}"})
        assert r.status_code == 201, r.text
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, "tenant": world.tenant_a.slug} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/shops", headers=OPS, params=params)).json()
        seen += [s["id"] for s in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7 and pages == 4


async def test_shop_lifecycle_and_filters(client, world):
    r = await client.post("/v1/shops", headers=auth("admin"), json={
        "tenant_id": str(world.tenant_b.id), "platform": "douyin", "name": "B 抖音 2",
        "timezone": "Asia/Shanghai", "category": "beauty"})
    assert r.status_code == 201, r.text
    shop = r.json()
    got = await client.get(f"/v1/shops/{shop['id']}", headers=auth("finance"))
    assert got.json() == shop
    changed = await client.patch(f"/v1/shops/{shop['id']}", headers=OPS,
                                 json={"status": "paused", "category": None})
    assert changed.json()["status"] == "paused" and changed.json()["category"] is None
    douyin = (await client.get("/v1/shops", headers=OPS,
                               params={"platform": "douyin", "tenant": str(world.tenant_b.id)})).json()
    assert {s["platform"] for s in douyin["items"]} == {"douyin"} and len(douyin["items"]) == 2
    paused = (await client.get("/v1/shops", headers=OPS, params={"status": "paused"})).json()["items"]
    assert [s["id"] for s in paused] == [shop["id"]]
    unknown = await client.post("/v1/shops", headers=OPS,
                                json={"tenant_id": str(uuid.uuid4()), "platform": "jd", "name": "orphan"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.tenant_id"


async def test_client_reads_own_shops_only(client, world):
    mine = (await client.get("/v1/shops", headers=world.client_of("a"))).json()["items"]
    assert mine and {s["tenant_id"] for s in mine} == {str(world.tenant_a.id)}


async def test_sites_and_agents(client, world):
    site = await client.post("/v1/sites", headers=OPS,
                             json={"name": "合肥二期", "city": "Hefei", "seat_capacity": 250})
    assert site.status_code == 201, site.text
    site_id = site.json()["id"]
    agent = await client.post("/v1/agents", headers=OPS, json={
        "site_id": site_id, "code": "HF0001", "name": "李静", "level": "senior",
        "skills": ["presale", "beauty"],
        "loaded_hourly_cost": "52.80", "max_concurrency": 5, "hired_on": "2024-03-01"})
    assert agent.status_code == 201, agent.text
    assert agent.json()["loaded_hourly_cost"] == "52.80"
    agent_id = agent.json()["id"]
    left = await client.patch(f"/v1/agents/{agent_id}", headers=OPS, json={"left_on": "2026-10-31"})
    assert left.json()["left_on"] == "2026-10-31"
    before_hire = await client.patch(f"/v1/agents/{agent_id}", headers=OPS, json={"left_on": "2020-01-01"})
    assert before_hire.status_code == 422 and before_hire.json()["errors"][0]["field"] == "body.left_on"
    at_site = (await client.get("/v1/agents", headers=auth("finance"),
                                params={"site_id": site_id})).json()["items"]
    assert [a["code"] for a in at_site] == ["HF0001"]
    gone = (await client.get("/v1/agents", headers=OPS,
                             params={"site_id": site_id, "active": "false"})).json()["items"]
    assert [a["code"] for a in gone] == ["HF0001"]
    assert (await client.get(f"/v1/sites/{site_id}", headers=OPS)).json()["seat_capacity"] == 250
    grown = await client.patch(f"/v1/sites/{site_id}", headers=OPS, json={"seat_capacity": 300})
    assert grown.json()["seat_capacity"] == 300
    hefei = (await client.get("/v1/sites", headers=OPS, params={"city": "Hefei"})).json()["items"]
    assert site_id in {s["id"] for s in hefei}
    no_site = await client.post("/v1/agents", headers=OPS, json={
        "site_id": str(uuid.uuid4()), "code": "X1", "name": "x", "loaded_hourly_cost": "40",
        "hired_on": "2024-01-01"})
    assert no_site.status_code == 422 and no_site.json()["errors"][0]["field"] == "body.site_id"


async def test_health(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
