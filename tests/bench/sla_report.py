"""One shop-month SLA report (daily granularity) with 10,000,000 conversations in the database.

    uv run python -m tests.bench.sla_report [--conversations 10000000] [--requests 300] [--reuse] [--explain]

Builds its own database (sw_bench_sla) on the embedded PostgreSQL server of the test suite (or on
TEST_DATABASE_URL's server): migrations, 24 brands with 60 shops (Zipf-like volumes: the busiest shop
has about 14 % of all conversations), six months of conversations (2025-06-01 .. 2025-11-30, shop-local
diurnal profile, a Double 11 spike, log-normal first responses, multi-round chats, conversions, CSAT)
generated set-based with INSERT ... SELECT generate_series into the monthly partitions, then the
15-minute rollups built from them with one INSERT ... SELECT ... GROUP BY per shop, using the SQL of
service.conversations.rollups (INTERVAL_START_SQL, FRT_SQL, frt_bin_sql), and the per-day FRT histograms
from the rollups (service.conversations.day_rollup). --reuse keeps a database already built (upgrading its
schema, and building the day histograms when it has none).

Then it times the November daily report of the busiest shop and of a median shop, as a client of the
shop's brand (application role, RLS on), two ways:
  service  sla.service.shop_report in a client-scoped transaction (what both doors call);
  http     GET /v1/shops/{id}/sla over httpx's ASGI transport: the whole FastAPI stack (token, RLS
           scope, problem handling, JSON).
It checks the report's total against a direct count of the raw conversations, prints p50/p95/p99 and,
last, one line with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from datetime import time as dtime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service import migrations
from service.conversations.day_rollup import rebuild_day_frt
from service.conversations.rollups import (
    FRT_SQL,
    INTERVAL_START_SQL,
    RESPONSE_CAP_S,
    ROUND_TARGET_S,
    frt_bin_sql,
)
from service.kit.db import Database, make_engine
from service.kit.identity import Principal, Role, Scope
from service.kit.time import local_day_start
from service.settings import APP_ROLE, Settings
from tests.conftest import JWT_SECRET, _admin, _server_url, make_token, with_database

DB_NAME = "sw_bench_sla"
N_TENANTS, N_SHOPS = 24, 60
FIRST_DAY, N_DAYS = "2025-06-01", 183  # through 2025-11-30
MONTH = ("2025-11-01", "2025-12-01")
ZONES = ["Asia/Shanghai"] * 8 + ["Asia/Hong_Kong", "Europe/Berlin"]
PLATFORMS = ["tmall", "tmall", "jd", "taobao", "douyin", "pdd"]

_CONVERSATIONS = f"""
INSERT INTO conversations (tenant_id, shop_id, external_id, started_at, first_response_at, ended_at, kind,
                           response_times_s, converted, order_amount, csat)
SELECT :tenant, :shop, 'c' || x.i, x.started,
       CASE WHEN x.answered THEN x.started + make_interval(secs => x.frt) END,
       CASE WHEN x.ended
            THEN x.started + make_interval(secs => CASE WHEN x.answered THEN x.frt ELSE 0 END + x.handle) END,
       x.kind,
       CASE WHEN x.answered AND x.r6 < 0.15 THEN ARRAY[x.frt, x.more1]
            WHEN x.answered AND x.r6 < 0.30 THEN ARRAY[x.frt, x.more1, x.more2] END,
       x.converted,
       CASE WHEN x.converted THEN round((19.9 + x.r10 * 980)::numeric, 2) END,
       CASE WHEN x.r11 < 0.35 THEN CASE WHEN x.r12 < 0.55 THEN 5 WHEN x.r12 < 0.80 THEN 4
                                          WHEN x.r12 < 0.90 THEN 3 WHEN x.r12 < 0.95 THEN 2 ELSE 1 END END
