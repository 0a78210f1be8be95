"""The books at scale: 500 shops of 200 brands, 10,000,000 conversations and a year of attendance for 4,000
agents in the database; closing a month, a year's margin report, a year's statement lines as XLSX from a real
server, and the reconciliation of a generated year.

    uv run python -m tests.bench.finance_books [--conversations 10000000] [--reuse] [--runs 5]

Builds its own database (sw_bench_finance) on the embedded PostgreSQL server of the test suite (or on
TEST_DATABASE_URL's): migrations; 200 brands (20 KA, 80 standard, 100 long-tail) with 500 shops, 20 sites,
4,000 agents, written set-based with generate_series; cost rates (a raise for one agent in ten from July);
contracts of mixed kinds (KA: seat-hours, base fee, GMV commission, promotion surcharge and a 10 % at-risk
pool on service level and the 3-minute rate with earn-back, their shops on SLA targets; standard:
conversations and a base fee, one brand in four with a seat-hour shop contract; long-tail: conversations),
Double 11; the
conversations (2025-06-01 .. 2025-11-30) and their 15-minute rollups and day histograms with the SQL of
tests.bench.sla_report; and a year (2025) of attendance: every agent on its shop on workdays (one day in seven
with 90 minutes of overtime) and one Saturday in five, about a million work sessions. --reuse keeps a database
already built and resets its books (the operator's TRUNCATE, with the books' guards switched off for it).

Then, as a finance principal through the service (what both doors call), application role, RLS on:
  books     January to October 2025 closed, one after the other (the year's first ten months);
  close     November closed: its figures computed from the data, its statements numbered, every figure frozen
            (the figure: --runs closes, each after reopening it with its reason recorded);
  margins   the year's margin report by brand, by shop and by site (median of --runs);
  export    the year's statement lines as XLSX over HTTP from a uvicorn process on the app role: time to the
            last byte and the server's peak RSS (sampled every 20 ms);
  reconcile every statement's lines sum to its total to the fen; December computed twice gives identical
            lines; a day of late attendance for November leaves November byte-identical and becomes
            adjustments in December that bring November's booked lines to their recomputed values.
Each figure comes with its CPU time, this process's and the PostgreSQL server's (postmaster, backends and
workers: run nothing else on that server meanwhile), and the load average: on a shared machine the wall
time says as much about the neighbours as about the code. It prints the figures last, in one RESULT line.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import psutil
from sqlalchemy import text

from service import migrations
from service.finance.periods import Month
from service.kit.db import Database, make_engine
from service.kit.identity import Principal, Role, issue_token, parse_ttl
from service.settings import APP_ROLE
from tests.bench.server import cpu_seconds, free_port, wait_ready
from tests.bench.sla_report import _CONVERSATIONS, _ROLLUPS, _exec, _scalar, build_days, prepared
from tests.conftest import _admin, _server_url, with_database

DB_NAME = "sw_bench_finance"
N_BRANDS, N_SITES, N_AGENTS = 200, 20, 4000
FINANCE = Principal(subject="bench-finance", role=Role.finance, tenant_id=None, jti="")
ADMIN = Principal(subject="bench-admin", role=Role.admin, tenant_id=None, jti="")
SECRET = "bench-secret-" + "y" * 40
BOOKS = ("statements", "statement_lines", "cost_lines", "shop_month_usage", "finance_periods",
         "finance_period_events", "statement_counters")

_SETUP = [
    """INSERT INTO tenants (id, slug, name, tier, priority_weight, status)
       SELECT gen_random_uuid(), 'fin-' || lpad(i::text, 3, '0'), 'Finance brand ' || i,
              CASE WHEN i < 20 THEN 'KA' WHEN i < 100 THEN 'standard' ELSE 'longtail' END,
              CASE WHEN i < 20 THEN 3 ELSE 1 END, 'active'
       FROM generate_series(0, 199) i""",
    """INSERT INTO shops (tenant_id, id, platform, name, timezone, status)
       SELECT t.id, gen_random_uuid(), (ARRAY['tmall', 'jd', 'douyin', 'pdd', 'taobao'])[1 + (t.n + k) % 5],
              'fin shop ' || t.n || '-' || k, 'Asia/Shanghai', 'active'
       FROM (SELECT id, substr(slug, 5)::int AS n FROM tenants) t CROSS JOIN generate_series(0, 2) k
       WHERE k < CASE WHEN t.n < 100 THEN 3 ELSE 2 END""",
    """INSERT INTO sites (id, name, city, seat_capacity, timezone)
       SELECT gen_random_uuid(), 'fin site ' || i,
              (ARRAY['Hangzhou', 'Hefei', 'Chengdu', 'Wuhan'])[1 + i % 4], 400, 'Asia/Shanghai'
       FROM generate_series(0, 19) i""",
    """INSERT INTO agents (id, site_id, code, name, level, loaded_hourly_cost, max_concurrency,
                           employment_type, hired_on)
       SELECT gen_random_uuid(), s.id, 'F' || lpad(j::text, 5, '0'), 'agent ' || j,
              (ARRAY['agent', 'agent', 'senior', 'trainee', 'lead'])[1 + j % 5], 36 + (j % 25), 4,
              'full_time', DATE '2024-01-01'
       FROM generate_series(0, 3999) j
       JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS r FROM sites) s ON s.r = j % 20""",
    """INSERT INTO agent_cost_versions (agent_id, effective_from, wage, social_insurance, housing_fund,
                                        created_by)
       SELECT id, d, round(c * 0.72, 2), round(c * 0.21, 2), c - round(c * 0.72, 2) - round(c * 0.21, 2),
              'bench'
       FROM (SELECT id, code, DATE '2025-01-01' AS d, loaded_hourly_cost AS c FROM agents
             UNION ALL
             SELECT id, code, DATE '2025-07-01', round(loaded_hourly_cost * 1.06, 2) FROM agents
             WHERE substr(code, 2)::int % 10 = 0) v""",
    """INSERT INTO seat_cost_versions (site_id, effective_from, seat_hour_cost, created_by)
       SELECT id, DATE '2025-01-01', CASE city WHEN 'Chengdu' THEN 2.2 ELSE 6.5 END, 'bench' FROM sites""",
    """INSERT INTO overhead_versions (site_id, effective_from, management_share, created_by)
       SELECT id, DATE '2025-01-01', 0.07, 'bench' FROM sites""",
    """INSERT INTO promotions (id, name, year, platform, start_date, end_date, timezone)
       VALUES (gen_random_uuid(), 'Double 11', 2025, 'all', DATE '2025-11-01', DATE '2025-11-11',
               'Asia/Shanghai')""",
    """INSERT INTO contracts (tenant_id, id, shop_id, name, created_by)
       SELECT id, gen_random_uuid(), NULL, slug || ' 2025', 'bench' FROM tenants
       UNION ALL
       SELECT s.tenant_id, gen_random_uuid(), s.id, 'shop contract', 'bench'
       FROM (SELECT s.tenant_id, s.id, row_number() OVER (PARTITION BY s.tenant_id ORDER BY s.name) AS r
             FROM shops s JOIN tenants t ON t.id = s.tenant_id
             WHERE t.tier = 'standard' AND substr(t.slug, 5)::int % 4 = 0) s WHERE s.r = 1""",
    """INSERT INTO contract_versions (tenant_id, contract_id, effective_from, seat_hour_rate,
                                      monthly_base_fee, per_conversation_rate, gmv_commission_share,
                                      peak_surcharge_per_seat_day, at_risk_share, pool_scope,
                                      earn_back_months, credit_allocations, created_by)
       SELECT c.tenant_id, c.id, DATE '2025-01-01',
              CASE WHEN t.tier = 'KA' THEN 82 WHEN c.shop_id IS NOT NULL THEN 70 END,
              CASE WHEN c.shop_id IS NOT NULL THEN NULL WHEN t.tier = 'KA' THEN 30000
                   WHEN t.tier = 'standard' THEN 5000 END,
              CASE WHEN c.shop_id IS NOT NULL THEN NULL WHEN t.tier = 'standard' THEN 1.20
                   WHEN t.tier = 'longtail' THEN 0.90 END,
              CASE WHEN t.tier = 'KA' AND c.shop_id IS NULL THEN 0.008 END,
              CASE WHEN t.tier = 'KA' AND c.shop_id IS NULL THEN 80 END,
              CASE WHEN t.tier = 'KA' THEN 0.10 END, 'brand', CASE WHEN t.tier = 'KA' THEN 1 ELSE 0 END,
              CASE WHEN t.tier = 'KA' THEN '[{"metric": "service_level", "allocation": "0.5"},
                   {"metric": "response_rate_3min", "allocation": "0.3", "earn_back_target": 0.95}]'::jsonb
                   ELSE '[]'::jsonb END, 'bench'
       FROM contracts c JOIN tenants t ON t.id = c.tenant_id""",
    """INSERT INTO sla_policies (tenant_id, id, shop_id, effective_from, answer_target_s,
                                 service_level_target, response_rate_3min_target, assessed_start,
                                 assessed_end)
       SELECT s.tenant_id, gen_random_uuid(), s.id, DATE '2025-01-01', 30, 0.9, 0.9, '08:00', '23:00'
       FROM shops s JOIN tenants t ON t.id = s.tenant_id WHERE t.tier = 'KA'""",
]
# A month of work sessions: every agent on its shop (agent j on the shop of rank j mod 500), 09:00 plus a
# stagger, 8 h worked around an hour's lunch; one workday in seven 90 minutes longer; one Saturday in five.
_ATTENDANCE = """
INSERT INTO work_sessions (tenant_id, shop_id, external_id, agent_id, during, breaks)
SELECT s.tenant_id, s.id, :prefix || a.code || '-' || d::date, a.id,
       tstzrange(x.st, x.st + make_interval(mins => 540 + CASE WHEN x.h < 14 AND x.wd THEN 90 ELSE 0 END)),
       tstzmultirange(tstzrange(x.st + interval '4 hours', x.st + interval '5 hours'))
