"""Keeping data safe on the embedded default (issue 11): `seatwise backup` / `seatwise restore` round-trip
to byte-identical reports; `seatwise retention --keep-months N` archives old conversation partitions without
changing any report, and refuses months still inside the ingest window."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import text

from service.app import create_app
from service.kit.db import Database, make_engine
from tests.conftest import _admin, auth, fresh_database
from tests.factories import add_policy, cli_env, owner_count, run_cli


def _month(back: int) -> date:
    """The first day of the UTC month BACK months before this one."""
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


# Three months of history relative to today (so the test holds on any day): the oldest one is archived.
MONTHS = [_month(4), _month(2), _month(1)]
DAYS = [f"{m:%Y-%m}-14" for m in MONTHS]


async def _ingest(client, shop_id) -> None:
    lines = [json.dumps({"external_id": f"safe-{day}-{i}", "shop_id": str(shop_id), "kind": "presale",
                         "started_at": f"{day}T{10 + i % 8}:{i % 60:02d}:00+08:00",
                         "first_response_at": f"{day}T{10 + i % 8}:{i % 60:02d}:{10 + i % 40:02d}+08:00"})
             for day in DAYS for i in range(40)]
    r = await client.post("/v1/conversations", content="\n".join(lines),
                          headers={**auth("ops"), "Content-Type": "application/x-ndjson"})
    assert r.json()["inserted"] == len(lines), r.text


async def _reports(client, shop_id) -> list[bytes]:
    out = []
    for month in MONTHS:
        start, end = month.isoformat(), (month + timedelta(days=32)).replace(day=1).isoformat()
        r = await client.get(f"/v1/shops/{shop_id}/sla", headers=auth("admin"),
                             params={"from": start, "to": end, "granularity": "day"})
        assert r.status_code == 200, r.text
        out.append(r.content)
    return out


async def test_backup_and_restore_round_trip_to_identical_reports(client, world, database, server_url,
                                                                   template_db, settings, tmp_path):
    shop = world.shops_a[0].id
    await add_policy(client, shop, effective_from="2026-01-01", service_level_target=0.8)
    await _ingest(client, shop)
    before = await _reports(client, shop)
    file = tmp_path / "seatwise.dump"
    done = await asyncio.to_thread(run_cli, ["backup", str(file)], cli_env(database, tmp_path))
    assert done.exit_code == 0 and file.stat().st_size > 0, done.output
    target = await fresh_database(server_url, template_db)  # an empty, migrated database to restore into
    try:
        env = cli_env(target, tmp_path)
        done = await asyncio.to_thread(run_cli, ["restore", str(file)], env)
        assert done.exit_code == 0, done.output
        db = Database(make_engine(target.app_url, 2))
        app = create_app(settings, db=db)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as restored:
            assert await _reports(restored, shop) == before
        await db.dispose()
    finally:
        await _admin(server_url, f"DROP DATABASE IF EXISTS {target.name} WITH (FORCE)")


async def test_retention_archives_old_months_and_changes_no_report(client, world, database, db, tmp_path):
    shop = world.shops_b[0].id
    await _ingest(client, shop)
    before = await _reports(client, shop)
    env = cli_env(database, tmp_path, SEATWISE_INGEST_MAX_AGE_DAYS="30")
    wide = cli_env(database, tmp_path, SEATWISE_INGEST_MAX_AGE_DAYS="90")  # October may still get records
    refused = await asyncio.to_thread(run_cli, ["retention", "--keep-months", "1"], wide)
    assert refused.exit_code == 2 and "ingest" in refused.output, refused.output
    dry = await asyncio.to_thread(run_cli, ["retention", "--keep-months", "2", "--dry-run"], env)
    old, kept = f"conversations_p{MONTHS[0]:%Y_%m}", f"conversations_p{MONTHS[1]:%Y_%m}"
    assert old in dry.output and kept not in dry.output, dry.output
    done = await asyncio.to_thread(run_cli, ["retention", "--keep-months", "2"], env)
    assert done.exit_code == 0, done.output
    assert await owner_count(database, "SELECT count(*) FROM pg_tables WHERE schemaname = 'archive' "
                                       f"AND tablename = '{old}'") == 1
    async with db.engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
        live = (await conn.execute(text("SELECT count(*) FROM conversations WHERE external_id LIKE :p"),
                                   {"p": f"safe-{DAYS[0]}%"})).scalar_one()
    assert live == 0  # detached: out of the app's reach
    assert await _reports(client, shop) == before
