"""The audit log (issue 11): every write in every domain records who, what, before and after, when and the
request id, in the write's transaction; admins read it with filters, a brand reads its own entries; nothing
can update or delete an entry, the app role and the owner included."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.kit.db import make_engine
from tests.conftest import auth, make_token
from tests.factories import assert_problem, gql, rls_count


async def _entries(client, **params) -> list[dict]:
    r = await client.get("/v1/audit", params=params, headers=auth("admin"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_writes_in_every_domain_are_recorded_with_who_what_and_the_request(client, world):
    ops = {"Authorization": f"Bearer {make_token('ops')}", "X-Request-ID": "req-audit-1"}
    shop = world.shops_a[0]
    writes = [
        ("PATCH", f"/v1/shops/{shop.id}", {"name": "renamed for audit"}, "shops", "update"),
        ("POST", "/v1/sites", {"name": "audit site", "city": "Hefei", "seat_capacity": 3}, "sites", "create"),
        ("PATCH", f"/v1/tenants/{world.tenant_a.slug}", {"priority_weight": 2.5}, "tenants", "update"),
        ("POST", f"/v1/shops/{shop.id}/sla-policies", {"effective_from": "2031-01-01", "csat_target": 0.8},
         "sla_policies", "create"),
        ("POST", "/v1/promotions",
         {"name": "Audit Day", "start_date": "2031-03-01", "end_date": "2031-03-02"}, "promotions", "create"),
    ]
    for method, path, body, _, _ in writes:
        r = await client.request(method, path, json=body, headers=ops)
        assert r.status_code in (200, 201), (path, r.text)
    line = json.dumps({"external_id": "audited", "shop_id": str(shop.id),
                       "started_at": "2026-11-20T10:00:00+08:00", "kind": "presale"})
    r = await client.post("/v1/conversations", content=line,
                          headers={**ops, "Content-Type": "application/x-ndjson"})
    assert r.headers["x-request-id"] == "req-audit-1"
    entries = await _entries(client, request_id="req-audit-1")
    seen = {(e["object_type"], e["action"]) for e in entries}
    for *_, kind, action in writes:
        assert (kind, action) in seen, (kind, action, seen)
    assert ("conversations", "ingest") in seen
    renamed = next(e for e in entries if e["object_type"] == "shops")
    assert renamed["before"]["name"] == shop.name and renamed["after"]["name"] == "renamed for audit"
    assert renamed["actor"] == "test-ops" and renamed["actor_role"] == "ops" and renamed["actor_token"]
    assert renamed["tenant_id"] == str(world.tenant_a.id) and renamed["object_id"].endswith(str(shop.id))
    created = {e["object_type"]: e for e in entries if e["action"] == "create"}
    site = created["sites"]
    # a new row's id, known after the flush
    assert site["object_id"] and site["object_id"] == site["after"]["id"]
    ingest = next(e for e in entries if e["action"] == "ingest")
    assert ingest["after"]["inserted"] == 1
    assert all(e["request_id"] == "req-audit-1" for e in entries)


async def test_admins_filter_and_a_brand_reads_its_own_entries(client, world):
    await client.patch(f"/v1/shops/{world.shops_b[0].id}", json={"category": "b-audit"}, headers=auth("ops"))
    await client.patch(f"/v1/shops/{world.shops_a[1].id}", json={"category": "a-audit"}, headers=auth("ops"))
    mine = (await client.get("/v1/audit", headers=world.client_of("a"))).json()["items"]
    assert mine and {e["tenant_id"] for e in mine} == {str(world.tenant_a.id)}
    b_only = await _entries(client, tenant=world.tenant_b.slug, object_type="shops")
    assert b_only and {e["tenant_id"] for e in b_only} == {str(world.tenant_b.id)}
    r = await client.get("/v1/audit", params={"tenant": world.tenant_b.slug}, headers=world.client_of("a"))
    assert r.json()["items"] == []
    query = '{ auditLog(objectType: "shops") { items { tenantId action before after } } }'
    result = await gql(client, query, headers=world.client_of("a"))
    assert {e["tenantId"] for e in result["data"]["auditLog"]["items"]} == {str(world.tenant_a.id)}
    for role in ("ops", "finance"):
        assert_problem(await client.get("/v1/audit", headers=auth(role)), 403)


async def test_a_brand_sees_no_other_brands_entries_in_sql(db, world):
    sql = "SELECT count(*) FROM audit_log WHERE tenant_id <> :t"
    assert await rls_count(db.engine, sql, "", str(world.tenant_a.id), t=str(world.tenant_a.id)) == 0


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log",
                                       "TRUNCATE audit_log"])
async def test_nothing_can_change_an_entry(database, db, client, world, statement):
    await client.post("/v1/sites", json={"name": f"s {statement[:6]}", "city": "x", "seat_capacity": 1},
                      headers=auth("ops"))
    for url in (database.app_url, database.owner_url):  # the app role, and the owner itself
        engine = make_engine(url, 1)
        try:
            with pytest.raises(DBAPIError):
                async with engine.begin() as conn:
                    await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()
    assert await rls_count(db.engine, "SELECT count(*) FROM audit_log", "on", "") > 0


def test_a_time_range_is_logged_as_its_bounds():
    """A shift's `during` (a tstzrange, loaded by the ORM as a Range) is logged as plain JSON."""
    from datetime import UTC, datetime

    from sqlalchemy.dialects.postgresql import Range

    from service.kit.audit import plain

    lo, hi = datetime(2026, 12, 12, 1, tzinfo=UTC), datetime(2026, 12, 12, 9, tzinfo=UTC)
    assert plain(Range(lo, hi)) == {"lower": lo.isoformat(), "upper": hi.isoformat(), "bounds": "[)"}
