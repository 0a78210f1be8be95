"""Honest failure (issue 11): with the database unreachable every call answers 503 problem+json with
Retry-After (REST and GraphQL), the outage is logged once per window rather than once per request with a
traceback, and the app recovers by itself once the database is back. The database is "stopped" by a TCP
proxy this test owns in front of the suite's shared server, which is never touched."""

from __future__ import annotations

import asyncio
import logging
import uuid
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from service.app import create_app
from service.kit.db import Database, make_engine
from tests.conftest import auth
from tests.factories import assert_problem


class Proxy:
    """127.0.0.1:<port> -> the test server's Unix socket; `down()` drops every connection and refuses new
    ones, `up()` forwards again."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self.open = True
        self.pipes: set[asyncio.Task] = set()
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer):
        if not self.open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        for task in (asyncio.create_task(pipe(reader, up_writer)),
                     asyncio.create_task(pipe(up_reader, writer))):
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)

    def down(self):
        self.open = False
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    def up(self):
        self.open = True

    async def close(self):
        self.down()
        self.server.close()
        for task in list(self.pipes):
            task.cancel()


@pytest.fixture
async def outage(database, settings):
    url = urlparse(database.app_url.replace("postgresql+asyncpg", "postgresql"))
    query = parse_qs(url.query)
    socket = f"{query['host'][0]}/.s.PGSQL.{query.get('port', ['5432'])[0]}"
    proxy = Proxy(socket)
    port = await proxy.start()
    db = Database(make_engine(f"postgresql+asyncpg://seatwise_app@127.0.0.1:{port}{url.path}", 2))
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield proxy, client
    await db.dispose()
    await proxy.close()


async def test_an_outage_is_503_logged_once_and_recovers(outage, world, caplog):
    proxy, client = outage
    headers = auth("ops")
    assert (await client.get("/v1/shops", headers=headers)).status_code == 200
    proxy.down()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            r = await client.get("/v1/shops", headers=headers)
            assert_problem(r, 503)
            assert int(r.headers["retry-after"]) > 0
        r = await client.post("/graphql", json={"query": "{ shops { items { id } } }"}, headers=headers)
        assert_problem(r, 503)
        assert "retry-after" in r.headers
        r = await client.get("/readyz")
        assert r.status_code == 503 and "retry-after" in r.headers
    outage_lines = [rec for rec in caplog.records if "database unreachable" in rec.getMessage()]
    assert len(outage_lines) <= 1, [rec.getMessage() for rec in outage_lines]
    assert not any(rec.exc_info for rec in caplog.records), "no traceback for an outage"
    proxy.up()
    for _ in range(20):  # the pool reconnects by itself
        r = await client.get("/v1/shops", headers=headers)
        if r.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 200, r.text


async def test_expected_refusals_log_one_line_and_no_traceback(client, caplog):
    with caplog.at_level(logging.INFO):
        await client.post("/graphql", json={"query": "{ shops { items { id } } }"})  # anonymous
        await client.post("/graphql", json={"query": "{ tenants { items { id } } }"},
                          headers=auth("client", uuid.uuid4()))  # no such tenant
        await client.post("/graphql", json={"query": f'{{ capacityPlan(id: "{uuid.uuid4()}") {{ id }} }}'},
                          headers=auth("ops"))  # not found
        await client.get("/v1/sites", headers=auth("client", uuid.uuid4()))
    assert not any(rec.exc_info for rec in caplog.records), [rec.getMessage() for rec in caplog.records]
    assert all("\n" not in rec.getMessage() for rec in caplog.records)
