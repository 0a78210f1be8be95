"""Concurrent seat moves against a real server: the database's exclusion constraint and the site's row lock,
not hope.

    uv run python -m tests.bench.seat_concurrency [--requests 50] [--free 10]

1. `--requests` concurrent `POST /v1/shifts` booking one agent for overlapping times (each 4 h, starts 15 min
   apart): exactly one succeeds, every other answers 409 naming the shift that won.
2. `--requests` concurrent bookings of different agents at a site with `--free` free seats (two seats already
   held by live shifts): exactly `--free` succeed, the others answer 422 naming the rule `seat_capacity`; the
   live count never exceeds the seats.

The last line prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from tests.bench.server import cost, cpu_seconds, scratch_data_dir, seatwise_server

SECRET = "bench-secret-" + "x" * 40


async def main_async(args: argparse.Namespace, server, data_dir: Path) -> str:
    async with httpx.AsyncClient(
        base_url=server.url,
        timeout=120,
        headers=server.headers,
        limits=httpx.Limits(max_connections=args.requests),
    ) as c:
        tag = uuid.uuid4().hex[:5]
        site = (
            await c.post(
                "/v1/sites", json={"name": f"race {tag}", "city": "Hefei", "seat_capacity": args.free + 2}
            )
        ).json()
        agents = []
        for i in range(args.requests + 2):
            r = await c.post(
                "/v1/agents",
                json={
                    "site_id": site["id"],
                    "code": f"RACE{tag}{i}",
                    "name": f"并发{i}",
                    "skills": ["tmall"],
                    "loaded_hourly_cost": "40.00",
                    "hired_on": "2025-01-01",
                },
            )
            assert r.status_code == 201, r.text
            agents.append(r.json()["id"])

        def shift(agent: str, day: int, minutes: int) -> dict:
            h, m = divmod(9 * 60 + minutes, 60)
            return {
                "agent_id": agent,
                "from": f"2026-12-{day:02d}T{h:02d}:{m:02d}:00+08:00",
                "to": f"2026-12-{day:02d}T{h + 4:02d}:{m:02d}:00+08:00",
            }

        before, t0 = cpu_seconds(server.pid, data_dir), time.perf_counter()
        one = await asyncio.gather(
            *(c.post("/v1/shifts", json=shift(agents[0], 20, 15 * (i % 4))) for i in range(args.requests))
        )
        one_s, one_cpu = time.perf_counter() - t0, cost(before, cpu_seconds(server.pid, data_dir))
        codes = Counter(r.status_code for r in one)
        winner = next(r.json()["id"] for r in one if r.status_code == 201)
        named = sum(1 for r in one if r.status_code == 409 and r.json()["conflict"]["shift_id"] == winner)
        print(
            f"one agent, {args.requests} overlapping bookings in {one_s:.2f} s: {dict(codes)}; "
            f"{named} of the 409s name the winning shift; {one_cpu}",
            flush=True,
        )

        for agent in agents[-2:]:  # two seats already held
            assert (await c.post("/v1/shifts", json=shift(agent, 21, 0))).status_code == 201
        before, t0 = cpu_seconds(server.pid, data_dir), time.perf_counter()
        many = await asyncio.gather(
            *(c.post("/v1/shifts", json=shift(agents[1 + i], 21, 0)) for i in range(args.requests - 1)),
            c.post("/v1/shifts", json=shift(agents[0], 21, 0)),
        )
        many_s, many_cpu = time.perf_counter() - t0, cost(before, cpu_seconds(server.pid, data_dir))
        seats = Counter(r.status_code for r in many)
        rules = Counter(r.json().get("rule") for r in many if r.status_code == 422)
        live = (
            await c.get(
                "/v1/shifts",
                params={
                    "site": site["id"],
                    "from": "2026-12-21T10:00:00+08:00",
                    "to": "2026-12-21T10:15:00+08:00",
                    "limit": 500,
                },
            )
        ).json()
        print(
            f"one site, {args.free} free seats, {args.requests} bookings in {many_s:.2f} s: {dict(seats)}, "
            f"422 rules {dict(rules)}; live shifts at the site then: {len(live['items'])} of "
            f"{args.free + 2} seats; {many_cpu}",
            flush=True,
        )
        ok = (codes[201] == 1 and codes[409] == args.requests - 1 and named == args.requests - 1
              and seats[201] == args.free)
        return (
            f"RESULT one_agent_ok={codes[201]} one_agent_409={codes[409]} named_winner={named} "
            f"site_ok={seats[201]} "
            f"site_422={seats[422]} free={args.free} live={len(live['items'])} seats={args.free + 2} "
            f"{'PASS' if ok else 'FAIL'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--free", type=int, default=10)
    args = parser.parse_args()
    with scratch_data_dir("seats", database=True) as base_dir:
        # No rate limit: the bench sends more than 50 calls a second on one token (the limit's own tests are
        # tests/api/test_limits.py); a 429 would be the limiter answering, not the database.
        env = {"SEATWISE_JWT_SECRET": SECRET, "SEATWISE_POOL_SIZE": "25", "SEATWISE_RATE_LIMIT": ""}
        with seatwise_server(base_dir, env=env) as server:
            print(asyncio.run(main_async(args, server, base_dir)))


if __name__ == "__main__":
    main()
