"""A mixed read load at rising rates, with a background ingest, against `seatwise serve --demo`.

    uv run python -m tests.bench.load [--rates 50,100,200,300,400] [--seconds 10] [--workers 1]
                                      [--connections 64] [--env NAME=VALUE ...]

Reads: shop SLA reports (a month by day, and a quarter by month), breaches of the month, shop and tenant
lists, sent by staff tokens and by brands' API keys (client reads of their own shops). Open loop: each
step schedules its requests at a fixed rate and times each from its scheduled start (a slow server cannot
slow the load down and hide its queue; a request waiting for a free connection is waiting for the server).
Meanwhile one client ingests a 2,000-record batch every 2 s. Prints per step p50/p99 (ms), the error rate,
the CPU seconds the server's processes, PostgreSQL and this client used, and the load average; then the
knee: the first step whose p99 passes 100 ms or which answers any error. Target: p99 under 100 ms at 300
requests/s with 0 errors.

The reads go over CONNECTIONS keep-alive HTTP/1.1 connections of a small client on asyncio streams: httpx's
pool scans every connection for every queued request, and once requests queued it used more CPU than the
server it measured, on the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvloop

from tests.bench.server import cpu_seconds, seatwise_server

TARGET_P99_MS = 100.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def reads(shops: list[dict], staff: dict, clients: dict[str, dict]) -> list[tuple[str, dict]]:
    """The read mix: (path with query, headers), cycled."""
    today = date.today()
    month = today.replace(day=1)
    last = (month - timedelta(days=1)).replace(day=1)
    quarter = (month - timedelta(days=85)).replace(day=1)
    mix = []
    for shop in shops:
        own = clients.get(shop["tenant_id"], staff)
        mix += [
            (f"/v1/shops/{shop['id']}/sla?from={last}&to={month}&granularity=day", own),
            (f"/v1/shops/{shop['id']}/sla?from={quarter}&to={month}&granularity=month", staff),
            (f"/v1/sla/breaches?from={last}&to={month}", own),
            (f"/v1/shops/{shop['id']}", own),
        ]
    mix += [("/v1/shops?limit=50", staff), ("/v1/tenants", staff), ("/v1/sla/breaches", staff)] * 4
    random.Random(7).shuffle(mix)
    return mix


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, lent one request at a time."""

    def __init__(self, url: str, size: int):
        parts = urlsplit(url)
        self.host, self.port, self.size = parts.hostname or "127.0.0.1", parts.port or 80, size
        self.idle: asyncio.Queue = asyncio.Queue()
        for _ in range(size):
            self.idle.put_nowait(None)  # opened on first use

    async def get(self, request: bytes) -> int:
        """Send REQUEST (a whole GET); the answer's status (its body is read and dropped)."""
        conn = await self.idle.get()
        try:
            if conn is None:
                conn = await asyncio.open_connection(self.host, self.port)
            reader, writer = conn
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            headers = head.lower()
            if b"transfer-encoding: chunked" in headers:
                while True:
                    size = int((await reader.readline()).split(b";")[0], 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                at = headers.find(b"content-length:")
                length = int(headers[at + 15:headers.index(b"\r\n", at)]) if at >= 0 else 0
                await reader.readexactly(length)
            if b"connection: close" in headers:
                writer.close()
                conn = None
            return status
        except BaseException:
            if conn is not None:
                conn[1].close()
            conn = None
            raise
        finally:
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        while not self.idle.empty():
            conn = self.idle.get_nowait()
            if conn is not None:
                conn[1].close()


def request_bytes(path: str, headers: dict) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: bench"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def background_ingest(client: httpx.AsyncClient, shop: dict, key: dict, stop: asyncio.Event,
                            counts: dict[str, int]) -> None:
    batch = 0
    while not stop.is_set():
        day = date.today() - timedelta(days=1 + batch % 20)
        lines = []
        for i in range(2000):
            at = f"{day}T{8 + i % 12:02d}:{i % 60:02d}"
            lines.append(json.dumps({"external_id": f"load-{batch}-{i}", "shop_id": shop["id"],
                                     "kind": "presale", "started_at": f"{at}:00+08:00",
                                     "first_response_at": f"{at}:{5 + i % 50:02d}+08:00"}))
        try:
            r = await client.post("/v1/conversations", content="\n".join(lines), timeout=60,
                                  headers={**key, "Content-Type": "application/x-ndjson"})
            counts["ok" if r.status_code == 200 else "failed"] += 1
        except httpx.HTTPError:
            counts["failed"] += 1
        batch += 1
        try:
            await asyncio.wait_for(stop.wait(), 2.0)
        except TimeoutError:
            pass


