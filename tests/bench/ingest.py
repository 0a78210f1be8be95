"""Conversation ingest through the HTTP API: a 1,000,000-record NDJSON load in 100,000-record requests.

    uv run python -m tests.bench.ingest [--records 1000000] [--baseline 20000] [--workers 1]
                                        [--concurrency 2] [--shuffled]

Starts `seatwise serve --demo --workers N` on a fresh data dir, generates the load reproducibly over the
demo shops (60 days, in time order as a platform's export lists it; --shuffled for random order, the
worst case, where every request touches every shop's every day), posts it (streamed from a file, two
requests in flight), then posts it all again (must insert and update nothing and leave the rollups
identical), samples the server's RSS throughout (all its processes), adds up the CPU time of the
sender, the server and PostgreSQL, averages the server's own per-stage timings, and times a
row-by-row ORM insert baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil

from tests.bench.server import scratch_data_dir, seatwise_server

BATCH = 100_000


def generate(path: Path, shop_ids: list[str], n: int, seed: int = 7, shuffled: bool = False) -> None:
    """N records over 60 days of the shops, in time order as a platform's export lists them, or in
    random order (SHUFFLED: the worst case, every request touching every shop's every day)."""
    rng = random.Random(seed)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    offsets = [rng.randrange(0, 60 * 86400) for _ in range(n)]
    if not shuffled:
        offsets.sort()
    with path.open("w") as out:
        for i in range(n):
            began = start + timedelta(seconds=offsets[i])
            rec = {"external_id": f"bench-{i}", "shop_id": shop_ids[i % len(shop_ids)],
                   "started_at": began.isoformat(), "kind": "presale" if rng.random() < 0.6 else "aftersale",
                   "agent_code": f"A{rng.randint(1, 120):04d}"}
            if rng.random() < 0.93:
                frt = rng.expovariate(1 / 25)
                first = began + timedelta(seconds=frt)
                rec["first_response_at"] = first.isoformat()
                rec["ended_at"] = (first + timedelta(seconds=rng.randint(60, 900))).isoformat()
                if rng.random() < 0.3:
                    rec["response_times_s"] = [round(frt, 2), round(rng.expovariate(1 / 40), 2)]
            if rng.random() < 0.25:
                rec["converted"] = True
                rec["order_amount"] = f"{rng.randint(1900, 89900) / 100:.2f}"
            if rng.random() < 0.4:
                rec["csat"] = rng.choice([5, 5, 5, 4, 4, 3, 2, 1])
            out.write(json.dumps(rec))
            out.write("\n")


def batches(path: Path) -> list[tuple[int, int]]:
    """(start, end) byte offsets of each 100,000-line request in the file: found once, before timing,
    so that sending costs the sender no per-line work (as a real exporter streams a file)."""
    spans, start, offset, lines = [], 0, 0, 0
    with path.open("rb") as f:
        for line in f:
            offset += len(line)
            lines += 1
            if lines == BATCH:
                spans.append((start, offset))
                start, lines = offset, 0
    if offset > start:
        spans.append((start, offset))
    return spans


def post_all(client: httpx.Client, path: Path, headers: dict, concurrency: int = 1,
             route: str = "/v1/conversations") -> tuple[dict, float]:
    """Post every 100,000-line batch to ROUTE, CONCURRENCY requests in flight (a sender with several uploads
    open), each streamed from the file in 1 MiB chunks."""
    from concurrent.futures import ThreadPoolExecutor

    totals = {"received": 0, "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    lock = threading.Lock()
    spans = batches(path)

    def send(span: tuple[int, int]) -> None:
        def body():
            with path.open("rb") as f:
                f.seek(span[0])
                left = span[1] - span[0]
                while left > 0:
                    chunk = f.read(min(left, 1 << 20))
                    left -= len(chunk)
                    yield chunk

        r = client.post(route, content=body(),
                        headers=headers | {"content-type": "application/x-ndjson"})
        r.raise_for_status()
        result = r.json()
        with lock:
            for key in ("received", "inserted", "updated", "unchanged"):
                totals[key] += result[key]
            totals["rejected"] += len(result["rejected"])

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, spans))
    return totals, time.perf_counter() - started


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this bench (the sender), the seatwise server processes and PostgreSQL's."""
    use = {"sender": 0.0, "server": 0.0, "postgres": 0.0}
    me = os.getpid()
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            t = p.cpu_times()
            name = (p.info["name"] or "").lower()
            cmd = " ".join(p.info["cmdline"] or [])
            if p.pid == me:
                use["sender"] += t.user + t.system
            elif name.startswith("postgres"):
                use["postgres"] += t.user + t.system
            elif "service.cli" in cmd or "multiprocessing" in cmd:
                use["server"] += t.user + t.system
        except psutil.Error:
            continue
    return use


