"""Every index and flag of a month's scorecards, on seeded random data in the database, against a plain
computation written here from the definitions: the SLA domain's own day report for attainment and the
satisfaction figures, ratings, pulses (with the anonymity threshold), attrition, overtime, QA (with the
critical-category rule), coaching coverage, the weighted client side of sites, teams and agents, the indices,
the geometric headline, the quadrant and BURN / SERVICE_RISK / BOTH with their client-index evidence; the
running-hot evidence: occupancy per site, team and agent from interval-level handle and chat-slot time (each
agent's chat-slot time on a shop times the shop's occupancy in the interval; a shop's handle time its
chat-slot time cannot absorb carried into its following intervals), hot intervals against the
scope's thresholds, overtime per agent and day over the daily norm split into a declared promotion's days
(the relaxed cap) and the others, the promotion's recovery (time off in lieu against the promotion days'
overtime, or the window's overtime against the pro-rata cap), and the intervals a published roster left
below its plan's requirement while the SLA was met anyway."""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from tests.conftest import auth
from tests.factories import add_policy, insert_rollups, random_records

OPS = auth("ops")
MONTH = date(2026, 11, 1)
NOV = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 2026-11-01 00:00 in Shanghai
CLIENT = [
    ("sla_attainment", 0.5, 1.0, 3),
    ("csat", 0.80, 0.98, 2),
    ("dsat", 0.10, 0.01, 1),
    ("conversion", 0.20, 0.60, 2),
    ("client_rating", 2.0, 5.0, 2),
]
EMPLOYEE = [
    ("enps", -50.0, 50.0, 2),
    ("wellbeing", 2.0, 4.5, 2),
    ("attrition", 1.0, 0.2, 2),
    ("overtime_vs_cap", 1.2, 0.25, 2),
    ("occupancy", 0.05, 0.8, 1),
]
PROCESS = [("qa_iqs", 60.0, 95.0, 2), ("coaching_coverage", 0.2, 0.9, 1)]
CATEGORIES = [("a", 1.0, 2, False), ("b", 2.0, 5, True), ("c", 1.5, 4, False), ("d", 1.0, 3, True)]
CAP_H = 36.0  # LabourRules' monthly overtime cap, per agent
NORM = 480  # LabourRules' daily norm (minutes); sessions are weekdays, five at most a week: 2,400 a week
PROMO = (date(2026, 11, 9), date(2026, 11, 11))  # a declared promotion: relaxed thresholds on its days
WINDOW = (date(2026, 11, 12), date(2026, 11, 25))  # its recovery window: the two weeks after
SHORT_DAYS = (date(2026, 11, 16), date(2026, 11, 17))  # the roster leaves the plan short on these days
Q = timedelta(minutes=15)


def promo_day(d: date) -> bool:
    return PROMO[0] <= d <= PROMO[1]


def score(value, worst, best):
    return None if value is None else 100.0 * min(1.0, max(0.0, (value - worst) / (best - worst)))


def index(values: dict, specs) -> float | None:
    total = weight = 0.0
    for key, worst, best, w in specs:
        s = score(values.get(key), worst, best)
        if s is not None:
            total, weight = total + w * s, weight + w
    return total / weight if weight else None


def enps(answers):
    return 100.0 * (sum(a >= 9 for a in answers) - sum(a <= 6 for a in answers)) / len(answers)


def hidden_teams(counts: dict[str, int]) -> set[str]:
    """Primary suppression below 5, then the smallest visible ones until the hidden are two or more groups
    holding 5 or more respondents (the complementary rule of people.suppressed_groups), written plainly."""
    hidden = {k for k, n in counts.items() if n < 5}
    while hidden and not (len(hidden) >= 2 and sum(counts[k] for k in hidden) >= 5):
        visible = sorted((n, k) for k, n in counts.items() if k not in hidden)
        if not visible:
            break
        hidden.add(visible[0][1])
    return hidden


def hidden_teams_of(data, month: str) -> dict[str, bool]:
    counts = {
        t: sum(1 for r in data["answers"][month] if r["team_id"] == t) for t, _ in data["teams"].values()
    }
    hidden = hidden_teams(counts)
    return {t: t in hidden for t in counts}


def review_score(ratings: dict) -> float | None:
    total = weight = 0.0
    failed = False
    for key, w, points, critical in CATEGORIES:
        v = ratings.get(key)
        if v is None:
            continue
        low, high = (0, 1) if points == 2 else (1, points)
        s = 100.0 * (v - low) / (high - low)
        total, weight = total + w * s, weight + w
        failed = failed or (critical and s < 50)
    if not weight:
        return None
    return 0.0 if failed else total / weight


