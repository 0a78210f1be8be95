"""One review per reviewer and conversation (0017_qa_review_unique): a second grade of the same conversation
in a calibration session, or a second review of a shop's conversation on the same template outside
calibration, answers 409 naming the fields and the stored review through both doors; the same request again
(a retry: the same answers) is the stored review, 200 in REST, never a duplicate; the calibration list and
read stay 200; the migration refuses existing duplicates with a clear message, goes down and up."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from service import migrations
from service.kit.db import Database, make_engine
from tests.conftest import auth, build_world, scratch_database
from tests.factories import gql
from tests.scorecard.test_scorecard_lists import _as

STAFF = auth("ops")
LEAD, QA1 = _as("lead"), _as("qa-1")


@pytest.fixture(scope="module", autouse=True)
async def qa_world(world, client):
    greeting = {"key": "greeting", "name": "G", "weight": 1, "points": 4}
    r = await client.post("/v1/qa/templates", headers=STAFF,
                          json={"key": "unique", "name": "U", "categories": [greeting]})
    assert r.status_code == 201, r.text
    world.template_id = r.json()["id"]
    r = await client.post("/v1/qa/calibrations", headers=STAFF,
                          json={"name": "Nov", "held_on": "2026-11-20", "benchmark_reviewer": "lead"})
    assert r.status_code == 201, r.text
    world.calibration_id = r.json()["id"]


def _review(world, conversation: str, value: int = 3, calibration: bool = True, shop=None) -> dict:
    body = {"shop_id": str((shop or world.shops_a[0]).id), "agent_id": str(world.agent.id),
            "template_id": world.template_id, "conversation_id": conversation,
            "conversation_on": "2026-11-03", "ratings": [{"category": "greeting", "value": value}]}
    return body | ({"calibration_session_id": world.calibration_id} if calibration else {})


async def _count(db, conversation: str) -> int:
    async with db.system_transaction() as session:
        return (await session.execute(text("SELECT count(*) FROM qa_reviews WHERE conversation_id = :c"),
                                      {"c": conversation})).scalar_one()


async def test_a_second_calibration_grade_is_a_409_and_the_reads_stay_200(client, world, db):
    for who, value in ((LEAD, 4), (QA1, 3)):
        r = await client.post("/v1/qa/reviews", headers=who, json=_review(world, "cal-1", value))
        assert r.status_code == 201, r.text
        stored = r.json()
    for _ in range(2):  # a second grade with other values, and its retry
        again = await client.post("/v1/qa/reviews", headers=QA1, json=_review(world, "cal-1", 1))
        assert again.status_code == 409, again.text
        assert again.headers["content-type"].startswith("application/problem+json")
        problem = again.json()
        assert problem["type"].endswith("/conflict") and "calibration session" in problem["detail"]
        assert f"review {stored['id']} has other ratings" in problem["detail"]
        assert problem["review_id"] == stored["id"]
        fields = {e["field"] for e in problem["errors"]}
        assert fields == {"body.conversation_id", "body.calibration_session_id"}
        assert all("already graded" in e["reason"] for e in problem["errors"])
    for _ in range(2):  # the retry of the first request: the stored grade, not written again
        retry = await client.post("/v1/qa/reviews", headers=QA1, json=_review(world, "cal-1", 3))
        assert retry.status_code == 200, retry.text
        assert retry.json() == stored
    # The same answers on another day of the conversation is another review: a conflict too.
    other_day = _review(world, "cal-1", 3) | {"conversation_on": "2026-11-04"}
    problem = (await client.post("/v1/qa/reviews", headers=QA1, json=other_day)).json()
    assert problem["status"] == 409 and "has other conversation day" in problem["detail"]
    assert await _count(db, "cal-1") == 2
    # Another brand's conversation of the same external id is another conversation: graded too, and paired
    # with the benchmark's grade of it only.
    other = _review(world, "cal-1", 2, shop=world.shops_b[0])
    assert (await client.post("/v1/qa/reviews", headers=QA1, json=other)).status_code == 201

    read = await client.get(f"/v1/qa/calibrations/{world.calibration_id}", headers=STAFF)
    assert read.status_code == 200, read.text
    assert read.json()["reviews"] == 3
    [qa1] = read.json()["alignments"]
    assert qa1["reviewer"] == "qa-1" and qa1["conversations"] == 1
    listed = await client.get("/v1/qa/calibrations", headers=STAFF)
    assert listed.status_code == 200, listed.text
    got = await gql(client, "{ calibrations { items { id reviews alignments { reviewer conversations } } } }",
                    None, STAFF)
    assert "errors" not in got, got
    items = got["data"]["calibrations"]["items"]
    assert any(c["id"] == world.calibration_id and c["reviews"] == 3 for c in items)
    got = await gql(client, "query($id: UUID!) { calibration(id: $id) { reviews } }",
                    {"id": world.calibration_id}, STAFF)
    assert got["data"]["calibration"]["reviews"] == 3


CREATE = ("mutation($i: QaReviewInput!) { createQaReview(input: $i) { id reviewer calibrationSessionId } }")


def _input(body: dict) -> dict:
    camel = {"shop_id": "shopId", "agent_id": "agentId", "template_id": "templateId",
             "conversation_id": "conversationId", "conversation_on": "conversationOn",
             "calibration_session_id": "calibrationSessionId"}
    return {camel.get(k, k): v for k, v in body.items()}


async def test_the_graphql_door_answers_the_same_409_and_the_same_retry(client, world, db):
    body = _input(_review(world, "cal-gql"))
    first = await gql(client, CREATE, {"i": body}, LEAD)
    assert "errors" not in first, first
    for _ in range(2):
        again = await gql(client, CREATE, {"i": _input(_review(world, "cal-gql", 1))}, LEAD)
        [error] = again["errors"]
        assert error["extensions"]["code"] == "CONFLICT" and error["extensions"]["status"] == 409
        assert error["extensions"]["review_id"] == first["data"]["createQaReview"]["id"]
        assert "has other ratings" in error["message"]
        fields = {e["field"] for e in error["extensions"]["errors"]}
        assert fields == {"conversationId", "calibrationSessionId"}
        retry = await gql(client, CREATE, {"i": body}, LEAD)
        assert retry == first
    assert await _count(db, "cal-gql") == 1


async def test_outside_calibration_one_review_per_template(client, world, db):
    plain = _review(world, "plain-1", calibration=False)
    first = await client.post("/v1/qa/reviews", headers=LEAD, json=plain)
    assert first.status_code == 201, first.text
    retry = await client.post("/v1/qa/reviews", headers=LEAD, json=plain)
    assert (retry.status_code, retry.json()) == (200, first.json())
    got = await gql(client, CREATE, {"i": _input(plain)}, LEAD)
    assert got["data"]["createQaReview"]["id"] == first.json()["id"]
    # Other answers: a 409 naming the stored review and what differs.
    other = _review(world, "plain-1", 1, calibration=False) | {"conversation_on": "2026-11-05"}
    again = await client.post("/v1/qa/reviews", headers=LEAD, json=other)
    assert again.status_code == 409, again.text
    assert {e["field"] for e in again.json()["errors"]} == {"body.conversation_id", "body.template_id"}
    assert again.json()["detail"].endswith(f"review {first.json()['id']} has other ratings, conversation day")
    got = await gql(client, CREATE, {"i": _input(other)}, LEAD)
    assert {e["field"] for e in got["errors"][0]["extensions"]["errors"]} == {"conversationId", "templateId"}
    # Another reviewer, another shop, or the same conversation graded in a calibration session: all allowed.
    assert (await client.post("/v1/qa/reviews", headers=QA1, json=plain)).status_code == 201
    other_shop = _review(world, "plain-1", calibration=False, shop=world.shops_a[1])
    assert (await client.post("/v1/qa/reviews", headers=LEAD, json=other_shop)).status_code == 201
    calibrated = _review(world, "plain-1")
    assert (await client.post("/v1/qa/reviews", headers=LEAD, json=calibrated)).status_code == 201
    assert await _count(db, "plain-1") == 4


# --- the migration ------------------------------------------------------------------------------------------

DUPLICATE = (
    "INSERT INTO qa_reviews (tenant_id, id, shop_id, conversation_id, conversation_on, agent_id, reviewer, "
    "template_id, ratings, calibration_session_id, score, failed_critical, created_at) "
    "SELECT s.tenant_id, gen_random_uuid(), s.id, 'dup', '2026-11-03', a.id, 'qa-1', t.id, '{}', c.id, NULL, "
    "false, now() FROM shops s, agents a, qa_templates t, calibration_sessions c, generate_series(1, 2) "
    "LIMIT 2"
)


@pytest.fixture(scope="module")
async def scratch(server_url):
    async for url in scratch_database(server_url, "sw_qa_unique_scratch"):
        yield url


async def _run(url: str, *statements: str) -> list:
    engine = make_engine(url, 1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
            out = [await conn.execute(text(s)) for s in statements]
            return [r.all() if r.returns_rows else None for r in out]
    finally:
        await engine.dispose()


SEED = (
    "INSERT INTO qa_templates (id, key, name, created_at) VALUES (gen_random_uuid(), 'k', 'K', now())",
    "INSERT INTO calibration_sessions (id, name, held_on, benchmark_reviewer, created_at) "
    "VALUES (gen_random_uuid(), 'C', '2026-11-20', 'lead', now())",
)
INDEXES = "SELECT indexname FROM pg_indexes WHERE tablename = 'qa_reviews' AND indexname LIKE 'uq_%'"


async def test_the_migration_refuses_duplicates_and_goes_down_and_up(scratch):
    await asyncio.to_thread(migrations.upgrade, scratch, "0016_scorecard_evidence")
    db = Database(make_engine(scratch, 1))
    try:
        await build_world(db, "dup")
    finally:
        await db.dispose()
    await _run(scratch, *SEED, DUPLICATE)
    with pytest.raises(Exception, match=r"1 sets of duplicate QA reviews \(2 reviews\) break "
                                         r"uq_qa_reviews_calibration.*Delete the reviews that are wrong"):
        await asyncio.to_thread(migrations.upgrade, scratch, "0017_qa_review_unique")
    assert (await _run(scratch, INDEXES))[0] == []
    await _run(scratch, "DELETE FROM qa_reviews WHERE id = (SELECT min(id::text)::uuid FROM qa_reviews)")
    await asyncio.to_thread(migrations.upgrade, scratch)
    assert {r[0] for r in (await _run(scratch, INDEXES))[0]} == {"uq_qa_reviews_calibration",
                                                                 "uq_qa_reviews_review"}
    await asyncio.to_thread(migrations.downgrade, scratch, "0016_scorecard_evidence")
    assert (await _run(scratch, INDEXES))[0] == []
    await _run(scratch, DUPLICATE.replace("LIMIT 2", "LIMIT 1"))  # allowed again below 0017
    with pytest.raises(Exception, match="uq_qa_reviews_calibration"):
        await asyncio.to_thread(migrations.upgrade, scratch)
