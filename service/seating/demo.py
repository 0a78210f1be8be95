"""The demo's actual attendance: what the agents worked over the demo's history (at least the 90 days ending
yesterday, from the first of the month two months back when that is earlier, so finance's closed months are
whole), sent as one platform export through the seating ingest (service.seating.actuals): reproducible from
the seed and the day.

Every agent employed on a day serves a shop of its brand (STAFFING: the brands' share of the agents follows
their volume of conversations): workdays of 8 worked hours with a lunch hour (one day in six with 90 minutes
of overtime), one Saturday in four; the loss leader's agents every workday; part-timers and interns 4
hours on workdays, as their rules allow. From three weeks before the story's peak (Double 11 when it is in
the history) to two weeks after it (the returns), a few Hangzhou agents on the KA brands' busiest shops
work 12-hour days: over the China cap of 36 overtime hours in the peak's month, while their shops' SLAs
hold (the scorecard flags that site as burning out).
Supervisors and managers work comprehensive hours (their rule set, from the seating demo).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import text

from service.kit.batches import IngestAnswer
from service.kit.db import Database
from service.kit.identity import OPERATOR
from service.kit.records import latest_timestamp
from service.kit.time import DEFAULT_TZ, local_day_start
from service.seating.actuals import ingest_work_session_records
from service.seating.calendar import CHINA_2026

SEED = 20261111
DAYS = 90
STAFFING = (("inkleaf", 6), ("pawsome", 2), ("mochi-home", 12), ("zest-kitchen", 16), ("northpeak", 24),
            ("lumi-beauty", 60))
LOSS_LEADER = "inkleaf"
BURNING_SITE = "Hangzhou"
BURNING_AGENTS = 6  # Hangzhou agents of the KA brands on 12-hour days before the peak
RUN_UP, AFTERMATH = timedelta(days=20), timedelta(days=14)  # the burn: the peak's run-up and its returns
PART_TIMERS = ("part_time", "intern")  # their rule set: 4 normal hours a day and no overtime at all


class Agent(NamedTuple):
    id: uuid.UUID
    code: str
    hired_on: date
    left_on: date | None
    city: str
    employment_type: str


def first_day(today: date, days: int = DAYS) -> date:
    """The first day of the attendance: DAYS before TODAY, or the first of the month two months back."""
    month = today.replace(day=1)
    two_back = (((month - timedelta(days=1)).replace(day=1)) - timedelta(days=1)).replace(day=1)
    return min(today - timedelta(days=days), two_back)


def sessions(rng: random.Random, agents: Sequence[Agent], shops: Sequence[Any], first: date, last: date,
             peak_end: date | None = None) -> list[dict[str, Any]]:
    """The work sessions of every agent employed on a day from FIRST to LAST (local days), as records of an
    export (see the module doc). PEAK_END: the story peak's last day (its run-up burns Hangzhou)."""
    zone = ZoneInfo(DEFAULT_TZ)
    brand_of = [slug for slug, n in STAFFING for _ in range(n)]
    burning = {a.id for i, a in enumerate(agents)
               if a.city == BURNING_SITE and brand_of[i % len(brand_of)] in ("lumi-beauty", "northpeak")
               and a.employment_type == "full_time"}
    burning = set(sorted(burning)[:BURNING_AGENTS])
    out = []
    for i, agent in enumerate(agents):
        slug = brand_of[i % len(brand_of)]
        own = [s for s in shops if s.slug == slug] or list(shops)
        shop = own[0] if agent.id in burning else own[i % len(own)]
        day = max(first, agent.hired_on)
        while day <= min(last, agent.left_on or last):
            weekday = CHINA_2026.kind(day).value == "workday" if day.year == 2026 else day.weekday() < 5
            works = (slug == LOSS_LEADER and weekday) or (weekday and rng.random() < 0.93) or \
                (day.weekday() == 5 and rng.random() < 0.25 and agent.employment_type not in PART_TIMERS)
            if works:
                start = datetime.combine(day, time(9 if i % 3 else 13, rng.choice((0, 15, 30))), zone)
                minutes = 540 + (90 if weekday and rng.random() < 0.17 else 0)
                if agent.id in burning and peak_end is not None and \
                        peak_end - RUN_UP <= day <= peak_end + AFTERMATH:
                    start, minutes = start.replace(hour=9), 720  # 11 worked hours: 3 of overtime a day
                lunch, pause = start + timedelta(hours=4), 60
                if agent.employment_type in PART_TIMERS:  # 4 worked hours, a 15-minute break
                    lunch, minutes, pause = start + timedelta(hours=2), 255, 15
                out.append({"external_id": f"demo-{agent.id}-{day.isoformat()}", "agent_code": agent.code,
                            "shop_id": str(shop.id), "login": start.isoformat(),
                            "logout": (start + timedelta(minutes=minutes)).isoformat(),
                            "breaks": [[lunch.isoformat(), (lunch + timedelta(minutes=pause)).isoformat()]]})
            day += timedelta(days=1)
    return out


async def demo_agents_and_shops(db: Database) -> tuple[list[Agent], list[Any]]:
    async with db.system_transaction() as session:
        agents = [Agent(*r) for r in await session.execute(text(
            "SELECT a.id, a.code, a.hired_on, a.left_on, s.city, a.employment_type FROM agents a "
            "JOIN sites s ON s.id = a.site_id ORDER BY a.code"))]
        shops = (await session.execute(text(
            "SELECT s.tenant_id, s.id, t.slug, t.tier FROM shops s JOIN tenants t ON t.id = s.tenant_id "
            "ORDER BY t.slug, s.name"))).all()
    return agents, list(shops)


async def send(db: Database, records: Sequence[dict[str, Any]], today: date) -> IngestAnswer:
    """RECORDS as one export through the seating ingest (ops' path), in one transaction, on TODAY (the
    demo's day: nothing after it is from the future)."""
    async with db.system_transaction() as session:
        return await ingest_work_session_records(session, OPERATOR, records,
                                                 latest=latest_timestamp(local_day_start(today, DEFAULT_TZ)))


async def load_attendance_demo(db: Database, today: date, peak_end: date | None = None, seed: int = SEED
                               ) -> IngestAnswer:
    """The demo's attendance up to yesterday (see the module doc), through the ingest."""
    agents, shops = await demo_agents_and_shops(db)
    rows = sessions(random.Random(seed), agents, shops, first_day(today), today - timedelta(days=1), peak_end)
    return await send(db, rows, today)
