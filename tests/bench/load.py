"""A mixed read load at rising rates, with a background ingest, against `seatwise serve --demo`.

    uv run python -m tests.bench.load [--rates 50,100,200,300,400] [--seconds 10] [--workers 1]

Reads: shop SLA reports (a month by day, and a quarter by month), breaches of the month, shop and tenant
lists, sent by staff tokens and by brands' API keys (client reads of their own shops). Open loop: each
step schedules its requests at a fixed rate and times each from its scheduled start (a slow server cannot
slow the load down and hide its queue). Meanwhile one client ingests a 2,000-record batch every 2 s.
Prints per step p50/p99 (ms) and the error rate, then the knee: the first step whose p99 passes 100 ms or
which answers any error. Target: p99 under 100 ms at 300 requests/s with 0 errors.
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
from datetime import date, timedelta
from pathlib import Path

import httpx

from tests.bench.server import seatwise_server

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


async def step(client: httpx.AsyncClient, mix, rate: int, seconds: float) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    cycle = itertools.cycle(mix)
    interval = 1.0 / rate
    start = time.perf_counter()
    tasks = []

    async def one(path: str, headers: dict, scheduled: float) -> None:
        nonlocal errors
        try:
            r = await client.get(path, headers=headers, timeout=30)
            if r.status_code >= 400:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        latencies.append((time.perf_counter() - scheduled) * 1000)

    for n in range(int(rate * seconds)):
        scheduled = start + n * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        path, headers = next(cycle)
        tasks.append(asyncio.create_task(one(path, headers, scheduled)))
    await asyncio.gather(*tasks)
    return latencies, errors, len(tasks)


async def run(url: str, token: str, rates: list[int], seconds: float) -> None:
    staff = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        shops = (await client.get("/v1/shops?limit=500", headers=staff)).json()["items"]
        clients = {}
        for tenant in {s["tenant_id"] for s in shops}:
            r = await client.post("/v1/api-keys", headers=staff,
                                  json={"name": f"load {uuid.uuid4().hex[:6]}", "tenant": tenant})
            clients[tenant] = {"Authorization": f"Bearer {r.json()['key']}"}
        mix = reads(shops, staff, clients)
        for path, headers in mix[:50]:  # warm caches and connections
            await client.get(path, headers=headers)
        stop, counts = asyncio.Event(), {"ok": 0, "failed": 0}
        ingest_shop = shops[0]
        ingest = asyncio.create_task(background_ingest(client, ingest_shop, clients[ingest_shop["tenant_id"]],
                                                       stop, counts))
        knee = None
        print(f"{'rate/s':>7} {'sent':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        results = []
        for rate in rates:
            latencies, errors, sent = await step(client, mix, rate, seconds)
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            error_rate = errors / max(sent, 1)
            results.append((rate, p50, p99, error_rate))
            print(f"{rate:>7} {sent:>6} {p50:>8.1f} {p99:>8.1f} {error_rate:>7.2%}", flush=True)
            if knee is None and (p99 > TARGET_P99_MS or errors):
                knee = rate
        stop.set()
        await ingest
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
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "seatwise-bench-load"),
                        help="kept between runs (the demo loads once)")
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    data_dir.mkdir(mode=0o755, exist_ok=True)
    env = {"SEATWISE_RATE_LIMIT": "", "SEATWISE_LOG_FORMAT": "text"}
    with seatwise_server(data_dir, demo=True, env=env, workers=args.workers,
                         log=os.devnull) as server:
        asyncio.run(run(server.url, server.token, [int(r) for r in args.rates.split(",")], args.seconds))


if __name__ == "__main__":
    main()
