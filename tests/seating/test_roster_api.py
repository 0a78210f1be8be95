"""Rosters through the API: built from a plan (fast and optimise), every stored roster valid by the
independent checker, published, read back (summary, shifts, iCalendar, coverage as JSON and CSV), re-planned
with minimal disruption; a client reads counts of its own shops only, in both doors."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from service.seating.service import check_stored_roster
from tests.conftest import auth
from tests.factories import gql, roster_plan

OPS = auth("ops")


@pytest.fixture(scope="module")
async def plan_id(db, world):
    return await roster_plan(db, world)


async def _violations(db, roster_id):
    async with db.system_transaction() as session:
        return await check_stored_roster(session, roster_id)


@pytest.fixture(scope="module")
async def roster(client, db, plan_id):
    r = await client.post(f"/v1/capacity-plans/{plan_id}/rosters", json={"name": "fast"}, headers=OPS)
    assert r.status_code == 201, r.text
    return r.json()


async def test_fast_roster_covers_the_plan_within_the_rules(db, roster):
    s = roster["summary"]
    assert roster["status"] == "draft" and s["solver"]["status"] == "fast"
    assert s["total"]["allocated"] == 4 * (2 * 48 + 32 + 32) // 4
    assert s["total"]["covered"] > 0 and s["shifts"] > 0 and s["agents_used"] > 0
    assert {t["tier"] for t in s["tiers"]} == {"KA", "standard"}
    ka = next(t for t in s["tiers"] if t["tier"] == "KA")
    assert ka["coverage"] == 1.0  # KA first
    assert s["bound"]["gap"] == s["bound"]["value"] - s["total"]["covered"]
    assert sum(u["missing"] for u in s["uncovered"]) == s["total"]["allocated"] - s["total"]["covered"]
    assert float(s["labour_cost"]) > 0 and s["hours"] > 0
    assert await _violations(db, roster["id"]) == []


async def test_a_roster_is_on_record_in_two_entries(db, roster):
    """The roster's row (without its summary: derived figures) and its shifts stored set-based, one entry."""
    async with db.system_transaction() as session:
        rows = (await session.execute(text(
            "SELECT object_type, actor, after FROM audit_log WHERE after->>'id' = :id OR object_id = :id "
            "ORDER BY object_type"), {"id": roster["id"]})).all()
    assert [r.object_type for r in rows] == ["rosters", "shifts"] and {r.actor for r in rows} == {"test-ops"}
    assert "summary" not in rows[0].after and rows[0].after["plan_id"] == roster["plan_id"]
    s = roster["summary"]
    assert rows[1].after == {"roster_id": roster["id"], "status": "draft", "shifts": s["shifts"],
                             "assignments": s["assignments"]}


async def test_optimise_keeps_or_improves_and_is_valid(client, db, plan_id, roster):
    r = await client.post(
        f"/v1/capacity-plans/{plan_id}/rosters",
        json={"mode": "optimise", "time_limit_s": 5, "seed": 1, "deterministic_time": 2},
        headers=OPS,
    )
    assert r.status_code == 201, r.text
    s = r.json()["summary"]
    assert s["solver"]["mode"] == "optimise" and s["solver"]["status"] in ("optimal", "improved", "kept_fast")
    assert s["total"]["covered"] >= s["solver"]["fast_covered"]
    assert await _violations(db, r.json()["id"]) == []


async def test_publish_then_read_back(client, world, roster):
    r = await client.post(f"/v1/rosters/{roster['id']}/publish", headers=OPS)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published" and r.json()["published_by"] == "test-ops"
    again = await client.post(f"/v1/rosters/{roster['id']}/publish", headers=OPS)
    assert again.status_code == 409
    shifts = (await client.get("/v1/shifts", params={"roster": roster["id"], "limit": 2}, headers=OPS)).json()
    assert len(shifts["items"]) == 2 and shifts["next_cursor"]
    rest = (
        await client.get(
            "/v1/shifts",
            params={"roster": roster["id"], "cursor": shifts["next_cursor"], "limit": 500},
            headers=OPS,
        )
    ).json()
    assert len(rest["items"]) == roster["summary"]["shifts"] - 2
    one = shifts["items"][0]
    assert one["status"] == "published" and one["assignments"] and one["created_by"] == "test-ops"
    by_shop = (
        await client.get("/v1/shifts", params={"shop": str(world.shops_a[0].id), "limit": 500}, headers=OPS)
    ).json()["items"]
    assert by_shop and all(
        any(a["shop_id"] == str(world.shops_a[0].id) for a in s["assignments"]) for s in by_shop
    )
    ics = await client.get(f"/v1/agents/{one['agent_id']}/schedule.ics", headers=OPS)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    from icalendar import Calendar

    events = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(events[0]["uid"]).endswith("@seatwise") and len(events) >= 1