FROM (
  SELECT g.i,
         -- Double 11 (Nov 1-11) for r0 < 0.12
         ((DATE '{FIRST_DAY}' + CASE WHEN r.r0 < 0.12 THEN 153 + floor(r.r1 * 11)::int
                                     ELSE floor(r.r1 * {N_DAYS})::int END)::timestamp
          + make_interval(secs => CASE WHEN r.r2 < 0.85 THEN 8 * 3600 + (r.r3 + r.r4) / 2 * 15 * 3600
                                       ELSE r.r3 * 86400 END)) AT TIME ZONE CAST(:tz AS text) AS started,
         r.r5 < 0.94 AS answered,
         exp(ln(12) + 1.1 * sqrt(-2 * ln(1 - r.r7)) * cos(2 * pi() * r.r8)) AS frt,
         exp(ln(25) + 0.9 * sqrt(-2 * ln(1 - r.r8)) * sin(2 * pi() * r.r7)) AS more1,
         exp(ln(40) + 0.9 * sqrt(-2 * ln(1 - r.r3)) * cos(2 * pi() * r.r9)) AS more2,
         r.r13 < 0.9 AS ended,
         exp(ln(240) + 0.8 * sqrt(-2 * ln(1 - r.r9)) * cos(2 * pi() * r.r13)) AS handle,
         CASE WHEN r.r14 < 0.6 THEN 'presale' ELSE 'aftersale' END AS kind,
         r.r15 < CASE WHEN r.r14 < 0.6 THEN 0.28 ELSE 0.03 END AS converted,
         r.r6, r.r10, r.r11, r.r12
  FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g(i)
  CROSS JOIN LATERAL (SELECT g.i AS i, random() AS r0, random() AS r1, random() AS r2, random() AS r3,
                             random() AS r4, random() AS r5, random() AS r6, random() AS r7, random() AS r8,
                             random() AS r9, random() AS r10, random() AS r11, random() AS r12,
                             random() AS r13, random() AS r14, random() AS r15) r
) x
"""

_COLUMNS = ("offered, answered, presale_offered, presale_converted, converted, gmv, frt_sum_s, frt_bins, "
            "frt_counts, rounds, rounds_within_180, response_capped_sum_s, handled, handle_sum_s, "
            "csat_count, csat_good, csat_bad")
_FRT = FRT_SQL.replace("first_response_at", "c.first_response_at").replace("started_at", "c.started_at")

_ROLLUPS = f"""
INSERT INTO shop_interval_stats (tenant_id, shop_id, interval_start, {_COLUMNS})
WITH rows AS MATERIALIZED (
  SELECT {INTERVAL_START_SQL.replace('started_at', 'c.started_at')} AS interval_start, c.kind, c.converted,
         c.order_amount, c.csat, c.first_response_at IS NOT NULL AS answered, {_FRT} AS frt,
         EXTRACT(EPOCH FROM (c.ended_at - c.first_response_at))::float8 AS handle, rt.rounds, rt.within,
         rt.capped
  FROM conversations c
  CROSS JOIN LATERAL (
    SELECT CASE WHEN c.response_times_s IS NOT NULL THEN cardinality(c.response_times_s) ELSE 1 END AS rounds,
           CASE WHEN c.response_times_s IS NOT NULL
                  THEN (SELECT count(*) FROM unnest(c.response_times_s) t WHERE t <= {ROUND_TARGET_S})
                WHEN c.first_response_at IS NOT NULL THEN ({_FRT} <= {ROUND_TARGET_S})::int
                ELSE 0 END AS within,
           CASE WHEN c.response_times_s IS NOT NULL
                  THEN (SELECT sum(least(t, {RESPONSE_CAP_S})) FROM unnest(c.response_times_s) t)
                WHEN c.first_response_at IS NOT NULL THEN least({_FRT}, {RESPONSE_CAP_S})
                ELSE {RESPONSE_CAP_S} END AS capped) rt
  WHERE c.tenant_id = :tenant AND c.shop_id = :shop
), hist AS (
  SELECT interval_start, array_agg(bin ORDER BY bin) AS bins, array_agg(n ORDER BY bin) AS counts
  FROM (SELECT interval_start, {frt_bin_sql('frt')} AS bin, count(*)::int AS n FROM rows WHERE answered
        GROUP BY 1, 2) b
  GROUP BY 1
), totals AS (
  SELECT interval_start, count(*) AS offered, count(*) FILTER (WHERE answered) AS answered,
         count(*) FILTER (WHERE kind = 'presale') AS presale_offered,
         count(*) FILTER (WHERE kind = 'presale' AND converted) AS presale_converted,
         count(*) FILTER (WHERE converted) AS converted,
         COALESCE(sum(order_amount) FILTER (WHERE converted), 0) AS gmv,
         COALESCE(sum(frt) FILTER (WHERE answered), 0) AS frt_sum_s,
         sum(rounds) AS rounds, sum(within) AS rounds_within_180, sum(capped) AS response_capped_sum_s,
         count(handle) AS handled, COALESCE(sum(handle), 0) AS handle_sum_s, count(csat) AS csat_count,
         count(*) FILTER (WHERE csat >= 4) AS csat_good, count(*) FILTER (WHERE csat <= 2) AS csat_bad
  FROM rows GROUP BY 1
)
SELECT :tenant, :shop, t.interval_start, t.offered, t.answered, t.presale_offered, t.presale_converted,
       t.converted, t.gmv, t.frt_sum_s, COALESCE(h.bins, '{{}}'), COALESCE(h.counts, '{{}}'), t.rounds,
       t.rounds_within_180, t.response_capped_sum_s, t.handled, t.handle_sum_s, t.csat_count, t.csat_good,
       t.csat_bad