FROM (SELECT id, code, row_number() OVER (ORDER BY code) - 1 AS j FROM agents) a
JOIN (SELECT tenant_id, id, row_number() OVER (ORDER BY id) - 1 AS k FROM shops) s
  ON s.k = a.j % (SELECT count(*) FROM shops)
CROSS JOIN generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
CROSS JOIN LATERAL (SELECT ((d::date + time '09:00') AT TIME ZONE 'Asia/Shanghai')
                           + make_interval(mins => ((a.j % 4) * 15)::int) AS st,
                           abs(hashtext(a.code || d::date::text)) % 100 AS h,
                           extract(isodow FROM d) < 6 AS wd) x
WHERE {which}
"""
WORKED = "(x.wd AND x.h < 96) OR (extract(isodow FROM d) = 6 AND x.h < 20)"
# A Saturday's work of another quarter of the agents, reported late.
LATE = "NOT x.wd AND x.h BETWEEN 20 AND 44"


def _volumes(total: int, n: int) -> list[int]:
    """A Zipf-like split of TOTAL conversations over N shops (the busiest has a few per cent)."""
    weights = [1 / (k + 1) ** 0.7 for k in range(n)]
    counts = [int(w * total / sum(weights)) for w in weights]
    counts[0] += total - sum(counts)
    return counts


async def _parallel(owner: str, jobs: list[tuple[str, dict]], label: str, total: int) -> None:
    """Run the jobs on two connections (two cores), with a running count."""
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    done, shown = [0], [0.0]

    async def worker() -> None:
        while not queue.empty():
            sql, params = queue.get_nowait()
            await _exec(owner, sql, params)
            done[0] += params["last"] - params["first"] + 1 if "shop" in params else 1
            if done[0] >= total or time.perf_counter() - shown[0] > 30:
                shown[0] = time.perf_counter()
                print(f"  {label}: {done[0]:,}/{total:,} ({time.perf_counter() - started:.0f} s)", flush=True)

    started = time.perf_counter()
    await asyncio.gather(worker(), worker())


async def build(server: str, owner: str, conversations: int) -> None:
    await _admin(server, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    await asyncio.to_thread(migrations.upgrade, owner)
    engine = make_engine(owner, 1)
    async with engine.begin() as conn:
        for sql in _SETUP:
            await conn.execute(text(sql))
        await conn.execute(text("SELECT seatwise_ensure_conversation_partitions('2025-05-31', '2025-12-01')"))
        shops = [dict(r._mapping) for r in await conn.execute(text(
            "SELECT tenant_id AS tenant, id AS shop, timezone AS tz FROM shops ORDER BY id"))]
    await engine.dispose()
    jobs = []
    for shop, n in zip(shops, _volumes(conversations, len(shops)), strict=True):
        for first in range(1, n + 1, 250_000):
            jobs.append((_CONVERSATIONS, {**shop, "first": first, "last": min(first + 249_999, n)}))
    await _parallel(owner, jobs, "conversations", conversations)
    rollups = [(_ROLLUPS, {**shop, "first": 1, "last": n})
               for shop, n in zip(shops, _volumes(conversations, len(shops)), strict=True)]
    await _parallel(owner, rollups, "rollups (by conversations)", conversations)
    await build_days(owner)
    months = [(_ATTENDANCE.format(which=WORKED), {"prefix": "b-", "first": Month(2025, m).first_day,
                                                 "last": Month(2025, m).last_day}) for m in range(1, 13)]
    await _parallel(owner, months, "attendance (months)", 12)
    await _admin(with_database(server, DB_NAME), "VACUUM ANALYZE")


async def reset_books(owner: str) -> None:
    """The operator's reset of a reused bench database: the books emptied (their guards off for it), the
    late attendance of an earlier run removed, and the tables vacuumed as after a build (an earlier run's
    dead rows would otherwise be scanned again)."""
    engine = make_engine(owner, 1)
    async with engine.begin() as conn:
        for table in BOOKS:
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        await conn.execute(text(f"TRUNCATE {', '.join(BOOKS)} CASCADE"))
        for table in BOOKS:
            await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        await conn.execute(text("DELETE FROM work_sessions WHERE external_id LIKE 'late-%'"))
    await engine.dispose()
    await _admin(owner, f"VACUUM ANALYZE work_sessions, {', '.join(BOOKS)}")


async def _snapshot(db: Database, month: date) -> str:
    """Every stored figure of a month, as text, hashed: what 'byte-identical' compares."""
    digest = hashlib.sha256()
    async with db.system_transaction() as session:
        for table in ("statements", "statement_lines", "cost_lines", "shop_month_usage"):
            rows = await session.execute(text(f"SELECT t::text FROM {table} t WHERE month = :m ORDER BY 1"),
                                         {"m": month})
            for (row,) in rows:
                digest.update(row.encode())
    return digest.hexdigest()


class Cpu:
    """CPU seconds spent by this process and by the PostgreSQL server (tests.bench.server.cpu_seconds: run
    nothing else on that server meanwhile)."""

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster

    def now(self) -> dict[str, float]:
        return cpu_seconds(os.getpid(), self.postmaster)

    async def measure(self, work: Callable[[], Awaitable[Any]]) -> tuple[float, float, float, Any]:
        """(wall, this process's CPU, the server's CPU, the answer) of WORK."""
        before, started = self.now(), time.perf_counter()
        answer = await work()
        wall, after = time.perf_counter() - started, self.now()
        return wall, after["server"] - before["server"], after["postgres"] - before["postgres"], answer

    @staticmethod
    async def of(db: Database) -> Cpu:
        async with db.system_transaction() as session:
            backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return Cpu(psutil.Process(backend).ppid())


def timing(samples: list[tuple[float, float, float, Any]]) -> str:
    """Median wall and CPU (this process + the server) of SAMPLES, with the load average now."""
    wall = statistics.median(x[0] for x in samples)
    client, server = statistics.median(x[1] for x in samples), statistics.median(x[2] for x in samples)
    return (f"median {wall:.3f} s wall, best {min(x[0] for x in samples):.3f} s, over {len(samples)}; CPU "
            f"{client + server:.2f} s ({client:.2f} s here, {server:.2f} s PostgreSQL); load average "
            f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


async def close(db: Database, month: str, principal: Principal = FINANCE) -> Any:
    from service.finance import service

    async with db.transaction(principal.scope) as session:
        return await service.close_month(session, db.sessions(principal.scope), principal, month)


async def compute(db: Database, month: str) -> tuple[float, object]:
    from service.finance import service

    started = time.perf_counter()
    async with db.transaction(FINANCE.scope) as session:
        result = await service.compute_month(session, db.sessions(FINANCE.scope), FINANCE, month)
    return time.perf_counter() - started, result


async def reopen(db: Database, month: str) -> None:
    from service.finance import service

    async with db.transaction(ADMIN.scope) as session:
        await service.reopen_month(session, ADMIN, month, "benchmark: close it again")


async def margins(db: Database, cpu: Cpu, runs: int) -> dict[str, tuple[float, float]]:
    """The year's margin report by brand, shop and site: (median wall, median CPU) of each."""
    from service.finance import service

    async def report(by: str) -> Any:
        async with db.transaction(FINANCE.scope) as session:
            return await service.margin_report(session, service.report_filter("2025-01", "2025-12", by))

    out = {}
    for by in ("brand", "shop", "site"):
        samples = [await cpu.measure(lambda by=by: report(by)) for _ in range(runs)]
        out[by] = (statistics.median(x[0] for x in samples), statistics.median(x[1] + x[2] for x in samples))
        print(f"  margins by {by}: {len(samples[0][3].rows):,} rows, {timing(samples)}")
    return out