@pytest.fixture(scope="module")
async def data(db, world, client):
    rng = random.Random(2026)
    nprng = np.random.default_rng(2026)
    definition = {
        "version": "reference",
        "effective_from": "2026-01",
        "headline": "geometric",
        "kpis": [
            {"key": k, "side": side, "worst": wo, "best": be, "weight": w}
            for side, specs in (("client", CLIENT), ("employee", EMPLOYEE), ("process", PROCESS))
            for k, wo, be, w in specs
        ],
    }
    assert (await client.post("/v1/scorecard/definitions", headers=OPS, json=definition)).status_code == 201
    # occupancy never runs this site hot (its own threshold), so its flags turn on overtime and eNPS
    await _thresholds(client, "site", world.site.id, "site")
    shops = world.shops_a + world.shops_b
    for shop in shops:
        await add_policy(
            client,
            shop.id,
            effective_from="2026-01-01",
            csat_target=rng.choice((0.5, 0.85)),
            response_rate_3min_target=rng.choice((0.7, 0.9)),
            conversion_rate_target=0.3,
        )
        await insert_rollups(
            db, shop.tenant_id, random_records(nprng, shop.id, 300, NOV, NOV + timedelta(days=30))
        )
    agents = [world.agent.id]
    left: dict[uuid.UUID, date | None] = {world.agent.id: None}
    hired: dict[uuid.UUID, date] = {world.agent.id: date(2025, 1, 6)}
    for i in range(9):
        h = date(2026, rng.choice((1, 6, 11)), rng.randint(1, 4))
        gone = date(2026, 11, rng.randint(5, 28)) if i % 4 == 0 else None
        body = {
            "site_id": str(world.site.id),
            "code": f"R{i}{uuid.uuid4().hex[:4]}",
            "name": f"参照{i}",
            "level": "agent",
            "loaded_hourly_cost": "40.00",
            "hired_on": h.isoformat(),
            "left_on": gone.isoformat() if gone else None,
            "max_concurrency": rng.choice((2, 3)),
        }
        r = await client.post("/v1/agents", headers=OPS, json=body)
        assert r.status_code == 201, r.text
        agents.append(uuid.UUID(r.json()["id"]))
        left[agents[-1]], hired[agents[-1]] = gone, h
    teams = {}
    for name, members in (("big", agents[:5]), ("mid", agents[5:8]), ("small", agents[8:])):
        r = await client.post(
            "/v1/teams",
            headers=OPS,
            json={"site_id": str(world.site.id), "name": name, "members": [str(a) for a in members]},
        )
        teams[name] = (r.json()["id"], members)
    # a declared promotion in the month: its days are judged by the relaxed thresholds, then its recovery
    r = await client.post(
        "/v1/promotions",
        headers=OPS,
        json={"name": "ref-promo", "start_date": PROMO[0].isoformat(), "end_date": PROMO[1].isoformat()},
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/scorecard/promotions/{r.json()['id']}", headers=OPS)
    assert r.status_code == 200, r.text
    # the scopes' own thresholds (THRESHOLDS); agents inherit their team's, then their site's
    await _thresholds(client, "shop", shops[0].id, "shop0")
    await _thresholds(client, "shop", shops[1].id, "shop1")
    await _thresholds(client, "team", teams["big"][0], "big")
    await _thresholds(client, "team", teams["mid"][0], "mid")
    low = {"values": [{"name": "occupancy", "value": 0.5}]}
    r = await client.put(f"/v1/scorecard/thresholds/team/{teams['mid'][0]}", headers=OPS, json=low)
    assert r.status_code == 422  # below the hot floor: the facts could not re-count it
    # a published roster of a plan: two agents on the first shop where the plan requires three (or one)
    required, rostered = await _short_roster(db, world, shops[0], agents[:2])
    # attendance: weekday sessions on random shops; some agents far over the overtime cap
    sessions = []
    concurrency = dict(await _rows(db, "SELECT id, max_concurrency FROM agents"))
    for a in agents:
        heavy = rng.random() < 0.4
        day = date(2026, 11, 2)
        while day <= (left[a] or date(2026, 11, 30)):
            if day.weekday() < 5 and day >= hired[a] and rng.random() < 0.8:
                shop = rng.choice(shops)
                minutes = rng.choice((600, 660)) if heavy else rng.choice((480, 480, 540))
                start = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
                sessions.append((a, shop, start, minutes))
            day += timedelta(days=1)
    async with db.system_transaction() as session:
        for k, (a, shop, start, minutes) in enumerate(sessions):
            await session.execute(
                text(
                    "INSERT INTO work_sessions (tenant_id, shop_id, external_id, agent_id, during) VALUES "
                    "(:t, :s, :x, :a, tstzrange(:lo, :hi))"
                ),
                {
                    "t": shop.tenant_id,
                    "s": shop.id,
                    "x": f"ref-{k}",
                    "a": a,
                    "lo": start,
                    "hi": start + timedelta(minutes=minutes),
                },
            )
        ratings = defaultdict(list)
        for shop in shops:
            for rater in range(rng.randint(0, 3)):
                value = rng.randint(1, 5)
                ratings[shop.id].append(value)
                await session.execute(
                    text(
                        "INSERT INTO client_ratings (tenant_id, id, shop_id, month, rater, score) "
                        "VALUES (:t, gen_random_uuid(), :s, :m, :r, :v)"
                    ),
                    {"t": shop.tenant_id, "s": shop.id, "m": MONTH, "r": f"u{rater}", "v": value},
                )
    # a few intervals of the second shop run hot: handle time at 93 % (hot on ordinary days, not on promotion
    # days) or 97 % of its chat-slot time; its own threshold (95 %) re-counts them
    cap = _capacity({"sessions": sessions, "concurrency": concurrency})
    stored = {
        at
        for (at,) in await _rows(
            db, f"SELECT interval_start FROM shop_interval_stats WHERE shop_id = '{shops[1].id}'"
        )
    }
    busy = sorted(at for (shop_id, at) in cap if shop_id == shops[1].id and at in stored)
    ordinary = [at for at in busy if not promo_day(_local(at))][:10]
    promo = [at for at in busy if promo_day(_local(at))][:6]
    async with db.system_transaction() as session:
        for k, at in enumerate(ordinary + promo):
            await session.execute(
                text(
                    "UPDATE shop_interval_stats SET handle_sum_s = :h "
                    "WHERE shop_id = :s AND interval_start = :at"
                ),
                {"h": (0.97 if k % 2 else 0.93) * cap[shops[1].id, at], "s": shops[1].id, "at": at},
            )
    # pulses: last month and this month; the small team stays under the anonymity threshold
    answers = {}
    for month, survey in (("2026-10", "ref-oct"), ("2026-11", "ref-nov")):
        rows = []
        for name, (team_id, _) in teams.items():
            n = {"big": rng.randint(5, 7), "mid": rng.randint(5, 9), "small": rng.randint(1, 3)}[name]
            mood = 8 if month == "2026-10" else 6
            rows += [
                {
                    "response_id": f"{survey}-{name}-{i}",
                    "team_id": team_id,
                    "recommend": min(10, max(0, round(rng.gauss(mood, 2)))),
                    "wellbeing": rng.randint(1, 5),
                }
                for i in range(n)
            ]
        answers[month] = rows
        r = await client.post(
            "/v1/pulses", headers=OPS, json={"survey": survey, "month": month, "answers": rows}
        )
        assert r.json()["inserted"] == len(rows), r.text
    # QA: random ratings with N/A, failing criticals now and then; one calibration review (never counted)
    template = (
        await client.post(
            "/v1/qa/templates",
            headers=OPS,
            json={
                "key": "ref",
                "name": "ref",
                "categories": [
                    {"key": k, "name": k, "weight": w, "points": p, "critical": c}
                    for k, w, p, c in CATEGORIES
                ],
            },
        )
    ).json()
    reviews = []
    for i in range(60):
        a, shop = rng.choice(agents), rng.choice(shops)
        given = {
            k: (None if rng.random() < 0.2 else rng.randint(0, 1) if p == 2 else rng.randint(1, p))
            for k, _, p, _ in CATEGORIES
        }
        if all(v is None for v in given.values()):
            given["a"] = 1
        body = {
            "shop_id": str(shop.id),
            "agent_id": str(a),
            "template_id": template["id"],
            "conversation_id": f"q{i}",
            "conversation_on": f"2026-11-{rng.randint(1, 30):02d}",
            "ratings": [{"category": k, "value": v} for k, v in given.items()],
        }
        r = await client.post("/v1/qa/reviews", headers=OPS, json=body)
        assert r.status_code == 201, r.text
        reviews.append((a, shop.id, given))
    calibration = (
        await client.post(
            "/v1/qa/calibrations",
            headers=OPS,
            json={"name": "c", "held_on": "2026-11-20", "benchmark_reviewer": "x"},
        )
    ).json()
    await client.post(
        "/v1/qa/reviews",
        headers=OPS,
        json={
            "shop_id": str(shops[0].id),
            "agent_id": str(agents[0]),
            "template_id": template["id"],
            "conversation_id": "cal",
            "conversation_on": "2026-11-05",
            "calibration_session_id": calibration["id"],
            "ratings": [{"category": "a", "value": 0}],
        },
    )
    coached = set(rng.sample(agents, 3))
    for a in coached:
        await client.post(
            "/v1/coaching",
            headers=OPS,
            json={"agent_id": str(a), "held_on": "2026-11-12", "template_id": template["id"], "areas": ["b"]},
        )
    assert (await client.post("/v1/scorecards/2026-11/refresh", headers=OPS)).status_code == 200
    cards = (await client.get("/v1/scorecards", params={"month": "2026-11"}, headers=OPS)).json()["items"]
    handle = {
        (shop_id, at): float(h)
        for shop_id, at, h in await _rows(
            db, "SELECT shop_id, interval_start, coalesce(handle_sum_s, 0) FROM shop_interval_stats"
        )
    }
    return {
        "handle": handle,
        "required": required,
        "rostered": rostered,
        "world": world,
        "shops": shops,
        "agents": agents,
        "left": left,
        "hired": hired,
        "teams": teams,
        "sessions": sessions,
        "concurrency": concurrency,
        "ratings": ratings,
        "answers": answers,
        "reviews": reviews,
        "coached": coached,
        "cards": {(c["scope"], c["scope_id"]): c for c in cards},
    }


THRESHOLDS = {  # per scope, what the test sets (the others keep the defaults)
    "site": {"hot_intervals": 100000, "overtime_cap_share": 0.4},
    "shop0": {"sla_met": 0.0},  # understaffing counts whatever the SLA
    "shop1": {"occupancy": 0.95},
    "big": {"sla_met": 0.0, "promotion_overtime_cap_share": 0.1},
    "mid": {"hot_intervals": 2, "occupancy": 0.92},
}
DEFAULTS = {
    "hot_intervals": 8,
    "occupancy": 0.90,
    "promotion_occupancy": 0.95,
    "overtime_cap_share": 1.0,
    "promotion_overtime_cap_share": 1.0,
    "sla_met": 1.0,
}


def thresholds(*names: str) -> dict:
    """The defaults with the named scopes' overrides applied in order (the farthest first)."""
    out = dict(DEFAULTS)
    for name in names:
        out.update(THRESHOLDS.get(name, {}))
    return out


async def _thresholds(client, kind, scope_id, name):
    values = [{"name": k, "value": v} for k, v in THRESHOLDS[name].items()]
    r = await client.put(f"/v1/scorecard/thresholds/{kind}/{scope_id}", headers=OPS, json={"values": values})
    assert r.status_code == 200, r.text


async def _short_roster(db, world, shop, agents):
    """A plan (lines for SHOP on SHORT_DAYS, 10:00-12:00 local: three agents required, then one) and its
    published roster putting AGENTS on the shop 10:00-12:00 (a 09:00-13:00 shift), written as rows."""
    required: dict[datetime, int] = {}
    rostered: dict[datetime, set] = defaultdict(set)
    async with db.system_transaction() as session:
        plan = (
            await session.execute(
                text(
                    "INSERT INTO capacity_plans (id, name, starts_at, ends_at, model, seats, params, status, "
                    "created_by, summary) VALUES (gen_random_uuid(), 'ref plan', :lo, :hi, 'erlang_c', '{}', "
                    "'{}', 'complete', 'ref', '{}') RETURNING id"
                ),
                {"lo": NOV, "hi": NOV + timedelta(days=30)},
            )
        ).scalar_one()
        roster = (
            await session.execute(
                text(
                    "INSERT INTO rosters (id, plan_id, name, status, mode, starts_at, ends_at, summary, "
                    "created_by) VALUES (gen_random_uuid(), :p, 'ref roster', 'published', 'fast', :lo, :hi, "
                    "'{}', 'ref') RETURNING id"
                ),
                {"p": plan, "lo": NOV, "hi": NOV + timedelta(days=30)},
            )
        ).scalar_one()
        for day in SHORT_DAYS:
            ten = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)  # 10:00 in Shanghai
            for q in range(8):
                at = ten + q * Q
                required[at] = 3 if q < 6 else 1
                await session.execute(
                    text(
                        "INSERT INTO capacity_plan_lines (tenant_id, plan_id, shop_id, interval_start, "
                        "forecast_volume, required, scheduled, allocated, expected_service_level) VALUES "
                        "(:t, :p, :s, :at, 10, :r, :r, :r, 0.8)"
                    ),
                    {"t": shop.tenant_id, "p": plan, "s": shop.id, "at": at, "r": required[at]},
                )
            for a in agents:
                shift = (
                    await session.execute(
                        text(
                            "INSERT INTO shifts (id, roster_id, agent_id, site_id, status, source, during, "
                            "created_by, updated_by) VALUES (gen_random_uuid(), :r, :a, :site, 'published', "
                            "'roster', tstzrange(:lo, :hi), 'ref', 'ref') RETURNING id"
                        ),
                        {"r": roster, "a": a, "site": world.site.id, "lo": ten - 4 * Q, "hi": ten + 12 * Q},
                    )
                ).scalar_one()
                await session.execute(
                    text(
                        "INSERT INTO shift_assignments (tenant_id, id, shift_id, shop_id, during, "
                        "created_by, updated_by) VALUES (:t, gen_random_uuid(), :sh, :s, "
                        "tstzrange(:lo, :hi), 'ref', 'ref')"
                    ),
                    {"t": shop.tenant_id, "sh": shift, "s": shop.id, "lo": ten, "hi": ten + 8 * Q},
                )
                for q in range(8):
                    rostered[ten + q * Q].add(a)
    return {(shop.id, at): n for at, n in required.items()}, {(shop.id, at): a for at, a in rostered.items()}


