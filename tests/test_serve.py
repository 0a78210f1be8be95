"""`seatwise serve` as deployed: several worker processes over one database, and the embedded server's
tuning."""

from __future__ import annotations

import gc
import os

import httpx
import psutil
from sqlalchemy import text

from service.conversations import ingest
from service.embedded import TUNING
from tests.conftest import auth
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
