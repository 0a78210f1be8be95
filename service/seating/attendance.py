"""Actual attendance maths: adherence to the schedule, occupancy, and overtime worked against the cap.

Inputs are work sessions as the attendance feed gives them: an agent logged in on a shop (or on none)
from `login` to `logout`, with the breaks it took (aux states), all aware datetimes. The schedule is given
as `(agent, WorkSpan)` pairs (`scheduled_spans` turns roster shifts into them).

- Adherence, per agent and local day: scheduled minutes (shifts outside their breaks), actual minutes
  (logged in outside breaks), minutes in adherence (both at once) and their share of the scheduled
  minutes. Time is cut at local midnight: each minute counts on the local day it falls in (a night
  shift's adherence is split over its two days, as a day's report reads it).
- Occupancy, per shop and interval: handle time worked / (logged-in time x concurrency), the logged-in time
  cut into the intervals it covers (GLOSSARY: healthy 75-85 %, above 90 % burnout territory). The rollups
  put a conversation's whole handle time in the interval it starts in; `carry_over` spreads it as work
  still being done: what an interval's chat-slot capacity cannot absorb (all of it where nobody was logged
  in) carries into the shop's following intervals, so occupancy never exceeds 100 %. What is still
  unabsorbed at the window's end is reported as the shop's backlog (`Occupancy.backlog_seconds`), not
  pushed into the last interval.
- Overtime per agent and day (`actual_overtime_by_day`): the overtime of the sessions by pay class, by
  `rules.overtime_by_day` (sessions as work spans: a session belongs to the local day it starts on), with the
  daily cap and the month's running total against the monthly cap; per agent and month
  (`overtime_by_month`): those days summed, against the month's cap with what was worked before.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from service.seating.calendar import DayCalendar
from service.seating.problem import INTERVAL_MINUTES, Shift
from service.seating.rules import LabourRules, PriorWork, WorkSpan, overtime_by_day

HEALTHY = (0.75, 0.85)
BURNOUT = 0.90


@dataclass(frozen=True)
class Session:
    agent: int
    shop: int | None  # the shop logged in on (None: no shop, e.g. training)
    login: datetime
    logout: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()
    concurrency: int = 1  # chats at once, for occupancy


@dataclass(frozen=True)
class Adherence:
    agent: int
    day: date
    scheduled_minutes: float
    actual_minutes: float
    in_adherence_minutes: float

    @property
    def share(self) -> float | None:
        """Minutes in adherence / scheduled minutes; None with nothing scheduled."""
        return self.in_adherence_minutes / self.scheduled_minutes if self.scheduled_minutes else None


@dataclass(frozen=True)
class MonthOvertime:
    agent: int
    year: int
    month: int
    workday: int  # overtime minutes at 150 %
    rest_day: int  # at 200 %
    holiday: int  # at 300 %
    prior: int  # overtime worked in the month before these sessions
    cap: int

    @property
    def total(self) -> int:
        return self.workday + self.rest_day + self.holiday + self.prior

    @property
    def remaining(self) -> int:
        return self.cap - self.total

    @property
    def over_cap(self) -> bool:
        return self.total > self.cap


def scheduled_spans(shifts: Iterable[Shift], origin: datetime) -> list[tuple[int, WorkSpan]]:
    """(agent, work span) of roster shifts, interval 0 starting at `origin`."""
    return [(s.agent, s.span(origin)) for s in shifts]


def session_span(session: Session) -> WorkSpan:
    return WorkSpan(session.login, session.logout, session.breaks)


def slot_seconds(session: Session) -> float:
    """A session's chat-slot seconds: its time logged in outside its breaks (disjoint and inside it, as the
    table keeps them) times its concurrency."""
    breaks = sum((b - a).total_seconds() for a, b in session.breaks)
    return ((session.logout - session.login).total_seconds() - breaks) * session.concurrency


# ---------------------------------------------------------------- adherence

_Pieces = list[tuple[float, float]]  # [a, b) in seconds since the epoch, sorted and disjoint


def _working(span: WorkSpan) -> _Pieces:
    """The span outside its breaks, as disjoint pieces."""
    a0, b0 = span.start.timestamp(), span.end.timestamp()
    if b0 <= a0:
        return []
    cuts = _merge([(max(a0, x.timestamp()), min(b0, y.timestamp())) for x, y in span.breaks])
    out: _Pieces = []
    cursor = a0
    for x, y in cuts:
        if x > cursor:
            out.append((cursor, x))
        cursor = max(cursor, y)
    if cursor < b0:
        out.append((cursor, b0))
    return out


def _merge(pieces: Iterable[tuple[float, float]]) -> _Pieces:
    out: _Pieces = []
    for a, b in sorted(p for p in pieces if p[1] > p[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _intersect(x: _Pieces, y: _Pieces) -> _Pieces:
    out: _Pieces = []
    i = j = 0
    while i < len(x) and j < len(y):
        a, b = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if a < b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def _by_day(pieces: _Pieces, zone: tzinfo) -> dict[date, float]:
    """Minutes of the pieces per local day, cut at local midnight."""
    out: dict[date, float] = defaultdict(float)
    for a, b in pieces:
        while a < b:
            local = datetime.fromtimestamp(a, zone)
            day = local.date()
            midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).timestamp()
            stop = min(b, midnight)
            out[day] += (stop - a) / 60
            a = stop
    return out


def adherence(
    scheduled: Iterable[tuple[int, WorkSpan]],
    sessions: Iterable[Session],
    tz: tzinfo | str,
    agent_tz: Mapping[int, tzinfo | str] | None = None,
) -> list[Adherence]:
    """Adherence per agent and local day (days with a schedule or a session), by agent then day.

    `tz` is the local time of every agent unless `agent_tz` names another for it."""
    plan: dict[int, _Pieces] = defaultdict(list)
    done: dict[int, _Pieces] = defaultdict(list)
    for agent, span in scheduled:
        plan[agent].extend(_working(span))
    for session in sessions:
        done[session.agent].extend(_working(session_span(session)))
    out: list[Adherence] = []
    for agent in sorted(set(plan) | set(done)):
        zone_of = (agent_tz or {}).get(agent, tz)
        zone = ZoneInfo(zone_of) if isinstance(zone_of, str) else zone_of
        p, q = _merge(plan[agent]), _merge(done[agent])
        sched, actual, both = _by_day(p, zone), _by_day(q, zone), _by_day(_intersect(p, q), zone)
        for day in sorted(set(sched) | set(actual)):
            out.append(Adherence(agent, day, sched.get(day, 0.0), actual.get(day, 0.0), both.get(day, 0.0)))
    return out


# ---------------------------------------------------------------- occupancy


@dataclass(frozen=True, eq=False)
class Occupancy:
    logged_in_seconds: NDArray[np.float64]  # (T, S) logged-in seconds outside breaks
    capacity_seconds: NDArray[np.float64]  # (T, S) the same times concurrency: chat-slot seconds
    occupancy: NDArray[np.float64]  # (T, S) worked / capacity, at most 1; NaN where nobody was logged in
    worked_seconds: NDArray[np.float64]  # (T, S) handle seconds worked in the interval (carry_over)
    backlog_seconds: NDArray[np.float64]  # (S,) handle seconds no interval of the window could absorb
    pieces: ShopPieces | None = None  # the cut of the sessions it was computed from (scope_load reuses it)

    def band(self) -> NDArray[np.str_]:
        """'none' (nobody logged in), 'low' (< 75 %), 'healthy' (75-85 %), 'high' (85-90 %), 'burnout'."""
        occ = self.occupancy
        out = np.full(occ.shape, "none", dtype="<U7")
        seen = ~np.isnan(occ)
        out[seen & (occ < HEALTHY[0])] = "low"
        out[seen & (occ >= HEALTHY[0]) & (occ <= HEALTHY[1])] = "healthy"
        out[seen & (occ > HEALTHY[1]) & (occ <= BURNOUT)] = "high"
        out[seen & (occ > BURNOUT)] = "burnout"
        return out


def interval_pieces(
    sessions: Sequence[Session], start: datetime, n_intervals: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Each session's logged-in time outside breaks cut into the intervals from START it covers, as three
    aligned arrays: the session's index in SESSIONS, the interval, the seconds (time outside the window is
    dropped). The one cut of logged-in time into intervals (occupancy per shop and per scope use it)."""
    width = INTERVAL_MINUTES * 60
    origin = start.timestamp()
    a_list: list[float] = []
    b_list: list[float] = []
    owners: list[int] = []
    for k, s in enumerate(sessions):
        for a, b in _working(session_span(s)):
            a_list.append(a - origin)
            b_list.append(b - origin)
            owners.append(k)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if not a_list or n_intervals <= 0:
        return empty
    a = np.clip(np.array(a_list), 0, n_intervals * width)
    b = np.clip(np.array(b_list), 0, n_intervals * width)
    owner = np.array(owners, dtype=np.int64)
    keep = b > a
    a, b, owner = a[keep], b[keep], owner[keep]
    i0 = np.minimum((a // width).astype(np.int64), n_intervals - 1)
    i1 = np.minimum(np.ceil(b / width).astype(np.int64), n_intervals)  # one past the last interval touched
    counts = np.maximum(i1 - i0, 1)
    piece = np.repeat(np.arange(len(a)), counts)
    step = np.arange(len(piece)) - np.repeat(np.cumsum(counts) - counts, counts)
    t = i0[piece] + step
    seconds = np.minimum(b[piece], (t + 1) * width) - np.maximum(a[piece], t * width)
    keep = seconds > 0
    return owner[piece][keep], t[keep], seconds[keep]


@dataclass(frozen=True, eq=False)
class ShopPieces:
    """The logged-in time of the sessions on a shop of the grid (shop in [0, n_shops)) cut into intervals by
    `interval_pieces`: `chosen` the indexes of those sessions (in the sequence given), and per piece its
    session (an index into `chosen`), interval, seconds, shop and the session's concurrency (as a float)."""

    chosen: list[int]
    owner: NDArray[np.int64]
    interval: NDArray[np.int64]
    seconds: NDArray[np.float64]
    shop: NDArray[np.int64]
    concurrency: NDArray[np.float64]


def shop_pieces(sessions: Sequence[Session], start: datetime, n_intervals: int, n_shops: int) -> ShopPieces:
    """The one cut of the sessions on a shop into intervals that occupancy per shop and per scope share (see
    ShopPieces): `occupancy` computes it, `scope_load` takes it from there."""
    chosen = [k for k, s in enumerate(sessions) if s.shop is not None and 0 <= s.shop < n_shops]
    owner, t, seconds = interval_pieces([sessions[k] for k in chosen], start, n_intervals)
    shop = np.array([sessions[k].shop for k in chosen], dtype=np.int64)[owner]
    concurrency = np.array([float(sessions[k].concurrency) for k in chosen])[owner]
    return ShopPieces(chosen, owner, t, seconds, shop, concurrency)


def logged_in_seconds(
    sessions: Sequence[Session], start: datetime, n_intervals: int, n_shops: int, *, weighted: bool = False
) -> NDArray[np.float64]:
    """Logged-in seconds outside breaks per (interval, shop); weighted: times each session's concurrency."""
    out = np.zeros((n_intervals, n_shops))
    p = shop_pieces(sessions, start, n_intervals, n_shops)
    if len(p.owner):
        np.add.at(out, (p.interval, p.shop), p.seconds * (p.concurrency if weighted else 1.0))
    return out


@dataclass(frozen=True, eq=False)
class ScopeLoad:
    """Occupancy of scopes (groups of sessions: an agent, a team, a site) per interval, sparse: aligned arrays
    of the scope, the interval, the handle seconds attributed and the chat-slot seconds logged in."""

    scope: NDArray[np.int64]
    interval: NDArray[np.int64]
    handle_seconds: NDArray[np.float64]
    capacity_seconds: NDArray[np.float64]

    @property
    def occupancy(self) -> NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.capacity_seconds > 0, self.handle_seconds / self.capacity_seconds, np.nan)


def scope_load(
    sessions: Sequence[Session],
    shop_occupancy: NDArray[np.float64],
    start: datetime,
    scope_of: Sequence[Iterable[int]],
    pieces: ShopPieces | None = None,
) -> ScopeLoad:
    """Occupancy per scope and interval computed at the interval: the handle time a scope did in an interval
    is, on each shop it was logged in on, its chat-slot seconds there times the shop's occupancy in that
    interval (`occupancy(...).occupancy`, (T, S): the shop's handle time worked there, carried over, shared
    by its logged-in chat-slot time, as the rollups know handle time per shop, not per agent); its occupancy
    is that handle time over its own chat-slot seconds. SCOPE_OF[k]: the scopes session k counts in (e.g.
    its agent, its team, its site). A scope's intervals where it was not logged in are left out. PIECES: the
    sessions' cut (`shop_pieces`, as the shops' `Occupancy.pieces` holds it), else it is cut here."""
    T = shop_occupancy.shape[0]
    p = pieces if pieces is not None else shop_pieces(sessions, start, T, shop_occupancy.shape[1])
    mine, owner, t = p.chosen, p.owner, p.interval
    empty = ScopeLoad(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    if not len(owner):
        return empty
    capacity = p.seconds * p.concurrency
    handle = capacity * np.nan_to_num(shop_occupancy[t, p.shop], nan=0.0)
    # Expand each piece to the scopes of its session.
    scopes = [list(scope_of[i]) for i in mine]
    counts = np.array([len(x) for x in scopes], dtype=np.int64)[owner]
    flat = np.array([g for x in scopes for g in x], dtype=np.int64)
    offsets = np.cumsum([0] + [len(x) for x in scopes])[:-1]
    rows = np.repeat(np.arange(len(owner)), counts)
    step = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    scope = flat[offsets[owner[rows]] + step] if len(rows) else np.zeros(0, np.int64)
    if not len(rows):
        return empty
    key = scope * T + t[rows]
    unique, inverse = np.unique(key, return_inverse=True)
    handled = np.bincount(inverse, handle[rows]).astype(np.float64)
    logged = np.bincount(inverse, capacity[rows]).astype(np.float64)
    return ScopeLoad(unique // T, unique % T, handled, logged)


def carry_over(
    handle_seconds: NDArray[np.float64], capacity_seconds: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The carry-over of workload, per column (shop) in interval order: an interval works its own handle
    time plus what earlier intervals could not absorb, up to its chat-slot capacity; the rest carries into
    the next interval (all of it where the capacity is zero). Returns (worked (T, S), backlog (S,)): the
    handle seconds worked in each interval (never above its capacity) and, per column, what is still
    unabsorbed at the window's end. worked.sum(axis=0) + backlog == handle_seconds.sum(axis=0)."""
    handle = np.asarray(handle_seconds, float)
    capacity = np.asarray(capacity_seconds, float)
    worked = np.zeros_like(handle)
    carry = np.zeros(handle.shape[1:])
    for t in range(handle.shape[0]):
        load = carry + handle[t]
        worked[t] = np.minimum(load, np.maximum(capacity[t], 0.0))
        carry = load - worked[t]
    return worked, carry


def occupancy(sessions: Sequence[Session], handle_seconds: NDArray[np.float64], start: datetime) -> Occupancy:
    """Occupancy per (interval, shop) of `handle_seconds` (T, S): the handle time of the conversations that
    start in each interval (the rollups' handle_sum_s), carried over to the intervals that work it
    (`carry_over`), over the logged-in chat-slot time: at most 100 %. The one occupancy of shops (the
    seating report and the scorecard read it)."""
    handle = np.asarray(handle_seconds, float)
    T, S = handle.shape
    # logged-in seconds unweighted and weighted, from one cut of the sessions into intervals (kept: pieces)
    logged, capacity = np.zeros((T, S)), np.zeros((T, S))
    p = shop_pieces(sessions, start, T, S)
    if len(p.owner):
        np.add.at(logged, (p.interval, p.shop), p.seconds)
        np.add.at(capacity, (p.interval, p.shop), p.seconds * p.concurrency)
    worked, backlog = carry_over(handle, capacity)
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(capacity > 0, worked / capacity, np.nan)
    return Occupancy(logged, capacity, occ, worked, backlog, p)


# ---------------------------------------------------------------- overtime


@dataclass(frozen=True)
class AgentDayOvertime:
    """One agent's overtime on one local day (the day its sessions start on), by `rules.overtime_by_day`, with
    the two caps the labour rules set: the day's (`overtime_cap_per_day`; None under comprehensive hours,
    which have no daily cap) and the month's, against the overtime of the month so far (prior work included).
    `day_share` is the day's overtime over its daily cap, `month_share` the month so far over the month's."""

    agent: int
    day: date
    kind: str  # calendar.DayKind value: workday, rest_day or holiday
    worked: int  # minutes worked outside breaks
    normal: int  # of which normal minutes (the daily norm `normal_per_day`, within the week's)
    norm: int  # the daily norm of the agent's rules (`normal_per_day`)
    workday: int  # overtime minutes at 150 %
    rest_day: int  # at 200 %
    holiday: int  # at 300 %
    day_cap: int | None  # the daily overtime cap (None: comprehensive hours)
    month_to_date: int  # overtime minutes of the month through this day, prior work included
    month_cap: int

    @property
    def overtime(self) -> int:
        return self.workday + self.rest_day + self.holiday

    @property
    def day_share(self) -> float | None:
        """Overtime / the daily cap (1.0 = a full cap of 3 hours); None without a (non-zero) daily cap."""
        return self.overtime / self.day_cap if self.day_cap else None

    @property
    def month_share(self) -> float:
        """The month's overtime so far / its cap (infinite for overtime under a zero cap)."""
        if self.month_cap:
            return self.month_to_date / self.month_cap
        return math.inf if self.month_to_date else 0.0


def actual_overtime_by_day(
    sessions: Iterable[Session],
    rules: Mapping[int, LabourRules],
    calendar: DayCalendar,
    tz: tzinfo | str,
    prior: Mapping[int, PriorWork] | None = None,
    agent_tz: Mapping[int, tzinfo | str] | None = None,
    start: date | None = None,
) -> list[AgentDayOvertime]:
    """Overtime per agent and local day of actual sessions (by agent, then day): the day's worked, normal and
    overtime minutes by pay class (rules.overtime_by_day over the sessions as work spans: hours over the
    daily norm and what is left of the week's on workdays, every minute on rest days and holidays; under
    comprehensive hours the growth of the period's excess), with the month's running total against the cap.

    `prior[agent]` carries what the agent worked before the sessions (its `month_overtime_minutes` count
    toward the month of its `as_of` day). `start`: the window's first local day, when the sessions are all
    the agents worked from it: an agent without a prior whose first session comes later did not work the days
    between (`PriorWork(as_of=start)`: on pace before `start` only), so under comprehensive hours its
    allowance for those days is not counted as worked. The one computation of actual overtime:
    `overtime_by_month` sums it per month."""
    by_agent: dict[int, list[WorkSpan]] = defaultdict(list)
    for s in sessions:
        by_agent[s.agent].append(session_span(s))
    out: list[AgentDayOvertime] = []
    for agent in sorted(by_agent):
        r = rules[agent]
        before = (prior or {}).get(agent) or (PriorWork(as_of=start) if start else None)
        zone = (agent_tz or {}).get(agent, tz)
        days = overtime_by_day(by_agent[agent], r, calendar, zone, before)
        first = before.as_of if before and before.as_of else (days[0].day if days else None)
        running: dict[tuple[int, int], int] = {}
        day_cap = None if r.comprehensive else r.overtime_cap_per_day
        for d in days:
            key = (d.day.year, d.day.month)
            if key not in running:
                running[key] = (
                    before.month_overtime_minutes
                    if before and first and (first.year, first.month) == key
                    else 0
                )
            running[key] += d.overtime
            out.append(
                AgentDayOvertime(
                    agent,
                    d.day,
                    d.kind.value,
                    d.worked,
                    d.normal,
                    r.normal_per_day,
                    d.workday,
                    d.rest_day,
                    d.holiday,
                    day_cap,
                    running[key],
                    r.overtime_cap_per_month,
                )
            )
    return out


def overtime_by_month(days: Iterable[AgentDayOvertime]) -> list[MonthOvertime]:
    """Overtime per agent and month of actual sessions, against the rules' monthly cap: the DAYS of
    `actual_overtime_by_day` summed per month (prior work as there)."""
    months: dict[tuple[int, int, int], list[int]] = {}
    for d in days:
        m = months.setdefault((d.agent, d.day.year, d.day.month), [0, 0, 0, 0, d.month_cap])
        m[0] += d.workday
        m[1] += d.rest_day
        m[2] += d.holiday
        m[3] = d.month_to_date - (m[0] + m[1] + m[2])  # the prior work counted in the month
    return [
        MonthOvertime(agent, year, month, wd, rd, hd, earlier, cap)
        for (agent, year, month), (wd, rd, hd, earlier, cap) in sorted(months.items())
    ]
