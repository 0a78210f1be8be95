"""Input that would cost the server more than it costs the client (issue 11): every finding reproduced and
refused cheaply, with the good lines of a batch kept."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from service.conversations import ingest as ingest_module
from tests.conftest import auth
from tests.factories import assert_problem, gql, owner_count, rls_count

NDJSON = {"Content-Type": "application/x-ndjson"}


def record(shop, ext: str, started: str = "2026-11-20T10:00:00+08:00") -> str:
    return json.dumps({"external_id": ext, "shop_id": str(shop), "started_at": started, "kind": "presale"})


async def test_blank_lines_are_skipped_and_capped(client, world):
    shop = world.shops_a[0].id
    body = "\n\n  \r\n" + record(shop, "blank-1") + "\n\n\n"
    r = await client.post("/v1/conversations", content=body, headers={**NDJSON, **auth("ops")})
    assert r.status_code == 200 and r.json()["received"] == 1 and r.json()["inserted"] == 1, r.text
    started = time.perf_counter()
    r = await client.post("/v1/conversations", content=b"\n" * 1_000_000, headers={**NDJSON, **auth("ops")})
    assert_problem(r, 413)
    assert time.perf_counter() - started < 2


async def test_an_over_long_line_is_dropped_as_it_passes_the_limit(client, world):
    shop = world.shops_a[0].id

    async def body():
        yield (record(shop, "long-0") + "\n").encode()
        yield b'{"external_id": "' + b"x" * 40_000
        for _ in range(50):  # 5 MB of one line, never gathered
            yield b"y" * 100_000
        yield b'"}\n' + (record(shop, "long-1") + "\n").encode()

    r = await client.post("/v1/conversations", content=body(), headers={**NDJSON, **auth("ops")})
    answer = r.json()
    assert r.status_code == 200 and answer["inserted"] == 2, r.text
    assert answer["rejected"] == [{"line": 2, "field": None, "reason": ingest_module.REASON_LINE_TOO_LONG}]


async def test_bodies_are_bounded_app_wide_and_on_graphql(client):
    r = await client.post("/v1/tenants", content=b" " * (2 * 1024 * 1024),
                          headers={"Content-Type": "application/json", **auth("ops")})
    assert_problem(r, 413)
    r = await client.post("/graphql", content=b" " * (3 * 1024 * 1024),
                          headers={"Content-Type": "application/json"})
    assert_problem(r, 413)


async def test_a_record_may_not_start_too_long_ago_and_makes_no_partition(client, world, database):
    shop = world.shops_a[0].id
    body = record(shop, "old-1", "2000-01-02T10:00:00+08:00") + "\n" + record(shop, "old-2") + "\n"
    r = await client.post("/v1/conversations", content=body, headers={**NDJSON, **auth("ops")})
    assert r.json()["inserted"] == 1 and r.json()["rejected"][0]["reason"] == "timestamp out of range", r.text
    sql = "SELECT count(*) FROM pg_class WHERE relname = 'conversations_p2000_01'"
    assert await owner_count(database, sql) == 0


async def test_matching_still_finds_a_version_that_moved_months(client, world, db):
    shop = world.shops_a[1].id
    first = record(shop, "moved-1", "2026-10-31T23:50:00+00:00")
    r = await client.post("/v1/conversations", content=first, headers={**NDJSON, **auth("ops")})
    assert r.json()["inserted"] == 1
    moved = record(shop, "moved-1", "2026-11-01T00:10:00+00:00")
    r = await client.post("/v1/conversations", content=moved, headers={**NDJSON, **auth("ops")})
    assert (r.json()["inserted"], r.json()["updated"]) == (0, 1), r.text
    assert await rls_count(db.engine, "SELECT count(*) FROM conversations WHERE external_id = 'moved-1'",
                           "on", "") == 1


@pytest.mark.parametrize("path", ["/v1/shops?q=%00", "/v1/shops?tenant=%00", "/v1/tenants/a%00b",
                                  "/v1/tenants?q=%00", "/v1/sites?city=%00",
                                  "/v1/sla/breaches?tenant=%00"])
async def test_nul_and_lone_surrogates_are_422_in_rest(client, path):
    assert_problem(await client.get(path, headers=auth("admin")), 422)


@pytest.mark.parametrize("name", ["\\u0000", "\\ud800", "a\\udfffb"])
async def test_nul_and_lone_surrogates_in_a_body_field_are_422(client, name):
    body = '{"name": "' + name + '", "city": "x", "seat_capacity": 1}'
    r = await client.post("/v1/sites", content=body, headers={"Content-Type": "application/json",
                                                              **auth("ops")})
    assert_problem(r, 422, "body.name")


@pytest.mark.parametrize(("query", "variables"), [
    ('{ shops(q: "\\u0000") { items { id } } }', {}),
    ("query($q: String) { shops(q: $q) { items { id } } }", {"q": "\ud800"}),
    ("query($s: String!) { tenant(slug: $s) { id } }", {"s": "x\u0000"}),
])
async def test_nul_and_lone_surrogates_are_422_in_graphql(client, query, variables):
    body = json.dumps({"query": query, "variables": variables}).encode("utf-8", "surrogatepass")
    r = await client.post("/graphql", content=body, headers={"Content-Type": "application/json",
                                                              **auth("admin")})
    assert r.status_code == 200, r.text
    (error,) = r.json()["errors"]
    assert error["extensions"]["status"] == 422 and error["extensions"]["code"] == "BAD_USER_INPUT", error


async def test_a_deeply_nested_line_is_refused_and_the_good_lines_kept(client, world):
    shop = world.shops_a[0].id
    deep = '{"external_id": "deep", "x": ' + "[" * 900 + "]" * 900 + "}"
    body = "\n".join([record(shop, "deep-0"), deep, '{"a": "' + "[" * 50 + '"}', record(shop, "deep-1")])
    r = await client.post("/v1/conversations", content=body, headers={**NDJSON, **auth("ops")})
    answer = r.json()
    assert r.status_code == 200 and answer["inserted"] == 2, r.text
    assert [(x["line"], x["reason"]) for x in answer["rejected"]] == [
        (2, ingest_module.REASON_TOO_DEEP), (3, "missing field")]


DEEP_VARIABLES = b'{"query": "{ me { role } }", "variables": ' + b"[" * 500 + b"]" * 500 + b"}"


@pytest.mark.parametrize("body", [b"null", b'"a string"', b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000,
                                  DEEP_VARIABLES, b"[]", b"{not json"])
async def test_malformed_graphql_bodies_are_400_problems(client, body):
    r = await client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert_problem(r, 400)


async def test_two_authorization_headers_are_refused(client):
    headers = [("Authorization", auth("admin")["Authorization"]), ("Authorization", "Bearer other")]
    assert_problem(await client.get("/v1/shops", headers=headers), 400)
    r = await client.post("/graphql", json={"query": "{ me { role } }"}, headers=headers)
    assert_problem(r, 400)


async def test_a_csv_naming_a_column_twice_is_refused(client, world):
    shop = world.shops_a[0].id
    body = ("external_id,shop_id,started_at,kind,kind\n"
            f"csv-1,{shop},2026-11-20T10:00:00+08:00,presale,aftersale\n")
    r = await client.post("/v1/conversations", content=body, headers={"Content-Type": "text/csv",
                                                                      **auth("ops")})
    assert_problem(r, 422, "body")
    assert "kind" in r.json()["detail"]


async def test_a_declared_charset_is_honoured_for_csv_and_refused_for_ndjson(client, world):
    shop = world.shops_a[0].id
    body = ("external_id,shop_id,started_at,kind,agent_code\n"
            f"订单-1,{shop},2026-11-20T10:00:00+08:00,presale,客服甲\n")
    r = await client.post("/v1/conversations", content=body.encode("gb18030"),
                          headers={"Content-Type": "text/csv; charset=GB18030", **auth("ops")})
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    r = await client.post("/v1/conversations", content=record(shop, "latin").encode("latin-1"),
                          headers={"Content-Type": "application/x-ndjson; charset=latin-1", **auth("ops")})
    assert_problem(r, 415)
    r = await client.post("/v1/conversations", content=body.encode(),
                          headers={"Content-Type": "text/csv; charset=x-unknown", **auth("ops")})
    assert_problem(r, 415)


async def test_unknown_ids_in_graphql_literals_are_refused_cleanly(client):
    result = await gql(client, "query($id: UUID!) { shop(id: $id) { id } }", {"id": str(uuid.uuid4())},
                       auth("admin"))
    assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_the_databases_character_errors_are_422_as_a_safety_net():
    from service.kit.errors import Invalid, Unavailable, as_problem

    class CharacterError(Exception):  # what asyncpg raises for NUL in text (22021) or \u0000 in jsonb
        sqlstate = "22021"

    wrapped = RuntimeError("statement failed")
    wrapped.__cause__ = CharacterError("invalid byte sequence for encoding UTF8: 0x00")
    assert isinstance(as_problem(wrapped), Invalid)
    surrogate = UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
    assert isinstance(as_problem(surrogate), Invalid)
    assert isinstance(as_problem(ConnectionRefusedError(111, "refused")), Unavailable)
    assert as_problem(ValueError("a real fault")) is None


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"name": ' + b"[" * 3000 + b"]" * 3000 + b"}",
                                  b"\xff\xfe", b"null", b'"x"', b"{"])
async def test_malformed_json_bodies_are_4xx_problems_in_rest(client, body):
    r = await client.post("/v1/sites", content=body, headers={"Content-Type": "application/json",
                                                              **auth("ops")})
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
