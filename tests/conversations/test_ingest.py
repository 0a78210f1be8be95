"""Conversation ingest: counts, idempotency, replacement, every rejection reason, rollups exact."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from service.conversations import records as r
from service.conversations.records import validate_record
from tests.conftest import auth
from tests.factories import gql, rls_count
from tests.sla.reference import IntervalRollup, rollup_of

OPS = auth("ops")
NDJSON = {"content-type": "application/x-ndjson"}


def make_records(shop_ids, n: int, seed: int = 1, start: datetime | None = None) -> list[dict]:
    rng = random.Random(seed)
    start = start or datetime(2026, 10, 25, 12, tzinfo=UTC)
    out = []
    for i in range(n):
        began = start + timedelta(seconds=rng.randint(0, 4 * 86400))
        answered = rng.random() < 0.9
        frt = rng.choice([0, 0.4, 1, 3, 7.5, 12, 29.9, 30, 31, 45, 120, 200, 700, 1500]) * rng.random() * 2
        rec = {"external_id": f"ext-{seed}-{i}", "shop_id": str(rng.choice(shop_ids)),
               "started_at": (began.astimezone().isoformat() if i % 3
                              else began.isoformat().replace("+00:00", "Z")),
               "kind": rng.choice(["presale", "aftersale"])}
        if answered:
            first = began + timedelta(seconds=frt)
            rec["first_response_at"] = first.isoformat()
            if rng.random() < 0.8:
                rec["ended_at"] = (first + timedelta(seconds=rng.randint(30, 900))).isoformat()
            if rng.random() < 0.4:
                rec["response_times_s"] = [round(frt, 3)] + [rng.uniform(0, 400)
                                                             for _ in range(rng.randint(0, 4))]
        if rng.random() < 0.3:
            rec["converted"] = True
            rec["order_amount"] = str(Decimal(rng.randint(100, 99999)) / 100)
        if rng.random() < 0.5:
            rec["csat"] = rng.randint(1, 5)
        if rng.random() < 0.5:
            rec["agent_code"] = f"A{rng.randint(1, 50):04d}"
        out.append(rec)
    return out


def ndjson(records) -> bytes:
    return ("\n".join(json.dumps(x) for x in records) + "\n").encode()


async def stored_rollups(db, shop_ids) -> dict:
    async with db.system_transaction() as session:
        rows = (await session.execute(text(
            "SELECT * FROM shop_interval_stats WHERE shop_id = ANY(:ids)"),
            {"ids": list(shop_ids)})).mappings().all()
    out = {}
    for row in rows:
        data = {k: row[k] for k in row.keys() if k not in ("tenant_id", "shop_id", "interval_start")}
        data["frt_bins"], data["frt_counts"] = tuple(data["frt_bins"]), tuple(data["frt_counts"])
        out[(row["shop_id"], row["interval_start"])] = IntervalRollup(interval_start=row["interval_start"],
                                                                     shop_id=row["shop_id"], **data)
    return out


def assert_rollups_equal(stored: dict, expected: dict) -> None:
    assert stored.keys() == expected.keys()
    for key, want in expected.items():
        got = stored[key]
        for name in ("offered", "answered", "presale_offered", "presale_converted", "converted", "gmv",
                     "frt_bins", "frt_counts", "rounds", "rounds_within_180", "handled", "csat_count",
                     "csat_good", "csat_bad"):
            assert getattr(got, name) == getattr(want, name), (key, name)
        for name in ("frt_sum_s", "response_capped_sum_s", "handle_sum_s"):
            assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-9, abs=1e-6), (key, name)


def reference(records) -> dict:
    return rollup_of([validate_record(x) for x in records])


async def test_ingest_idempotent_and_exact(client, db, world):
    shops = [s.id for s in world.shops_a + world.shops_b]
    records = make_records(shops, 600)
    first = await client.post("/v1/conversations", headers=OPS | NDJSON, content=ndjson(records))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 600, "inserted": 600, "updated": 0, "unchanged": 0, "rejected": []}
    assert_rollups_equal(await stored_rollups(db, shops), reference(records))

    again = await client.post("/v1/conversations", headers=OPS | NDJSON, content=ndjson(records))
    assert again.json() == {"received": 600, "inserted": 0, "updated": 0, "unchanged": 600, "rejected": []}
    assert_rollups_equal(await stored_rollups(db, shops), reference(records))

    # Change some records: one moves to another month, one loses its answer, one gains an order.
    changed = [dict(x) for x in records[:3]]
    changed[0]["started_at"] = "2026-11-20T00:00:00+08:00"  # another month
    for unanswered in changed[:2]:
        for key in ("first_response_at", "ended_at", "response_times_s"):
            unanswered.pop(key, None)
    changed[2]["converted"], changed[2]["order_amount"] = True, "88.80"
    replaced = await client.post("/v1/conversations", headers=OPS | NDJSON,
                                 content=ndjson(changed + records[3:10]))
    assert replaced.json() == {"received": 10, "inserted": 0, "updated": 3, "unchanged": 7, "rejected": []}
    current = changed + records[3:]
    assert_rollups_equal(await stored_rollups(db, shops), reference(current))
    async with db.system_transaction() as session:
        count = (await session.execute(text("SELECT count(*) FROM conversations WHERE shop_id = ANY(:ids)"),
                                       {"ids": shops})).scalar_one()
    assert count == 600


async def test_csv_ingest(client, db, world):
    shop = world.shops_a[1].id
    lines = ["external_id,shop_id,started_at,first_response_at,kind,response_times_s,converted,order_amount,"
             "csat",
             f"csv-1,{shop},2026-11-11T00:00:05+08:00,2026-11-11T00:00:15+08:00,presale,10;200,yes,128.50,5",
             f"csv-2,{shop},2026-11-11T00:01:00+08:00,,aftersale,,,,",
             f"csv-3,{shop},2026-11-11 00:02:00+08,2026-11-11T00:02:40+08:00,presale,\"[40, 5]\",0,,2",
             f"csv-4,{shop},2026-11-11T00:03:00,,presale,,,,",
             "csv-5,only,three"]
    r_ = await client.post("/v1/conversations", headers=OPS | {"content-type": "text/csv"},
                           content="\n".join(lines).encode())
    body = r_.json()
    assert (body["received"], body["inserted"]) == (5, 3), body
    assert body["rejected"] == [{"line": 5, "field": "started_at", "reason": r.REASON_NO_TIMEZONE},
                                {"line": 6, "field": None, "reason": r.REASON_MALFORMED}]
    async with db.system_transaction() as session:
        row = (await session.execute(text(
            "SELECT response_times_s, converted, order_amount, csat FROM conversations "
            "WHERE external_id = 'csv-1'"))).one()
    assert row == ([10.0, 200.0], True, Decimal("128.50"), 5)


def _good(shop, i) -> dict:
    return {"external_id": f"bad-{i}", "shop_id": str(shop), "started_at": "2026-11-05T10:00:00+08:00",
            "first_response_at": "2026-11-05T10:00:20+08:00", "ended_at": "2026-11-05T10:05:00+08:00",
            "kind": "presale"}


REJECTIONS = [
    (lambda g: "{not json", None, r.REASON_MALFORMED),
    (lambda g: "[1, 2]", None, r.REASON_MALFORMED),
    (lambda g: g | {"external_id": ""}, "external_id", r.REASON_MISSING),
    (lambda g: g | {"external_id": {"a": 1}}, "external_id", r.REASON_NOT_TEXT),
    (lambda g: {k: v for k, v in g.items() if k != "shop_id"}, "shop_id", r.REASON_MISSING),
    (lambda g: g | {"shop_id": "shop-42"}, "shop_id", r.REASON_BAD_UUID),
    (lambda g: g | {"shop_id": str(uuid.uuid4())}, "shop_id", "unknown shop"),
    (lambda g: {k: v for k, v in g.items() if k != "started_at"}, "started_at", r.REASON_MISSING),
    (lambda g: g | {"started_at": "yesterday"}, "started_at", r.REASON_BAD_TIMESTAMP),
    (lambda g: g | {"started_at": "now"}, "started_at", r.REASON_BAD_TIMESTAMP),
    (lambda g: g | {"started_at": "2026-13-45T10:00:00+08:00"}, "started_at", r.REASON_BAD_TIMESTAMP),
    (lambda g: g | {"started_at": "2026-11-05T10:00:00"}, "started_at", r.REASON_NO_TIMEZONE),
    (lambda g: g | {"started_at": "1999-01-01T00:00:00Z"}, "started_at", "timestamp out of range"),
    (lambda g: g | {"first_response_at": "2026-11-05T09:59:00+08:00"}, "first_response_at",
     r.REASON_RESPONSE_BEFORE_START),
    (lambda g: g | {"first_response_at": "2026-11-05 10:00"}, "first_response_at", r.REASON_NO_TIMEZONE),
    (lambda g: g | {"ended_at": "2026-11-05T09:00:00+08:00", "first_response_at": None}, "ended_at",
     r.REASON_END_BEFORE_START),
    (lambda g: g | {"ended_at": "2026-11-05T10:00:10+08:00"}, "ended_at", r.REASON_END_BEFORE_RESPONSE),
    (lambda g: {k: v for k, v in g.items() if k != "kind"}, "kind", r.REASON_MISSING),
    (lambda g: g | {"kind": "complaint"}, "kind", r.REASON_BAD_KIND),
    (lambda g: g | {"response_times_s": [3, -1]}, "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (lambda g: g | {"response_times_s": ["a"]}, "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (lambda g: g | {"first_response_at": None, "response_times_s": [3]}, "response_times_s",
     r.REASON_TIMES_WITHOUT_RESPONSE),
    (lambda g: g | {"converted": "maybe"}, "converted", r.REASON_BAD_BOOLEAN),
    (lambda g: g | {"order_amount": "12,50"}, "order_amount", r.REASON_BAD_AMOUNT),
    (lambda g: g | {"order_amount": "1e999999999"}, "order_amount", r.REASON_AMOUNT_TOO_LARGE),
    (lambda g: g | {"order_amount": -5}, "order_amount", r.REASON_NEGATIVE_AMOUNT),
    (lambda g: g | {"order_amount": "1000000000000"}, "order_amount", r.REASON_AMOUNT_TOO_LARGE),
    (lambda g: g | {"csat": "good"}, "csat", r.REASON_NOT_INTEGER),
    (lambda g: g | {"csat": 6}, "csat", r.REASON_CSAT_RANGE),
    (lambda g: g | {"csat": 0}, "csat", r.REASON_CSAT_RANGE),
    (lambda g: g | {"csat": 99999999999}, "csat", r.REASON_CSAT_RANGE),
]


async def test_every_rejection_reason_and_good_rows_kept(client, db, world):
    shop = world.shops_a[0].id
    lines = []
    for i, (make, _, _) in enumerate(REJECTIONS):
        line = make(_good(shop, i))
        lines.append(line if isinstance(line, str) else json.dumps(line))
    lines.append(json.dumps(_good(shop, "ok-1")))
    lines.append("")  # a blank line is no record
    lines.append(json.dumps(_good(shop, "ok-2")))
    result = (await client.post("/v1/conversations", headers=OPS | NDJSON,
                                content="\n".join(lines).encode())).json()
    assert result["received"] == len(REJECTIONS) + 2 and result["inserted"] == 2
    got = [(x["line"], x["field"], x["reason"]) for x in result["rejected"]]
    assert got == [(i + 1, field, reason) for i, (_, field, reason) in enumerate(REJECTIONS)]


async def test_reference_validator_agrees_on_reasons(world):
    # Ingest answers with service.conversations.records' own reasons (only the shop's visibility is its
    # own rule).
    shop = world.shops_a[0].id
    for make, field, reason in REJECTIONS:
        line = make(_good(shop, 0))
        if isinstance(line, str) or reason == "unknown shop":
            continue
        got = validate_record(line)
        assert isinstance(got, r.Rejection) and (got.field, got.reason) == (field, reason), (line, got)


async def test_duplicates_in_one_batch_last_wins(client, db, world):
    shop = world.shops_b[0].id
    a, b = _good(shop, "dup"), _good(shop, "dup") | {"csat": 5}
    result = (await client.post("/v1/conversations", headers=OPS | NDJSON, content=ndjson([a, b]))).json()
    assert result["inserted"] == 1 and result["rejected"][0]["line"] == 1
    async with db.system_transaction() as session:
        assert (await session.execute(text("SELECT csat FROM conversations "
                                           "WHERE external_id = 'bad-dup'"))).scalar_one() == 5


async def test_client_writes_only_own_shops(client, db, world):
    mine, theirs = _good(world.shops_a[0].id, "mine"), _good(world.shops_b[0].id, "theirs")
    result = (await client.post("/v1/conversations", headers=world.client_of("a") | NDJSON,
                                content=ndjson([mine, theirs]))).json()
    assert result["inserted"] == 1
    assert result["rejected"] == [{"line": 2, "field": "shop_id", "reason": "unknown shop"}]


async def test_content_type_and_size_limits(client):
    r415 = await client.post("/v1/conversations", headers=OPS | {"content-type": "application/xml"},
                             content=b"<x/>")
    assert r415.status_code == 415 and r415.headers["content-type"] == "application/problem+json"
    too_many = b"{}\n" * 100_001
    r413 = await client.post("/v1/conversations", headers=OPS | NDJSON, content=too_many)
    assert r413.status_code == 413 and "100,000" in r413.json()["detail"]
    no_header = await client.post("/v1/conversations", headers=OPS | {"content-type": "text/csv"},
                                  content=b"a,b\n1,2\n")
    assert no_header.status_code == 422 and no_header.json()["errors"][0]["field"] == "body"


async def test_rls_on_conversation_tables(database, world, client):
    from service.kit.db import make_engine

    await client.post("/v1/conversations", headers=OPS | NDJSON,
                      content=ndjson([_good(world.shops_b[1].id, "rls")]))
    engine = make_engine(database.app_url, 1)
    try:
        a, b = str(world.tenant_a.id), str(world.tenant_b.id)
        for table in ("conversations", "shop_interval_stats"):
            sql = f"SELECT count(*) FROM {table} WHERE tenant_id = :b"
            assert await rls_count(engine, sql, "", a, b=b) == 0, table
        assert await rls_count(engine, "SELECT count(*) FROM conversations WHERE tenant_id = :b", "on", "",
                               b=b) >= 1
    finally:
        await engine.dispose()


async def test_graphql_ingest_same_path(client, db, world):

    query = """mutation($r: [ConversationInput!]!) { ingestConversations(records: $r) {
      received inserted updated unchanged rejected { line field reason } } }"""
    good = {"externalId": "gql-1", "shopId": str(world.shops_a[1].id),
            "startedAt": "2026-11-20T10:00:00+08:00",
            "kind": "presale", "responseTimesS": [5, 40], "firstResponseAt": "2026-11-20T10:00:05+08:00"}
    bad = {"externalId": "gql-2", "shopId": str(world.shops_b[0].id), "startedAt": "2026-11-20T10:00:00",
           "kind": "presale"}
    answer = await gql(client, query, {"r": [good, bad]}, world.client_of("a"))
    first = answer["data"]["ingestConversations"]
    assert (first["received"], first["inserted"]) == (2, 1)
    assert first["rejected"] == [{"line": 2, "field": "started_at", "reason": r.REASON_NO_TIMEZONE}]
    again = (await gql(client, query, {"r": [good]}, world.client_of("a")))["data"]["ingestConversations"]
    assert again["unchanged"] == 1
    too_many = await gql(client, query, {"r": [good] * 1001}, OPS)
    assert too_many["errors"][0]["extensions"]["errors"][0]["field"] == "records"


async def test_escapes_and_bytes_never_fail_the_batch(client, world):
    shop = str(world.shops_a[0].id)
    base = ('{"external_id": "%s", "shop_id": "' + shop + '", "started_at": "2026-11-05T10:00:00+08:00", '
            '"kind": "presale"')
    lines = [
        (base % "esc-1") + ', "agent_code": "\\u4e2d\\u6587"}',  # escaped CJK: fine
        (base % "esc-2") + ', "agent_code": "\\ud800"}',  # lone surrogate
        (base % "esc-3") + ', "agent_code": "\\u0000"}',  # escaped NUL
    ]
    body = "\n".join(lines).encode() + b"\n" + (base % "esc-4").encode() + b', "x": "\x00"}\n\xff\xfe\n'
    result = (await client.post("/v1/conversations", headers=OPS | NDJSON, content=body)).json()
    assert result["inserted"] == 1
    assert [(x["line"], x["reason"]) for x in result["rejected"]] == [
        (2, r.REASON_MALFORMED), (3, r.REASON_MALFORMED), (4, r.REASON_MALFORMED), (5, "not UTF-8 text")]
