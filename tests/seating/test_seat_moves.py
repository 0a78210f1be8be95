"""Manual seat moves and the data around rosters: a double booking is the database's 409 naming the other
shift (also under concurrent requests), a broken rule a 422 naming it, a site never seats more agents than
it has seats (its row lock), every change stamped with who made it; rule sets, the holiday calendar,
availability, shop requirements; live KA protection proposed and applied."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from service.workforce.schemas import AgentCreate, SiteCreate
from service.workforce.service import create_agent, create_site
from tests.conftest import auth
from tests.factories import assert_problem, gql, roster_plan

OPS = auth("ops")
DAY = "2026-12-14"


def at(hhmm: str) -> str:
    return f"{DAY}T{hhmm}:00+08:00"


@pytest.fixture(scope="module")
async def plan_id(db, world):
    return await roster_plan(db, world)


async def _shift(client, agent, lo, hi, shop=None, **extra):
    """POST a shift of AGENT from LO to HI on DAY; with SHOP, assigned to it for the whole shift."""
    if shop is not None:
        extra["assignments"] = [{"shop_id": str(shop.id), "from": at(lo), "to": at(hi)}]
    return await client.post(
        "/v1/shifts", headers=OPS, json={"agent_id": str(agent.id), "from": at(lo), "to": at(hi), **extra}
    )


async def test_a_manual_shift_is_live_stamped_and_refuses_double_booking(client, world, plan_id):
    agent = world.roster_agents[0]
    r = await _shift(client, agent, "09:00", "13:00", shop=world.shops_a[0])
    assert r.status_code == 201, r.text
    first = r.json()
    assert (
        first["status"] == "published" and first["source"] == "manual" and first["created_by"] == "test-ops"
    )
    assert first["assignments"][0]["created_by"] == "test-ops"
    clash = await _shift(client, agent, "12:00", "16:00")
    body = assert_problem(clash, 409)
    assert body["conflict"]["shift_id"] == first["id"] and body["conflict"]["agent_id"] == str(agent.id)
    assert body["conflict"]["from"].startswith("2026-12-14T01:00") and first["id"] in body["detail"]
    g = await gql(
        client,
        "mutation($i: ShiftCreateInput!) { createShift(input: $i) { id } }",
        {"i": {"agentId": str(agent.id), "from": at("10:00"), "to": at("14:00")}},
        OPS,
    )
    assert g["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert g["errors"][0]["extensions"]["conflict"]["shift_id"] == first["id"]


async def test_a_broken_rule_is_a_422_naming_it(client, world, plan_id):
    agent = world.roster_agents[1]
    long = await _shift(client, agent, "06:00", "19:00")
    body = assert_problem(long, 422)
    assert body["rule"] == "shift_length" and body["errors"][0]["rule"] == "shift_length"
    skills = await _shift(client, agent, "09:00", "13:00", shop=world.shops_a[1])  # A's jd shop
    assert assert_problem(skills, 422, "body.assignments")["rule"] in ("skills",)
    no_break = await _shift(client, agent, "09:00", "17:00")
    assert assert_problem(no_break, 422)["rule"] == "meal_break_count"
    ok = await _shift(client, agent, "09:00", "17:00", breaks=[{"from": at("12:00"), "to": at("12:30")}])
    assert ok.status_code == 201, ok.text
    rest = await client.post(
        "/v1/shifts",
        headers=OPS,
        json={"agent_id": str(agent.id), "from": at("20:00"), "to": "2026-12-15T00:00:00+08:00"},
    )
    assert assert_problem(rest, 422)["rule"] == "rest_between_shifts"
    bad_time = await _shift(client, agent, "09:10", "13:00")
    assert_problem(bad_time, 422, "body.from")


async def test_moves_and_assignment_changes(client, db, world, plan_id):
    agent = world.roster_agents[2]
    shift = (await _shift(client, agent, "14:00", "18:00")).json()
    moved = await client.patch(
        f"/v1/shifts/{shift['id']}", headers=auth("admin"), json={"from": at("15:00"), "to": at("19:00")}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["updated_by"] == "test-admin" and moved.json()["created_by"] == "test-ops"
    async with db.system_transaction() as session:  # the set-based writes are on record too
        log = (await session.execute(text(
            "SELECT action, actor FROM audit_log WHERE object_type = 'shifts' AND object_id = :id "
            "ORDER BY at"),
            {"id": shift["id"]})).all()
    assert [tuple(r) for r in log] == [("create", "test-ops"), ("update", "test-admin")]
    piece = await client.post(
        f"/v1/shifts/{shift['id']}/assignments",
        headers=OPS,
        json={"shop_id": str(world.shops_a[0].id), "from": at("15:00"), "to": at("17:00")},
    )
    assert piece.status_code == 201, piece.text
    overlap = await client.post(
        f"/v1/shifts/{shift['id']}/assignments",
        headers=OPS,
        json={"shop_id": str(world.shops_b[0].id), "from": at("16:00"), "to": at("18:00")},
    )
    assert assert_problem(overlap, 409)["conflict"]["assignment_id"] == piece.json()["id"]
    outside = await client.post(
        f"/v1/shifts/{shift['id']}/assignments",
        headers=OPS,
        json={"shop_id": str(world.shops_b[0].id), "from": at("18:00"), "to": at("20:00")},
    )
    assert assert_problem(outside, 422)["rule"] == "assignment_outside_shift"
    changed = await client.patch(
        f"/v1/assignments/{piece.json()['id']}", headers=OPS, json={"shop_id": str(world.shops_b[0].id)}
    )
    assert changed.status_code == 200 and changed.json()["shop_id"] == str(world.shops_b[0].id)
    assert (await client.delete(f"/v1/assignments/{piece.json()['id']}", headers=OPS)).status_code == 204
    assert (await client.delete(f"/v1/shifts/{shift['id']}", headers=OPS)).status_code == 204
    assert (await client.get(f"/v1/shifts/{shift['id']}", headers=OPS)).status_code == 404


async def test_concurrent_bookings_one_agent_and_one_site(client, db):
    """Concurrent requests: one agent booked six times over the same hours (one wins, five 409s); eight
    agents at a site with three seats (three win)."""
    tag = uuid.uuid4().hex[:5]
    async with db.system_transaction() as session:
        site = await create_site(session, SiteCreate(name=f"small {tag}", city="Hefei", seat_capacity=3))
        agents = [
            await create_agent(
                session,
                AgentCreate(
                    site_id=site.id,
                    code=f"C{tag}{i}",
                    name="并发",
                    skills=["tmall"],
                    loaded_hourly_cost=Decimal(40),
                    hired_on=date(2025, 1, 1),
                ),
            )
            for i in range(8)
        ]
    one = await asyncio.gather(
        *(_shift(client, agents[0], f"{9 + i % 2:02d}:00", f"{13 + i % 2:02d}:00") for i in range(6))
    )
    assert sorted(r.status_code for r in one) == [201] + [409] * 5
    seats = await asyncio.gather(*(_shift(client, a, "09:00", "13:00") for a in agents[1:]))
    codes = sorted(r.status_code for r in seats)
    assert codes.count(201) == 2 and codes.count(422) == 5  # agents[0] already holds the third seat
    assert {r.json()["rule"] for r in seats if r.status_code == 422} == {"seat_capacity"}


async def test_rule_sets_calendar_availability_requirements(client, world):
    made = await client.post(
        "/v1/labour-rule-sets", headers=OPS, json={"name": f"night {uuid.uuid4().hex[:4]}", "shift_max": 480}
    )
    assert made.status_code == 201, made.text
    bad = await client.patch(
        f"/v1/labour-rule-sets/{made.json()['id']}", headers=OPS, json={"shift_min": 600}
    )
    assert_problem(bad, 422)
    comprehensive = await client.patch(
        f"/v1/labour-rule-sets/{made.json()['id']}", headers=OPS, json={"hours_system": "comprehensive_month"}
    )
    assert_problem(comprehensive, 422, "body.normal_per_period")
    by_type = await client.put(
        "/v1/employment-types/part_time/rule-set", headers=OPS, json={"rule_set_id": made.json()["id"]}
    )
    assert (
        by_type.status_code == 200
        and {"employment_type": "part_time", "rule_set_id": made.json()["id"]} in by_type.json()
    )
    agent = world.agent
    own = await client.put(
        f"/v1/agents/{agent.id}/rule-set", headers=OPS, json={"rule_set_id": made.json()["id"]}
    )
    assert own.json()["source"] == "agent" and own.json()["rule_set"]["shift_max"] == 480
    cleared = await client.put(f"/v1/agents/{agent.id}/rule-set", headers=OPS, json={"rule_set_id": None})
    assert cleared.json()["source"] == "default"

    from service.seating.service import load_official_calendar

    async with client._transport.app.state.db.system_transaction() as session:  # the demo's loader
        loaded = await load_official_calendar(session)
    assert len(loaded.days) == 13 + len([d for d in loaded.days if d.kind == "day_off"]) + 6
    cal = (await client.get("/v1/holiday-calendars/2026", headers=auth("finance"))).json()
    assert {"day": "2026-10-01", "kind": "holiday", "name": None} in cal["days"]
    assert {"day": "2026-10-10", "kind": "make_up_workday", "name": None} in cal["days"]
    weekday = await client.put(
        "/v1/holiday-calendars/2027",
        headers=OPS,
        json={"days": [{"day": "2027-01-04", "kind": "make_up_workday"}]},
    )
    assert_problem(weekday, 422, "body.days")

    leave = await client.post(
        f"/v1/agents/{agent.id}/availability",
        headers=OPS,
        json={"kind": "leave", "from": at("00:00"), "to": "2026-12-15T00:00:00+08:00"},
    )
    assert leave.status_code == 201 and leave.json()["created_by"] == "test-ops"
    listed = (await client.get(f"/v1/agents/{agent.id}/availability", headers=OPS)).json()["items"]
    assert [x["id"] for x in listed] == [leave.json()["id"]]
    assert (await client.delete(f"/v1/availability/{leave.json()['id']}", headers=OPS)).status_code == 204

    shop = world.shops_a[0]
    req = await client.put(
        f"/v1/shops/{shop.id}/requirements",
        headers=OPS,
        json={"skills": [f"cert:{world.tenant_a.slug}", "presale"]},
    )
    assert req.status_code == 200 and req.json()["skills"] == sorted(
        [f"cert:{world.tenant_a.slug}", "presale"]
    )
    other = await client.put(
        f"/v1/shops/{shop.id}/requirements", headers=OPS, json={"skills": ["cert:other"]}
    )
    assert_problem(other, 422, "body.skills")
    mine = await client.get(f"/v1/shops/{shop.id}/requirements", headers=world.client_of("a"))
    assert mine.status_code == 200 and mine.json()["platform"] == "tmall"
    assert (
        await client.get(f"/v1/shops/{world.shops_b[0].id}/requirements", headers=world.client_of("a"))
    ).status_code == 404
    await client.put(f"/v1/shops/{shop.id}/requirements", headers=OPS, json={"skills": []})


async def test_rebalance_protects_a_ka_shop_and_applies(client, world, plan_id):
    ka, donor = world.shops_a[0], world.shops_b[0]  # A is KA, B standard; both tmall
    day = "2026-12-16"
    people = world.roster_agents[3:6]
    for agent in people:
        r = await client.post(
            "/v1/shifts",
            headers=OPS,
            json={
                "agent_id": str(agent.id),
                "from": f"{day}T10:00:00+08:00",
                "to": f"{day}T14:00:00+08:00",
                "assignments": [
                    {"shop_id": str(donor.id), "from": f"{day}T10:00:00+08:00", "to": f"{day}T14:00:00+08:00"}
                ],
            },
        )
        assert r.status_code == 201, r.text
    now = f"{day}T11:05:00+08:00"
    body = {
        "at": now,
        "shops": [
            {"shop_id": str(ka.id), "waiting": 5, "volume": 10, "agents": 0},
            {"shop_id": str(donor.id), "waiting": 0, "volume": 2},
        ],
    }
    r = await client.post("/v1/ops/rebalance", headers=OPS, json=body)
    assert r.status_code == 200, r.text
    proposal = r.json()
    assert proposal["shops_at_risk"] >= 1 and proposal["moves"]
    move = proposal["moves"][0]
    assert move["to_shop_id"] == str(ka.id) and move["from_shop_id"] == str(donor.id)
    assert proposal["moves"][-1]["to_service_level_after"] > move["to_service_level_before"]
    assert move["from_service_level_before"] >= move["from_service_level_after"]
    assert proposal["interval_start"].startswith("2026-12-16T03:15")
    g = await gql(
        client,
        "query($i: RebalanceInput!) { rebalance(input: $i) { moves { agentId toShopId } } }",
        {
            "i": {
                "at": now,
                "shops": [
                    {"shopId": str(ka.id), "waiting": 5, "volume": 10, "agents": 0},
                    {"shopId": str(donor.id), "waiting": 0, "volume": 2},
                ],
            }
        },
        OPS,
    )
    assert [m["agentId"] for m in g["data"]["rebalance"]["moves"]] == [
        m["agent_id"] for m in proposal["moves"]
    ]
    moves = [{k: m[k] for k in ("agent_id", "from_shop_id", "to_shop_id")} for m in proposal["moves"]]
    wrong = await client.post(
        "/v1/ops/rebalance/apply",
        headers=OPS,
        json={"at": now, "moves": [{**moves[0], "from_shop_id": str(ka.id)}]},
    )
    assert_problem(wrong, 422, "body.moves.0.from_shop_id")
    applied = await client.post("/v1/ops/rebalance/apply", headers=OPS, json={"at": now, "moves": moves})
    assert applied.status_code == 200, applied.text
    shifts = (
        await client.get(
            "/v1/shifts",
            headers=OPS,
            params={"agent": moves[0]["agent_id"], "limit": 10, "from": f"{day}T00:00:00+08:00"},
        )
    ).json()
    pieces = {(a["shop_id"], a["starts_at"][11:16]) for a in shifts["items"][0]["assignments"]}
    assert pieces == {(str(donor.id), "02:00"), (str(ka.id), "03:15")}
    again = await client.post("/v1/ops/rebalance/apply", headers=OPS, json={"at": now, "moves": moves[:1]})
    assert_problem(again, 422, "body.moves.0.agent_id")  # validated again: its donor stretch is over
