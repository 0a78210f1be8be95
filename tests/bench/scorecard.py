"""The balanced scorecard at scale: 500 shops of 200 brands, 3 sites, 400 teams, 4,000 agents, 10,000,000
conversations, a month of attendance, 20,000 QA reviews and 4,000 pulse answers in the database.

    uv run python -m tests.bench.scorecard [--conversations 10000000] [--reuse] [--runs 5]

Builds its own database (sw_bench_scorecard) on the embedded PostgreSQL server of the test suite (or on
TEST_DATABASE_URL's): migrations; the brands, shops and agents of tests.bench.finance_books (200 brands, 500
shops, 4,000 agents) on 3 sites, 400 teams of ten with their leads, SLA policies for every shop, Double 11
declared to the scorecard; the conversations (2025-06-01 .. 2025-11-30) and their rollups and day histograms
with the SQL of tests.bench.sla_report; November 2025's attendance (every agent on its shop on workdays, one
day in seven 90 minutes longer; tests.bench.finance_books' SQL); 20,000 November QA reviews on a 5-category
template (scored by the QA maths, some failing a critical category), 4,000 pulse answers, a rating per shop
and 300 coaching sessions. --reuse keeps a database already built.

Then, as staff through the service (what both doors call), application role, RLS on:
  facts     November's facts computed (the SLA domain's day verdicts of 500 shops; once, cold);
  month     November's scorecards of every scope (500 shops, 200 brands, 3 sites, 400 teams, 4,000 agents);
  trend     one shop's 12-month trend, --runs x 20 shops (p50 / p95), and a site's (staff) trend.
Each figure comes with its CPU time (this process and PostgreSQL) and the load average: on a shared machine
the wall time says as much about the neighbours as about the code. It prints the figures last, in one RESULT
line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import text

from service.kit.db import Database, make_engine
from service.kit.identity import Principal, Role
from service.scorecard import qa
from service.settings import APP_ROLE
from tests.bench.finance_books import _ATTENDANCE, _SETUP, WORKED, Cpu, _parallel, _volumes
from tests.bench.sla_report import _CONVERSATIONS, _ROLLUPS, _scalar, build_days, prepared
from tests.conftest import _admin, _server_url, with_database

DB_NAME = "sw_bench_scorecard"
OPS = Principal(subject="bench-ops", role=Role.ops, tenant_id=None, jti="")
CATEGORIES = [
    ("greeting", 1.0, 2, False),
    ("accuracy", 3.0, 5, True),
    ("empathy", 2.0, 4, False),
    ("resolution", 2.0, 3, False),
    ("compliance", 1.0, 2, True),
]
# The finance bench's setup, on 3 sites, without its books.
SETUP = [
    s.replace("FROM generate_series(0, 19) i", "FROM generate_series(0, 2) i").replace(
        "ON s.r = j % 20", "ON s.r = j % 3"
    )
    for s in _SETUP
    if "contract" not in s and "cost_versions" not in s and "overhead" not in s and "sla_policies" not in s
]
SETUP += [
    """INSERT INTO sla_policies (tenant_id, id, shop_id, effective_from, answer_target_s,
                                 service_level_target,
                                 response_rate_3min_target, csat_target, assessed_start, assessed_end)
       SELECT s.tenant_id, gen_random_uuid(), s.id, DATE '2025-01-01', 30, 0.8, 0.9, 0.8, '08:00', '23:00'
       FROM shops s""",
    # teams of ten agents of one site, the first of each its lead
    """INSERT INTO agent_teams (id, site_id, name, lead_id, created_at)
       SELECT gen_random_uuid(), a.site_id, 'team ' || a.code, a.id, now()
       FROM (SELECT id, site_id, code, row_number() OVER (PARTITION BY site_id ORDER BY code) - 1 AS r
             FROM agents) a
       WHERE a.r % 10 = 0""",
    """WITH a AS (SELECT id, site_id, row_number() OVER (PARTITION BY site_id ORDER BY code) - 1 AS r
                 FROM agents)
       INSERT INTO agent_team_members (agent_id, team_id)
       SELECT a.id, t.id FROM a JOIN a l ON l.site_id = a.site_id AND l.r = (a.r / 10) * 10
       JOIN agent_teams t ON t.lead_id = l.id""",
    """INSERT INTO promotion_relaxations (promotion_id, declared_by, declared_at)
       SELECT id, 'bench', now() FROM promotions""",
    """INSERT INTO pulse_surveys (id, name, month, created_at)
       VALUES (gen_random_uuid(), '2025-11 pulse', DATE '2025-11-01', now())""",
    """INSERT INTO pulse_answers (survey_id, response_id, site_id, team_id, recommend, wellbeing)
       SELECT (SELECT id FROM pulse_surveys), 'r' || a.code, a.site_id, m.team_id,
              (abs(hashtext(a.code)) % 11), 1 + abs(hashtext(a.code || 'w')) % 5
       FROM agents a JOIN agent_team_members m ON m.agent_id = a.id""",
    """INSERT INTO client_ratings (tenant_id, id, shop_id, month, rater, score, comment, created_at,
                                   updated_at)
       SELECT tenant_id, gen_random_uuid(), id, DATE '2025-11-01', 'bench', 1 + abs(hashtext(name)) % 5,
              NULL, now(), now() FROM shops""",
    """INSERT INTO qa_templates (id, key, name, created_at)
       VALUES (gen_random_uuid(), 'bench', 'bench', now())""",
    """INSERT INTO coaching_sessions (id, agent_id, coach, held_on, template_id, areas, review_ids,
                                      action_items, created_at)
       SELECT gen_random_uuid(), id, 'bench', DATE '2025-11-10', (SELECT id FROM qa_templates), '{accuracy}',
              '{}', '[]', now() FROM agents ORDER BY code LIMIT 300""",
]


async def _qa(owner: str, reviews: int = 20_000) -> None:
    """REVIEWS November reviews with random ratings, scored by the QA maths' bulk scorer."""
    engine = make_engine(owner, 1)
    rng = np.random.default_rng(11)
    template = qa.Template(
        "bench",
        tuple(
            qa.Category(k, w, qa.RatingScale.binary() if p == 2 else qa.RatingScale.points(p), c)
            for k, w, p, c in CATEGORIES
        ),
    )
    # mostly good ratings: a binary category passes 9 times in 10, a point scale sits in its top three
    values = np.column_stack(
        [
            (rng.random(reviews) < 0.9).astype(float)
            if p == 2
            else rng.integers(max(1, p - 2), p + 1, reviews).astype(float)
            for _, _, p, _ in CATEGORIES
        ]
    )
    values[rng.random((reviews, len(CATEGORIES))) < 0.1] = np.nan
    values[:, 1] = np.where(np.isnan(values[:, 1]), 3, values[:, 1])  # accuracy always rated
    scored = qa.score_matrix(template, values)
    async with engine.begin() as conn:
        template_id = (await conn.execute(text("SELECT id FROM qa_templates"))).scalar_one()
        for i, (key, w, p, c) in enumerate(CATEGORIES):
            await conn.execute(
                text(
                    "INSERT INTO qa_categories (template_id, key, position, name, weight, points, "
                    "critical, na_allowed) VALUES (:t, :k, :i, :k, :w, :p, :c, true)"
                ),
                {"t": template_id, "k": key, "i": i, "w": w, "p": p, "c": c},
            )
        agents = [
            (a, s_t, s)
            for a, s_t, s in await conn.execute(
                text(
                    "SELECT a.id, s.tenant_id, s.id FROM agents a "
                    "JOIN LATERAL (SELECT tenant_id, id FROM shops "
                    "ORDER BY id OFFSET (abs(hashtext(a.code)) % 500) LIMIT 1) s ON true"
                )
            )
        ]
        rows = []
        for i in range(reviews):
            agent, tenant, shop = agents[i % len(agents)]
            ratings = {
                k: (None if np.isnan(v) else int(v))
                for (k, _, _, _), v in zip(CATEGORIES, values[i], strict=True)
            }
            score = scored.review_scores[i]
            rows.append(
                {
                    "t": tenant,
                    "s": shop,
                    "c": f"q{i}",
                    "d": date(2025, 11, 1 + i % 30),
                    "a": agent,
                    "tp": template_id,
                    "r": json.dumps(ratings),
                    "score": None if np.isnan(score) else float(score),
                    "f": bool(scored.failed_critical[i]),
                }
            )
        await conn.execute(
            text(
                "INSERT INTO qa_reviews (tenant_id, id, shop_id, conversation_id, conversation_on, agent_id, "
                "reviewer, template_id, ratings, score, failed_critical, created_at) "
                "VALUES (:t, gen_random_uuid(), :s, :c, "
                ":d, :a, 'bench', :tp, CAST(:r AS jsonb), :score, :f, now())"
            ),
            rows,
        )
    await engine.dispose()


