"""Work session (attendance) ingest through the HTTP API: a 1,000,000-session NDJSON load in 100,000-line
requests, then the same load again (must insert and update nothing).

    uv run python -m tests.bench.attendance_ingest [--sessions 1000000] [--concurrency 2] [--profile]

Starts `seatwise serve --demo` on a fresh data dir (its 120 agents and 17 shops), generates the load
reproducibly (sessions of the demo's agents over the last 300 days, in time order as an export lists them,
a third with a break), posts it (streamed from a file, two requests in flight) and again, and prints
sessions/s, the server's and PostgreSQL's CPU per session, the load average and the server's own stage
timings. --profile runs one 100,000-line batch in-process under cProfile instead (where the Python time goes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.bench.ingest import BATCH, post_all
from tests.bench.server import cost, cpu_seconds, seatwise_server

ROUTE = "/v1/work-sessions"


def generate(path: Path, agents: list[str], shops: list[str], n: int, seed: int = 11) -> None:
    """N sessions of AGENTS on SHOPS over the last 300 days, in time order; one in three with a break."""
    rng = random.Random(seed)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=301)
    offsets = sorted(rng.randrange(0, 300 * 86400) for _ in range(n))
    with path.open("w") as out:
        for i, offset in enumerate(offsets):
            login = start + timedelta(seconds=offset)
            logout = login + timedelta(minutes=rng.randint(30, 600))
            rec = {"external_id": f"bench-{i}", "agent_code": agents[i % len(agents)],
                   "shop_id": shops[i % len(shops)], "login": login.isoformat(), "logout": logout.isoformat()}
            if i % 3 == 0:
                pause = login + (logout - login) / 2
                rec["breaks"] = [[pause.isoformat(), (pause + timedelta(minutes=10)).isoformat()]]
            out.write(json.dumps(rec) + "\n")


def stage_summary(log: Path) -> str:
    """The mean of each stage of the server's `work sessions:` log lines."""
    sums: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        if "work sessions:" not in line:
            continue
        for name, seconds in re.findall(r"([a-z+]+) ([0-9.]+) s", line.split(";", 1)[-1]):
            sums.setdefault(name, []).append(float(seconds))
    return "server stage means per request: " + ", ".join(
        f"{k} {sum(v) / len(v):.2f} s (n={len(v)})" for k, v in sums.items())


def profile(path: Path, data_dir: Path) -> None:
    """One batch in-process, under cProfile: the top functions by own time."""
    import asyncio
    import cProfile
    import pstats

    from service import embedded
    from service.kit.db import Database, make_engine
    from service.kit.identity import OPERATOR
    from service.seating.service import ingest_work_sessions

    data = b"".join(path.open("rb").readlines()[:BATCH])

    async def run() -> None:
        db = Database(make_engine(embedded.start(data_dir), 1))

        async def body():
            yield data

        async with db.system_transaction() as session:
            answer = await ingest_work_sessions(session, OPERATOR, body(), "application/x-ndjson")
            print(f"profiled batch: {answer.received:,} received, {answer.inserted:,} inserted")
            raise RuntimeError("roll back")  # leave the database as it was

    async def main() -> None:
        try:
            await run()
        except RuntimeError:
            pass

    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(main())
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight")
    parser.add_argument("--profile", action="store_true", help="profile one batch in-process instead")
    args = parser.parse_args()

    data_dir = Path(tempfile.gettempdir()) / f"seatwise-bench-attendance-{os.getpid()}"
    data_dir.mkdir(mode=0o755)
    load = data_dir / "load.ndjson"
    try:
        with seatwise_server(data_dir, demo=True, log=str(data_dir / "server.log")) as server:
            headers = server.headers
            with httpx.Client(base_url=server.url, timeout=900) as client:
                shops = [s["id"] for s in client.get("/v1/shops", headers=headers,
                                                     params={"limit": 500}).json()["items"]]
                agents = [a["code"] for a in client.get("/v1/agents", headers=headers,
                                                        params={"limit": 500}).json()["items"]]
                t0 = time.perf_counter()
                generate(load, agents, shops, args.sessions)
                print(f"generated {args.sessions:,} sessions ({load.stat().st_size / 1e6:.0f} MB) of "
                      f"{len(agents)} agents on {len(shops)} shops in {time.perf_counter() - t0:.1f} s")
                if args.profile:
                    profile(load, data_dir)
                    return
                before = cpu_seconds(server.pid, data_dir)
                first, first_s = post_all(client, load, headers, args.concurrency, ROUTE)
                after = cpu_seconds(server.pid, data_dir)
                load_first = os.getloadavg()
                spent_first = cost(before, after)
                again, again_s = post_all(client, load, headers, args.concurrency, ROUTE)
                spent_again = cost(after, cpu_seconds(server.pid, data_dir))
        n = first["received"]
        rate = n / first_s
        server_us = (after["server"] - before["server"]) / n * 1e6
        pg_us = (after["postgres"] - before["postgres"]) / n * 1e6
        print(f"requests of {BATCH:,} sessions, {args.concurrency} in flight")
        print(f"first load:  {first} in {first_s:.1f} s = {rate:,.0f} sessions/s; {spent_first}")
        print(f"second load: {again} in {again_s:.1f} s = {again['received'] / again_s:,.0f} sessions/s; "
              f"{spent_again}")
        print(f"CPU per session (first load): server {server_us:.1f} us, postgres {pg_us:.1f} us; load "
              f"average {load_first[0]:.1f} {load_first[1]:.1f} {load_first[2]:.1f}")
        print(stage_summary(data_dir / "server.log"))
        print(f"RESULT attendance_rps={rate:.0f} server_us_per_row={server_us:.1f} pg_us_per_row={pg_us:.1f} "
              f"resend_inserted={again['inserted']} resend_updated={again['updated']} "
              f"resend_unchanged={again['unchanged']} load1={load_first[0]:.1f}")
    finally:
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    main()
