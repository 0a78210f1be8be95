"""The demo's actual attendance: what the agents worked over the demo's history (at least the 90 days ending
yesterday, from the first of the month two months back when that is earlier, so finance's closed months are
whole), sent as one platform export through the seating ingest (service.seating.actuals): reproducible from
the seed, the day and the conversations (the rollups' handle time).

The floor is staffed for its load, interval by interval, as a real contact centre is: each shop's handle time
in a 15-minute interval needs that many agents logged in (at the least-concurrent agent's chat slots; the
demo's agents take one chat at a time) to keep occupancy at or under TARGET (a quiet hour between busy
intervals keeps its agent); the agents needed stack into runs cut into logins of at most six hours, handed out
in turn to the brand's agents employed that day, then to the other brands' (STAFFING: the brands' share of the
agents follows their volume; part-timers and interns take one login of at most four hours, as their rules
allow; more logins on any shop, not overlapping, eight hours a day at most, eleven on the peak's days). Full-
timers work comprehensive hours by the month (the seating demo's rule sets): a weekend login is a rota's
workday, and overtime is what a month's hours run over its allowance. The loss leader's agents work its shops
every workday, eight hours with a lunch hour, whatever its few chats need (its negative margin); its calm shop
with unhappy buyers (CALM) is worked by its Hangzhou agents, so that shop's low CSAT weighs on the burning
floor's client index (which has room for it) rather than on a small floor's. The thin shops have home
floors (HOMES, service.demo.THIN_HOMES): their agents serve them first, at the peak too, so no floor's client
index sits at the edge. So occupancy
reads like a contact centre's: 40-85 % by the day, the busy intervals near the target, the quiet ones low.

The story's peak (Double 11 when it is in the history): on the promotion's days the KA brands' shops are
served by Hangzhou's floor alone (its agents of every brand but the loss leader's), staffed to PEAK_TARGET
(about 95 % occupancy, never over full while its agents last, with the seasonal temps Hangzhou hires for
the peak's last days, service.demo.TEMPS; on the spike day should they run out, the other
floors lend full-timers for what is left, over their hours, once their own shops are staffed (not their
part-timers and interns: their rules allow no overtime); what still no one
takes carries over into the following intervals, attendance.carry_over), the other floors serving the other
brands; from three weeks before the peak's last day to two weeks
after it (the returns) a few of them (BURNING_AGENTS) work 12-hour days (eleven hours worked) every day on the
busiest KA shop, over the China cap of 36 overtime hours in the peak's month, while their shops' SLAs hold:
the scorecard flags that site as burning out and tracks its recovery in the two weeks after the peak.
Supervisors and managers work comprehensive hours too (their rule set, from the seating demo).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from itertools import chain
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
KA_BRANDS = ("lumi-beauty", "northpeak")
BURNING_SITE = "Hangzhou"
BURNING_AGENTS = 6  # Hangzhou agents of the KA brands on 12-hour days around the peak
RUN_UP, AFTERMATH = timedelta(days=20), timedelta(days=14)  # the burn: the peak's run-up and its returns
PART_TIMERS = ("part_time", "intern")  # their rule set: 4 normal hours a day and no overtime at all
TARGET = 0.88  # occupancy an interval is staffed for at most (at the least-concurrent agent's slots)
PEAK_TARGET = 0.97  # Hangzhou on the peak's days: staffed to the load, near full occupancy
INTERVALS = 96
LOGIN = 24  # intervals: a login lasts at most six hours
PEAK_LOGIN = 32  # eight hours on the peak's days
PART_LOGIN = 16  # four hours for part-timers and interns
GAP = 4  # a quiet hour between busy intervals keeps its agent logged in
ALLOWANCE = 10440 // 15  # intervals: comprehensive hours' monthly normal time (174 h), pro rata by the day
PART_WEEK = 96  # intervals: part-timers' 24 hours a week


class Agent(NamedTuple):
    id: uuid.UUID
    code: str
    hired_on: date
    left_on: date | None
    city: str
    employment_type: str
    concurrency: int = 4


def first_day(today: date, days: int = DAYS) -> date:
    """The first day of the attendance: DAYS before TODAY, or the first of the month two months back."""
    month = today.replace(day=1)
    two_back = (((month - timedelta(days=1)).replace(day=1)) - timedelta(days=1)).replace(day=1)
    return min(today - timedelta(days=days), two_back)


def _runs(need: Sequence[int]) -> list[tuple[int, int]]:
    """The agents NEED[t] per interval stacked into runs [start, end) of one agent each (layer by layer)."""
    out = []
    for layer in range(max(need, default=0)):
        t = 0
        while t < len(need):
            if need[t] > layer:
                start = t
                while t < len(need) and need[t] > layer:
                    t += 1
                out.append((start, t))
            else:
                t += 1
    return out


def _logins(runs: Sequence[tuple[int, int]], longest: int) -> list[tuple[int, int]]:
    """Runs cut into logins of at most LONGEST intervals, the longest first."""
    out = []
    for a, b in runs:
        while a < b:
            out.append((a, min(b, a + longest)))
            a += longest
    return sorted(out, key=lambda x: (x[0] - x[1], x[0]))


def _need(handle: Sequence[float], slot: float, target: float, nearest: bool) -> list[int]:
    """Agents needed per interval for HANDLE seconds at TARGET occupancy of SLOT chat-seconds each: rounded up
    (occupancy at most TARGET), or with NEAREST to the nearest (about TARGET, at most full); a quiet hour
    between busy intervals keeps its agent (gaps of up to GAP intervals are bridged)."""
    out = []
    for h in handle:
        x = h / (target * slot) if h > 0 else 0.0
        n = max(round(x), math.ceil(h / slot - 1e-9)) if nearest else math.ceil(x - 1e-9)
        out.append(max(n, 1 if x > 0 else 0))
    last = None
    for t, n in enumerate(out):
        if n:
            if last is not None and 1 < t - last <= GAP:
                for u in range(last + 1, t):
                    out[u] = 1
            last = t
    return out


def sessions(rng: random.Random, agents: Sequence[Agent], shops: Sequence[Any], first: date, last: date,
             peak: tuple[date, date] | None = None,
             handle: Mapping[tuple[uuid.UUID, date], Sequence[float]] | None = None,
             calm: Collection[str] = (),
             homes: Mapping[str, Collection[str]] | None = None) -> list[dict[str, Any]]:
    """The work sessions of the agents from FIRST to LAST (local days), as records of an export (see the
    module doc). PEAK: the story peak's first and last day; HANDLE: per (shop, local day) the handle seconds
    of its 96 intervals (the rollups'); CALM: the names of the loss leader's calm shops with unhappy buyers,
    worked by its BURNING_SITE agents (the others work its other shops); HOMES: per shop name, the cities of
    the floors whose agents serve it first (at the peak too); the peak's seasonal temps (codes TEMP_PREFIX...)
    serve the KA brands' shops."""
    zone = ZoneInfo(DEFAULT_TZ)
    handle = handle or {}
    homes = homes or {}
    staff = [a for a in agents if not a.code.startswith(TEMP_PREFIX)]
    brand_of = {a.id: STAFFING_ORDER[i % len(STAFFING_ORDER)] for i, a in enumerate(staff)}
    # the peak's seasonal temps: Hangzhou's, on the KA brands' shops
    brand_of |= {a.id: KA_BRANDS[i % len(KA_BRANDS)] for i, a in enumerate(a for a in agents
                                                                         if a.code.startswith(TEMP_PREFIX))}
    hot_pool = {a.id for a in agents if a.city == BURNING_SITE and brand_of[a.id] in KA_BRANDS
                and a.employment_type not in PART_TIMERS}
    burning = set(sorted(a.id for a in agents if a.id in hot_pool and a.employment_type == "full_time")
                  [:BURNING_AGENTS])
    shops_of: dict[str, list[Any]] = {}
    for s in shops:
        shops_of.setdefault(s.slug, []).append(s)
    busiest = {slug: max(own, key=lambda s: sum(sum(v) for (sid, _), v in handle.items() if sid == s.id))
               for slug, own in shops_of.items()}
    turn = {slug: rng.randrange(len(agents) or 1) for slug in shops_of}  # each brand's rotation, day to day
    out: list[dict[str, Any]] = []

    def record(agent: Agent, shop: Any, day: date, k: int, start: datetime, end: datetime,
               breaks: Sequence[tuple[datetime, datetime]] = ()) -> dict[str, Any]:
        return {"external_id": f"demo-{agent.id}-{day.isoformat()}" + (f"-{k}" if k else ""),
                "agent_code": agent.code, "shop_id": str(shop.id), "login": start.isoformat(),
                "logout": end.isoformat(), "breaks": [[a.isoformat(), b.isoformat()] for a, b in breaks]}

    day = first
    while day <= last:
        midnight = datetime.combine(day, time(), zone)

        def at(t: int, midnight: datetime = midnight) -> datetime:
            return midnight + timedelta(minutes=15 * t)

        employed = [a for a in agents if a.hired_on <= day and (a.left_on is None or a.left_on >= day)]
        weekday = CHINA_2026.kind(day).value == "workday" if day.year == 2026 else day.weekday() < 5
        promo = peak is not None and peak[0] <= day <= peak[1]
        burn = peak is not None and peak[1] - RUN_UP <= day <= peak[1] + AFTERMATH  # every day of it
        busy: dict[uuid.UUID, list[tuple[int, int]]] = {}
        if day.day == 1 or day == first:
            month_worked: dict[uuid.UUID, int] = defaultdict(int)  # intervals worked in the month so far
        if day.weekday() == 0 or day == first:
            week_worked: dict[uuid.UUID, int] = defaultdict(int)
        month_days = ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
        # Within the comprehensive hours' allowance so far and a day more: no overtime but the burn's
        allowance = ALLOWANCE * day.day // month_days + 32
        # at the peak the KA brands' shops last: the other floors lend Hangzhou what their own shops leave
        for slug, own in sorted(shops_of.items(), key=lambda x: (promo and x[0] in KA_BRANDS, x[0])):
            pool = [a for a in employed if brand_of[a.id] == slug]
            placed: dict[uuid.UUID, list[tuple[Agent, int, int, int]]] = {}  # shop: agents and their start
            if slug == LOSS_LEADER:  # every workday, eight hours and a lunch hour, whatever the load
                quiet = [s for s in own if s.name in calm]
                rest = [s for s in own if s.name not in calm] or own
                for i, a in enumerate(pool if weekday else []):
                    part = a.employment_type in PART_TIMERS  # four hours, as their rules allow
                    mine = quiet if quiet and a.city == BURNING_SITE else rest
                    placed.setdefault(mine[i % len(mine)].id, []).append((a, 36 if i % 3 else 52, part, 0))
                pool = []  # what its own agents do not cover goes to the others'
            hangzhou = promo and slug in KA_BRANDS
            # Who may serve: the brand's own agents first, then any other agent of the floors serving it
            helpers = [a for a in employed if brand_of[a.id] != LOSS_LEADER]
            if hangzhou:  # the KA shops at the peak: Hangzhou's floor alone, whatever its agents' brand
                helpers = [a for a in helpers if a.city == BURNING_SITE]
            elif promo:  # the others meanwhile: the other floors
                helpers = [a for a in helpers if a.city != BURNING_SITE]
            allowed = {a.id for a in helpers}
            pool = [a for a in pool if a.id in allowed]
            others = [a for a in helpers if brand_of[a.id] != slug]
            # where Hangzhou's floor runs out at the peak (its spike day), the other floors lend agents for
            # what is left, over their hours (what no one takes carries over: attendance.carry_over); not
            # their part-timers and interns, whose rules allow no overtime at all
            reserve = [a for a in employed
                       if hangzhou and a.city != BURNING_SITE and a.employment_type not in PART_TIMERS]
            serving = pool + others
            k_min = min((a.concurrency for a in serving), default=1)
            k_mean = sum(a.concurrency for a in serving) / len(serving) if serving else 1.0
            brand_pool, brand_others = pool, others
            for shop in own:
                # a shop with a home floor (HOMES) is served by its agents first, at the peak too
                home = homes.get(shop.name)  # its floors' cities
                pool, others = brand_pool, brand_others
                if home is not None and promo and not hangzhou and slug != LOSS_LEADER:
                    pool = [a for a in employed
                            if brand_of[a.id] == slug and (a.id in allowed or a.city in home)]
                    others = [a for a in employed if brand_of[a.id] not in (slug, LOSS_LEADER)
                              and (a.id in allowed or a.city in home)]
                loads = list(handle.get((shop.id, day), [0.0] * INTERVALS))
                mine = [(a, start, start + (16 if part else 36), start + 16 if not part else -4)
                        for a, start, part, _ in placed.get(shop.id, [])]
                if burn and slug in KA_BRANDS and shop is busiest[slug]:
                    mine += [(a, 36, 84, 52) for a in pool if a.id in burning and brand_of[a.id] == slug]
                for a, a0, b0, lunch in mine:  # whole days placed first: the rest is staffed around them
                    breaks = ((at(lunch), at(lunch + 4)),) if lunch >= 0 else ()
                    out.append(record(a, shop, day, 0, at(a0), at(b0), breaks))
                    busy[a.id] = [(a0, b0)]
                    month_worked[a.id] += b0 - a0 - 4 * len(breaks)
                    week_worked[a.id] += b0 - a0 - 4 * len(breaks)
                    for t in range(a0, b0):
                        if not lunch <= t < lunch + 4:
                            loads[t] = max(0.0, loads[t] - a.concurrency * 900 * (PEAK_TARGET if hangzhou
                                                                                    else TARGET))
                need = (_need(loads, k_mean * 900, PEAK_TARGET, True) if hangzhou
                        else _need(loads, k_min * 900, TARGET, False))
                longest = PEAK_LOGIN if hangzhou else LOGIN
                n, m = len(pool), len(others)
                queue = _logins(_runs(need), longest)
                while queue:
                    a0, b0 = queue.pop(0)
                    r, q = (turn[slug] % n if n else 0), (turn[slug] % m if m else 0)
                    rotation = pool[r:] + pool[:r] + others[q:] + others[:q]  # each list in turn from TURN
                    length = b0 - a0
                    # Those already at work today first (whole days, not a login each for everyone), then
                    # the brand's agents in turn, then the others'.
                    order: Iterable[Agent] = chain((a for a in rotation if a.id in busy),
                                                   (a for a in rotation if a.id not in busy))  # lazily
                    if home is not None:  # its home floor's agents first
                        order = sorted(order, key=lambda a: a.city not in home)
                    agent = next((a for a in order
                                  if _free(a, busy.get(a.id, []), a0, b0, True, promo)
                                  and not (a.id in burning and burn)
                                  and (month_worked[a.id] + length <= allowance
                                       if a.employment_type not in PART_TIMERS
                                       else weekday and week_worked[a.id] + length <= PART_WEEK)), None)
                    if agent is None and b0 - a0 < 8:  # what the floor cannot take: the reserve's, over hours
                        lent = [a for a in reserve if a.id in busy] + [a for a in reserve if a.id not in busy]
                        agent = next((a for a in lent if _free(a, busy.get(a.id, []), a0, b0, True, promo)),
                                     None)
                    if agent is None:
                        if b0 - a0 >= 8:  # halves fit second logins
                            queue += [(a0, (a0 + b0) // 2), ((a0 + b0) // 2, b0)]
                        continue  # else the floor is out of agents: the shop runs over its target then
                    busy.setdefault(agent.id, []).append((a0, b0))
                    month_worked[agent.id] += length
                    week_worked[agent.id] += length
                    out.append(record(agent, shop, day, len(busy[agent.id]) - 1, at(a0), at(b0)))
                    turn[slug] += 1
        day += timedelta(days=1)
    return out


STAFFING_ORDER = [slug for slug, n in STAFFING for _ in range(n)]
TEMP_PREFIX = "T"  # the codes of the peak's seasonal temps (service.demo)


def _free(agent: Agent, mine: Sequence[tuple[int, int]], a0: int, b0: int, second: bool, peak: bool) -> bool:
    """Whether AGENT can take the login [A0, B0) beside its logins MINE of the day: a first login, or with
    SECOND another one (on any shop, not overlapping the others); eight worked hours a day at most, eleven on
    the peak's days (the daily cap's), four for part-timers and interns."""
    if mine and not second:
        return False
    total = b0 - a0
    for a, b in mine:  # a plain loop: called some 400k times by the demo's sessions
        if a < b0 and a0 < b:
            return False
        total += b - a
    limit = PART_LOGIN if agent.employment_type in PART_TIMERS else 44 if peak else 32
    return total <= limit


async def demo_agents_and_shops(db: Database) -> tuple[list[Agent], list[Any]]:
    async with db.system_transaction() as session:
        agents = [Agent(*r) for r in await session.execute(text(
            "SELECT a.id, a.code, a.hired_on, a.left_on, s.city, a.employment_type, "
            "coalesce(a.max_concurrency, 1) FROM agents a "
            "JOIN sites s ON s.id = a.site_id ORDER BY a.code"))]
        shops = (await session.execute(text(
            "SELECT s.tenant_id, s.id, t.slug, t.tier, s.name FROM shops s "
            "JOIN tenants t ON t.id = s.tenant_id ORDER BY t.slug, s.name"))).all()
    return agents, list(shops)


async def send(db: Database, records: Sequence[dict[str, Any]], today: date) -> IngestAnswer:
    """RECORDS as one export through the seating ingest (ops' path), in one transaction, on TODAY (the
    demo's day: nothing after it is from the future)."""
    async with db.system_transaction() as session:
        return await ingest_work_session_records(session, OPERATOR, records, parsed=True,
                                                 latest=latest_timestamp(local_day_start(today, DEFAULT_TZ)))


async def demo_handle(db: Database, first: date, last: date) -> dict[tuple[uuid.UUID, date], list[float]]:
    """The rollups' handle seconds per (shop, local day) over [FIRST, LAST], in its 96 local intervals (a
    row a shop and day, its intervals and seconds as arrays)."""
    out: dict[tuple[uuid.UUID, date], list[float]] = {}
    async with db.system_transaction() as session:
        rows = (await session.execute(text(
            "SELECT shop_id, (interval_start AT TIME ZONE :tz)::date, "
            "array_agg(floor(EXTRACT(EPOCH FROM (interval_start AT TIME ZONE :tz)::time) / 900)::int), "
            "array_agg(coalesce(handle_sum_s, 0)::float8) FROM shop_interval_stats "
            "WHERE interval_start >= :lo AND interval_start < :hi GROUP BY 1, 2"),
            {"tz": DEFAULT_TZ, "lo": local_day_start(first, DEFAULT_TZ),
             "hi": local_day_start(last + timedelta(days=1), DEFAULT_TZ)})).all()
    for shop_id, day, slots, seconds in rows:
        intervals = out.setdefault((shop_id, day), [0.0] * INTERVALS)
        for t, handled in zip(slots, seconds, strict=True):
            intervals[t] += handled
    return out


async def load_attendance_demo(db: Database, today: date, peak: tuple[date, date] | None = None,
                               seed: int = SEED, calm: Collection[str] = (),
                               homes: Mapping[str, Collection[str]] | None = None) -> IngestAnswer:
    """The demo's attendance up to yesterday (see the module doc), sized to the conversations' handle time,
    through the ingest. PEAK: the story peak's first and last day; CALM: the loss leader's calm shops."""
    agents, shops = await demo_agents_and_shops(db)
    first, last = first_day(today), today - timedelta(days=1)
    handle = await demo_handle(db, first, last)
    rows = sessions(random.Random(seed), agents, shops, first, last, peak, handle, calm, homes)
    return await send(db, rows, today)