async def build(server: str, owner: str, conversations: int) -> None:
    from service import migrations

    await _admin(server, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    await asyncio.to_thread(migrations.upgrade, owner)
    engine = make_engine(owner, 1)
    async with engine.begin() as conn:
        for sql in SETUP:
            await conn.execute(text(sql))
        await conn.execute(text("SELECT seatwise_ensure_conversation_partitions('2025-05-31', '2025-12-01')"))
        shops = [
            dict(r._mapping)
            for r in await conn.execute(
                text("SELECT tenant_id AS tenant, id AS shop, timezone AS tz FROM shops ORDER BY id")
            )
        ]
    await engine.dispose()
    jobs = []
    for shop, n in zip(shops, _volumes(conversations, len(shops)), strict=True):
        for first in range(1, n + 1, 250_000):
            jobs.append((_CONVERSATIONS, {**shop, "first": first, "last": min(first + 249_999, n)}))
    await _parallel(owner, jobs, "conversations", conversations)
    rollups = [
        (_ROLLUPS, {**shop, "first": 1, "last": n})
        for shop, n in zip(shops, _volumes(conversations, len(shops)), strict=True)
    ]
    await _parallel(owner, rollups, "rollups (by conversations)", conversations)
    await build_days(owner)
    await _parallel(
        owner,
        [
            (
                _ATTENDANCE.format(which=WORKED),
                {"prefix": "b-", "first": date(2025, 11, 1), "last": date(2025, 11, 30)},
            )
        ],
        "attendance",
        1,
    )
    await _qa(owner)
    await _admin(with_database(server, DB_NAME), "VACUUM ANALYZE")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def line(label: str, samples: list[tuple[float, float, float, Any]]) -> str:
    walls = [x[0] for x in samples]
    return (
        f"{label}: p50 {pct(walls, 50) * 1000:.0f} ms, p95 {pct(walls, 95) * 1000:.0f} ms, best "
        f"{min(walls) * 1000:.0f} ms over {len(walls)}; CPU median "
        f"{statistics.median(x[1] for x in samples):.3f}"
        f" s here, {statistics.median(x[2] for x in samples):.3f} s PostgreSQL; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )


async def main() -> None:
    from service.scorecard import service

    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000_000)
    parser.add_argument(
        "--reuse", action="store_true", help="keep sw_bench_scorecard when it is already built"
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    server = _server_url()
    owner = with_database(server, DB_NAME)
    build_s = await prepared(
        server,
        DB_NAME,
        args.conversations,
        args.reuse,
        build,
        "on 500 shops of 200 brands, 3 sites, 400 teams, 4,000 agents",
    )
    counts = {
        t: await _scalar(owner, f"SELECT count(*) FROM {t}")
        for t in (
            "conversations",
            "shop_interval_stats",
            "work_sessions",
            "qa_reviews",
            "pulse_answers",
            "shops",
            "tenants",
            "sites",
            "agent_teams",
            "agents",
        )
    }
    print(
        "database: "
        + ", ".join(f"{v:,} {k}" for k, v in counts.items())
        + f"; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    db = Database(make_engine(with_database(server, DB_NAME, APP_ROLE), 4))
    try:
        cpu = await Cpu.of(db)
        async with db.transaction(OPS.scope) as session:
            await session.execute(text("DELETE FROM scorecard_shop_days WHERE day >= '2025-11-01'"))
            await session.execute(text("DELETE FROM scorecard_shop_months WHERE month = '2025-11-01'"))

        async def refresh(month: str) -> Any:
            async with db.transaction(OPS.scope) as session:
                return await service.refresh_facts(session, service.parse_month(month))

        facts = await cpu.measure(lambda: refresh("2025-11"))
        print(
            f"facts: November of {facts[3].shops} shops ({facts[3].days:,} shop-days) in {facts[0]:.2f} s; "
            f"CPU {facts[1]:.2f} s here, {facts[2]:.2f} s PostgreSQL"
        )
        for m in ("2025-06", "2025-07", "2025-08", "2025-09", "2025-10"):
            await refresh(m)  # the trend's months with data

        async def month() -> Any:
            async with db.transaction(OPS.scope) as session:
                return await service.month_scorecards(session, "2025-11")

        first = await cpu.measure(month)
        samples = [first] + [await cpu.measure(month) for _ in range(args.runs - 1)]
        kinds: dict[str, int] = {}
        for c in first[3].items:
            kinds[c.scope] = kinds.get(c.scope, 0) + 1
        flags = sum(len(c.flags) for c in first[3].items)
        print(f"  scorecards: {', '.join(f'{v:,} {k}' for k, v in kinds.items())}; {flags:,} flags")
        print(line("month, every scope", samples))

        async with db.transaction(OPS.scope) as session:
            shop_ids = [
                str(s) for s in (await session.execute(text("SELECT id FROM shops ORDER BY id"))).scalars()
            ]
            site_id = str(
                (await session.execute(text("SELECT id FROM sites ORDER BY name LIMIT 1"))).scalar_one()
            )
        picked = random.Random(5).sample(shop_ids, 20)

        async def shop_trend(shop: str) -> Any:
            async with db.transaction(OPS.scope) as session:
                return await service.trend(session, "shop", shop, "2025-11")

        trend = [await cpu.measure(lambda s=s: shop_trend(s)) for _ in range(args.runs) for s in picked]
        print(line("one shop's 12-month trend", trend))

        async def site_trend() -> Any:
            async with db.transaction(OPS.scope) as session:
                return await service.trend(session, "site", site_id, "2025-11")

        staff = [await cpu.measure(site_trend) for _ in range(args.runs)]
        print(line("one site's 12-month trend (staff)", staff))
    finally:
        await db.dispose()
    month_s = statistics.median(x[0] for x in samples)
    print(
        f"RESULT conversations={counts['conversations']} work_sessions={counts['work_sessions']} "
        f"qa_reviews={counts['qa_reviews']} pulse_answers={counts['pulse_answers']} facts_s={facts[0]:.2f} "
        f"month_all_scopes_s={month_s:.2f} month_p95_s={pct([x[0] for x in samples], 95):.2f} "
        f"shop_trend_p50_ms={pct([x[0] for x in trend], 50) * 1000:.0f} "
        f"shop_trend_p95_ms={pct([x[0] for x in trend], 95) * 1000:.0f} "
        f"site_trend_p50_ms={pct([x[0] for x in staff], 50) * 1000:.0f} load={os.getloadavg()[0]:.2f}"
        + (f" build_s={build_s:.0f}" if build_s else "")
    )


if __name__ == "__main__":
    asyncio.run(main())