async def _rows(db, sql):
    async with db.system_transaction() as session:
        return (await session.execute(text(sql))).all()


async def _shop_figures(client, shop) -> dict:
    """The SLA domain's own day report: verdicts met of judged over the month's days, and its totals."""
    report = (
        await client.get(
            f"/v1/shops/{shop.id}/sla",
            headers=OPS,
            params={"from": "2026-11-01", "to": "2026-12-01", "granularity": "day"},
        )
    ).json()
    verdicts = [v for b in report["buckets"] for v in b["verdicts"]]
    total = report["total"]
    return {
        "met": sum(v["met"] for v in verdicts),
        "judged": len(verdicts),
        "csat_n": total["csat_count"] if "csat_count" in total else None,
        "csat": total["csat"],
        "dsat": total["dsat"],
        "conversion": total["conversion_rate"],
    }


def _kpi(card, key):
    return next(k for k in card["kpis"] if k["key"] == key)["value"]


def _approx(a, b):
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-6))


def _check_flags(card, client_index, hot: bool, recovery_failed: bool = False):
    kinds = [f["kind"] for f in card["flags"]]
    after = ["RECOVERY_FAILED"] if recovery_failed else []
    if client_index is None:
        assert kinds == after
    elif client_index >= 70:
        assert kinds == (["BURN"] if hot else []) + after, card["name"]
    else:
        assert kinds == (["BOTH"] if hot else ["SERVICE_RISK"]) + after, card["name"]
    for f in card["flags"]:
        if f["kind"] == "RECOVERY_FAILED":
            continue
        e = f["evidence"][0]
        assert (e["metric"], e["threshold"], e["period_start"], e["period_end"]) == (
            "client_index",
            70.0,
            "2026-11-01",
            "2026-11-30",
        )
        assert math.isclose(e["value"], client_index)