FROM totals t LEFT JOIN hist h USING (interval_start)
"""


def _volumes(total: int) -> list[int]:
    weights = [1 / (k + 1) ** 0.8 for k in range(N_SHOPS)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[0] += total - sum(counts)
    return counts


async def _exec(url: str, sql: str, params: dict | None = None) -> None:
    engine = make_engine(url, 1)
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL synchronous_commit = off"))
        await conn.execute(text("SET LOCAL work_mem = '256MB'"))
        await conn.execute(text(sql), params or {})
    await engine.dispose()


async def _scalar(url: str, sql: str, params: dict | None = None):
    engine = make_engine(url, 1)
    async with engine.connect() as conn:
        value = (await conn.execute(text(sql), params or {})).scalar()
    await engine.dispose()
    return value


async def build(server: str, owner: str, n: int) -> list[dict]:
    await _admin(server, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    await asyncio.to_thread(migrations.upgrade, owner)
    shops = []
    counts = _volumes(n)
    engine = make_engine(owner, 1)
    async with engine.begin() as conn:
        tenants = []
        for t in range(N_TENANTS):
            tid = uuid.uuid4()
            tenants.append(tid)
            await conn.execute(text("INSERT INTO tenants (id, slug, name, tier, priority_weight, status) "
                                    "VALUES (:id, :slug, :name, :tier, 1, 'active')"),
                               {"id": tid, "slug": f"bench-brand-{t}", "name": f"Bench brand {t}",
                                "tier": "KA" if t < 4 else "standard"})
        for k in range(N_SHOPS):
            shop = {"tenant": tenants[k % N_TENANTS], "shop": uuid.uuid4(), "tz": ZONES[k % len(ZONES)],
                    "platform": PLATFORMS[k % len(PLATFORMS)], "n": counts[k]}
            await conn.execute(text("INSERT INTO shops (tenant_id, id, platform, name, timezone, status) "
                                    "VALUES (:tenant, :shop, :platform, :name, :tz, 'active')"),
                               {**shop, "name": f"bench shop {k}"})
            shops.append(shop)
        await conn.execute(text("SELECT seatwise_ensure_conversation_partitions('2025-05-31', '2025-12-01')"))
        # The busiest shop has a policy, changed mid-month (two assessed windows in play).
        for eff, window, sl in ((date(2025, 1, 1), (dtime(8), dtime(23)), 0.8),
                                (date(2025, 11, 12), (dtime(9), dtime(22)), 0.85)):
            await conn.execute(text(
                "INSERT INTO sla_policies (tenant_id, id, shop_id, effective_from, answer_target_s, "
                "service_level_target, response_rate_3min_target, frt_mean_target_s, csat_target, "
                "conversion_rate_target, max_abandon_rate, assessed_start, assessed_end) "
                "VALUES (:t, :id, :s, :eff, 30, :sl, 0.9, 30, 0.8, 0.2, 0.08, :a, :b)"),
                {"t": shops[0]["tenant"], "id": uuid.uuid4(), "s": shops[0]["shop"], "eff": eff, "sl": sl,
                 "a": window[0], "b": window[1]})
    await engine.dispose()

    async def worker(queue: asyncio.Queue, sql: str, label: str, done: list[int], total: int) -> None:
        while not queue.empty():
            shop, first, last = queue.get_nowait()
            await _exec(owner, sql, {"tenant": shop["tenant"], "shop": shop["shop"], "tz": shop["tz"],
                                     "first": first, "last": last})
            done[0] += last - first + 1
            print(f"\r  {label}: {done[0]:,}/{total:,}", end="", flush=True)

    for label, sql, chunk in (("conversations", _CONVERSATIONS, 250_000),
                              ("rollups (by conversations)", _ROLLUPS, None)):
        started = time.perf_counter()
        queue: asyncio.Queue = asyncio.Queue()
        for shop in shops:
            step = chunk or shop["n"]
            for first in range(1, shop["n"] + 1, step):
                queue.put_nowait((shop, first, min(first + step - 1, shop["n"])))
        done = [0]
        await asyncio.gather(*(worker(queue, sql, label, done, n) for _ in range(2)))  # two cores
        print(f"  ({time.perf_counter() - started:.0f} s)")
    await build_days(owner)
    await _admin(with_database(server, DB_NAME), "VACUUM ANALYZE")
    return shops


async def prepared(server: str, name: str, conversations: int, reuse: bool,
                   build: Callable[[str, str, int], Awaitable[Any]], what: str) -> float | None:
    """The bench database NAME on SERVER: kept (its schema upgraded) when REUSE finds it built with
    CONVERSATIONS conversations, else built anew by BUILD(server, owner URL, conversations); the build's
    seconds, None when kept."""
    owner = with_database(server, name)
    exists = await _scalar(server, "SELECT count(*) FROM pg_database WHERE datname = :n", {"n": name})
    total = await _scalar(owner, "SELECT count(*) FROM conversations") if exists and reuse else None
    if total == conversations:
        await asyncio.to_thread(migrations.upgrade, owner)  # a database built before the latest migrations
        return None
    print(f"building {name}: {conversations:,} conversations {what}")
    started = time.perf_counter()
    await build(server, owner, conversations)
    seconds = time.perf_counter() - started
    print(f"built in {seconds:.0f} s")
    return seconds


async def build_days(owner: str) -> None:
    """Every shop's day histograms, from its rollups (what ingest keeps up to date)."""
    started = time.perf_counter()
    engine = make_engine(owner, 1)
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(text("SET LOCAL work_mem = '256MB'"))
        shop_ids = list((await session.execute(text("SELECT id FROM shops"))).scalars())
        await rebuild_day_frt(session, shop_ids)
    await engine.dispose()
    print(f"  day histograms ({time.perf_counter() - started:.0f} s)")


