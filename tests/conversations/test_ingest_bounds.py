"""One client must not multiply every tenant's ingest cost (issue 11): a brand's ancient records create
partitions, but another brand's batches never touch them (matching is bounded by the batch's shops' stored
range, pruned at plan time); and records older than the configured bound are rejected in the first place."""

from __future__ import annotations

import json

from sqlalchemy import text

from service.conversations.service import ingest_batch
from service.kit.db import Database, make_engine
from service.kit.identity import OPERATOR
from tests.factories import make_shop

ANCIENT = "conversations_p2001_01"


async def _batch(db: Database, shop, started: str, n: int, max_age_days: int | None) -> None:
    lines = "\n".join(json.dumps({"external_id": f"b-{i}", "shop_id": str(shop.id), "kind": "presale",
                                  "started_at": started}) for i in range(n)).encode()

    async def body():
        yield lines

    async with db.system_transaction() as session:
        await ingest_batch(session, OPERATOR, body(), "application/x-ndjson", max_age_days)


async def _scans(database) -> int:
    engine = make_engine(database.owner_url, 1)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) "
                                           "FROM pg_stat_user_tables WHERE relname = :r"),
                                      {"r": ANCIENT})).first()
            return row[0] if row else 0
    finally:
        await engine.dispose()


async def test_another_brands_ancient_partition_is_never_probed(database):
    setup = Database(make_engine(database.app_url, 2))
    _, old_shop = await make_shop(setup)
    _, shop = await make_shop(setup)
    await _batch(setup, old_shop, "2001-01-15T10:00:00+08:00", 5, None)  # no bound: the partition exists
    await setup.dispose()  # its backends report their statistics as they end
    before = await _scans(database)
    db = Database(make_engine(database.app_url, 2))
    for _ in range(2):  # the second batch matches the first one's rows
        await _batch(db, shop, "2026-11-20T10:00:00+08:00", 200, 1096)
    await db.dispose()
    assert await _scans(database) == before
