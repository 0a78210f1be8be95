"""Bad input gets a clear problem+json naming the field and the reason, and changes nothing."""

from __future__ import annotations

import uuid

import jwt
import pytest

from tests.conftest import JWT_SECRET, auth, make_token
from tests.factories import assert_problem

OPS = auth("ops")


async def test_unknown_field(client):
    r = await client.post("/v1/sites", headers=OPS,
                          json={"name": "x", "city": "y", "seat_capacity": 1, "colour": "red"})
    body = assert_problem(r, 422, "body.colour")
    assert body["errors"][0]["reason"] == "unknown field"


async def test_wrong_types(client):
    r = await client.post("/v1/sites", headers=OPS, json={"name": "x", "city": "y", "seat_capacity": "many"})
    assert_problem(r, 422, "body.seat_capacity")
    r = await client.post("/v1/agents", headers=OPS, json={"site_id": "not-a-uuid", "code": "c", "name": "n",
                                                             "loaded_hourly_cost": "abc",
                                                             "hired_on": "yesterday"})
    body = assert_problem(r, 422)
    assert ({"body.site_id", "body.loaded_hourly_cost", "body.hired_on"}
            <= {e["field"] for e in body["errors"]})
    r = await client.get("/v1/shops/not-a-uuid", headers=OPS)
    assert_problem(r, 422, "path.shop_id")
    r = await client.post("/v1/shops", headers=OPS, json={"tenant_id": str(uuid.uuid4()), "platform": "ebay",
                                                            "name": "x", "timezone": "Mars/Olympus"})
    body = assert_problem(r, 422)
    assert {"body.platform", "body.timezone"} <= {e["field"] for e in body["errors"]}


async def test_money_is_never_float(client, world):
    r = await client.post("/v1/agents", headers=OPS, json={"site_id": str(world.site.id), "code": "M1",
                                                             "name": "m", "loaded_hourly_cost": "40.123",
                                                             "hired_on": "2026-01-01"})
    assert_problem(r, 422, "body.loaded_hourly_cost")


async def test_malformed_json(client):
    r = await client.post("/v1/sites", headers=OPS | {"content-type": "application/json"},
                          content=b"{not json")
    assert_problem(r, 422)


async def test_oversized_and_bad_pages(client):
    assert_problem(await client.get("/v1/shops", headers=OPS, params={"limit": 501}), 422, "query.limit")
    assert_problem(await client.get("/v1/shops", headers=OPS, params={"limit": 0}), 422, "query.limit")
    assert_problem(await client.get("/v1/shops", headers=OPS, params={"cursor": "%%%"}), 422, "query.cursor")
    r = await client.post("/graphql", headers=OPS,
                          json={"query": "{ shops(first: 100000) { items { id } } }"})
    # the GraphQL argument, not the use case's name
    assert r.json()["errors"][0]["extensions"]["errors"][0]["field"] == "first"


@pytest.mark.parametrize("header", [
    "Bearer not.a.jwt",
    "Bearer " + jwt.encode({"sub": "x", "role": "ops", "exp": 9999999999, "jti": "j"},
                           "wrong-secret-" + "y" * 32, algorithm="HS256"),
    "Bearer " + jwt.encode({"sub": "x", "role": "emperor", "exp": 9999999999, "jti": "j", "iss": "seatwise"},
                           JWT_SECRET, algorithm="HS256"),
    "Bearer " + jwt.encode({"sub": "x", "role": "client", "exp": 9999999999, "jti": "j", "iss": "seatwise"},
                           JWT_SECRET, algorithm="HS256"),  # a client token without a tenant
    "Bearer " + jwt.encode({"sub": "x", "role": "ops", "exp": 9999999999, "iss": "seatwise"},
                           JWT_SECRET, algorithm="HS256"),  # no jti
    "Basic dXNlcjpwYXNz",
    "Bearer",
], ids=["garbage", "wrong-secret", "unknown-role", "client-no-tenant", "no-jti", "basic", "empty"])
async def test_malformed_tokens_are_401(client, header):
    body = assert_problem(await client.get("/v1/shops", headers={"Authorization": header}), 401)
    assert "secret" not in body["detail"].lower()


async def test_expired_token_is_401(client):
    expired = jwt.encode({"sub": "x", "role": "ops", "exp": 1, "jti": "j", "iss": "seatwise"}, JWT_SECRET,
                         algorithm="HS256")
    body = assert_problem(await client.get("/v1/shops", headers={"Authorization": f"Bearer {expired}"}), 401)
    assert "expired" in body["detail"]