def server_rss(process: psutil.Process) -> int:
    """The server's resident memory: its own process and its worker processes (not PostgreSQL's)."""
    procs = [process] + [p for p in process.children(recursive=True) if "python" in p.name().lower()]
    return sum(p.memory_info().rss for p in procs)


class RssSampler(threading.Thread):
    """Peak total RSS of the server and, separately, of its largest single process."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.peak_process = 0
        self.running = True

    def run(self) -> None:
        # The worker processes are fixed once the server is up: list them once (walking /proc every
        # sample would cost the sender a quarter of a core and skew the CPU figures).
        procs = [self.process] + [p for p in self.process.children(recursive=True)
                                  if "python" in p.name().lower()]
        while self.running:
            try:
                sizes = [p.memory_info().rss for p in procs]
            except psutil.Error:
                return
            self.peak = max(self.peak, sum(sizes))
            self.peak_process = max(self.peak_process, max(sizes))
            time.sleep(0.02)


async def rollup_digest(data_dir: Path) -> str:
    from sqlalchemy import text

    from service import embedded
    from service.kit.db import make_engine

    engine = make_engine(embedded.start(data_dir), 1)
    async with engine.connect() as conn:
        digest = (await conn.execute(text(
            "SELECT md5(string_agg(s::text, '|' ORDER BY tenant_id, shop_id, interval_start)) "
            "FROM shop_interval_stats s"
        ))).scalar_one()
    await engine.dispose()
    return digest


async def orm_baseline(data_dir: Path, path: Path, n: int) -> float:
    """Row-by-row ORM inserts (what the set-based path replaces): one Conversation object per record."""
    import service.models  # noqa: F401  (every table, so foreign keys resolve)
    from service import embedded
    from service.conversations.models import Conversation
    from service.conversations.records import ConversationRecord, validate_record
    from service.kit.db import Database, app_url, make_engine
    from service.settings import Settings

    owner = embedded.start(data_dir)
    db = Database(make_engine(app_url(Settings(data_dir=data_dir), owner), 2))
    tenants = {}
    async with db.system_transaction() as session:
        from sqlalchemy import text

        for shop_id, tenant_id in (await session.execute(text("SELECT id, tenant_id FROM shops"))).all():
            tenants[shop_id] = tenant_id
    records = []
    with path.open() as f:
        for _ in range(n):
            records.append(json.loads(f.readline()) | {"external_id": f"orm-{len(records)}"})
    started = time.perf_counter()
    async with db.system_transaction() as session:
        for raw in records:
            rec = validate_record(raw)  # the same checks the set-based path makes
            assert isinstance(rec, ConversationRecord)
            session.add(Conversation(
                tenant_id=tenants[rec.shop_id], shop_id=rec.shop_id, external_id=rec.external_id,
                started_at=rec.started_at, first_response_at=rec.first_response_at, ended_at=rec.ended_at,
                kind=rec.kind, response_times_s=list(rec.response_times_s) if rec.response_times_s else None,
                agent_code=rec.agent_code, converted=rec.converted, order_amount=rec.order_amount,
                csat=rec.csat))
            await session.flush()
    elapsed = time.perf_counter() - started
    await db.dispose()
    return n / elapsed


def stage_summary(log: Path) -> str:
    """Mean seconds per 100,000-record request in each ingest stage, from the server's own log lines
    ("ingest: ... parse+stage 1.234 s, match ...")."""
    import re
    from collections import defaultdict

    stages: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text().splitlines():
        if "ingest:" in line and "received" in line:
            for name, seconds in re.findall(r"([a-z+]+) (\d+\.\d+) s", line.split(";", 1)[1]):
                stages[name].append(float(seconds))
    return "server stage means per request: " + ", ".join(
        f"{name} {sum(v) / len(v):.2f} s (n={len(v)})" for name, v in stages.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="server processes (seatwise serve --workers)")
    parser.add_argument("--shuffled", action="store_true",
                        help="records in random order instead of time order (every request touches every "
                             "interval)")
    args = parser.parse_args()

    with scratch_data_dir("ingest") as data_dir:
        load = data_dir / "load.ndjson"
        with seatwise_server(data_dir, demo=True, log=str(data_dir / "server.log"),
                             workers=args.workers) as server:
            headers = server.headers
            with httpx.Client(base_url=server.url, timeout=600) as client:
                shops = [s["id"] for s in client.get("/v1/shops", headers=headers,
                                                     params={"limit": 500}).json()["items"]]
                t0 = time.perf_counter()
                generate(load, shops, args.records, shuffled=args.shuffled)
                print(f"generated {args.records:,} records ({load.stat().st_size / 1e6:.0f} MB) over "
                      f"{len(shops)} shops in {time.perf_counter() - t0:.1f} s")
                sampler = RssSampler(server.pid)
                rss_before = server_rss(psutil.Process(server.pid))
                sampler.start()
                cpu_before = cpu_seconds()
                first, first_s = post_all(client, load, headers, args.concurrency)
                cpu_after = cpu_seconds()
                digest_first = asyncio.run(rollup_digest(data_dir))
                again, again_s = post_all(client, load, headers, args.concurrency)
                digest_again = asyncio.run(rollup_digest(data_dir))
                sampler.running = False
                sampler.join()
            orm_rate = asyncio.run(orm_baseline(data_dir, load, args.baseline))
        rate = first["received"] / first_s
        print(f"requests of {BATCH:,} records, {args.concurrency} in flight, {args.workers} server "
              f"processes, {'random order' if args.shuffled else 'time order'}")
        print(f"first load:  {first} in {first_s:.1f} s = {rate:,.0f} records/s")
        print(f"second load: {again} in {again_s:.1f} s = {again['received'] / again_s:,.0f} records/s")
        print(f"rollups identical after re-send: {digest_first == digest_again}")
        print(f"server RSS (all its processes): {rss_before / 2**20:.0f} MB before, peak "
              f"{sampler.peak / 2**20:.0f} MB; largest process peak {sampler.peak_process / 2**20:.0f} MB")
        print(f"row-by-row ORM insert baseline ({args.baseline:,} records): {orm_rate:,.0f} records/s; "
              f"set-based path is {rate / orm_rate:.0f}x faster")
        print(stage_summary(data_dir / "server.log"))
        cpu = ", ".join(f"{k} {cpu_after[k] - cpu_before[k]:.1f}" for k in cpu_before)
        print(f"CPU seconds during the first load: {cpu} (wall {first_s:.1f} s, 2 cores)")
        print(f"RESULT ingest_rps={rate:.0f} resend_inserted={again['inserted']} "
              f"resend_updated={again['updated']} rollups_identical={digest_first == digest_again} "
              f"peak_rss_mb={sampler.peak / 2**20:.0f} orm_rps={orm_rate:.0f} ratio={rate / orm_rate:.0f}")


if __name__ == "__main__":
    main()
