"""Reports and breach lists kept in memory (service.kit.cache) are found again only while nothing they read
has changed: an ingest, a direct write of rollups, a policy version or a rolled-back write all show in the
next answer, in this process and in another one on the same database; a kept answer is never shown to a
caller who may not see its shop."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import event, text

from service.kit.db import Database, make_engine
from service.kit.identity import OPERATOR
from service.shops.service import get_shop
from service.sla import service as sla
from service.sla.periods import period_of
from service.sla.queries import shop_ref
from tests.conftest import auth
from tests.factories import add_policy, insert_rollups, make_shop, random_records

OPS = auth("ops")
DAY = date(2025, 6, 10)
REPORT = "/v1/shops/{}/sla?from=2025-06-01&to=2025-07-01&granularity=day"
BREACHES = "/v1/sla/breaches?from=2025-06-01&to=2025-07-01"


def batch(shop_id, day: date, n: int, tag: str, frt_s: int = 5) -> str:
    lines = [json.dumps({"external_id": f"{tag}-{i}", "shop_id": str(shop_id), "kind": "presale",
                         "started_at": f"{day}T{10 + i % 8:02d}:{i % 60:02d}:00+08:00",
                         "first_response_at": f"{day}T{10 + i % 8:02d}:{i % 60:02d}:{frt_s:02d}+08:00"})
             for i in range(n)]
    return "\n".join(lines)


async def ingest(client, shop_id, day: date, n: int, tag: str, frt_s: int = 5) -> None:
    r = await client.post("/v1/conversations", content=batch(shop_id, day, n, tag, frt_s),
                          headers={**OPS, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200 and r.json()["inserted"] == n, r.text


class Statements:
    """The SQL statements a Database sends while inside the block."""

    def __init__(self, db: Database):
        self.db, self.seen = db, []

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(statement)

    def __enter__(self):
        event.listen(self.db.engine.sync_engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *exc):
        event.remove(self.db.engine.sync_engine, "before_cursor_execute", self._record)


def reads_rollups(statements) -> bool:
    return any("shop_interval_stats" in s for s in statements)


@pytest.fixture(scope="module")
async def shop(db):
    return await make_shop(db)


async def computed(db: Database, shop_id):
    """The report as computed now, with nothing kept (the reference)."""
    size, db.memo.size = db.memo.size, 0
    try:
        async with db.system_transaction() as session:
            lo, hi = period_of("Asia/Shanghai", "day", "2025-06-01", "2025-07-01")
            ref = shop_ref(await get_shop(session, OPERATOR, shop_id))
            report = (await sla.reports(session, [(ref, lo, hi)], "day"))[0]
            return report.model_dump(mode="json", by_alias=True)
    finally:
        db.memo.size = size


async def test_a_kept_report_is_found_again_until_an_ingest_changes_it(client, db, shop):
    tenant, s = shop
    await ingest(client, s.id, DAY, 40, "a")
    first = await client.get(REPORT.format(s.id), headers=OPS)
    assert first.status_code == 200 and first.json()["total"]["offered"] == 40
    with Statements(db) as seen:
        again = await client.get(REPORT.format(s.id), headers=OPS)
    assert again.json() == first.json() and not reads_rollups(seen), "the kept report was not found"
    assert any("shop_report_versions" in x for x in seen)  # its version is still read, in the transaction

    await ingest(client, s.id, DAY + timedelta(days=1), 25, "b")
    with Statements(db) as seen:
        after = await client.get(REPORT.format(s.id), headers=OPS)
    assert reads_rollups(seen) and after.json()["total"]["offered"] == 65
    assert after.json() == await computed(db, s.id)


async def test_a_policy_version_changes_the_kept_verdicts(client, db, shop):
    _, s = shop
    before = await client.get(REPORT.format(s.id), headers=OPS)
    await add_policy(client, s.id, effective_from="2025-06-01", answer_target_s=2, service_level_target=0.99)
    after = await client.get(REPORT.format(s.id), headers=OPS)
    assert after.json() != before.json()
    assert after.json()["total"]["answer_target_s"] == 2
    assert after.json() == await computed(db, s.id)


async def test_kept_breaches_follow_the_data(client, db, shop):
    _, s = shop
    first = (await client.get(BREACHES, headers=OPS)).json()["items"]
    with Statements(db) as seen:
        again = (await client.get(BREACHES, headers=OPS)).json()["items"]
    assert again == first and not reads_rollups(seen)
    await ingest(client, s.id, DAY + timedelta(days=2), 30, "slow", frt_s=50)  # slow answers: a new breach
    after = (await client.get(BREACHES, headers=OPS)).json()["items"]
    days = {b["period_start"] for b in after if b["shop_id"] == str(s.id) and b["period"] == "day"}
    assert str(DAY + timedelta(days=2)) in days and after != first


async def test_direct_writes_of_rollups_change_kept_answers(client, db, shop):
    tenant, s = shop
    before = (await client.get(REPORT.format(s.id), headers=OPS)).json()
    records = random_records(np.random.default_rng(3), s.id, 200, datetime(2025, 6, 20, tzinfo=UTC),
                             datetime(2025, 6, 25, tzinfo=UTC))
    await insert_rollups(db, tenant.id, records)
    after = (await client.get(REPORT.format(s.id), headers=OPS)).json()
    assert after["total"]["offered"] == before["total"]["offered"] + 200
    assert after == await computed(db, s.id)


async def test_a_rolled_back_write_leaves_no_kept_answer_behind(client, db, shop):
    tenant, s = shop
    committed = (await client.get(REPORT.format(s.id), headers=OPS)).json()

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with db.system_transaction() as session:
            await session.execute(text("UPDATE shop_interval_stats SET offered = offered + 1000 "
                                       "WHERE tenant_id = :t AND shop_id = :s"), {"t": tenant.id, "s": s.id})
            ref = shop_ref(s)
            lo, hi = period_of(s.timezone, "day", "2025-06-01", "2025-07-01")
            inside = (await sla.reports(session, [(ref, lo, hi)], "day"))[0]
            assert inside.total.offered > committed["total"]["offered"] + 1000 - 1
            raise Undo
    assert (await client.get(REPORT.format(s.id), headers=OPS)).json() == committed


async def test_another_process_sees_this_ones_writes(client, db, database, shop):
    """Two Databases on one database (two server processes): each keeps its own answers, and a write through
    either one changes what both answer."""
    _, s = shop
    other = Database(make_engine(database.app_url, 2))
    try:
        async def report_of_other():
            async with other.system_transaction() as session:
                lo, hi = period_of(s.timezone, "day", "2025-06-01", "2025-07-01")
                return (await sla.reports(session, [(shop_ref(s), lo, hi)], "day"))[0].total.offered

        seen = await report_of_other()
        assert seen == await report_of_other() and len(other.memo) == 1
        await ingest(client, s.id, DAY + timedelta(days=3), 10, "c")
        assert await report_of_other() == seen + 10
    finally:
        await other.dispose()


async def test_a_kept_report_is_never_shown_to_another_brand(client, db, shop):
    tenant, s = shop
    staff = await client.get(REPORT.format(s.id), headers=OPS)
    own = await client.get(REPORT.format(s.id), headers=auth("client", tenant.id))
    assert own.status_code == 200 and own.json() == staff.json()
    other_tenant, _ = await make_shop(db)
    foreign = await client.get(REPORT.format(s.id), headers=auth("client", other_tenant.id))
    assert foreign.status_code == 404
    mine = (await client.get(BREACHES, headers=auth("client", other_tenant.id))).json()["items"]
    assert all(b["shop_id"] != str(s.id) for b in mine)


async def test_truncate_forgets_every_version(database, db, client, shop):
    _, s = shop
    await client.get(REPORT.format(s.id).replace("granularity=day", "granularity=hour"), headers=OPS)
    engine = make_engine(database.owner_url, 1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
            assert (await conn.execute(text("SELECT count(*) FROM shop_report_versions"))).scalar_one() > 0
            await conn.execute(text("TRUNCATE shop_day_frt"))
            assert (await conn.execute(text("SELECT count(*) FROM shop_report_versions"))).scalar_one() == 0
    finally:
        await engine.dispose()
    hourly = REPORT.format(s.id).replace("granularity=day", "granularity=hour")  # reads no day histogram
    with Statements(db) as seen:
        assert (await client.get(hourly, headers=OPS)).status_code == 200
    assert reads_rollups(seen)  # nothing kept can be found without a version