async def load_shops(owner: str) -> list[dict]:
    engine = make_engine(owner, 1)
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT s.tenant_id, s.id, s.timezone, (SELECT count(*) FROM conversations c "
            "WHERE c.tenant_id = s.tenant_id AND c.shop_id = s.id) AS n FROM shops s ORDER BY n DESC"))).all()
    await engine.dispose()
    return [{"tenant": r[0], "shop": r[1], "tz": r[2], "n": r[3]} for r in rows]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def time_it(call, requests: int) -> list[float]:
    for _ in range(20):
        await call()
    samples = []
    for _ in range(requests):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--reuse", action="store_true", help="keep sw_bench_sla when it is already built")
    parser.add_argument("--explain", action="store_true", help="print the report query's plan")
    args = parser.parse_args()

    server = _server_url()
    owner = with_database(server, DB_NAME)
    build_s = await prepared(server, DB_NAME, args.conversations, args.reuse, build,
                             f"over {N_SHOPS} shops, 6 months")
    if build_s is None:
        if not await _scalar(owner, "SELECT EXISTS (SELECT 1 FROM shop_day_frt)"):
            await build_days(owner)
            await _admin(owner, "VACUUM ANALYZE shop_day_frt")
    shops = await load_shops(owner)
    total = sum(s["n"] for s in shops)
    rollups = await _scalar(owner, "SELECT count(*) FROM shop_interval_stats")
    days = await _scalar(owner, "SELECT count(*) FROM shop_day_frt")
    print(f"database: {total:,} conversations, {rollups:,} rollup rows, {days:,} day histograms, "
          f"{len(shops)} shops; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (others' "
          "work skews the figures)")

    from service.app import create_app
    from service.sla import service

    db = Database(make_engine(with_database(server, DB_NAME, APP_ROLE), 5))
    app = create_app(Settings(jwt_secret=JWT_SECRET), db=db)
    figures = {}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://bench") as client:
            for label, shop in (("busiest", shops[0]), ("median", shops[len(shops) // 2])):
                principal = Principal(subject="bench", role=Role.client, tenant_id=shop["tenant"],
                                      jti="bench")
                scope = Scope(staff=False, tenant_id=shop["tenant"])
                lo, hi = (local_day_start(date.fromisoformat(d), shop["tz"]) for d in MONTH)
                span = {"t": shop["tenant"], "s": shop["shop"], "lo": lo, "hi": hi}
                month_n = await _scalar(owner, "SELECT count(*) FROM conversations WHERE tenant_id = :t "
                                        "AND shop_id = :s AND started_at >= :lo AND started_at < :hi", span)
                month_rows = await _scalar(owner, "SELECT count(*) FROM shop_interval_stats "
                                           "WHERE tenant_id = :t AND shop_id = :s "
                                           "AND interval_start >= :lo AND interval_start < :hi", span)

                async def via_service(shop=shop, principal=principal, scope=scope):
                    async with db.transaction(scope) as session:
                        return await service.shop_report(session, principal, shop["shop"], *MONTH, "day")

                report = await via_service()
                assert report.total.offered == month_n, (report.total.offered, month_n)
                assert len(report.buckets) == 30
                headers = {"Authorization": f"Bearer {make_token(Role.client, shop['tenant'])}"}
                url = f"/v1/shops/{shop['shop']}/sla?from={MONTH[0]}&to={MONTH[1]}&granularity=day"

                async def via_http(url=url, headers=headers):
                    r = await client.get(url, headers=headers)
                    assert r.status_code == 200, r.text

                r = await client.get(url, headers=headers)
                assert r.json()["total"]["offered"] == month_n
                figures[label] = {"service": await time_it(via_service, args.requests),
                                  "http": await time_it(via_http, args.requests)}
                print(f"{label} shop: {shop['n']:,} conversations in 6 months, {month_n:,} in November "
                      f"({month_rows:,} rollup rows), tz {shop['tz']}")
                for way, samples in figures[label].items():
                    print(f"  {way:7s}  p50 {statistics.median(samples):6.2f} ms  "
                          f"p95 {pct(samples, 95):6.2f} ms  p99 {pct(samples, 99):6.2f} ms  "
                          f"over {len(samples)} reports")
                if args.explain and label == "busiest":
                    await explain(db, scope, shop)
    finally:
        await db.dispose()
    if build_s is not None:
        print(f"data build: {build_s:.0f} s")
    b, m = figures["busiest"], figures["median"]
    print(f"RESULT conversations={total} busiest_service_p95_ms={pct(b['service'], 95):.2f} "
          f"busiest_http_p95_ms={pct(b['http'], 95):.2f} median_service_p95_ms={pct(m['service'], 95):.2f} "
          f"median_http_p95_ms={pct(m['http'], 95):.2f}" + (f" build_s={build_s:.0f}" if build_s else ""))


async def explain(db: Database, scope: Scope, shop: dict) -> None:
    from service.sla import service

    sql = service._aggregate_sql("day", [(dtime(8), dtime(23)), (dtime(9), dtime(22))], day_histograms=True)
    lo = service.parse_moment(MONTH[0], "from", shop["tz"])
    hi = service.parse_moment(MONTH[1], "to", shop["tz"])
    params = {"tenant_ids": [shop["tenant"]], "shop_ids": [shop["shop"]], "tzs": [shop["tz"]], "los": [lo],
              "his": [hi], "ws0": dtime(8), "we0": dtime(23), "ws1": dtime(9), "we1": dtime(22)}
    async with db.transaction(scope) as session:
        plan = (await session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params)).scalars().all()
    print("\n".join(plan))


if __name__ == "__main__":
    asyncio.run(main())
