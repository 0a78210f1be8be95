"""The server's CPU per request of the load bench's read mix, in-process: no HTTP server, no load generator on
the same cores, so the figure is the app's own (middleware, routing, dependencies, the use case, the ORM and
the driver), and steadier than a latency under a shared machine's noise.

    uv run python -m tests.bench.request_cpu [--requests 4000] [--concurrency 8] [--profile FILE]

Drives the ASGI app directly (one process, uvloop, a real embedded PostgreSQL in DATA_DIR: the load bench's
demo by default, loaded first when missing), CONCURRENCY requests in flight, after a warm-up of the mix.
Prints the CPU milliseconds this process spent per request (user + system: the app and the driver's side;
PostgreSQL's is its own, printed beside it) and the requests per second of one core. With --profile, a
cProfile of the measured part is written to FILE (its figures then include the profiler's overhead), and the
Python function calls per request are printed: a count the machine's other load does not blur.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import uvloop

from tests.bench.load import reads


def _pg_cpu(data_dir: Path) -> float:
    """CPU seconds of the embedded PostgreSQL's processes alive now (the postmaster and its children)."""
    import psutil

    try:
        pid = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        for found in data_dir.rglob("postmaster.pid"):
            pid = int(found.read_text().split()[0])
            break
        else:
            return float("nan")
    total = 0.0
    parent = psutil.Process(pid)
    for proc in [parent, *parent.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def call(app, path_and_query: str, headers: dict[str, str]) -> int:
    path, _, query = path_and_query.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
             "headers": [(b"host", b"bench"),
                         *((k.lower().encode(), v.encode()) for k, v in headers.items())]}
    status = 0
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(data_dir: Path, requests: int, concurrency: int, profile: str | None) -> None:
    from service import embedded
    from service.app import create_app
    from service.kit.db import app_url
    from service.kit.identity import Role, issue_token
    from service.settings import Settings, resolve_jwt_secret

    os.environ["SEATWISE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("SEATWISE_RATE_LIMIT", "100000/second")  # on, as the load bench has it
    settings = Settings()
    owner = embedded.start(data_dir)
    app = create_app(settings, database_url=app_url(settings, owner))
    from datetime import timedelta

    token = issue_token(resolve_jwt_secret(settings), subject="bench-cpu", role=Role.admin, tenant_id=None,
                        ttl=timedelta(hours=1))
    staff = {"Authorization": f"Bearer {token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            shops = (await client.get("/v1/shops?limit=500", headers=staff)).json()["items"]
            clients = {}
            for tenant in {s["tenant_id"] for s in shops}:
                r = await client.post("/v1/api-keys", headers=staff,
                                      json={"name": f"cpu {uuid.uuid4().hex[:6]}", "tenant": tenant})
                clients[tenant] = {"Authorization": f"Bearer {r.json()['key']}"}
        mix = reads(shops, staff, clients)
        for _ in range(2):
            for path, headers in mix:
                status = await call(app, path, headers)
                assert status == 200, (path, status)
        cycle = itertools.cycle(mix)
        left = requests
        failed = 0

        async def worker() -> None:
            nonlocal left, failed
            while left > 0:
                left -= 1
                path, headers = next(cycle)
                if await call(app, path, headers) != 200:
                    failed += 1

        profiler = cProfile.Profile() if profile else None
        pg_before = _pg_cpu(data_dir)
        times_before, wall_before = os.times(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        calls = ""
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
            import pstats

            calls = f" python_calls_per_request={pstats.Stats(profiler).total_calls / requests:.0f}"
        times = os.times()
        user, system = times.user - times_before.user, times.system - times_before.system
        cpu = user + system
        wall = time.perf_counter() - wall_before
        pg = _pg_cpu(data_dir) - pg_before
    embedded.release(data_dir)
    print(f"{requests} requests ({len(mix)} in the mix, {concurrency} in flight), {failed} failed, "
          f"wall {wall:.2f} s, load average {os.getloadavg()[0]:.2f}")
    print(f"RESULT app_cpu_ms_per_request={1000 * cpu / requests:.3f} (user {1000 * user / requests:.3f}, "
          f"system {1000 * system / requests:.3f}) "
          f"pg_cpu_ms_per_request={1000 * pg / requests:.3f} one_core_req_per_s={requests / cpu:.0f}{calls}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "seatwise-bench-load"))
    args = parser.parse_args()
    uvloop.run(run(Path(args.data_dir), args.requests, args.concurrency, args.profile))


if __name__ == "__main__":
    main()