def export_over_http(app_url: str, cpu: Cpu) -> tuple[float, float, int, float, float, float]:
    """(seconds to the last byte, the server's peak RSS in MB, bytes, the API server's CPU, PostgreSQL's CPU,
    the server's RSS before the request) of the year's statement lines as XLSX."""
    port = free_port()
    env = os.environ | {"SEATWISE_APP_DATABASE_URL": app_url, "SEATWISE_JWT_SECRET": SECRET,
                        "SEATWISE_DATA_DIR": tempfile.mkdtemp(prefix="sw-bench-fin-")}
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.app:create_app_for_worker",
                               "--factory", "--port", str(port), "--log-level", "warning"], env=env)
    token = issue_token(SECRET, subject="bench", role=Role.finance, tenant_id=None, ttl=parse_ttl("1h"))
    peak, stop = [0.0], threading.Event()

    def sample() -> None:
        proc = psutil.Process(server.pid)
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], proc.memory_info().rss / 2**20)
            except psutil.Error:
                return
            time.sleep(0.02)

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            wait_ready(client)
            client.get("/v1/finance/periods", headers={"Authorization": f"Bearer {token}"})  # warm the pool
            threading.Thread(target=sample, daemon=True).start()
            idle_rss = psutil.Process(server.pid).memory_info().rss / 2**20
            before = cpu_seconds(server.pid, cpu.postmaster)
            started = time.perf_counter()
            size = 0
            with client.stream("GET", "/v1/finance/exports/statements",
                               params={"from": "2025-01", "to": "2025-12", "format": "xlsx"},
                               headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status_code == 200, response.read()
                for chunk in response.iter_bytes():
                    size += len(chunk)
            seconds = time.perf_counter() - started
            after = cpu_seconds(server.pid, cpu.postmaster)
            api_cpu, pg_cpu = (after[k] - before[k] for k in ("server", "postgres"))
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    return seconds, peak[0], size, api_cpu, pg_cpu, idle_rss


async def reconcile(db: Database) -> dict[str, object]:
    from service.finance import service

    async with db.system_transaction() as session:
        off = (await session.execute(text("""
            SELECT count(*) FROM statements s
            WHERE s.total <> COALESCE((SELECT sum(l.amount) FROM statement_lines l
                                       WHERE l.tenant_id = s.tenant_id AND l.statement_id = s.id
                                         AND l.kind IN ('charge', 'credit', 'adjustment')), 0)
            """))).scalar_one()
        statements = (await session.execute(text("SELECT count(*) FROM statements"))).scalar_one()
    # December twice: identical amounts.
    await compute(db, "2025-12")
    first = await _lines(db, "2025-12")
    await compute(db, "2025-12")
    rerun_identical = first == await _lines(db, "2025-12")
    # A day of late attendance for November (a closed month).
    nov = date(2025, 11, 1)
    before = await _snapshot(db, nov)
    async with db.system_transaction() as session:
        await session.execute(text(_ATTENDANCE.format(which=LATE)),
                              {"prefix": "late-", "first": date(2025, 11, 29), "last": date(2025, 11, 29)})
    seconds, result = await compute(db, "2025-12")
    after = await _snapshot(db, nov)
    async with db.system_transaction() as session:
        booked = await service._effective(session, Month(2025, 11), Month(2026, 1))
        inputs = await service.Inputs.read(session)
        now = await service.month_figures(session, db.sessions(FINANCE.scope), Month(2025, 11), inputs)
    matches = all(
        sorted((str(x.key), x.amount) for x in booked.lines.get(brand, []) if x.amount) ==
        sorted((str(x.key), x.amount) for x in st.lines if x.kind in ("charge", "credit") and x.amount)
        for brand, st in now.statements.items())
    return {"statements": statements, "off_by_a_fen": off, "rerun_identical": rerun_identical,
            "closed_identical": before == after, "adjustments": result.adjustments,  # type: ignore[attr-defined]
            "corrected": result.corrected_months, "adjusted_to_recomputed": matches,  # type: ignore[attr-defined]
            "compute_with_corrections_s": seconds}


async def _lines(db: Database, month: str) -> list[tuple]:
    async with db.system_transaction() as session:
        rows = await session.execute(text(
            "SELECT l.tenant_id, l.position, l.kind, l.component, l.shop_id, l.quantity, l.rate, l.amount "
            "FROM statement_lines l WHERE l.month = :m ORDER BY 1, 2"),
            {"m": date.fromisoformat(month + "-01")})
        return [tuple(r) for r in rows]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep sw_bench_finance when it is already built")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    server = _server_url()
    owner = with_database(server, DB_NAME)
    build_s = await prepared(server, DB_NAME, args.conversations, args.reuse, build,
                             "on 500 shops of 200 brands, 4,000 agents, a year of attendance")
    if build_s is None:
        await reset_books(owner)
    counts = {t: await _scalar(owner, f"SELECT count(*) FROM {t}") for t in
              ("conversations", "shop_interval_stats", "work_sessions", "shops", "tenants", "agents")}
    print("database: " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
          + f"; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (others' work skews the "
          "figures)")

    app_url = with_database(server, DB_NAME, APP_ROLE)
    db = Database(make_engine(app_url, 6))
    try:
        cpu = await Cpu.of(db)
        started = time.perf_counter()
        for m in range(1, 11):
            wall, mine, server, _ = await cpu.measure(lambda m=m: close(db, f"2025-{m:02d}"))
            print(f"  closed 2025-{m:02d} in {wall:.2f} s (CPU {mine:.2f} s here, {server:.2f} s PostgreSQL)")
        print(f"books: January to October closed in {time.perf_counter() - started:.0f} s")
        samples = [await cpu.measure(lambda: close(db, "2025-11"))]
        for _ in range(args.runs - 1):
            await reopen(db, "2025-11")
            samples.append(await cpu.measure(lambda: close(db, "2025-11")))
        close_s = statistics.median(x[0] for x in samples)
        close_cpu = statistics.median(x[1] + x[2] for x in samples)
        nov_lines = await _scalar(owner, "SELECT count(*) FROM statement_lines WHERE month = '2025-11-01'")
        print(f"close 2025-11 ({nov_lines:,} statement lines): {timing(samples)}")
        by = await margins(db, cpu, args.runs)
        recon = await reconcile(db)
        print("reconciliation: " + ", ".join(f"{k}={v}" for k, v in recon.items()))
    finally:
        await db.dispose()
    year_lines = await _scalar(owner, "SELECT count(*) FROM statement_lines WHERE month < '2026-01-01'")
    export_s, rss, size, api_cpu, pg_cpu, idle = await asyncio.to_thread(export_over_http, app_url, cpu)
    print(f"export: {year_lines:,} statement lines of 2025 as XLSX ({size / 2**20:.1f} MB) in "
          f"{export_s:.2f} s, server peak RSS {rss:.0f} MB ({idle:.0f} MB before the request); CPU "
          f"{api_cpu:.2f} s API server, {pg_cpu:.2f} s PostgreSQL; load average {os.getloadavg()[0]:.2f}")
    ok = recon["off_by_a_fen"] == 0 and recon["rerun_identical"] and recon["closed_identical"] and \
        recon["adjusted_to_recomputed"] and recon["adjustments"]
    print(f"RESULT conversations={counts['conversations']} work_sessions={counts['work_sessions']} "
          f"close_s={close_s:.2f} close_cpu_s={close_cpu:.2f} "
          + " ".join(f"margins_{k}_s={v[0]:.3f} margins_{k}_cpu_s={v[1]:.3f}" for k, v in by.items())
          + f" export_xlsx_s={export_s:.2f} export_rss_mb={rss:.0f} load={os.getloadavg()[0]:.2f} "
          f"reconciled={'yes' if ok else 'NO'} statements={recon['statements']}"
          + (f" build_s={build_s:.0f}" if build_s else ""))


if __name__ == "__main__":
    asyncio.run(main())
