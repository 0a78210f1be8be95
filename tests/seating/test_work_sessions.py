"""Actual attendance: work sessions through both doors on the shared batch machinery (every bad row reported
by line and field, a re-send changes nothing, a changed session is updated), the table's own CHECK, a
brand's client seeing none of it, and the reports running attendance.py's maths over stored data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from service.kit.db import make_engine
from service.seating.actuals import one_at_a_time
from service.seating.attendance import Session
from tests.conftest import auth
from tests.factories import assert_problem, gql, rls_count

OPS = auth("ops")
NDJSON = {"content-type": "application/x-ndjson"} | OPS


def _line(world, ext: str, login: str = "09:00", logout: str = "18:00", **extra) -> str:
    return json.dumps({"external_id": ext, "agent_code": world.agent.code,
                       "shop_id": str(world.shops_a[0].id), "login": f"2026-10-12T{login}:00+08:00",
                       "logout": f"2026-10-12T{logout}:00+08:00"} | extra)


@pytest.fixture(scope="module")
async def sent(client, world):
    body = "\n".join([
        _line(world, "ws-1", breaks=[["2026-10-12T12:00:00+08:00", "2026-10-12T13:00:00+08:00"]]),
        "",
        _line(world, "ws-2", "19:00", "18:00"),
        _line(world, "ws-3", "00:00", "23:59") .replace("2026-10-12T23", "2026-10-13T23"),
        _line(world, "ws-4", agent_code="nobody"),
        _line(world, "ws-5", "13:00", shop_id=str(world.shops_b[0].id)),
        _line(world, "ws-6", breaks=[["2026-10-12T08:00:00+08:00", "2026-10-12T08:30:00+08:00"]]),
        "{not json",
        _line(world, "ws-7", "13:00", "17:00"),
        _line(world, "ws-7", "13:00", "17:30"),
    ])
    return (await client.post("/v1/work-sessions", content=body, headers=NDJSON)).json()


async def test_good_rows_kept_and_bad_ones_reported_by_line(sent):
    assert (sent["received"], sent["inserted"], sent["updated"], sent["unchanged"]) == (9, 3, 0, 0), sent
    assert [(r["line"], r["field"], r["reason"]) for r in sent["rejected"]] == [
        (3, "logout", "logout not after login"),
        (4, "logout", "session longer than 24 hours"),
        (5, "agent_code", "unknown agent"),
        (7, "breaks", "break not inside the session"),
        (8, None, "malformed line"),
        (9, "external_id", "superseded by a later line with the same shop_id and external_id"),
    ]


async def test_a_resend_changes_nothing_and_a_change_updates(client, world, sent):
    lunch = [["2026-10-12T12:00:00+08:00", "2026-10-12T13:00:00+08:00"]]
    again = "\n".join([_line(world, "ws-1", breaks=lunch), _line(world, "ws-7", "13:00", "17:30")])
    answer = (await client.post("/v1/work-sessions", content=again, headers=NDJSON)).json()
    assert (answer["inserted"], answer["updated"], answer["unchanged"]) == (0, 0, 2)
    changed = _line(world, "ws-7", "13:00", "17:45")
    answer = (await client.post("/v1/work-sessions", content=changed, headers=NDJSON)).json()
    assert (answer["inserted"], answer["updated"], answer["unchanged"]) == (0, 1, 0)


async def test_csv_with_breaks_and_whole_request_errors(client, world, sent):
    shop = world.shops_a[1].id
    csv = ("external_id,agent_code,shop_id,login,logout,breaks\r\n"
           f"c-1,{world.agent.code},{shop},2026-10-13T09:00:00+08:00,2026-10-13T17:00:00+08:00,"
           "2026-10-13T12:00:00+08:00/2026-10-13T12:30:00+08:00\r\n")
    answer = (await client.post("/v1/work-sessions", content=csv,
                                headers={"content-type": "text/csv"} | OPS)).json()
    assert answer["inserted"] == 1 and not answer["rejected"], answer
    twice = await client.post("/v1/work-sessions", content="external_id,external_id\nx,y\n",
                              headers={"content-type": "text/csv"} | OPS)
    assert_problem(twice, 422, "body")
    assert_problem(await client.post("/v1/work-sessions", content="{}", headers={"content-type": "text/plain"}
                                     | OPS), 415)
    assert (await client.post("/v1/work-sessions", content=csv, headers={"content-type": "text/csv"}
                              | world.client_of("a"))).status_code == 403


async def test_read_back_is_staff_only_and_paged(client, world, sent):
    page = (await client.get("/v1/work-sessions", params={"agent": world.agent.code, "limit": 2},
                             headers=auth("finance"))).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (await client.get("/v1/work-sessions", params={"agent": world.agent.code, "cursor":
                                                           page["next_cursor"]}, headers=OPS)).json()
    ids = [i["external_id"] for i in page["items"] + rest["items"]]
    assert sorted(ids) == sorted({"ws-1", "ws-5", "ws-7", "c-1"} & set(ids)) and len(ids) == len(set(ids))
    first = next(i for i in page["items"] + rest["items"] if i["external_id"] == "ws-1")
    assert len(first["breaks"]) == 1 and first["agent_code"] == world.agent.code
    for path in ("/v1/work-sessions", "/v1/attendance/overtime?month=2026-10"):
        assert (await client.get(path, headers=world.client_of("a"))).status_code == 403


async def test_graphql_ingest_and_query(client, world, sent):
    data = await gql(client, """mutation($s: UUID!, $a: String!) { ingestWorkSessions(records: [
        {externalId: "g-1", agentCode: $a, shopId: $s, login: "2026-10-14T09:00:00+08:00",
         logout: "2026-10-14T12:00:00+08:00"}]) { inserted unchanged rejected { line field reason } } }""",
                     {"s": str(world.shops_a[0].id), "a": world.agent.code}, OPS)
    assert data["data"]["ingestWorkSessions"]["inserted"] == 1, data
    query = '{ workSessions(from: "2026-10-14", to: "2026-10-15") { items { externalId } } }'
    found = await gql(client, query, headers=OPS)
    assert [i["externalId"] for i in found["data"]["workSessions"]["items"]] == ["g-1"], found


async def test_records_as_lines_parse_are_checked_as_those_lines(db, world):
    """The demo's way in (ingest_work_session_records, parsed): records as NDJSON's lines parse, checked as
    they are, without the text in between: the same answer, line by line, as those lines sent; a re-send of
    them as lines then changes nothing."""
    from service.kit.identity import OPERATOR
    from service.seating.actuals import ingest_work_session_records

    lunch = [["2026-10-12T12:00:00+08:00", "2026-10-12T13:00:00+08:00"]]
    lines = [_line(world, "rec-1", breaks=lunch), _line(world, "rec-2", "19:00", "18:00"),
             _line(world, "rec-3\u0000"), _line(world, "rec-4", agent_code="nobody"),
             _line(world, "rec-5", "13:00", "17:00")]
    records = [json.loads(x) for x in lines]
    async with db.system_transaction() as session:
        parsed = await ingest_work_session_records(session, OPERATOR, records, parsed=True)
    async with db.system_transaction() as session:
        sent = await ingest_work_session_records(session, OPERATOR, records)
    async with db.system_transaction() as session:  # the module's other tests count the sessions sent
        await session.execute(text("DELETE FROM work_sessions WHERE external_id LIKE 'rec-%'"))
    assert (parsed.received, parsed.inserted, parsed.updated, parsed.unchanged) == (5, 2, 0, 0)
    assert (sent.received, sent.inserted, sent.updated, sent.unchanged) == (5, 0, 0, 2)
    assert parsed.rejected == sent.rejected
    assert [(r.line, r.field, r.reason) for r in parsed.rejected] == [
        (2, "logout", "logout not after login"), (3, None, "malformed line"),
        (4, "agent_code", "unknown agent")]


async def test_the_table_refuses_a_session_over_a_day(db, world):
    with pytest.raises(IntegrityError, match="at_most_a_day"):
        async with db.system_transaction() as session:
            await session.execute(text(
                "INSERT INTO work_sessions (tenant_id, shop_id, external_id, agent_id, during) VALUES "
                "(:t, :s, 'long', :a, tstzrange('2026-10-01 00:00+08', '2026-10-02 01:00+08'))"),
                {"t": world.tenant_a.id, "s": world.shops_a[0].id, "a": world.agent.id})


async def test_a_brand_never_sees_another_brands_sessions_in_sql(database, world, sent):
    engine = make_engine(database.app_url, 1)
    try:
        a, b = str(world.tenant_a.id), str(world.tenant_b.id)
        sql = "SELECT count(*) FROM work_sessions WHERE external_id = 'ws-5'"  # B's shop, sent by ops
        assert await rls_count(engine, sql, "", a) == 0
        assert await rls_count(engine, sql, "", b) == 1
    finally:
        await engine.dispose()


async def test_reports_run_the_attendance_maths(client, world, sent):
    adherence = (await client.get("/v1/attendance/adherence", params={
        "from": "2026-10-12", "to": "2026-10-13", "agent": world.agent.code}, headers=OPS)).json()
    day = next(r for r in adherence if r["day"] == "2026-10-12")
    # ws-1 09-18 less 12-13 and ws-5 13-18 on B's shop and ws-7 13-17:45 overlap: 480 minutes once each.
    assert day["actual_minutes"] == 480 and day["scheduled_minutes"] == 0 and day["share"] is None
    overtime = (await client.get("/v1/attendance/overtime", params={"month": "2026-10", "agent":
                                                                     world.agent.code}, headers=OPS)).json()
    assert len(overtime) == 1 and overtime[0]["cap_minutes"] == 36 * 60 and not overtime[0]["over_cap"]
    occupancy = (await client.get("/v1/attendance/occupancy", params={
        "from": "2026-10-12", "to": "2026-10-13", "shop": str(world.shops_a[0].id)}, headers=OPS)).json()
    nine = next(r for r in occupancy if r["interval_start"].startswith("2026-10-12T01:00"))
    assert nine["logged_in_seconds"] == 900 and nine["band"] == "low"


def test_overlapping_sessions_count_once():
    from datetime import datetime, timedelta

    t0 = datetime.fromisoformat("2026-10-12T09:00:00+08:00")
    h = timedelta(hours=1)
    one = Session(0, 0, t0, t0 + 8 * h, ((t0 + 3 * h, t0 + 4 * h),))
    other = Session(0, 1, t0 + 4 * h, t0 + 9 * h)
    apart = Session(0, 1, t0 + 10 * h, t0 + 11 * h)
    merged = one_at_a_time([other, apart, one])
    assert [(s.login, s.logout, s.breaks) for s in merged] == [
        (t0, t0 + 9 * h, ((t0 + 3 * h, t0 + 4 * h),)), (apart.login, apart.logout, ())]


async def test_ingest_attendance_command(database, world, tmp_path):
    import asyncio

    from tests.factories import cli_env, run_cli

    shop = str(world.shops_a[0].id)
    nd = tmp_path / "attendance.ndjson"
    nd.write_text("\n".join([
        json.dumps({"external_id": "cli-ws-1", "agent_code": world.agent.code, "shop_id": shop,
                    "login": "2026-10-20T09:00:00+08:00", "logout": "2026-10-20T17:00:00+08:00"}),
        json.dumps({"external_id": "cli-ws-2", "agent_code": world.agent.code, "shop_id": shop,
                    "login": "2026-10-20T09:00:00+08:00", "logout": "2026-10-22T09:00:00+08:00"}),
    ]) + "\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,shop_id\nx,y\n")
    env = cli_env(database, tmp_path)
    result = await asyncio.to_thread(run_cli, ["ingest-attendance", str(nd)], env)
    assert result.exit_code == 1, result.output  # one row rejected, the other kept
    assert "attendance.ndjson:2 logout session longer than 24 hours" in result.output
    assert "inserted 1" in result.output and "rejected 1" in result.output
    refused = await asyncio.to_thread(run_cli, ["ingest-attendance", str(bad)], env)
    assert refused.exit_code == 2, refused.output
    assert "bad.csv: header: the CSV header lacks required columns" in refused.output
