"""The demo load's marker (service.kit.demoload): a load that stops after its first transaction (here a part
that fails) leaves a started, never completed marker, and the next load says so instead of skipping a partial
demo; `serve --demo` then reloads the embedded database, or refuses a DATABASE_URL one (exit 3), with real
processes. A whole load's marker is checked in tests/test_demo_story.py."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import text

from service import demo as demo_module
from service import embedded, migrations
from service.demo import Part, load_demo
from service.kit.db import Database, make_engine
from service.kit.demoload import InterruptedDemo
from service.settings import APP_ROLE
from tests.bench.server import free_port, serve_env, start_server, wait_for_token
from tests.conftest import JWT_SECRET, _admin, fresh_database, suite_server_dir, with_database

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

DAY = date(2027, 3, 1)


async def _stop_in_the_parts(demo) -> None:
    raise RuntimeError("a part failed")


async def _load_interrupted(db: Database, monkeypatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(demo_module, "PARTS", (Part("boom", _stop_in_the_parts),))
        with pytest.raises(RuntimeError, match="a part failed"):
            await load_demo(db, today=DAY, scale=0.05)


@pytest.fixture
async def interrupted(server_url, template_db, monkeypatch) -> AsyncIterator[tuple[TestDatabase, Database]]:
    """A database of its own, left by a demo load that stopped after its first transaction."""
    created = await fresh_database(server_url, template_db)
    db = Database(make_engine(created.app_url, 2))
    try:
        await _load_interrupted(db, monkeypatch)
        yield created, db
    finally:
        await db.dispose()
        await _admin(server_url, f"DROP DATABASE IF EXISTS {created.name} WITH (FORCE)")


async def test_the_demo_commits_without_waiting_for_the_disk_but_for_its_completion(interrupted):
    # The demo's engine (the serve and demo commands') does not wait for each commit's WAL flush; the step
    # that records the completion does, whatever the connection's setting (WAL flushes in order: the whole
    # load is on disk once it says it completed).
    from service.kit import demoload

    database, _ = interrupted
    show = text("SHOW synchronous_commit")
    db = Database(make_engine(database.app_url, 1, wait_for_flush=False))
    try:
        async with db.system_transaction() as session:
            assert (await session.execute(show)).scalar_one() == "off"
            await demoload.completed(session)
            assert (await session.execute(show)).scalar_one() == "on"
        async with db.system_transaction() as session:  # for that transaction only
            assert (await session.execute(show)).scalar_one() == "off"
            assert (await session.execute(text("SELECT completed_at FROM demo_loads"))).scalar_one()
    finally:
        await db.dispose()
    plain = Database(make_engine(database.app_url, 1))
    try:
        async with plain.system_transaction() as session:
            assert (await session.execute(show)).scalar_one() == "on"  # the default
    finally:
        await plain.dispose()


async def test_an_interrupted_load_is_told_apart_from_a_demo(interrupted):
    _, db = interrupted
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
        assert (await conn.execute(text("SELECT count(*) FROM tenants"))).scalar_one() > 0  # the base data
        marker = (await conn.execute(text("SELECT seed, day, completed_at FROM demo_loads"))).one()
    assert marker == (demo_module.SEED, DAY, None)
    with pytest.raises(InterruptedDemo, match=f"the demo load of {DAY} .* never completed"):
        await load_demo(db, today=DAY)  # not None, as a whole demo would give


async def test_serve_refuses_an_interrupted_demo_in_a_database_it_does_not_own(interrupted, tmp_path):
    database, db = interrupted
    env = serve_env(tmp_path, {"DATABASE_URL": database.owner_url, "SEATWISE_JWT_SECRET": JWT_SECRET,
                               "SEATWISE_APP_DATABASE_URL": database.app_url})
    command = [sys.executable, "-m", "service.cli", "serve", "--demo", "--port", str(free_port())]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "TOKEN" not in done.stdout
    line, = [x for x in done.stderr.splitlines() if "partial demo" in x]
    assert "never completed" in line and "(DATABASE_URL)" in line and "drop and create it again" in line
    async with db.engine.connect() as conn:  # untouched
        await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
        assert (await conn.execute(text("SELECT count(*) FROM tenants"))).scalar_one() > 0


async def test_serve_reloads_an_interrupted_demo_in_its_embedded_database(monkeypatch):
    data_dir = suite_server_dir() / f"demoload-{uuid.uuid4().hex[:8]}"
    try:
        owner = embedded.start(data_dir)
        await asyncio.to_thread(migrations.upgrade, owner)
        db = Database(make_engine(with_database(owner, "postgres", APP_ROLE), 2))
        try:
            await _load_interrupted(db, monkeypatch)
        finally:
            await db.dispose()
        port = free_port()
        process, out, err = start_server(data_dir, "--demo", port=port)
        try:
            token = wait_for_token(process, out)
            assert token, "".join(err)
            plans = httpx.get(f"http://127.0.0.1:{port}/v1/capacity-plans", timeout=10,
                              headers={"Authorization": f"Bearer {token}"}).json()["items"]
            assert len(plans) == 2  # the whole demo this time, not just the base data
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0, "".join(err)
        time.sleep(0.2)  # the reader threads drain
        assert sum("the previous demo load was interrupted" in line for line in err) == 1, err
        assert any(line.startswith("demo loaded:") for line in err), err
    finally:
        embedded.release(data_dir)  # this process stayed attached: the server stops now
        shutil.rmtree(data_dir, ignore_errors=True)