COVERAGE_FIELDS = {"tenant_id", "shop_id", "interval_start", "required", "allocated", "rostered", "missing"}


async def test_a_client_reads_counts_of_its_own_shops_only(client, world, roster):
    staff = (
        await client.get(f"/v1/rosters/{roster['id']}/coverage", params={"limit": 500}, headers=OPS)
    ).json()
    assert {c["tenant_id"] for c in staff["items"]} >= {str(world.tenant_a.id), str(world.tenant_b.id)}
    mine = (
        await client.get(
            f"/v1/rosters/{roster['id']}/coverage", params={"limit": 500}, headers=world.client_of("a")
        )
    ).json()["items"]
    assert mine and {c["tenant_id"] for c in mine} == {str(world.tenant_a.id)}
    for cell in mine:
        assert set(cell) == COVERAGE_FIELDS  # field by field: counts, never an agent
    assert sum(c["rostered"] for c in mine if c["shop_id"] == str(world.shops_a[0].id)) > 0
    b_shop = await client.get(
        f"/v1/rosters/{roster['id']}/coverage",
        params={"shop": str(world.shops_b[0].id)},
        headers=world.client_of("a"),
    )
    assert b_shop.status_code == 404
    exported = await client.get(f"/v1/rosters/{roster['id']}/coverage.csv", headers=world.client_of("a"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(mine) and set(rows[0]) == COVERAGE_FIELDS
    assert {r["tenant_id"] for r in rows} == {str(world.tenant_a.id)}
    for role in ("client",):
        denied = await client.get(f"/v1/rosters/{roster['id']}", headers=world.client_of("a"))
        assert denied.status_code == 403, role
    result = await gql(
        client,
        "query($r: UUID!) { rosterCoverage(rosterId: $r, first: 500) { items { tenantId "
        "shopId intervalStart required allocated rostered missing } } }",
        {"r": roster["id"]},
        world.client_of("a"),
    )
    items = result["data"]["rosterCoverage"]["items"]
    assert len(items) == len(mine) and {i["tenantId"] for i in items} == {str(world.tenant_a.id)}
    from service.schema import build_schema

    fields = {f.python_name for f in build_schema().get_type_by_name("CoverageCell").fields}
    assert fields == COVERAGE_FIELDS  # the client's only type of seating: no agent, code, cost or skill
    refused = await gql(
        client,
        "query($r: UUID!) { shifts(rosterId: $r) { items { agentId } } }",
        {"r": roster["id"]},
        world.client_of("a"),
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_replan_moves_only_what_must_move(client, db, world, plan_id, roster):
    shifts = (
        await client.get("/v1/shifts", params={"roster": roster["id"], "limit": 500}, headers=OPS)
    ).json()
    victim = shifts["items"][0]
    r = await client.post(
        f"/v1/agents/{victim['agent_id']}/availability",
        headers=OPS,
        json={"kind": "leave", "from": victim["starts_at"], "to": victim["ends_at"], "note": "sick"},
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/capacity-plans/{plan_id}/rosters", json={"name": "replan"}, headers=OPS)
    assert r.status_code == 201, r.text
    new = r.json()
    replan = new["summary"]["replan"]
    assert new["replaces_id"] == roster["id"] and replan["replaces"] == roster["id"]
    assert replan["released"] == 1 and replan["released_rules"] == {"unavailable": 1}
    assert replan["pinned"] == roster["summary"]["shifts"] - 1
    assert await _violations(db, new["id"]) == []
    published = await client.post(f"/v1/rosters/{new['id']}/publish", headers=OPS)
    assert published.status_code == 200, published.text
    old = (await client.get(f"/v1/rosters/{roster['id']}", headers=OPS)).json()
    assert old["status"] == "superseded"
    kept = (await client.get("/v1/shifts", params={"roster": new["id"], "limit": 500}, headers=OPS)).json()
    times = {(s["agent_id"], s["starts_at"], s["ends_at"]) for s in kept["items"]}
    before = {(s["agent_id"], s["starts_at"], s["ends_at"]) for s in shifts["items"]}
    assert (
        len(before - times) == 1 and (victim["agent_id"], victim["starts_at"], victim["ends_at"]) not in times
    )


async def test_a_calendar_year_out_of_range_is_a_422_in_both_doors(client):
    """Found by the GraphQL fuzzer: the year reached `date()` unchecked (a 500)."""
    rest = await client.get("/v1/holiday-calendars/1999", headers=auth("ops"))
    assert rest.status_code == 422 and rest.json()["errors"][0]["field"] == "path.year"
    answer = await gql(client, "{ holidayCalendar(year: 0) { year } }", {}, auth("ops"))
    error = answer["errors"][0]
    assert error["extensions"]["status"] == 422 and "year" in error["message"]