@dataclass
class Cpu:
    """CPU seconds (user + system) of the server's processes, of PostgreSQL's, and of this client."""

    server_pid: int
    data_dir: Path

    def now(self) -> tuple[float, float, float]:
        try:
            use = cpu_seconds(self.server_pid, self.data_dir)
        except (OSError, ValueError, IndexError):  # no postmaster.pid yet
            return float("nan"), float("nan"), time.process_time()
        return use["server"], use["postgres"], time.process_time()


async def step(pool: Connections, mix: list[tuple[bytes, str]], rate: int, seconds: float
               ) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    cycle = itertools.cycle(mix)
    interval = 1.0 / rate
    start = time.perf_counter()
    tasks = []

    async def one(request: bytes, scheduled: float) -> None:
        nonlocal errors
        try:
            if await asyncio.wait_for(pool.get(request), 30) >= 400:
                errors += 1
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        latencies.append((time.perf_counter() - scheduled) * 1000)

    for n in range(int(rate * seconds)):
        scheduled = start + n * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        request, _ = next(cycle)
        tasks.append(asyncio.create_task(one(request, scheduled)))
    await asyncio.gather(*tasks)
    return latencies, errors, len(tasks)


async def run(url: str, token: str, rates: list[int], seconds: float, cpu: Cpu, connections: int) -> None:
    staff = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url) as client:
        shops = (await client.get("/v1/shops?limit=500", headers=staff)).json()["items"]
        clients = {}
        for tenant in {s["tenant_id"] for s in shops}:
            r = await client.post("/v1/api-keys", headers=staff,
                                  json={"name": f"load {uuid.uuid4().hex[:6]}", "tenant": tenant})
            clients[tenant] = {"Authorization": f"Bearer {r.json()['key']}"}
        mix = [(request_bytes(path, headers), path) for path, headers in reads(shops, staff, clients)]
        pool = Connections(url, connections)
        for request, path in mix:  # warm caches and connections
            assert await pool.get(request) == 200, path
        stop, counts = asyncio.Event(), {"ok": 0, "failed": 0}
        ingest_shop = shops[0]
        ingest = asyncio.create_task(background_ingest(client, ingest_shop, clients[ingest_shop["tenant_id"]],
                                                       stop, counts))
        knee = None
        print(f"{'rate/s':>7} {'sent':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'server s':>9} "
              f"{'pg s':>6} {'client s':>9} {'load avg':>9}", flush=True)
        results = []
        for rate in rates:
            before = cpu.now()
            latencies, errors, sent = await step(pool, mix, rate, seconds)
            server, pg, mine = (b - a for a, b in zip(before, cpu.now(), strict=True))
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            error_rate = errors / max(sent, 1)
            results.append((rate, p50, p99, error_rate))
            print(f"{rate:>7} {sent:>6} {p50:>8.1f} {p99:>8.1f} {error_rate:>7.2%} {server:>9.1f} {pg:>6.1f} "
                  f"{mine:>9.1f} {os.getloadavg()[0]:>9.2f}", flush=True)
            if knee is None and (p99 > TARGET_P99_MS or errors):
                knee = rate
        stop.set()
        await ingest
        await pool.close()
    print(f"background ingest: {counts['ok']} batches of 2,000 accepted, {counts['failed']} failed")
    at_300 = next((r for r in results if r[0] == 300), None)
    summary = " ".join(f"p99_{r}={p99:.0f}ms" for r, _, p99, _ in results)
    print(f"knee: {knee or 'none'} req/s (first step with p99 > {TARGET_P99_MS:.0f} ms or any error)")
    print(f"RESULT knee={knee or 'none'} {summary} errors_at_300="
          f"{'n/a' if at_300 is None else f'{at_300[3]:.2%}'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="50,100,200,300,400")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--env", action="append", default=[],
                        help="NAME=VALUE for the server (e.g. SEATWISE_REPORT_CACHE_SIZE=0)")
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "seatwise-bench-load"),
                        help="kept between runs (the demo loads once)")
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    data_dir.mkdir(mode=0o755, exist_ok=True)
    # The rate limiter stays on, under a bench limit the load never reaches (each call still counted: its
    # cost is in the figures); a 429 would count as an error.
    env = {"SEATWISE_RATE_LIMIT": "100000/second", "SEATWISE_LOG_FORMAT": "text",
           **dict(pair.split("=", 1) for pair in args.env)}
    print(f"server env: {env}, workers: {args.workers}, load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores: {os.cpu_count()}", flush=True)
    with seatwise_server(data_dir, demo=True, env=env, workers=args.workers,
                         log=os.devnull) as server:
        # On uvloop, as the server's workers are (uvicorn[standard]): the load's own CPU is spent on the same
        # two cores as what it measures.
        uvloop.run(run(server.url, server.token, [int(r) for r in args.rates.split(",")], args.seconds,
                       Cpu(server.pid, data_dir), args.connections))


if __name__ == "__main__":
    main()
