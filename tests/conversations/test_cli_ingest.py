"""`seatwise ingest FILE...`: the same service path as the API, with file line numbers in rejections."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from tests.factories import cli_env, run_cli


async def test_ingest_files(database, db, world, tmp_path):
    shop = str(world.shops_a[0].id)
    nd = tmp_path / "day.ndjson"
    nd.write_text("\n".join([
        json.dumps({"external_id": "cli-1", "shop_id": shop, "started_at": "2026-11-02T09:00:00+08:00",
                    "first_response_at": "2026-11-02T09:00:12+08:00", "kind": "presale"}),
        json.dumps({"external_id": "cli-2", "shop_id": shop,
                    "started_at": "2026-11-02T09:01:00", "kind": "presale"}),
    ]) + "\n")
    csv_file = tmp_path / "day.csv"
    csv_file.write_text(f"external_id,shop_id,started_at,kind\ncli-3,{shop},2026-11-02T09:02:00+08:00,"
                        "aftersale\n")
    env = cli_env(database, tmp_path)
    result = await asyncio.to_thread(run_cli, ["ingest", str(nd), str(csv_file)], env)
    assert result.exit_code == 1, result.output  # one row rejected
    assert "day.ndjson:2 started_at timestamp without timezone offset" in result.output
    assert "inserted 2" in result.output and "rejected 1" in result.output
    again = await asyncio.to_thread(run_cli, ["ingest", str(csv_file)], env)
    assert again.exit_code == 0 and "unchanged 1" in again.output
    async with db.system_transaction() as session:
        n = (await session.execute(text("SELECT count(*) FROM conversations "
                                        "WHERE external_id LIKE 'cli-%'"))).scalar_one()
    assert n == 2
