"""The scorecard through both doors on a small world: facts refreshed from the SLA domain's day verdicts,
every scope's month, a trend, the client view (its own brand only; another's is 404), ratings, pulses (CSV,
idempotent, anonymity), teams, QA, calibration and coaching."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from service.kit.time import DEFAULT_TZ, local_today
from tests.conftest import auth
from tests.factories import add_policy, add_work_session, gql, insert_rollups, random_records

NOV = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=8)
STAFF = auth("ops")


@pytest.fixture(scope="module", autouse=True)
async def scorecard_world(db, world, client):
    rng = np.random.default_rng(13)
    for shop in world.shops_a + world.shops_b:
        await add_policy(
            client, shop.id, effective_from="2026-01-01", csat_target=0.5, response_rate_3min_target=0.8
        )
        await insert_rollups(
            db, shop.tenant_id, random_records(rng, shop.id, 400, NOV, NOV + timedelta(days=30))
        )
    await add_work_session(
        db,
        world.tenant_a.id,
        world.shops_a[0].id,
        "sc-1",
        {
            "agent": world.agent.id,
            "lo": datetime(2026, 11, 11, 1, tzinfo=UTC),
            "hi": datetime(2026, 11, 11, 13, tzinfo=UTC),
            "blo": None,
            "bhi": None,
        },
    )
    team = (
        await client.post(
            "/v1/teams",
            headers=STAFF,
            json={"site_id": str(world.site.id), "name": "T1", "members": [str(world.agent.id)]},
        )
    ).json()
    world.team_id = team["id"]
    template = (
        await client.post(
            "/v1/qa/templates",
            headers=STAFF,
            json={
                "key": "chat",
                "name": "Chat",
                "categories": [
                    {"key": "greeting", "name": "Greeting", "weight": 1, "points": 4},
                    {"key": "accuracy", "name": "Accuracy", "weight": 2, "points": 5, "critical": True},
                ],
            },
        )
    ).json()
    world.template_id = template["id"]
    return team


async def test_refresh_then_every_scope(client, world):
    r = await client.post("/v1/scorecards/2026-11/refresh", headers=STAFF)
    assert r.status_code == 200, r.text
    assert r.json()["shops"] >= 4
    again = (await client.post("/v1/scorecards/2026-11/refresh", headers=STAFF)).json()
    assert again["shops"] == 0  # versions unchanged: nothing recomputed
    r = await client.get("/v1/scorecards", params={"month": "2026-11"}, headers=STAFF)
    assert r.status_code == 200, r.text
    body = r.json()
    kinds = {c["scope"] for c in body["items"]}
    assert {"shop", "brand", "site", "team", "agent"} <= kinds
    shop = next(c for c in body["items"] if c["scope_id"] == str(world.shops_a[0].id))
    sla = next(k for k in shop["kpis"] if k["key"] == "sla_attainment")
    assert sla["value"] is not None and 0 <= sla["value"] <= 1
    assert shop["client_index"] is not None


async def test_trend_has_twelve_months(client, world):
    r = await client.get(
        f"/v1/scorecards/shop/{world.shops_a[0].id}/trend", params={"month": "2026-11"}, headers=STAFF
    )
    assert r.status_code == 200, r.text
    months = [c["month"] for c in r.json()]
    assert len(months) == 12 and months[-1] == "2026-11-01"


async def test_client_sees_its_client_side_only(client, world):
    r = await client.get(
        f"/v1/tenants/{world.tenant_a.slug}/scorecard",
        params={"month": "2026-11"},
        headers=world.client_of("a"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    keys = {k["key"] for s in body["shops"] for k in s["kpis"]}
    assert keys <= {"sla_attainment", "csat", "dsat", "conversion", "client_rating"}
    assert "employee_index" not in body["brand"]
    r = await client.get(f"/v1/tenants/{world.tenant_b.slug}/scorecard", headers=world.client_of("a"))
    assert r.status_code == 404
    r = await client.get(f"/v1/shops/{world.shops_b[0].id}/scorecard-trend", headers=world.client_of("a"))
    assert r.status_code == 404
    r = await client.get("/v1/scorecards", headers=world.client_of("a"))
    assert r.status_code == 403


async def test_ratings_one_per_user_month_and_own_brand(client, world):
    month = local_today(DEFAULT_TZ).strftime("%Y-%m")
    headers = world.client_of("a")
    r = await client.post(
        "/v1/client-ratings",
        headers=headers,
        json={"score": 2, "comment": "慢", "shop_id": str(world.shops_a[0].id)},
    )
    assert r.status_code == 201, r.text
    rating = r.json()
    assert (
        await client.post(
            "/v1/client-ratings", headers=headers, json={"score": 3, "shop_id": str(world.shops_a[0].id)}
        )
    ).status_code == 409
    r = await client.patch(f"/v1/client-ratings/{rating['id']}", headers=headers, json={"score": 4})
    assert r.status_code == 200 and r.json()["score"] == 4
    r = await client.post(
        "/v1/client-ratings", headers=headers, json={"score": 3, "shop_id": str(world.shops_b[0].id)}
    )
    assert r.status_code == 404  # brand B's shop
    b = await client.get("/v1/client-ratings", params={"month": month}, headers=world.client_of("b"))
    assert b.json() == {"items": [], "next_cursor": None}
    r = await client.patch(
        f"/v1/client-ratings/{rating['id']}", headers=world.client_of("b"), json={"score": 1}
    )
    assert r.status_code == 404


async def test_pulse_csv_import_is_idempotent_and_anonymous(client, world):
    rows = ["response_id,team_id,recommend,wellbeing,agent"]
    rows += [f"r{i},{world.team_id},{9 if i % 2 else 5},4,someone" for i in range(6)]
    rows += [f"bad,{world.team_id},11,4,x", "bad2,not-a-team,5,4,x"]
    body = "\n".join(rows).encode()
    params = {"survey": "2026-11 pulse", "month": "2026-11"}
    headers = {**STAFF, "content-type": "text/csv"}
    r = await client.post("/v1/pulses", params=params, content=body, headers=headers)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["inserted"] == 6 and [x["row"] for x in first["rejected"]] == [7, 8]
    again = (await client.post("/v1/pulses", params=params, content=body, headers=headers)).json()
    assert again["inserted"] == 0 and again["unchanged"] == 6
    report = (await client.get("/v1/pulses/2026-11 pulse", headers=STAFF)).json()
    assert report["total"]["respondents"] == 6 and report["teams"][0]["hidden"] is False
    assert (await client.get("/v1/pulses/2026-11 pulse", headers=world.client_of("a"))).status_code == 403


async def test_qa_review_calibration_and_coaching(client, world):
    base = {
        "shop_id": str(world.shops_a[0].id),
        "agent_id": str(world.agent.id),
        "template_id": world.template_id,
    }
    r = await client.post(
        "/v1/qa/reviews",
        headers=STAFF,
        json={
            **base,
            "conversation_id": "c1",
            "conversation_on": "2026-11-03",
            "ratings": [{"category": "greeting", "value": 4}, {"category": "accuracy", "value": 2}],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["score"] == 0 and r.json()["failed_critical"]  # 25 % on a critical category
    cal = (
        await client.post(
            "/v1/qa/calibrations",
            headers=STAFF,
            json={"name": "Nov", "held_on": "2026-11-20", "benchmark_reviewer": "lead"},
        )
    ).json()
    coaching = await client.post(
        "/v1/coaching",
        headers=STAFF,
        json={
            "agent_id": str(world.agent.id),
            "held_on": "2026-11-10",
            "template_id": world.template_id,
            "areas": ["accuracy"],
            "shared_notes": "核对订单",
            "private_notes": "x",
            "action_items": [{"text": "复盘", "due_on": "2026-11-20"}],
            "follow_up_on": "2026-11-24",
        },
    )
    assert coaching.status_code == 201, coaching.text
    assert coaching.json()["effect"]["ratings_before"] == 1
    got = await gql(
        client,
        "query($id: UUID!) { calibration(id: $id) { name reviews alignments { reviewer } } }",
        {"id": cal["id"]},
        STAFF,
    )
    assert got["data"]["calibration"]["reviews"] == 0


async def test_graphql_door(client, world):
    got = await gql(
        client,
        '{ scorecards(month: "2026-11", scope: "site") { month items { scope name '
        "clientIndex employeeIndex headline quadrant flags { kind evidence { metric } } } } }",
        None,
        STAFF,
    )
    assert "errors" not in got, got
    assert got["data"]["scorecards"]["items"]
    got = await gql(
        client,
        'query($t: String!) { brandScorecard(tenant: $t, month: "2026-11") '
        "{ brand { clientIndex } shops { name } } }",
        {"t": world.tenant_b.slug},
        world.client_of("a"),
    )
    assert got["data"] is None or got["data"]["brandScorecard"] is None
    assert date(2026, 11, 1)


async def test_tenant_tables_hold_in_sql(client, database, world):
    """As the app role: brand A's transaction sees none of B's ratings, reviews or facts, and cannot write
    them; staff see both."""
    from sqlalchemy.exc import DBAPIError

    from service.kit.db import make_engine
    from tests.factories import rls_count, rls_execute

    await client.post("/v1/client-ratings", headers=world.client_of("b"), json={"score": 5})
    await client.post(
        "/v1/qa/reviews",
        headers=STAFF,
        json={
            "shop_id": str(world.shops_b[0].id),
            "agent_id": str(world.agent.id),
            "template_id": world.template_id,
            "conversation_id": "b1",
            "conversation_on": "2026-11-04",
            "ratings": [{"category": "greeting", "value": 3}],
        },
    )
    engine = make_engine(database.app_url, 1)
    a, b = str(world.tenant_a.id), str(world.tenant_b.id)
    try:
        for table in ("client_ratings", "qa_reviews", "scorecard_shop_days", "scorecard_shop_months"):
            sql = f"SELECT count(*) FROM {table} WHERE tenant_id = :b"
            assert await rls_count(engine, sql, "on", "", b=b) > 0, table
            assert await rls_count(engine, sql, "", a, b=b) == 0, table
            assert await rls_count(engine, f"SELECT count(*) FROM {table}", "", "") == 0, table
        with pytest.raises(DBAPIError, match="row-level security"):
            await rls_execute(
                engine,
                "INSERT INTO client_ratings (tenant_id, id, month, rater, score) "
                "VALUES (:b, gen_random_uuid(), DATE '2026-12-01', 'x', 1)",
                "",
                a,
                b=b,
            )
        result = await rls_execute(
            engine, "UPDATE scorecard_shop_days SET met = 0 WHERE tenant_id = :b", "", a, b=b
        )
        assert result.rowcount == 0
    finally:
        await engine.dispose()


async def test_a_brand_without_shops_has_an_empty_scorecard(client):
    r = await client.post(
        "/v1/tenants", headers=STAFF, json={"slug": "no-shops-yet", "name": "空", "tier": "longtail"}
    )
    assert r.status_code == 201, r.text
    r = await client.get("/v1/tenants/no-shops-yet/scorecard", params={"month": "2026-11"}, headers=STAFF)
    assert r.status_code == 200, r.text
    assert r.json()["shops"] == [] and r.json()["brand"]["client_index"] is None
