"""The scorecard's lists page like every list of the house (kit.pagination): REST `limit`/`cursor` answering
`{items, next_cursor}`, GraphQL `first`/`after` answering `{items, nextCursor}`. Walking a list page by page
gives every row exactly once, in the documented order; the filters keep what they say; a cursor this API did
not give is a 422 naming the parameter (REST `query.cursor`, GraphQL `after`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.kit.identity import Role, issue_token, parse_ttl
from service.kit.time import DEFAULT_TZ, local_today
from tests.conftest import JWT_SECRET, auth
from tests.factories import assert_problem, gql

STAFF = auth("ops")
NOV = "2026-11"


def _as(subject: str, role: str = "ops", tenant=None) -> dict[str, str]:
    token = issue_token(JWT_SECRET, subject=subject, role=Role(role), tenant_id=tenant, ttl=parse_ttl("1h"))
    return {"Authorization": f"Bearer {token}"}


async def _walk(client, path: str, headers=STAFF, limit: int = 2, **params) -> list[dict]:
    """Every item of a REST list, LIMIT a page; each page but the last is full."""
    items, cursor, pages = [], None, 0
    while True:
        query = params | {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = await client.get(path, params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"items", "next_cursor"}
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            assert len(page["items"]) <= limit
            return items
        assert len(page["items"]) == limit


async def _walk_gql(client, field: str, selection: str, args: str = "", headers=STAFF) -> list[dict]:
    items, after = [], None
    while True:
        query = (f"query($after: String) {{ {field}({args}{', ' if args else ''}first: 2, after: $after) "
                 f"{{ items {{ {selection} }} nextCursor }} }}")
        got = await gql(client, query, {"after": after}, headers)
        assert "errors" not in got, got
        page = got["data"][field]
        items += page["items"]
        after = page["nextCursor"]
        if not after:
            return items


@pytest.fixture(scope="module", autouse=True)
async def lists_world(db, world, client):
    """Agents in two teams, three templates, reviews over two months (several on one day, by two reviewers),
    calibration and coaching sessions, ratings by several users."""
    from service.workforce.schemas import AgentCreate
    from service.workforce.service import create_agent

    async with db.system_transaction() as session:
        agents = [world.agent.id] + [
            (await create_agent(session, AgentCreate(
                site_id=world.site.id, code=f"L{i}-{world.tenant_a.slug[-6:]}", name=f"列{i}", level="agent",
                loaded_hourly_cost=Decimal("40"), hired_on=date(2025, 1, 6)))).id
            for i in range(4)
        ]
    world.agents = [str(a) for a in agents]
    teams = []
    for i, name in enumerate(["Zeta", "Alpha", "Mid", "Beta", "Alpha2"]):
        members = [world.agents[0], world.agents[1]] if i == 0 else [world.agents[2]] if i == 1 else []
        r = await client.post("/v1/teams", headers=STAFF,
                              json={"site_id": str(world.site.id), "name": name, "members": members})
        assert r.status_code == 201, r.text
        teams.append(r.json())
    world.teams = teams
    for key in ("t-c", "t-a", "t-b"):
        r = await client.post("/v1/qa/templates", headers=STAFF, json={
            "key": key, "name": key.upper(),
            "categories": [{"key": "greeting", "name": "G", "weight": 1, "points": 4},
                           {"key": "accuracy", "name": "A", "weight": 2, "points": 5, "critical": True}]})
        assert r.status_code == 201, r.text
    world.template_id = r.json()["id"]
    nov = {"name": "Nov", "held_on": "2026-11-20", "benchmark_reviewer": "lead"}
    cal = (await client.post("/v1/qa/calibrations", headers=STAFF, json=nov)).json()
    world.calibration_id = cal["id"]
    reviews = []
    for i in range(11):
        reviewer = "lead" if i % 3 == 0 else "qa-2"
        body = {"shop_id": str((world.shops_a + world.shops_b)[i % 4].id), "agent_id": world.agents[i % 5],
                "template_id": world.template_id, "conversation_id": f"c{i}",
                "conversation_on": "2026-12-02" if i == 10 else f"2026-11-{1 + i // 3:02d}",
                "ratings": [{"category": "greeting", "value": 1 + i % 4},
                            {"category": "accuracy", "value": 5}]}
        if i in (3, 4):
            body |= {"calibration_session_id": cal["id"], "conversation_id": "cal"}
        r = await client.post("/v1/qa/reviews", headers=_as(reviewer), json=body)
        assert r.status_code == 201, r.text
        reviews.append(r.json())
    world.reviews = reviews
    for held in ("2026-10-30", "2026-11-21", "2026-11-05"):
        r = await client.post("/v1/qa/calibrations", headers=STAFF,
                              json={"name": held, "held_on": held, "benchmark_reviewer": "lead"})
        assert r.status_code == 201, r.text
    coaching = []
    for i, held in enumerate(["2026-11-10", "2026-11-03", "2026-11-10", "2026-12-01", "2026-11-17"]):
        r = await client.post("/v1/coaching", headers=_as("coach-1" if i % 2 else "coach-2"), json={
            "agent_id": world.agents[i % 3], "held_on": held, "template_id": world.template_id,
            "areas": ["greeting"], "private_notes": "私"})
        assert r.status_code == 201, r.text
        coaching.append(r.json())
    world.coaching = coaching
    ratings = []
    for n in range(3):
        for shop in [world.shops_a[0].id, world.shops_a[1].id, None]:
            buyer = _as(f"buyer-{n}", "client", world.tenant_a.id)
            r = await client.post("/v1/client-ratings", headers=buyer,
                                  json={"score": 1 + n, "shop_id": str(shop) if shop else None})
            assert r.status_code == 201, r.text
            ratings.append(r.json())
    r = await client.post("/v1/client-ratings", headers=_as("buyer-b", "client", world.tenant_b.id),
                          json={"score": 5})
    assert r.status_code == 201, r.text
    world.ratings, world.rating_b = ratings, r.json()


def _once(items: list[dict]) -> list[str]:
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "a row came twice"
    return ids


async def test_reviews_page_by_conversation_day_and_filter(client, world):
    walked = await _walk(client, "/v1/qa/reviews", month=NOV)
    november = [r for r in world.reviews if r["conversation_on"].startswith(NOV)]
    assert sorted(_once(walked)) == sorted(r["id"] for r in november)
    assert [(r["conversation_on"], r["id"]) for r in walked] == sorted((r["conversation_on"], r["id"])
                                                                       for r in november)
    assert {r["category"]: r["value"] for r in walked[0]["ratings"]}  # stored ratings read as the list
    one = await _walk(client, "/v1/qa/reviews", month=NOV, agent=world.agents[1])
    assert {r["agent_id"] for r in one} == {world.agents[1]} and one
    team = await _walk(client, "/v1/qa/reviews", month=NOV, team=world.teams[0]["id"])  # Zeta: agents 0, 1
    assert sorted(_once(team)) == sorted(r["id"] for r in november if r["agent_id"] in world.agents[:2])
    by_lead = await _walk(client, "/v1/qa/reviews", month=NOV, reviewer="lead")
    assert sorted(_once(by_lead)) == sorted(r["id"] for r in november if r["reviewer"] == "lead")
    shop = str(world.shops_b[0].id)
    assert {r["shop_id"] for r in await _walk(client, "/v1/qa/reviews", month=NOV, shop=shop)} == {shop}
    december = await _walk(client, "/v1/qa/reviews", month="2026-12")
    assert [r["id"] for r in december] == [world.reviews[10]["id"]]
    gql_walked = await _walk_gql(client, "qaReviews", "id conversationOn ratings { category value }",
                                 f'month: "{NOV}"')
    assert [r["id"] for r in gql_walked] == [r["id"] for r in walked]


async def test_teams_templates_and_definitions_page(client, world):
    teams = await _walk(client, "/v1/teams", site=str(world.site.id))
    assert [t["name"] for t in teams] == ["Alpha", "Alpha2", "Beta", "Mid", "Zeta"]
    assert next(t for t in teams if t["name"] == "Zeta")["members"] == sorted(world.agents[:2])
    assert next(t for t in teams if t["name"] == "Mid")["members"] == []
    _once(teams)
    assert [t["name"] for t in await _walk_gql(client, "teams", "id name members",
                                               f'siteId: "{world.site.id}"')] == [t["name"] for t in teams]
    templates = await _walk(client, "/v1/qa/templates")
    assert [t["key"] for t in templates] == ["t-a", "t-b", "t-c"]
    assert [c["key"] for c in templates[0]["categories"]] == ["greeting", "accuracy"]
    assert [t["key"] for t in await _walk_gql(client, "qaTemplates", "key")] == ["t-a", "t-b", "t-c"]
    for version, month in (("v-2026", "2026-01"), ("v-2025", "2025-06")):
        r = await client.post("/v1/scorecard/definitions", headers=STAFF, json={
            "version": version, "effective_from": month,
            "kpis": [{"key": "csat", "side": "client", "weight": 1, "worst": 0.5, "best": 0.9}]})
        assert r.status_code == 201, r.text
    definitions = await _walk(client, "/v1/scorecard/definitions", limit=1)
    months = [d["effective_from"] for d in definitions]
    assert months == sorted(months) and len(months) == 3 and months[1:] == ["2025-06-01", "2026-01-01"]
    assert [d["version"] for d in await _walk_gql(client, "scorecardDefinitions", "version")] == \
        [d["version"] for d in definitions]


async def test_calibrations_and_coaching_page_with_their_figures(client, world):
    calibrations = await _walk(client, "/v1/qa/calibrations")
    assert [c["held_on"] for c in calibrations] == ["2026-10-30", "2026-11-05", "2026-11-20", "2026-11-21"]
    nov20 = next(c for c in calibrations if c["id"] == world.calibration_id)
    assert nov20["reviews"] == 2 and [a["reviewer"] for a in nov20["alignments"]] == ["qa-2"]
    assert nov20 == (await client.get(f"/v1/qa/calibrations/{world.calibration_id}", headers=STAFF)).json()
    assert len(await _walk(client, "/v1/qa/calibrations", month=NOV)) == 3
    assert len(await _walk_gql(client, "calibrations", "id alignments { reviewer alignment }")) == 4
    sessions = await _walk(client, "/v1/coaching")
    assert sorted(_once(sessions)) == sorted(c["id"] for c in world.coaching)
    assert [(c["held_on"], c["id"]) for c in sessions] == sorted((c["held_on"], c["id"]) for c in sessions)
    for c in sessions:  # each with the effect its own read gives (the list reads the reviews once)
        assert c == (await client.get(f"/v1/coaching/{c['id']}", headers=STAFF)).json()
    assert any(c["effect"]["ratings_before"] or c["effect"]["ratings_after"] for c in sessions)
    assert {c["coach"] for c in await _walk(client, "/v1/coaching", coach="coach-1")} == {"coach-1"}
    assert len(await _walk(client, "/v1/coaching", month=NOV)) == 4
    of_agent = await _walk(client, "/v1/coaching", agent=world.agents[0])
    assert of_agent and {c["agent_id"] for c in of_agent} == {world.agents[0]}
    team = await _walk(client, "/v1/coaching", team=world.teams[1]["id"])  # Alpha: agent 2
    assert sorted(c["id"] for c in team) == sorted(c["id"] for c in world.coaching
                                                   if c["agent_id"] == world.agents[2])
    assert len(await _walk_gql(client, "coachingSessions", "id effect { change }", 'month: "2026-11"')) == 4


async def test_ratings_page_and_a_brand_sees_its_own(client, world):
    month = local_today(DEFAULT_TZ).strftime("%Y-%m")
    mine = await _walk(client, "/v1/client-ratings", headers=world.client_of("a"), month=month)
    assert sorted(_once(mine)) == sorted(r["id"] for r in world.ratings)
    staff = await _walk(client, "/v1/client-ratings", month=month)
    assert sorted(_once(staff)) == sorted([r["id"] for r in world.ratings] + [world.rating_b["id"]])
    shop = str(world.shops_a[1].id)
    assert {r["shop_id"] for r in await _walk(client, "/v1/client-ratings", month=month, shop=shop)} == {shop}
    got = await _walk_gql(client, "clientRatings", "id tenantId", headers=world.client_of("b"))
    assert [r["id"] for r in got] == [world.rating_b["id"]]


LISTS = ["/v1/qa/reviews", "/v1/teams", "/v1/qa/templates", "/v1/qa/calibrations", "/v1/coaching",
         "/v1/scorecard/definitions", "/v1/client-ratings"]


@pytest.mark.parametrize("path", LISTS)
async def test_a_foreign_cursor_is_a_422_naming_it(client, path):
    for cursor in ("nope", "WzFd", "W10"):  # not base64 JSON; a key of another list ([1]); an empty key
        body = assert_problem(await client.get(path, params={"cursor": cursor}, headers=STAFF), 422,
                              "query.cursor")
        assert [e["field"] for e in body["errors"]] == ["query.cursor"], body


@pytest.mark.parametrize("field", ["qaReviews", "teams", "qaTemplates", "calibrations", "coachingSessions",
                                   "scorecardDefinitions", "clientRatings"])
async def test_graphql_names_after(client, field):
    got = await gql(client, f'{{ {field}(after: "nope") {{ nextCursor }} }}', None, STAFF)
    assert got["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [e["field"] for e in got["errors"][0]["extensions"]["errors"]] == ["after"]
