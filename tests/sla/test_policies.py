"""SLA policies: versions per shop, platform defaults, validation, roles, and tenancy enforced by the
database itself (raw SQL as the application role)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from service.kit.db import make_engine
from tests.conftest import auth
from tests.factories import gql, make_shop, rls_count, rls_execute


@pytest.fixture(scope="module")
async def brands(db):
    ta, jd = await make_shop(db, "Asia/Shanghai", "jd")
    _, pdd = await make_shop(db, "Asia/Shanghai", "pdd", tenant=ta)
    tb, other = await make_shop(db, "Europe/Berlin", "douyin")
    return ta, jd, pdd, tb, other


def url(shop, suffix: str = "sla-policies") -> str:
    return f"/v1/shops/{shop.id}/{suffix}"


async def test_platform_defaults(client, brands):
    ta, jd, pdd, tb, other = brands
    r = (await client.get(url(jd, "sla-policy"), headers=auth("client", ta.id))).json()
    assert r["is_default"] and (r["assessed_start"], r["assessed_end"], r["answer_target_s"]) == \
        ("09:00", "23:00", 30)
    assert all(r[k] is None for k in ("service_level_target", "response_rate_3min_target",
                                      "frt_mean_target_s", "csat_target", "conversion_rate_target",
                                      "max_abandon_rate"))
    r = (await client.get(url(pdd, "sla-policy"), headers=auth("finance"))).json()
    assert (r["assessed_start"], r["assessed_end"]) == ("00:00", "24:00")  # the whole day
    r = (await client.get(url(other, "sla-policy"), headers=auth("ops"))).json()
    assert (r["assessed_start"], r["assessed_end"]) == ("08:00", "23:00")


async def test_a_window_ending_at_midnight_reads_24_00(client, db):
    _, jd = await make_shop(db, platform="jd")
    r = await client.post(url(jd), json={"effective_from": "2024-06-01", "assessed_start": "20:00",
                                         "assessed_end": "24:00", "csat_target": 0.8}, headers=auth("ops"))
    assert r.status_code == 201, r.text
    assert (r.json()["assessed_start"], r.json()["assessed_end"]) == ("20:00", "24:00")
    q = ('mutation($s: UUID!) { updateSlaPolicy(shopId: $s, effectiveFrom: "2024-06-01", '
         'input: {assessedStart: "00:00", assessedEnd: "24:00"}) { assessedStart assessedEnd } }')
    done = (await client.post("/graphql", json={"query": q, "variables": {"s": str(jd.id)}},
                              headers=auth("ops"))).json()
    assert done["data"]["updateSlaPolicy"] == {"assessedStart": "00:00", "assessedEnd": "24:00"}, done


async def test_versions_and_the_policy_in_force(client, brands):
    ta, jd, *_ = brands
    ops = auth("ops")
    first = await client.post(url(jd), json={"effective_from": "2025-03-01", "service_level_target": 0.8,
                                             "max_abandon_rate": 0.05}, headers=ops)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["assessed_start"] == "09:00" and body["answer_target_s"] == 30 and not body["is_default"]
    second = await client.post(url(jd), json={"effective_from": "2025-01-01", "answer_target_s": 20,
                                              "assessed_start": "22:00", "assessed_end": "02:00",
                                              "csat_target": 0.9}, headers=auth("admin"))
    assert second.status_code == 201, second.text
    dup = await client.post(url(jd), json={"effective_from": "2025-03-01"}, headers=ops)
    assert dup.status_code == 409 and dup.headers["content-type"] == "application/problem+json"

    listed = (await client.get(url(jd), headers=auth("client", ta.id))).json()
    assert [p["effective_from"] for p in listed["items"]] == ["2025-01-01", "2025-03-01"]
    page1 = (await client.get(url(jd), params={"limit": 1}, headers=ops)).json()
    page2 = (await client.get(url(jd), params={"limit": 1, "cursor": page1["next_cursor"]},
                              headers=ops)).json()
    assert [p["effective_from"] for p in page1["items"] + page2["items"]] == ["2025-01-01", "2025-03-01"]
    assert page2["next_cursor"] is None

    async def in_force(day: str) -> dict:
        r = await client.get(url(jd, "sla-policy"), params={"on": day}, headers=auth("client", ta.id))
        assert r.status_code == 200, r.text
        return r.json()

    assert (await in_force("2024-12-31"))["is_default"]
    jan = await in_force("2025-02-28")
    assert (jan["effective_from"], jan["answer_target_s"], jan["assessed_start"], jan["csat_target"]) == \
        ("2025-01-01", 20, "22:00", 0.9)
    assert (await in_force("2025-03-01"))["service_level_target"] == 0.8
    assert (await in_force("2030-01-01"))["effective_from"] == "2025-03-01"


async def test_patch_a_version(client, brands):
    ta, jd, pdd, *_ = brands
    ops = auth("ops")
    assert (await client.post(url(pdd), json={"effective_from": "2025-05-01", "csat_target": 0.8},
                              headers=ops)).status_code == 201
    r = await client.patch(url(pdd, "sla-policies/2025-05-01"), headers=ops,
                           json={"csat_target": None, "service_level_target": 0.7, "assessed_start": "08:15"})
    assert r.status_code == 200, r.text
    assert (r.json()["csat_target"], r.json()["service_level_target"], r.json()["assessed_start"]) == \
        (None, 0.7, "08:15")
    for body, field in (({}, "body"), ({"answer_target_s": None}, "body.answer_target_s"),
                        ({"assessed_end": "09:10"}, "body.assessed_end"),
                        ({"csat_target": 1.5}, "body.csat_target"),
                        ({"effective_from": "2025-06-01"}, "body.effective_from")):
        bad = await client.patch(url(pdd, "sla-policies/2025-05-01"), json=body, headers=ops)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field, (body, bad.text)
    missing = await client.patch(url(pdd, "sla-policies/2025-05-02"), json={"csat_target": 0.5}, headers=ops)
    assert missing.status_code == 404
    forbidden = await client.patch(url(pdd, "sla-policies/2025-05-01"), json={"csat_target": 0.5},
                                   headers=auth("client", ta.id))
    assert forbidden.status_code == 403


BAD_CREATE = [
    ({}, "body.effective_from"),
    ({"effective_from": "2025-01-01", "service_level_target": 1.2}, "body.service_level_target"),
    ({"effective_from": "2025-01-01", "max_abandon_rate": -0.1}, "body.max_abandon_rate"),
    ({"effective_from": "2025-01-01", "answer_target_s": 0}, "body.answer_target_s"),
    ({"effective_from": "2025-01-01", "answer_target_s": 601}, "body.answer_target_s"),
    ({"effective_from": "2025-01-01", "assessed_start": "08:10", "assessed_end": "23:00"},
     "body.assessed_start"),
    ({"effective_from": "2025-01-01", "assessed_start": "08:00"}, "body.assessed_end"),
    ({"effective_from": "2025-01-01", "assessed_start": "8 am", "assessed_end": "24:00"},
     "body.assessed_start"),
    ({"effective_from": "2025-01-01", "frt_mean_target_s": -1}, "body.frt_mean_target_s"),
    ({"effective_from": "2025-13-01"}, "body.effective_from"),
    ({"effective_from": "2025-01-01", "colour": "red"}, "body.colour"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATE, ids=[f for _, f in BAD_CREATE])
async def test_bad_policies_are_422(client, brands, body, field):
    jd = brands[1]
    r = await client.post(url(jd), json=body, headers=auth("ops"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert [e["field"] for e in r.json()["errors"]] == [field], r.text


async def test_roles_and_other_brands(client, brands):
    ta, jd, pdd, tb, other = brands
    for role in ("client", "finance"):
        r = await client.post(url(jd), json={"effective_from": "2026-01-01"},
                              headers=auth(role, ta.id if role == "client" else None))
        assert r.status_code == 403
    # Brand A's user: B's shop does not exist, whatever the route.
    for suffix in ("sla-policies", "sla-policy", "sla"):
        r = await client.get(url(other, suffix), headers=auth("client", ta.id))
        assert r.status_code == 404, (suffix, r.text)
    assert (await client.get(url(other), headers=auth("client", tb.id))).status_code == 200
    r = await client.post(url(other), json={"effective_from": "2025-01-01", "csat_target": 0.7},
                          headers=auth("ops"))
    assert r.status_code == 201


async def test_graphql_policies(client, brands):
    ta, jd, pdd, tb, other = brands
    create = """mutation($shop: UUID!, $p: SlaPolicyCreateInput!) {
        createSlaPolicy(shopId: $shop, input: $p) { id effectiveFrom answerTargetS assessedStart assessedEnd
                                                    serviceLevelTarget isDefault } }"""
    policy = {"effectiveFrom": "2027-01-01", "answerTargetS": 45, "serviceLevelTarget": 0.85}
    r = await gql(client, create, {"shop": str(jd.id), "p": policy}, auth("ops"))
    assert "errors" not in r, r
    made = r["data"]["createSlaPolicy"]
    assert (made["answerTargetS"], made["assessedStart"], made["isDefault"]) == (45, "09:00", False)
    bad = await gql(client, create, {"shop": str(jd.id), "p": {"effectiveFrom": "2027-02-01",
                                                                "serviceLevelTarget": 3}}, auth("ops"))
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    refused = await gql(client, create, {"shop": str(jd.id), "p": {"effectiveFrom": "2027-03-01"}},
                        auth("client", ta.id))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    update = """mutation($shop: UUID!) { updateSlaPolicy(shopId: $shop, effectiveFrom: "2027-01-01",
                 input: {csatTarget: 0.75}) { csatTarget serviceLevelTarget } }"""
    r = await gql(client, update, {"shop": str(jd.id)}, auth("admin"))
    assert r["data"]["updateSlaPolicy"] == {"csatTarget": 0.75, "serviceLevelTarget": 0.85}

    listed = await gql(client,
                       "query($s: UUID!) { slaPolicies(shopId: $s) { items { effectiveFrom } nextCursor } }",
                       {"s": str(jd.id)}, auth("client", ta.id))
    assert "2027-01-01" in [p["effectiveFrom"] for p in listed["data"]["slaPolicies"]["items"]]
    hidden = await gql(client, "query($s: UUID!) { slaPolicies(shopId: $s) { items { effectiveFrom } } }",
                       {"s": str(other.id)}, auth("client", ta.id))
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND" and hidden["data"] is None
    in_force = await gql(client, """query($s: UUID!) { shop(id: $s) { a: slaPolicy(on: "2027-06-01") {
        effectiveFrom answerTargetS } b: slaPolicy(on: "2020-01-01") { isDefault assessedStart } } }""",
                         {"s": str(jd.id)}, auth("client", ta.id))
    assert in_force["data"]["shop"] == {"a": {"effectiveFrom": "2027-01-01", "answerTargetS": 45},
                                        "b": {"isDefault": True, "assessedStart": "09:00"}}


async def test_database_enforces_tenancy_on_policies(database, client, brands):
    ta, jd, pdd, tb, other = brands
    r = await client.post(url(other), json={"effective_from": "2025-09-01", "csat_target": 0.6},
                          headers=auth("ops"))
    assert r.status_code == 201
    engine = make_engine(database.app_url, 1)
    a, b = str(ta.id), str(tb.id)
    try:
        # Client A, raw SQL: none of B's versions, even asked for by tenant id; its own are there.
        sql = "SELECT count(*) FROM sla_policies"
        assert await rls_count(engine, sql + " WHERE tenant_id = :b", "", a, b=b) == 0
        assert await rls_count(engine, sql + " WHERE tenant_id = :a", "", a, a=a) > 0
        assert await rls_count(engine, sql, "", "") == 0  # unset: nothing
        assert await rls_count(engine, sql + " WHERE tenant_id = :b", "on", "", b=b) > 0
        with pytest.raises(DBAPIError, match="row-level security"):
            await rls_execute(engine, "INSERT INTO sla_policies (tenant_id, id, shop_id, effective_from, "
                              "answer_target_s, assessed_start, assessed_end) "
                              "VALUES (:b, gen_random_uuid(), :shop, '2030-01-01', 30, '08:00', '23:00')",
                              "", a, b=b, shop=str(other.id))
        changed = await rls_execute(engine, "UPDATE sla_policies SET csat_target = 0 WHERE tenant_id = :b",
                                    "", a, b=b)
        assert changed.rowcount == 0
    finally:
        await engine.dispose()