async def test_a_token_verified_before_is_refused_once_it_expires(client, monkeypatch):
    """The server checks a token's signature once and keeps its principal (kit.identity.VerifiedTokens); the
    expiry is still checked on every call."""
    import datetime
    import time

    soon = jwt.encode({"sub": "x", "role": "ops", "exp": int(time.time()) + 60, "jti": "soon",
                       "iss": "seatwise"}, JWT_SECRET, algorithm="HS256")
    headers = {"Authorization": f"Bearer {soon}"}
    assert (await client.get("/v1/shops", headers=headers)).status_code == 200
    later = time.time() + 120

    class Later(datetime.datetime):  # PyJWT's clock
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.fromtimestamp(later, tz)

    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)
    body = assert_problem(await client.get("/v1/shops", headers=headers), 401)
    assert "expired" in body["detail"]


async def test_revoked_token_is_401(client, db):
    from service.kit.identity import decode_token
    from tenants.service import revoke_token

    token = make_token("ops")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/shops", headers=headers)).status_code == 200
    async with db.system_transaction() as session:
        assert await revoke_token(session, decode_token(JWT_SECRET, token).jti, known=True)
    body = assert_problem(await client.get("/v1/shops", headers=headers), 401)
    assert "revoked" in body["detail"]
    gql = await client.post("/graphql", headers=headers, json={"query": "{ me { role } }"})
    assert gql.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Also where the role itself would be refused: the revocation answers first, never a 403.
    finance = make_token("finance")
    headers = {"Authorization": f"Bearer {finance}"}
    assert (await client.post("/v1/tenants", headers=headers,
                              json={"slug": "x", "name": "X"})).status_code == 403
    async with db.system_transaction() as session:
        assert await revoke_token(session, decode_token(JWT_SECRET, finance).jti, known=True)
    r = await client.post("/v1/tenants", headers=headers, json={"slug": "x", "name": "X"})
    body = assert_problem(r, 401)
    assert "revoked" in body["detail"]
    gql = await client.post("/graphql", headers=headers,
                            json={"query": 'mutation { createTenant(input: {slug: "x", name: "X", tier: KA}) '
                                           '{ id } }'})
    assert gql.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", gql.json()


async def test_rejected_write_changes_nothing(client, world):
    before = (await client.get(f"/v1/shops/{world.shops_a[0].id}", headers=OPS)).json()
    r = await client.patch(f"/v1/shops/{world.shops_a[0].id}", headers=OPS,
                           json={"name": "", "status": "closed"})
    assert_problem(r, 422, "body.name")
    assert (await client.get(f"/v1/shops/{world.shops_a[0].id}", headers=OPS)).json() == before


async def test_patch_null_clears_only_what_may_be_empty(client, world):
    url = f"/v1/shops/{world.shops_a[1].id}"
    assert (await client.patch(url, headers=OPS, json={"category": "beauty"})).json()["category"] == "beauty"
    assert (await client.patch(url, headers=OPS, json={"category": None})).json()["category"] is None
    before = (await client.get(url, headers=OPS)).json()
    body = assert_problem(await client.patch(url, headers=OPS, json={"name": None}), 422, "body.name")
    assert body["errors"][0]["reason"] == "may not be null"
    assert (await client.get(url, headers=OPS)).json() == before


async def test_graphql_validation_names_the_field(client):
    r = await client.post("/graphql", headers=OPS, json={
        "query": "mutation { createSite(input: {name: \"\", city: \"x\", seatCapacity: -1}) { id } }"})
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    # GraphQL names fields where GraphQL has them: under the argument, in camelCase.
    assert {"input.name", "input.seatCapacity"} <= {e["field"] for e in error["extensions"]["errors"]}
    # A validator's reason as such: no "Value error," prefix, no raw regex.
    r = await client.post("/graphql", headers=OPS, json={
        "query": "mutation { createTenant(input: {slug: \"Bad Slug\", name: \"x\", tier: KA}) { id } }"})
    [slug] = r.json()["errors"][0]["extensions"]["errors"]
    assert slug["field"] == "input.slug" and slug["reason"].startswith("must be lowercase letters, digits")


async def test_unknown_route_is_problem_json(client):
    assert_problem(await client.get("/v1/nothing-here", headers=OPS), 404)
    assert_problem(await client.delete("/v1/shops", headers=OPS), 405)