def _local(at: datetime) -> date:
    return (at + timedelta(hours=8)).date()


def _overtime_days(data) -> dict:
    """Overtime minutes per agent and local day: the day's minutes over the daily norm (one session a day)."""
    out: dict = defaultdict(dict)
    for a, _, start, minutes in data["sessions"]:
        out[a][_local(start)] = max(0, minutes - NORM)
    return out


def _capacity(data) -> dict:
    """Chat-slot seconds per (shop, interval): the sessions cover whole quarter hours."""
    cap: dict = defaultdict(float)
    for a, shop, start, minutes in data["sessions"]:
        for q in range(minutes // 15):
            cap[shop.id, start + q * Q] += 900 * data["concurrency"][a]
    return cap


def _worked(data) -> dict:
    """Handle seconds worked per (shop, interval) of the month: each shop's intervals in time order, an
    interval working the handle time of the chats that start in it plus what earlier intervals left, up to its
    chat-slot seconds; the rest waits for the next interval (all of it where nobody is logged in)."""
    cap = _capacity(data)
    end = NOV + timedelta(days=30)
    out: dict = {}
    for shop in data["shops"]:
        at, left = NOV, 0.0
        while at < end:
            load = left + data["handle"].get((shop.id, at), 0.0)
            out[shop.id, at] = min(load, cap.get((shop.id, at), 0.0))
            left = load - out[shop.id, at]
            at += Q
    return out


def _hot(occupancy: dict, t: dict) -> int:
    """Intervals (keyed by their start) above the occupancy threshold on ordinary days plus above the
    promotion's on promotion days."""
    limit = {True: t["promotion_occupancy"], False: t["occupancy"]}
    return sum(1 for at, v in occupancy.items() if v > limit[promo_day(_local(at))])


def _group_load(data, members) -> tuple[float | None, dict]:
    """A group's occupancy: per interval, each member's chat-slot seconds on a shop times the shop's handle
    time over all chat-slot seconds on it then, summed, over the members' chat-slot seconds."""
    cap, worked = _capacity(data), _worked(data)
    h: dict = defaultdict(float)
    c: dict = defaultdict(float)
    for a, shop, start, minutes in data["sessions"]:
        if a not in members:
            continue
        for q in range(minutes // 15):
            at, slot = start + q * Q, 900 * data["concurrency"][a]
            h[at] += slot * worked[shop.id, at] / cap[shop.id, at]
            c[at] += slot
    total = sum(c.values())
    return (sum(h.values()) / total if total else None), {at: h[at] / c[at] for at in c}


def _understaffed(data, members=(), shops=()) -> int:
    """Plan intervals rostered below requirement: on SHOPS, or with one of MEMBERS rostered there."""
    n = 0
    for key, required in data["required"].items():
        on = data["rostered"].get(key, set())
        if len(on) < required and (key[0] in shops or on & set(members)):
            n += 1
    return n


def _overtime_hot(ot: dict, weights: dict, t: dict) -> tuple[bool, float, float, float]:
    """Overtime of weighted agents split into promotion days and the others, each against its share of the
    monthly cap: (hot, ordinary hours, promotion hours, cap hours). Hot: the group's overtime over its agents'
    caps summed, or any one agent's over its own cap (ordinary days against the normal share, promotion days
    against the relaxed one)."""
    ordinary = promo = cap = 0.0
    agent_hot = False
    for a, w in weights.items():
        own = {True: 0.0, False: 0.0}  # promotion day or not: the agent's own hours
        for d, m in ot.get(a, {}).items():
            own[promo_day(d)] += m / 60.0
        promo += w * own[True]
        ordinary += w * own[False]
        cap += w * CAP_H
        over = (
            own[False] > t["overtime_cap_share"] * CAP_H
            or own[True] > t["promotion_overtime_cap_share"] * CAP_H
        )
        agent_hot = agent_hot or (w > 0 and over)
    hot = (
        ordinary > t["overtime_cap_share"] * cap
        or promo > t["promotion_overtime_cap_share"] * cap
        or agent_hot
    )
    return bool(weights) and hot, ordinary, promo, cap


def _agent_over(ot: dict, members, share: float, promotion: bool) -> tuple[int, float]:
    """How many of MEMBERS (weight 1) worked more overtime than SHARE x their cap on promotion days (or the
    others), and the most one of them worked (h)."""
    hours = [sum(m for d, m in ot.get(a, {}).items() if promo_day(d) == promotion) / 60.0 for a in members]
    over = [h for h in hours if h > share * CAP_H]
    return len(over), max(over, default=0.0)


def _shop_weights(data, shop_ids) -> dict:
    """Agents who worked SHOP_IDS, each weighted by its share of the month's chat-slot time spent there."""
    mine: dict = defaultdict(float)
    total: dict = defaultdict(float)
    for a, shop, _, minutes in data["sessions"]:
        total[a] += minutes
        if shop.id in shop_ids:
            mine[a] += minutes
    return {a: mine[a] / total[a] for a in mine}


def _evidence(card, metric):
    return next((e for f in card["flags"] for e in f["evidence"] if e["metric"] == metric), None)


async def test_shops_and_brands(client, data):
    counters: dict = {}
    for shop in data["shops"]:
        f = await _shop_figures(client, shop)
        counters[shop.id] = f
        card = data["cards"]["shop", str(shop.id)]
        values = {
            "sla_attainment": f["met"] / f["judged"] if f["judged"] else None,
            "csat": f["csat"],
            "dsat": f["dsat"],
            "conversion": f["conversion"],
            "client_rating": (
                sum(data["ratings"][shop.id]) / len(data["ratings"][shop.id])
                if data["ratings"][shop.id]
                else None
            ),
        }
        for key, value in values.items():
            assert _approx(_kpi(card, key), value), (shop.name, key)
        c = index(values, CLIENT)
        assert _approx(card["client_index"], c)
        name = {data["shops"][0].id: "shop0", data["shops"][1].id: "shop1"}.get(shop.id, "")
        hot, short = _shop_hot(data, {shop.id}, values["sla_attainment"], thresholds(name))
        _check_flags(card, c, hot)  # no pulse at a shop
        if shop is data["shops"][0]:  # its own threshold: understaffing counts whatever the SLA
            assert short == 12 and hot
            if c is not None:
                assert _evidence(card, "understaffed_intervals")["value"] == short
    for tenant in (data["world"].tenant_a, data["world"].tenant_b):  # a brand: its shops' counters summed
        shops = [counters[s.id] for s in data["shops"] if s.tenant_id == tenant.id]
        brand = data["cards"]["brand", str(tenant.id)]
        met, judged = sum(f["met"] for f in shops), sum(f["judged"] for f in shops)
        assert _approx(_kpi(brand, "sla_attainment"), met / judged)
        ids = {s.id for s in data["shops"] if s.tenant_id == tenant.id}
        hot, _ = _shop_hot(data, ids, met / judged, thresholds())
        _check_flags(brand, brand["client_index"], hot)


def _shop_hot(data, shop_ids, sla, t: dict) -> tuple[bool, int]:
    """A shop's (or a brand's: its shops') running-hot tests under thresholds T, plainly: its intervals
    above the occupancy threshold (the promotion's on promotion days), its agents' overtime weighted by
    their time there, its understaffed intervals with the SLA met."""
    cap, worked = _capacity(data), _worked(data)
    hot_count = 0
    for shop_id in shop_ids:  # a brand's hot intervals are its shops'
        occupancy = {at: worked[s, at] / c for (s, at), c in cap.items() if s == shop_id}
        hot_count += _hot(occupancy, t)
    overtime_hot, *_ = _overtime_hot(_overtime_days(data), _shop_weights(data, shop_ids), t)
    short = _understaffed(data, shops=shop_ids)
    understaffed = short >= 4 and sla is not None and sla >= t["sla_met"]
    return hot_count >= t["hot_intervals"] or overtime_hot or understaffed, short


def _employee(data, members, hidden: bool, kind_key: str | None, t: dict, hidden_before: bool = False):
    """The employee KPIs of a group of agents, plainly, and its running-hot inputs (the SLA test aside)."""
    period_days = 30
    heads = [
        sum(
            1
            for a in members
            if data["hired"][a] <= MONTH + timedelta(days=d)
            and (data["left"][a] is None or data["left"][a] >= MONTH + timedelta(days=d))
        )
        for d in range(period_days)
    ]
    leavers = sum(1 for a in members if data["left"][a] and data["left"][a].month == 11)
    average = sum(heads) / period_days
    ot = _overtime_days(data)
    worked = {a for a, _, _, _ in data["sessions"]}
    ot_members = [a for a in members if a in worked]
    overtime_hot, ordinary, promo, cap = _overtime_hot(ot, {a: 1.0 for a in ot_members}, t)
    occupancy, by_interval = _group_load(data, set(members))
    values = {
        "attrition": leavers / average * 365 / period_days if average else None,
        "overtime_vs_cap": (ordinary + promo) / cap if ot_members else None,
        "occupancy": occupancy,
    }
    answers = [r for r in data["answers"]["2026-11"] if kind_key is None or r["team_id"] == kind_key]
    before = [r for r in data["answers"]["2026-10"] if kind_key is None or r["team_id"] == kind_key]
    if not hidden and answers:
        values["enps"] = enps([r["recommend"] for r in answers])
        values["wellbeing"] = sum(r["wellbeing"] for r in answers) / len(answers)
    hot = overtime_hot
    if not hidden and answers and before and not hidden_before:
        hot = hot or enps([r["recommend"] for r in before]) - values["enps"] > 10
    window_ot = sum(
        m / 60.0 for a in ot_members for d, m in ot.get(a, {}).items() if WINDOW[0] <= d <= WINDOW[1]
    )
    window_days = (WINDOW[1] - WINDOW[0]).days + 1
    workdays = sum(1 for k in range(window_days) if (WINDOW[0] + timedelta(days=k)).weekday() < 5)
    normal = defaultdict(int)  # normal minutes worked in the window: weekday sessions, 480 at most
    for a, _, start, minutes in data["sessions"]:
        if WINDOW[0] <= _local(start) <= WINDOW[1]:
            normal[a] += min(minutes, NORM)
    # time off in lieu: the norm's hours of the window's workdays not worked, up to the agent's own
    # promotion-day overtime
    rest = sum(
        min(workdays * NORM - normal[a], sum(m for d, m in ot.get(a, {}).items() if promo_day(d))) / 60.0
        for a in ot_members
    )
    window_cap = t["overtime_cap_share"] * CAP_H * len(ot_members) * window_days / 30
    extra = {
        "agent_over": _agent_over(ot, ot_members, t["overtime_cap_share"], False),
        "agent_over_promotion": _agent_over(ot, ot_members, t["promotion_overtime_cap_share"], True),
        "hot_intervals": _hot(by_interval, t),
        "understaffed": _understaffed(data, members=members),
        "promotion_overtime": promo,
        "window_overtime": window_ot,
        "window_cap": window_cap,
        "window_rest": rest,
        "hot_intervals_window": sum(
            1 for at, v in by_interval.items() if v > t["occupancy"] and WINDOW[0] <= _local(at) <= WINDOW[1]
        ),
    }
    return values, hot, extra


def _client_side(data, members):
    """The client counters of the shops MEMBERS worked, each weighted by their share of its chat-slot time."""
    weight = defaultdict(float)
    total = defaultdict(float)
    for a, shop, _, minutes in data["sessions"]:
        w = minutes * 60 * data["concurrency"][a]
        total[shop.id] += w
        if a in members:
            weight[shop.id] += w
    return weight, total


def _quality(data, keep):
    scores = [
        s for a, shop, given in data["reviews"] if keep(a, shop) if (s := review_score(given)) is not None
    ]
    return sum(scores) / len(scores) if scores else None


async def test_sites_teams_and_agents(client, data):
    world = data["world"]
    figures = {shop.id: await _shop_figures(client, shop) for shop in data["shops"]}
    hidden, before = (hidden_teams_of(data, m) for m in ("2026-11", "2026-10"))
    groups = [("site", str(world.site.id), data["agents"], False, None)]
    groups += [("team", t, members, hidden[t], t) for t, members in data["teams"].values()]
    groups += [("agent", str(a), [a], True, None) for a in {a for a, _, _, _ in data["sessions"]}]
    for kind, key, members, pulse_hidden, team in groups:
        card = data["cards"][kind, key]
        names = {tid: name for name, (tid, _) in data["teams"].items()}
        team_of = {a: names[tid] for tid, ms in data["teams"].values() for a in ms}
        own = (
            names.get(key, "")
            if kind == "team"
            else team_of.get(uuid.UUID(key), "")
            if kind == "agent"
            else ""
        )
        t = thresholds("site", own)  # the site's overrides, then the team's (an agent's: its team's)
        values, hot, extra = _employee(
            data,
            members,
            pulse_hidden or kind == "agent",
            team,
            t,
            before.get(team, False) if team else False,
        )
        if kind == "agent":
            values.pop("attrition", None)
        weight, total = _client_side(data, set(members))
        met = judged = 0.0
        for shop in data["shops"]:
            if weight[shop.id] == 0:
                continue
            share = weight[shop.id] / total[shop.id]
            f = figures[shop.id]
            met, judged = met + share * f["met"], judged + share * f["judged"]
        values["sla_attainment"] = met / judged if judged else None
        for k in ("sla_attainment", "enps", "wellbeing", "attrition", "overtime_vs_cap", "occupancy"):
            if k in values:
                assert _approx(_kpi(card, k), values[k]), (kind, card["name"], k)
        assert _kpi(card, "enps") is None if pulse_hidden or kind == "agent" else True
        values.update({k: _kpi(card, k) for k in ("csat", "dsat", "conversion")})  # weighted as the SLA one
        c = index(values, CLIENT)
        e = index(values, EMPLOYEE)
        iqs = _quality(data, lambda a, _s, m=set(members): a in m)
        coverage = (
            len(data["coached"] & set(members))
            / len([a for a in members if data["left"][a] is None or data["left"][a] >= MONTH])
            if kind != "agent"
            else None
        )
        assert _approx(card["process"]["iqs"], iqs), (kind, card["name"])
        if coverage is not None:
            assert math.isclose(card["process"]["coaching_coverage"], coverage)
        p = index({"qa_iqs": iqs, "coaching_coverage": coverage}, PROCESS)
        assert _approx(card["client_index"], c) and _approx(card["employee_index"], e), (kind, card["name"])
        assert _approx(card["process_index"], p)
        assert _approx(card["headline"], math.sqrt(c * e) if c is not None and e is not None else None)
        if c is not None and e is not None:
            assert (
                card["quadrant"]
                == {
                    (False, False): "balanced",
                    (False, True): "burning",
                    (True, False): "service_risk",
                    (True, True): "both_low",
                }[c < 70, e < 70]
            )
        # The scope's thresholds: the site never runs hot on occupancy (hot_intervals 100,000); understaffing
        # counts whatever the SLA for the big team and its agents (sla_met 0), else with every target met.
        sla_met = t["sla_met"]
        hot = hot or extra["hot_intervals"] >= t["hot_intervals"]
        short = extra["understaffed"]
        sla = values["sla_attainment"]
        hot = hot or (short >= 4 and sla is not None and sla >= sla_met)
        if kind == "team" and key == data["teams"]["big"][0]:
            assert short == 12 and hot
        failed = False
        if kind == "site":
            (recovery,) = card["recoveries"]
            assert (recovery["promotion"], recovery["window_start"], recovery["window_end"]) == (
                "ref-promo",
                WINDOW[0].isoformat(),
                WINDOW[1].isoformat(),
            )
            rested = extra["window_rest"] >= extra["promotion_overtime"] - 1e-9
            under = extra["window_overtime"] <= extra["window_cap"] + 1e-9
            failed = not (rested or under)
            assert recovery["state"] == ("failed" if failed else "met")
            measured = {e["metric"]: e for e in recovery["evidence"]}
            if not failed:
                assert measured["recovery_hot_intervals"]["value"] == extra["hot_intervals_window"]
            overtime, lieu = measured["recovery_overtime_hours"], measured["compensatory_rest_hours"]
            assert math.isclose(overtime["value"], extra["window_overtime"], abs_tol=1e-6)
            assert math.isclose(overtime["threshold"], extra["window_cap"], abs_tol=1e-6)
            assert math.isclose(lieu["value"], extra["window_rest"], abs_tol=1e-6)
            assert math.isclose(lieu["threshold"], extra["promotion_overtime"], abs_tol=1e-6)
        else:
            assert card["recoveries"] == []
        _check_flags(card, c, hot, failed)
        if c is not None and c >= 70 and hot and short >= 4 and sla is not None and sla >= sla_met:
            assert _evidence(card, "understaffed_intervals")["value"] == short
        promo = _evidence(card, "overtime_hours_promotion_days")
        if promo is not None:
            assert math.isclose(promo["value"], extra["promotion_overtime"], abs_tol=1e-6)
        for metric, key, share in (
            ("agent_overtime_hours_ordinary_days", "agent_over", t["overtime_cap_share"]),
            (
                "agent_overtime_hours_promotion_days",
                "agent_over_promotion",
                t["promotion_overtime_cap_share"],
            ),
        ):
            found, (count, most) = _evidence(card, metric), extra[key]
            if c is not None and c >= 70 and count:  # BURN (BOTH too) lists the agent test with its figures
                assert found is not None and math.isclose(found["value"], most, abs_tol=1e-6), (
                    card["name"],
                    metric,
                )
                assert math.isclose(found["threshold"], share * CAP_H) and found["note"].startswith(
                    f"{count} agent"
                )
            elif not count:
                assert found is None, (card["name"], metric)


async def test_the_shop_process_index_keeps_the_critical_rule(data):
    for shop in data["shops"]:
        card = data["cards"]["shop", str(shop.id)]
        assert _approx(card["process"]["iqs"], _quality(data, lambda _a, s, sid=shop.id: s == sid))
    failing = [g for _, _, g in data["reviews"] if g["b"] is not None and g["b"] <= 2]
    assert failing and all(review_score(g) == 0 for g in failing)


def test_the_random_data_reaches_every_case(data):
    """The seeded data holds what the checks above are about: each flag kind, a hidden team, hot agents."""
    kinds = {f["kind"] for c in data["cards"].values() for f in c["flags"]}
    assert {"BURN", "SERVICE_RISK"} <= kinds or {"BOTH", "SERVICE_RISK"} <= kinds, kinds
    small = data["cards"]["team", data["teams"]["small"][0]]
    visible = [_kpi(data["cards"]["team", data["teams"][t][0]], "enps") is not None for t in ("big", "mid")]
    assert _kpi(small, "enps") is None and sorted(visible) == [False, True]  # one hidden beside the small one
    assert any(c["headline"] is not None and c["quadrant"] for c in data["cards"].values())
    assert any(_kpi(c, "attrition") for c in data["cards"].values() if c["scope"] in ("site", "team"))
    # the evidence this test checks: understaffing, the promotion's overtime, the site's recovery judged
    for metric in (
        "understaffed_intervals",
        "hot_intervals",
        "overtime_hours_promotion_days",
        "agent_overtime_hours_ordinary_days",
        "agent_overtime_hours_promotion_days",
    ):
        assert any(_evidence(c, metric) for c in data["cards"].values()), metric
    site = data["cards"]["site", str(data["world"].site.id)]
    assert site["recoveries"][0]["state"] in ("met", "failed")
    assert any(_kpi(c, "occupancy") for c in data["cards"].values() if c["scope"] == "agent")
