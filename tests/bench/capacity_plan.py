"""A full Double 11 plan end to end over real HTTP: 500 shops of 60 brands (KA, standard, long-tail), 288
intervals (2026-11-09..11-11), 4,000 seats with a real shortfall, the uplift learned from last year's
Double 11; timed from the request to the stored plan lines, with the API server's peak RSS.

    uv run python -m tests.bench.capacity_plan [--shops 500] [--tenants 60] [--seats 4000] [--runs 3]

Setup (not timed): an embedded PostgreSQL in a fresh data dir, migrations, brands and shops, and 15-minute
rollups written set-based with generate_series: the 4 weeks before this year's Double 11, last year's Double
11 (with its 11-11 midnight spike) and the 4 weeks before it (~2.8 million rows). Then `seatwise serve` runs
as a subprocess (the server the figures are about) and the plan is POSTed to it `--runs` times.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from datetime import datetime

import httpx
import psutil
from sqlalchemy import text

from tests.bench.server import scratch_data_dir, seatwise_server

SECRET = "bench-secret-" + "x" * 40

# Local (Asia/Shanghai) intraday shape and a weekend lift; sizes are contacts per 15 minutes at shape 1.
SHAPE = """(CASE WHEN g.h < 8 THEN 0.15 WHEN g.h < 10 THEN 0.6 WHEN g.h < 12 THEN 1.0 WHEN g.h < 14 THEN 0.7
                 WHEN g.h < 18 THEN 0.8 WHEN g.h < 20 THEN 0.9 ELSE 1.0 END
           * CASE WHEN g.dow >= 6 THEN 1.2 ELSE 1 END)"""
# Last year's Double 11 over its own baseline: rising by day; the 11-11 midnight kick-off (00:00-02:00, 40x a
# quiet night hour) is the peak of the year.
UPLIFT = """(CASE WHEN g.day = 0 THEN 1.8 WHEN g.day = 1 THEN 2.5 WHEN g.h < 2 THEN 40.0 ELSE 4.0 END)"""


async def load(owner_url: str, shops: int, tenants: int) -> dict:
    from service.kit.db import make_engine

    engine = make_engine(owner_url, 1)
    counts = {}
    async with engine.begin() as conn:
        await conn.execute(text("""
            INSERT INTO tenants (id, slug, name, tier, priority_weight, status, created_at, updated_at)
            SELECT gen_random_uuid(), 'bench-' || i, 'Bench brand ' || i,
                   CASE WHEN i % 7 = 0 THEN 'KA' WHEN i % 7 < 4 THEN 'standard' ELSE 'longtail' END,
                   CASE WHEN i % 7 = 0 THEN 2 + i % 3 WHEN i % 7 < 4 THEN 1 + (i % 2) * 0.5 ELSE 0.8 END,
                   'active', now(), now()
            FROM generate_series(1, :n) AS i"""), {"n": tenants})
        await conn.execute(text("""
            INSERT INTO shops (tenant_id, id, platform, name, timezone, status, created_at, updated_at)
            SELECT t.id, gen_random_uuid(), (ARRAY['tmall', 'taobao', 'jd', 'pdd', 'douyin'])[1 + j % 5],
                   'bench shop ' || j, 'Asia/Shanghai', 'active', now(), now()
            FROM generate_series(1, :n) AS j
            JOIN (SELECT id, row_number() OVER (ORDER BY slug) AS r FROM tenants) t ON t.r = 1 + j % :t"""),
            {"n": shops, "t": tenants})
        await conn.execute(text("""
            CREATE TEMP TABLE bench_shops AS
            SELECT s.tenant_id, s.id,
                   CASE t.tier WHEN 'KA' THEN 30 + 30 * random() WHEN 'standard' THEN 8 + 12 * random()
                               ELSE 2 + 4 * random() END AS size,
                   200 + 200 * random() AS aht
            FROM shops s JOIN tenants t ON t.id = s.tenant_id"""))
        windows = [  # (from, to, growth, uplift?)
            ("2025-10-12T00:00:00+08:00", "2025-11-09T00:00:00+08:00", 1.0, False),
            ("2025-11-09T00:00:00+08:00", "2025-11-12T00:00:00+08:00", 1.0, True),
            ("2026-10-12T00:00:00+08:00", "2026-11-09T00:00:00+08:00", 1.15, False),
        ]
        for start, end, growth, uplift in windows:
            result = await conn.execute(text(f"""
                INSERT INTO shop_interval_stats (tenant_id, shop_id, interval_start, offered, answered,
                    presale_offered, presale_converted, converted, gmv, frt_sum_s, frt_bins, frt_counts,
                    rounds, rounds_within_180, response_capped_sum_s, handled, handle_sum_s, csat_count,
                    csat_good, csat_bad)
                SELECT s.tenant_id, s.id, g.ts, v.n, v.n, 0, 0, 0, 0, 0, '{{}}', '{{}}', 0, 0, 0, v.n,
                       v.n * s.aht, 0, 0, 0
                FROM bench_shops s
                CROSS JOIN (
                    SELECT ts, extract(hour FROM ts AT TIME ZONE 'Asia/Shanghai')::int AS h,
                           extract(isodow FROM ts AT TIME ZONE 'Asia/Shanghai')::int AS dow,
                           floor(extract(epoch FROM ts - CAST(:start AS timestamptz)) / 86400)::int AS day
                    FROM generate_series(CAST(:start AS timestamptz), CAST(:end AS timestamptz)
                                         - interval '15 minutes', interval '15 minutes') AS ts) g
                CROSS JOIN LATERAL (SELECT round(s.size * :growth * {SHAPE} * {UPLIFT if uplift else 1}
                                                 * (0.9 + 0.2 * random()))::int AS n) v
                WHERE v.n > 0"""),
                {"start": datetime.fromisoformat(start), "end": datetime.fromisoformat(end),
                 "growth": growth})
            counts[f"{start[:10]}..{end[:10]}"] = result.rowcount
        await conn.execute(text("ANALYZE"))
    # Months-old rollups have long been vacuumed (hint bits set, visibility map current); freshly bulk-loaded
    # ones have not, and the first read after the load would pay for it. Measure the steady state.
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM (ANALYZE) shop_interval_stats"))
    await engine.dispose()
    return counts


def sample_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            out.append(proc.memory_info().rss)
        except psutil.Error:
            return
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=500)
    parser.add_argument("--tenants", type=int, default=60)
    parser.add_argument("--seats", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from service import embedded
    from service.kit.identity import Role, issue_token, parse_ttl

    started = time.perf_counter()
    with scratch_data_dir("plan", database=True) as base_dir:
        counts = asyncio.run(load(embedded.start(base_dir), args.shops, args.tenants))
        print(f"setup: {args.shops} shops of {args.tenants} brands, rollups {counts} "
              f"in {time.perf_counter() - started:.0f} s", flush=True)

        token = issue_token(SECRET, subject="bench", role=Role.ops, tenant_id=None, ttl=parse_ttl("1h"))
        headers = {"Authorization": f"Bearer {token}"}
        with seatwise_server(base_dir, env={"SEATWISE_JWT_SECRET": SECRET},
                             log=os.environ.get("SEATWISE_BENCH_LOG")) as server, \
                httpx.Client(base_url=server.url, timeout=120, headers=headers) as client:
            for year in (2025, 2026):
                r = client.post("/v1/promotions", json={"name": "Double 11", "start_date": f"{year}-11-09",
                                                        "end_date": f"{year}-11-11"})
                assert r.status_code == 201, r.text
            body = {"name": "Double 11 bench", "promotion": "Double 11", "year": 2026, "seats": args.seats}
            timings, peaks, summary = [], [], None
            for run in range(args.runs):
                idle = psutil.Process(server.pid).memory_info().rss
                stop, samples = threading.Event(), []
                sampler = threading.Thread(target=sample_rss, args=(server.pid, stop, samples))
                sampler.start()
                t0 = time.perf_counter()
                r = client.post("/v1/capacity-plans", json=body)
                elapsed = time.perf_counter() - t0
                stop.set()
                sampler.join()
                assert r.status_code == 201, r.text
                summary = r.json()["summary"]
                timings.append(elapsed)
                peaks.append(max(samples + [idle]))
                print(f"run {run + 1}: POST /v1/capacity-plans {elapsed:.2f} s, server RSS "
                      f"{idle / 2**20:.0f} MB before, peak {peaks[-1] / 2**20:.0f} MB", flush=True)
            plan_id = r.json()["id"]
            t0 = time.perf_counter()
            detail = client.get(f"/v1/capacity-plans/{plan_id}")
            detail_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            exported = client.get(f"/v1/capacity-plans/{plan_id}/lines.csv")
            csv_s = time.perf_counter() - t0
            lines = exported.text.count("\n") - 1
        tiers = ", ".join(f"{t['tier']} {t['missing']:,} missing ({t['shops_short']} shops short)"
                          for t in summary["tiers"])
        print(f"plan: {summary['shops']} shops x {summary['intervals']} intervals = {lines:,} lines stored; "
              f"uplift {summary['uplift_source']}; peak requirement {summary['peak_required']:,} seats; "
              f"{summary['intervals_short']} intervals short, {summary['seats_missing']:,} seat-intervals "
              f"missing (worst {summary['peak_shortfall']:,}); {tiers}")
        print(f"GET plan detail {detail_s:.2f} s ({len(detail.content) / 1024:.0f} KB); "
              f"CSV export of every line {csv_s:.2f} s ({len(exported.content) / 2**20:.1f} MB)")
        best = min(timings)
        print(f"RESULT plan_s={best:.2f} first_s={timings[0]:.2f} rss_mb={max(peaks) / 2**20:.0f} "
              f"shops={summary['shops']} intervals={summary['intervals']} lines={lines} seats={args.seats} "
              f"missing={summary['seats_missing']}")


if __name__ == "__main__":
    main()
