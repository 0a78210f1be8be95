"""Actual attendance use cases: ingest work sessions (REST, GraphQL and the CLI come here), read them back,
and the reports over them: adherence per agent and day, occupancy per shop and interval, overtime per agent
and month against the cap. The maths is service.seating.attendance's (run here, never redone); this module
loads sessions, shifts and handle times set-based, for many shops and agents at once (the scorecard calls
`occupancy_by_shop_interval` and `overtime_by_agent_month` for a month of every shop).

Staff only: every answer names agents (seating.auth.staff / write).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit import audit, batches, observe
from service.kit.batches import IngestAnswer
from service.kit.errors import Invalid, NotFound
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest, encode_cursor
from service.kit.records import earliest_timestamp
from service.kit.time import DEFAULT_TZ, local_day_start, parse_local_moment
from service.seating import attendance, queries
from service.seating import ingest as pipeline
from service.seating.inputs import rules_of
from service.seating.problem import INTERVAL_MINUTES
from service.seating.rules import LabourRules, WorkSpan
from service.seating.schemas import (
    AdherenceRow,
    BreakSpan,
    OccupancyRow,
    OvertimeDayRow,
    OvertimeRow,
    WorkSessionFilter,
    WorkSessionRead,
)

MAX_REPORT_DAYS = 92
MAX_OCCUPANCY_CELLS = 100_000  # rows a door answers (about 35 shops for a month)
DAY = timedelta(days=1)
LONGEST = timedelta(hours=24)  # a session lasts at most this (0013's CHECK): how far back a window looks

# --- ingest ----------------------------------------------------------------------------------------------


async def ingest_work_sessions(session: AsyncSession, caller: Principal,
                               body: AsyncIterator[bytes] | Iterable[Mapping[str, Any]],
                               content_type: str | None, max_age_days: int | None = None,
                               latest: datetime | None = None) -> IngestAnswer:
    """One batch of work sessions (NDJSON or CSV; or records as NDJSON's lines parse) in the caller's
    transaction: every good row kept, every bad one reported by line, a re-send changes nothing. In the
    audit log in the same transaction. LATEST: the latest instant a session may carry (default: now plus the
    slack; the demo's day for the demo)."""
    kind, charset = batches.media_and_charset(content_type, "work sessions")
    tenant = None if caller.is_staff else caller.tenant_id
    with observe.timed("ingest"):
        answer = await pipeline.ingest(session, body, kind, tenant, earliest_timestamp(max_age_days), charset,
                                       latest)
    await audit.record(session, action="ingest", object_type="work_sessions", tenant_id=tenant,
                       after={"received": answer.received, "inserted": answer.inserted,
                              "updated": answer.updated, "unchanged": answer.unchanged,
                              "rejected": len(answer.rejected)})
    return answer


async def ingest_work_session_records(session: AsyncSession, caller: Principal,
                                      records: Iterable[Mapping[str, Any]], max_age_days: int | None = None,
                                      latest: datetime | None = None, *, parsed: bool = False
                                      ) -> IngestAnswer:
    """Batches given as dicts (GraphQL, the demo): the same path, as NDJSON lines; PARSED: the dicts are as
    those lines parse (strings, numbers, lists: the demo's), checked as they are, without the text between."""
    body = records if parsed else batches.ndjson_of(records)
    return await ingest_work_sessions(session, caller, body, batches.NDJSON, max_age_days, latest)


# --- reading back ----------------------------------------------------------------------------------------

_LIST = """
SELECT w.tenant_id, w.shop_id, w.external_id, w.agent_id, coalesce(a.code, '') AS agent_code,
       lower(w.during) AS login, upper(w.during) AS logout,
       ARRAY(SELECT lower(b) FROM unnest(w.breaks) b) AS break_starts,
       ARRAY(SELECT upper(b) FROM unnest(w.breaks) b) AS break_ends, w.ingested_at
FROM work_sessions w LEFT JOIN agents a ON a.id = w.agent_id
WHERE (CAST(:shop AS uuid) IS NULL OR w.shop_id = :shop)
  AND (CAST(:agent AS uuid) IS NULL OR w.agent_id = :agent)
  AND (CAST(:lo AS timestamptz) IS NULL OR lower(w.during) >= :lo)
  AND (CAST(:hi AS timestamptz) IS NULL OR lower(w.during) < :hi)
  AND (CAST(:after AS uuid) IS NULL
       OR (w.tenant_id, w.shop_id, w.external_id)
          > (:after, CAST(:after_shop AS uuid), CAST(:after_ext AS text) COLLATE "C"))
ORDER BY w.tenant_id, w.shop_id, w.external_id
LIMIT :limit
"""
_KEY = (uuid.UUID, uuid.UUID, str)


async def _agent_id(session: AsyncSession, code: str) -> uuid.UUID:
    found = (await session.execute(text("SELECT id FROM agents WHERE code = :c"),
                                   {"c": code.strip()})).scalar()
    if found is None:
        raise NotFound("agent not found")
    return found  # type: ignore[no-any-return]


async def list_work_sessions(session: AsyncSession, filters: WorkSessionFilter, page: PageRequest
                             ) -> Paged[WorkSessionRead]:
    """Stored work sessions in key order (brand, shop, external id), by shop, agent code and login time
    (dates and datetimes without an offset in Asia/Shanghai)."""
    after = page.after(*_KEY) if page.cursor else None
    params: dict[str, Any] = {
        "shop": filters.shop, "agent": await _agent_id(session, filters.agent) if filters.agent else None,
        "lo": parse_local_moment(filters.start, "from", DEFAULT_TZ) if filters.start else None,
        "hi": parse_local_moment(filters.end, "to", DEFAULT_TZ) if filters.end else None,
        "after": after[0] if after else None, "after_shop": after[1] if after else None,
        "after_ext": after[2] if after else None, "limit": page.limit + 1}
    rows = (await session.execute(text(_LIST), params)).all()
    items = [WorkSessionRead(
        tenant_id=r.tenant_id, shop_id=r.shop_id, external_id=r.external_id, agent_id=r.agent_id,
        agent_code=r.agent_code, login=r.login, logout=r.logout, ingested_at=r.ingested_at,
        breaks=[BreakSpan(start=a, end=b) for a, b in zip(r.break_starts, r.break_ends, strict=True)])
        for r in rows[:page.limit]]
    if len(rows) > page.limit:
        last = items[-1]
        return Paged(items, encode_cursor(last.tenant_id, last.shop_id, last.external_id))
    return Paged(items)


# --- loading for the reports ------------------------------------------------------------------------------


def days_of(first: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants of local days [FIRST, END) in Asia/Shanghai (at most MAX_REPORT_DAYS)."""
    if end <= first:
        raise Invalid("to", "must be after from")
    if (end - first).days > MAX_REPORT_DAYS:
        raise Invalid("to", f"a report covers at most {MAX_REPORT_DAYS} days")
    return local_day_start(first, DEFAULT_TZ), local_day_start(end, DEFAULT_TZ)


# Sessions with login in [lo - 24 h, hi) and logout after lo: the btree/BRIN over lower(during) finds them.
_SESSIONS = """
SELECT w.tenant_id, w.shop_id, w.agent_id, lower(w.during) AS login, upper(w.during) AS logout,
       ARRAY(SELECT lower(b) FROM unnest(w.breaks) b) AS bs,
       ARRAY(SELECT upper(b) FROM unnest(w.breaks) b) AS be,
       coalesce(a.max_concurrency, 1) AS concurrency
FROM work_sessions w LEFT JOIN agents a ON a.id = w.agent_id
WHERE lower(w.during) >= :early AND lower(w.during) < :hi AND upper(w.during) > :lo
  AND (CAST(:shops AS uuid[]) IS NULL OR w.shop_id = ANY(CAST(:shops AS uuid[])))
  AND (CAST(:agents AS uuid[]) IS NULL OR w.agent_id = ANY(CAST(:agents AS uuid[])))
"""


async def _sessions(session: AsyncSession, lo: datetime, hi: datetime,
                    shops: Sequence[uuid.UUID] | None = None, agents: Sequence[uuid.UUID] | None = None
                    ) -> list[Any]:
    return list((await session.execute(text(_SESSIONS), {
        "early": lo - LONGEST, "lo": lo, "hi": hi, "shops": None if shops is None else list(shops),
        "agents": None if agents is None else list(agents)})).all())


def _session(row: Any, agent: int, shop: int | None) -> attendance.Session:
    return attendance.Session(agent, shop, row.login, row.logout, tuple(zip(row.bs, row.be, strict=True)),
                              row.concurrency)


def one_at_a_time(sessions: Iterable[attendance.Session]) -> list[attendance.Session]:
    """An agent's overlapping sessions (logged in on two shops at once) as one working time each: worked
    time counts once. A break counts where no other of the overlapping sessions is working."""
    out: list[attendance.Session] = []
    by_agent: dict[int, list[attendance.Session]] = defaultdict(list)
    for s in sessions:
        by_agent[s.agent].append(s)
    for agent, mine in by_agent.items():
        mine.sort(key=lambda s: s.login)
        group: list[attendance.Session] = []
        end: datetime | None = None
        for one in [*mine, None]:
            if one is not None and end is not None and one.login < end:
                group.append(one)
                end = max(end, one.logout)
                continue
            if group:
                out.append(group[0] if len(group) == 1 else _merged(agent, group))
            if one is not None:
                group, end = [one], one.logout
    return out


def _merged(agent: int, group: list[attendance.Session]) -> attendance.Session:
    breaks = tuple(sorted(
        (a, b) for s in group for a, b in s.breaks
        if not any(o is not s and o.login < b and a < o.logout and not any(
            x <= a and b <= y for x, y in o.breaks) for o in group)))
    return attendance.Session(agent, None, min(s.login for s in group), max(s.logout for s in group), breaks)


# --- adherence ------------------------------------------------------------------------------------------

_SHIFTS = """
SELECT s.agent_id, lower(s.during) AS lo, upper(s.during) AS hi,
       ARRAY(SELECT lower(b) FROM unnest(s.breaks) b) AS bs,
       ARRAY(SELECT upper(b) FROM unnest(s.breaks) b) AS be
FROM shifts s
WHERE s.status = 'published' AND s.during && tstzrange(:lo, :hi)
  AND (CAST(:agents AS uuid[]) IS NULL OR s.agent_id = ANY(CAST(:agents AS uuid[])))
"""
_AGENTS = """
SELECT a.id, a.code, a.site_id, si.timezone FROM agents a JOIN sites si ON si.id = a.site_id
WHERE (CAST(:ids AS uuid[]) IS NULL OR a.id = ANY(CAST(:ids AS uuid[])))
"""


async def _agent_facts(session: AsyncSession, ids: Sequence[uuid.UUID] | None) -> dict[uuid.UUID, Any]:
    rows = (await session.execute(text(_AGENTS), {"ids": None if ids is None else list(ids)})).all()
    return {r.id: r for r in rows}


async def agent_ids_of(session: AsyncSession, codes: Sequence[str] | None) -> list[uuid.UUID] | None:
    """The agents with CODES (None: every agent); an unknown code is a 404."""
    if codes is None:
        return None
    found = await session.execute(text("SELECT code, id FROM agents WHERE code = ANY(:c)"),
                                  {"c": [c.strip() for c in codes]})
    rows: dict[str, uuid.UUID] = {code: id_ for code, id_ in found.all()}
    missing = sorted({c.strip() for c in codes} - rows.keys())
    if missing:
        raise NotFound(f"agent not found: {', '.join(missing)[:200]}")
    return list(rows.values())


async def adherence_by_agent_day(session: AsyncSession, first: date, end: date,
                                 agent_ids: Sequence[uuid.UUID] | None = None) -> list[AdherenceRow]:
    """Adherence per agent and local day of [FIRST, END) (the agent's site's timezone): published shifts'
    minutes outside their breaks against logged-in minutes outside breaks (attendance.adherence)."""
    lo, hi = days_of(first, end)
    facts = await _agent_facts(session, agent_ids)
    index = {a: i for i, a in enumerate(facts)}
    ids = list(facts)
    shifts = (await session.execute(text(_SHIFTS), {"lo": lo, "hi": hi, "agents": ids})).all()
    scheduled = [(index[s.agent_id], WorkSpan(max(s.lo, lo), min(s.hi, hi), tuple(
        (max(a, lo), min(b, hi)) for a, b in zip(s.bs, s.be, strict=True) if b > lo and a < hi)))
        for s in shifts if s.agent_id in index]
    worked = [_session(r, index[r.agent_id], None) for r in await _sessions(session, lo, hi, agents=ids)
              if r.agent_id in index]
    clipped = [attendance.Session(s.agent, None, max(s.login, lo), min(s.logout, hi), s.breaks)
               for s in worked]
    zones = {index[a]: f.timezone for a, f in facts.items()}
    out = []
    for row in attendance.adherence(scheduled, clipped, DEFAULT_TZ, zones):
        if not first <= row.day < end:
            continue
        agent = facts[ids[row.agent]]
        out.append(AdherenceRow(agent_id=agent.id, agent_code=agent.code, day=row.day,
                                scheduled_minutes=round(row.scheduled_minutes, 2),
                                actual_minutes=round(row.actual_minutes, 2),
                                in_adherence_minutes=round(row.in_adherence_minutes, 2),
                                share=None if row.share is None else round(row.share, 4)))
    return out


# --- occupancy ------------------------------------------------------------------------------------------

_HANDLE = """
SELECT s.tenant_id, s.shop_id,
       array_agg((EXTRACT(EPOCH FROM s.interval_start - CAST(:lo AS timestamptz)) / 900)::int) AS slots,
       array_agg(coalesce(s.handle_sum_s, 0)::float8) AS handled
FROM shop_interval_stats s
WHERE s.interval_start >= :lo AND s.interval_start < :hi
  AND (CAST(:shops AS uuid[]) IS NULL OR s.shop_id = ANY(CAST(:shops AS uuid[])))
GROUP BY 1, 2
"""
_SHOPS = ("SELECT tenant_id, id FROM shops WHERE CAST(:shops AS uuid[]) IS NULL "
          "OR id = ANY(CAST(:shops AS uuid[])) ORDER BY tenant_id, id")


@dataclass(frozen=True, eq=False)
class OccupancyGrid:
    """Occupancy of shops (columns) by interval (rows) from START, as attendance.occupancy computes it:
    `result.occupancy[t, s]` is NaN where nobody was logged in. The scorecard reads the arrays; `rows()`
    lists the cells someone worked or chats were handled in, with the handle seconds worked there (carried
    over)."""

    start: datetime
    shops: list[tuple[uuid.UUID, uuid.UUID]]  # (tenant_id, shop_id) of each column
    handle_seconds: NDArray[np.float64]
    result: attendance.Occupancy
    # the session rows read for RESULT (the grid's window; with every shop, every session the caller sees
    # there) and them as attendance.Session (aligned): occupancy_by_scope and overtime_by_agent_day reuse them
    session_rows: list[Any] | None = field(default=None, repr=False)
    sessions: list[attendance.Session] | None = field(default=None, repr=False)
    agent_ids: list[uuid.UUID] = field(default_factory=list, repr=False)  # of SESSIONS' agent numbers
    every_shop: bool = False  # the grid of every shop the caller sees (its rows: every session there)

    def interval(self, t: int) -> datetime:
        return self.start + timedelta(minutes=INTERVAL_MINUTES * t)

    def slots_by_agent_shop(self) -> dict[uuid.UUID, dict[uuid.UUID, float]]:
        """Per agent and shop, the chat-slot seconds (attendance.slot_seconds, whole sessions) of the grid's
        sessions that start in its window."""
        out: dict[uuid.UUID, dict[uuid.UUID, float]] = {}
        for r, s in zip(self.session_rows or (), self.sessions or (), strict=True):
            if r.login >= self.start:
                per = out.setdefault(r.agent_id, {})
                per[r.shop_id] = per.get(r.shop_id, 0.0) + attendance.slot_seconds(s)
        return out

    def burnout_share(self) -> NDArray[np.float64]:
        """Per shop: the share of its logged-in intervals above attendance.BURNOUT (90 %)."""
        occ = self.result.occupancy
        seen = (~np.isnan(occ)).sum(axis=0)
        with np.errstate(invalid="ignore"):
            hot = np.nan_to_num(occ, nan=0.0) > attendance.BURNOUT
        return np.where(seen > 0, hot.sum(axis=0) / np.maximum(seen, 1), 0.0)

    def rows(self) -> Iterator[OccupancyRow]:
        """The cells as rows, for the doors: at most MAX_OCCUPANCY_CELLS shop-intervals a request (the
        scorecard reads the arrays, whatever their size)."""
        if self.handle_seconds.size > MAX_OCCUPANCY_CELLS:
            raise Invalid("shop", f"at most {MAX_OCCUPANCY_CELLS:,} shop-intervals a request: pick shops or "
                          "a shorter window")
        occ, bands = self.result.occupancy, self.result.band()
        logged, capacity = self.result.logged_in_seconds, self.result.capacity_seconds
        worked = self.result.worked_seconds  # the handle time carried over to the intervals that work it
        ts, ss = np.nonzero((capacity > 0) | (self.handle_seconds > 0))
        for t, s in zip(ts.tolist(), ss.tolist(), strict=True):
            tenant, shop = self.shops[s]
            value = occ[t, s]
            yield OccupancyRow(tenant_id=tenant, shop_id=shop, interval_start=self.interval(t),
                               handle_seconds=round(float(worked[t, s]), 1),
                               logged_in_seconds=round(float(logged[t, s]), 1),
                               capacity_seconds=round(float(capacity[t, s]), 1),
                               occupancy=None if np.isnan(value) else round(float(value), 4),
                               band=str(bands[t, s]))


async def occupancy_by_shop_interval(session: AsyncSession, window: tuple[date, date],
                                     shop_ids: Sequence[uuid.UUID] | None = None) -> OccupancyGrid:
    """Occupancy per shop and 15-minute interval over the local days WINDOW = [from, to) (Asia/Shanghai),
    of SHOP_IDS (None: every shop the caller sees): the rollups' handle time, carried over to the intervals
    that work it, over logged-in time x each agent's concurrency (attendance.occupancy: at most 100 %).
    Three set-based reads (shops, handle times aggregated per shop, sessions) for any number of shops."""
    lo, hi = days_of(*window)
    n = int((hi - lo).total_seconds()) // (INTERVAL_MINUTES * 60)
    ids = None if shop_ids is None else list(shop_ids)
    shops = [(r.tenant_id, r.id) for r in (await session.execute(text(_SHOPS), {"shops": ids})).all()]
    if ids is not None and len(shops) < len(set(ids)):
        raise NotFound("shop not found")
    column = {shop: i for i, (_, shop) in enumerate(shops)}
    handle = np.zeros((n, len(shops)))
    for r in (await session.execute(text(_HANDLE), {"lo": lo, "hi": hi, "shops": ids})).all():
        handle[np.asarray(r.slots, dtype=np.int64), column[r.shop_id]] = r.handled
    # Every shop: every session the caller sees (those on no shop of the grid count in no cell), as overtime
    # reads them, so the scorecard reads a month's sessions once (overtime_by_agent_day's ROWS).
    rows = await _sessions(session, lo, hi, shops=None if ids is None else [s for _, s in shops])
    agents = {a: i for i, a in enumerate({r.agent_id for r in rows})}
    sessions = [_session(r, agents[r.agent_id], column.get(r.shop_id)) for r in rows]
    return OccupancyGrid(lo, shops, handle, attendance.occupancy(sessions, handle, lo), rows, sessions,
                         list(agents), every_shop=ids is None)


async def occupancy_by_scope(session: AsyncSession, grid: OccupancyGrid,
                             scopes_of: Callable[[uuid.UUID], Sequence[int]]) -> attendance.ScopeLoad:
    """Occupancy per scope and interval over GRID's window, computed at the interval (attendance.scope_load:
    an agent's chat-slot time on a shop times the shop's occupancy in that interval, summed per scope, over
    the scope's chat-slot time). SCOPES_OF(agent id): the scopes (the caller's numbers: e.g. the agent, its
    team, its site) an agent's sessions count in."""
    n = grid.handle_seconds.shape[0]
    hi = grid.start + timedelta(minutes=INTERVAL_MINUTES * n)
    column = {shop: i for i, (_, shop) in enumerate(grid.shops)}
    rows, sessions, pieces = grid.session_rows, grid.sessions, grid.result.pieces  # the grid's read and cut
    if rows is None or sessions is None:
        rows = await _sessions(session, grid.start, hi, shops=list(column))
        sessions, pieces = [_session(r, k, column.get(r.shop_id)) for k, r in enumerate(rows)], None
    of_agent: dict[uuid.UUID, Sequence[int]] = {}  # SCOPES_OF once an agent, in the rows' order
    groups = [of_agent[r.agent_id] if r.agent_id in of_agent else of_agent.setdefault(r.agent_id,
                                                                                     scopes_of(r.agent_id))
              for r in rows]
    return attendance.scope_load(sessions, grid.result.occupancy, grid.start, groups, pieces)


# --- overtime -------------------------------------------------------------------------------------------


def _every_session(grid: OccupancyGrid | None, first: date, end: date
                   ) -> tuple[list[Any], list[attendance.Session], list[uuid.UUID]] | None:
    """GRID's session rows, them as sessions and the agents they number, when they are every session the
    caller sees over the local days [FIRST, END)."""
    if grid is None or grid.session_rows is None or grid.sessions is None:
        return None
    window = (grid.start, grid.interval(grid.handle_seconds.shape[0]))
    if not grid.every_shop or window != days_of(first, end):
        raise ValueError("not a grid of every shop over these days")
    return grid.session_rows, grid.sessions, grid.agent_ids


def month_of(month: str) -> tuple[date, date]:
    """The first day of MONTH (YYYY-MM) and of the next."""
    try:
        first = datetime.strptime(month.strip(), "%Y-%m").date()
    except ValueError:
        raise Invalid("month", "not a month (YYYY-MM)") from None
    return first, (first + timedelta(days=32)).replace(day=1)


async def _overtime_inputs(session: AsyncSession, first: date, end: date,
                           agent_ids: Sequence[uuid.UUID] | None, grid: OccupancyGrid | None = None
                           ) -> tuple[list[attendance.Session], dict[int, LabourRules], Any, dict[int, str],
                                      list[uuid.UUID], dict[uuid.UUID, Any]]:
    """What actual overtime over the local days [FIRST, END) is computed from: the sessions starting in them
    (overlapping ones counted once), each agent's rule set (its own, else its employment type's, else the
    China standard rules), the stored holiday calendar, the agents' timezones; and the agents (ids, facts).
    GRID: an occupancy grid of every shop over those days, whose sessions (as it read and numbered them)
    are taken instead of read again."""
    from service.seating.service import calendar_book  # the calendar's one reader

    lo, hi = local_day_start(first, DEFAULT_TZ), local_day_start(end, DEFAULT_TZ)
    read = _every_session(grid, first, end)
    if read is None:
        rows = [r for r in await _sessions(session, lo, hi, agents=agent_ids)
                if r.login >= lo]  # a session counts on the day it starts on
        ids = sorted({r.agent_id for r in rows})
        number = {a: i for i, a in enumerate(ids)}
        mine = [_session(r, number[r.agent_id], None) for r in rows]
    else:
        rows_read, numbered, ids = read
        wanted = None if agent_ids is None else set(agent_ids)
        mine = [s for r, s in zip(rows_read, numbered, strict=True)
                if r.login >= lo and (wanted is None or r.agent_id in wanted)]
    facts = await _agent_facts(session, ids)
    index = {a: i for i, a in enumerate(ids)}
    employed = {r.id: r for r in await queries.employed_agents(session, first - timedelta(days=1), end, ids)}
    sets = await queries.rule_sets(session)
    rules: dict[int, LabourRules] = {}
    for agent, i in index.items():
        set_id = employed[agent].rule_set_id if agent in employed else None
        rules[i] = rules_of(sets.get(set_id) if set_id else None)
    calendar = await calendar_book(session, first, end)
    sessions = one_at_a_time(mine)
    zones = {i: facts[a].timezone for a, i in index.items() if a in facts}
    return sessions, rules, calendar, zones, ids, facts


async def overtime_by_agent_month(session: AsyncSession, month: str,
                                  agent_ids: Sequence[uuid.UUID] | None = None) -> list[OvertimeRow]:
    """Actual overtime per agent in MONTH (YYYY-MM) by pay class against its rule set's monthly cap
    (attendance.overtime_by_month of actual_overtime_by_day over the month's sessions, see
    _overtime_inputs). Every agent with a session in the month, or AGENT_IDS."""
    first, end = month_of(month)
    sessions, rules, calendar, zones, ids, facts = await _overtime_inputs(session, first, end, agent_ids)
    out = []
    days = attendance.actual_overtime_by_day(sessions, rules, calendar, DEFAULT_TZ, agent_tz=zones,
                                            start=first)
    for m in attendance.overtime_by_month(days):
        if (m.year, m.month) != (first.year, first.month):
            continue
        agent = facts[ids[m.agent]]
        out.append(OvertimeRow(agent_id=agent.id, agent_code=agent.code, site_id=agent.site_id,
                               month=f"{m.year:04d}-{m.month:02d}", workday_minutes=m.workday,
                               rest_day_minutes=m.rest_day, holiday_minutes=m.holiday, total_minutes=m.total,
                               cap_minutes=m.cap, over_cap=m.over_cap))
    out.sort(key=lambda r: r.agent_code)
    return out


async def overtime_by_agent_day(session: AsyncSession, first: date, end: date,
                                agent_ids: Sequence[uuid.UUID] | None = None,
                                grid: OccupancyGrid | None = None) -> list[OvertimeDayRow]:
    """Actual overtime per agent and local day of [FIRST, END) (at most MAX_REPORT_DAYS; the day a session
    starts on), by attendance.actual_overtime_by_day: minutes over the daily norm (and the week's) on
    workdays, every minute on rest days and holidays, with the daily cap's share and the month's running
    total against its cap (counted from the window's first day in its month). Staff only: it names agents.
    Every agent with a session in the window, or AGENT_IDS; by agent code, then day. GRID: an occupancy grid
    of every shop over the same days, whose session rows are read again (the scorecard's month)."""
    days_of(first, end)
    sessions, rules, calendar, zones, ids, facts = await _overtime_inputs(session, first, end, agent_ids,
                                                                          grid)
    out = []
    for d in attendance.actual_overtime_by_day(sessions, rules, calendar, DEFAULT_TZ, agent_tz=zones,
                                               start=first):
        if not first <= d.day < end:
            continue
        agent = facts[ids[d.agent]]
        out.append(OvertimeDayRow.model_construct(
            agent_id=agent.id, agent_code=agent.code, site_id=agent.site_id, day=d.day, kind=d.kind,
            worked_minutes=d.worked, normal_minutes=d.normal, day_norm_minutes=d.norm,
            workday_minutes=d.workday,
            rest_day_minutes=d.rest_day, holiday_minutes=d.holiday, overtime_minutes=d.overtime,
            day_cap_minutes=d.day_cap, month_to_date_minutes=d.month_to_date, month_cap_minutes=d.month_cap))
    out.sort(key=lambda r: (r.agent_code, r.day))
    return out
