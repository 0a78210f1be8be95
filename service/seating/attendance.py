"""Actual attendance maths: adherence to the schedule, occupancy, and overtime worked against the cap.

Inputs are work sessions as the attendance feed gives them: an agent logged in on a shop (or on none)
from `login` to `logout`, with the breaks it took (aux states), all aware datetimes. The schedule is given
as `(agent, WorkSpan)` pairs (`scheduled_spans` turns roster shifts into them).

- Adherence, per agent and local day: scheduled minutes (shifts outside their breaks), actual minutes
  (logged in outside breaks), minutes in adherence (both at once) and their share of the scheduled
  minutes. Time is cut at local midnight: each minute counts on the local day it falls in (a night
  shift's adherence is split over its two days, as a day's report reads it).
- Occupancy, per shop and interval: handle time / (logged-in time x concurrency), the logged-in time cut
  into the intervals it covers (GLOSSARY: healthy 75-85 %, above 90 % burnout territory).
- Overtime per agent and month: the overtime of the sessions by pay class, by `rules.overtime_by_day`
  (sessions as work spans: a session belongs to the local day it starts on), against the month's cap
  with what was worked before.
"""

from __future__ import annotations

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
    occupancy: NDArray[np.float64]  # (T, S) handle / capacity; NaN where nobody was logged in

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


def logged_in_seconds(
    sessions: Iterable[Session], start: datetime, n_intervals: int, n_shops: int, *, weighted: bool = False
) -> NDArray[np.float64]:
    """Logged-in seconds outside breaks per (interval, shop); weighted: times each session's concurrency."""
    width = INTERVAL_MINUTES * 60
    origin = start.timestamp()
    a_list: list[float] = []
    b_list: list[float] = []
    shops: list[int] = []
    weights: list[float] = []
    for s in sessions:
        if s.shop is None or not 0 <= s.shop < n_shops:
            continue
        for a, b in _working(session_span(s)):
            a_list.append(a - origin)
            b_list.append(b - origin)
            shops.append(s.shop)
            weights.append(float(s.concurrency) if weighted else 1.0)
    out = np.zeros((n_intervals + 1, n_shops))
    if not a_list:
        return out[:n_intervals]
    a = np.clip(np.array(a_list), 0, n_intervals * width)
    b = np.clip(np.array(b_list), 0, n_intervals * width)
    shop = np.array(shops)
    w = np.array(weights)
    keep = b > a
    a, b, shop, w = a[keep], b[keep], shop[keep], w[keep]
    i0 = np.minimum((a // width).astype(np.int64), n_intervals - 1)
    i1 = np.minimum((b // width).astype(np.int64), n_intervals)
    same = i0 == i1
    # A piece inside one interval; otherwise its head, its tail and the whole intervals between them.
    np.add.at(out, (i0[same], shop[same]), (b - a)[same] * w[same])
    x = ~same
    np.add.at(out, (i0[x], shop[x]), ((i0[x] + 1) * width - a[x]) * w[x])
    np.add.at(out, (i1[x], shop[x]), (b[x] - i1[x] * width) * w[x])
    whole = np.zeros((n_intervals + 1, n_shops))
    np.add.at(whole, (i0[x] + 1, shop[x]), width * w[x])
    np.add.at(whole, (i1[x], shop[x]), -width * w[x])
    out += np.cumsum(whole, axis=0)
    return out[:n_intervals]


def occupancy(sessions: Sequence[Session], handle_seconds: NDArray[np.float64], start: datetime) -> Occupancy:
    """Occupancy per (interval, shop) of `handle_seconds` (T, S): the handle time of conversations in each
    interval (the rollups' handle_sum_s), over the logged-in chat-slot time."""
    handle = np.asarray(handle_seconds, float)
    T, S = handle.shape
    logged = logged_in_seconds(sessions, start, T, S)
    capacity = logged_in_seconds(sessions, start, T, S, weighted=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(capacity > 0, handle / capacity, np.nan)
    return Occupancy(logged, capacity, occ)


# ---------------------------------------------------------------- overtime


def actual_overtime(
    sessions: Iterable[Session],
    rules: Mapping[int, LabourRules],
    calendar: DayCalendar,
    tz: tzinfo | str,
    prior: Mapping[int, PriorWork] | None = None,
    agent_tz: Mapping[int, tzinfo | str] | None = None,
) -> list[MonthOvertime]:
    """Overtime per agent and month of actual sessions, against the rules' monthly cap.

    `prior[agent]` carries what the agent worked before the sessions (its `month_overtime_minutes` count
    toward the month of its `as_of` day)."""
    by_agent: dict[int, list[WorkSpan]] = defaultdict(list)
    for s in sessions:
        by_agent[s.agent].append(session_span(s))
    out: list[MonthOvertime] = []
    for agent in sorted(by_agent):
        r = rules[agent]
        before = (prior or {}).get(agent)
        zone = (agent_tz or {}).get(agent, tz)
        days = overtime_by_day(by_agent[agent], r, calendar, zone, before)
        months: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        for d in days:
            m = months[(d.day.year, d.day.month)]
            m[0] += d.workday
            m[1] += d.rest_day
            m[2] += d.holiday
        first = before.as_of if before and before.as_of else (days[0].day if days else None)
        for (year, month), (wd, rd, hd) in sorted(months.items()):
            earlier = (
                before.month_overtime_minutes
                if before and first and (first.year, first.month) == (year, month)
                else 0
            )
            out.append(MonthOvertime(agent, year, month, wd, rd, hd, earlier, r.overtime_cap_per_month))
    return out
