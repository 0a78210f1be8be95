"""What a month's scorecards read, gathered set-based from the domains that own it, and shaped into the pure
maths' inputs (scoring.ScopeMonthInputs). Nothing here computes a metric the owning domain computes:

- SLA attainment, CSAT, DSAT, conversion: the per shop and day facts (scorecard_shop_days), which hold the
  SLA domain's own day verdicts (sla.service.judged_days) and the rollups' counters;
- occupancy, understaffing and overtime: ``attendance`` below, the ONE function that reads them (the seating
  domain's reports: seating.actuals.occupancy_by_shop_interval and occupancy_by_scope (site, team and agent
  occupancy computed at the interval), seating.service.understaffed_by_shop_interval (published rosters
  against their plans' requirement) and seating.actuals.overtime_by_agent_day), kept as day facts by the
  refresh and read back by ``stored_attendance``; each scope's hot intervals are counted at read time under
  its own thresholds (``days_in``) from the day's occupancies above the hot floor;
- eNPS and wellbeing: people.pulse_report (suppressed below 5 respondents); attrition:
  people.attrition_by_group over agents' hire and leave dates; QA: the reviews' stored scores
  (qa.score_review at write) summarised by qa's IQS and pass-rate rules; coaching coverage:
  qa.coaching_coverage.

Site, team and agent scopes see the client side of the shops their agents worked, each shop weighted by the
scope's share of that shop's logged-in chat-slot time in the month.
"""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.time import DEFAULT_TZ
from service.scorecard import people, qa
from service.scorecard import scoring as sc
from service.scorecard.models import FLOOR
from service.scorecard.periods import Period, add_months
from service.seating import attendance as seat

DEFAULT = sc.Thresholds()
# A tenant-owned table's rows of some shops, by its key (tenant first, as every such key is).
_OF_SHOPS = " AND (tenant_id, shop_id) IN (SELECT tenant_id, id FROM shops WHERE id = ANY(:shops))"


async def _all(session: AsyncSession, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
    """Every row at once (one fetch, not one call per row)."""
    return list((await session.execute(stmt, params or {})).all())


# --- attendance: occupancy and overtime, from the seating domain's maths ------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    """One scope's local day: handle and chat-slot seconds, the occupancies of its intervals above the hot
    floor (models.FLOOR, ascending), and its intervals rostered below requirement."""

    handle: float = 0.0
    capacity: float = 0.0
    occupancies: tuple[float, ...] = ()
    understaffed: int = 0

    def hot(self, threshold: float) -> int:
        """Intervals above THRESHOLD (at or above the floor: the kept occupancies are exactly those)."""
        return len(self.occupancies) - bisect.bisect_right(self.occupancies, threshold)


Loads = dict[uuid.UUID, dict[date, Load]]  # per scope id, per local day


@dataclass
class Attendance:
    """Occupancy, understaffing and overtime over local days [first, last]."""

    first: date
    last: date
    shop: Loads = field(default_factory=dict)
    site: Loads = field(default_factory=dict)
    team: Loads = field(default_factory=dict)
    agent: Loads = field(default_factory=dict)
    # Per agent and shop: chat-slot seconds logged in, per month (the weights of the client side)
    agent_shop: dict[date, dict[uuid.UUID, dict[uuid.UUID, float]]] = field(default_factory=dict)
    # Per agent: overtime minutes per local day (seating's overtime by day); the monthly cap in minutes
    overtime: dict[uuid.UUID, dict[date, int]] = field(default_factory=dict)
    cap_minutes: dict[uuid.UUID, int] = field(default_factory=dict)
    # Per scope id (shop, site, team or agent): per month, (handle seconds, chat-slot seconds)
    totals: dict[uuid.UUID, dict[date, tuple[float, float]]] = field(default_factory=dict)
    # Per agent: normal minutes worked per local day; the daily norm of its rules in minutes
    normal: dict[uuid.UUID, dict[date, int]] = field(default_factory=dict)
    norm_minutes: dict[uuid.UUID, int] = field(default_factory=dict)


def day_loads(
    owners: np.ndarray,
    days: np.ndarray,
    handle: np.ndarray,
    capacity: np.ndarray,
    occupancy: np.ndarray,
    first: date,
) -> dict[int, dict[date, Load]]:
    """Interval cells (owner, local day index, handle s, chat-slot s, occupancy) summed per owner and day,
    the occupancies above the floor kept sorted."""
    out: dict[int, dict[date, Load]] = {}
    if not len(owners):
        return out
    n_days = int(days.max()) + 1
    key = owners.astype(np.int64) * n_days + days
    unique, inverse = np.unique(key, return_inverse=True)
    h, c = np.bincount(inverse, handle), np.bincount(inverse, capacity)
    with np.errstate(invalid="ignore"):
        hot = np.flatnonzero(np.nan_to_num(occupancy, nan=0.0) > FLOOR)
    above: dict[int, list[float]] = defaultdict(list)
    for i, v in zip(inverse[hot].tolist(), occupancy[hot].tolist(), strict=True):
        above[i].append(v)
    for i, k in enumerate(unique.tolist()):
        owner, d = divmod(k, n_days)
        out.setdefault(owner, {})[first + timedelta(days=d)] = Load(
            float(h[i]), float(c[i]), tuple(sorted(above.get(i, ()))), 0
        )
    return out


async def attendance(session: AsyncSession, month: date) -> Attendance:
    """A month's occupancy, understaffing and overtime from the seating domain's reports, the one place the
    scorecard reads them:

    - occupancy per shop and interval (seating.actuals.occupancy_by_shop_interval: the rollups' handle time,
      carried over to the intervals that work it, over logged-in chat-slot time) and per site, team and
      agent and interval computed at the interval (seating.actuals.occupancy_by_scope: each agent's
      chat-slot time on a shop times the shop's occupancy in that interval, summed per scope, over the
      scope's chat-slot time), kept per local day as the occupancies above the hot floor so that any
      scope's threshold re-counts its hot intervals;
    - understaffing: the shop-intervals rostered below requirement (seating.service.
      understaffed_by_shop_interval), a shop's own and, for a site, team or agent, those its agents were
      rostered on;
    - overtime per agent and local day (seating.actuals.overtime_by_agent_day) against the monthly cap."""
    from service.seating import actuals
    from service.seating.service import understaffed_by_shop_interval

    tz = ZoneInfo(DEFAULT_TZ)
    after = add_months(month, 1)
    last = after - timedelta(days=1)
    out = Attendance(month, last)
    grid = await actuals.occupancy_by_shop_interval(session, (month, after))
    occ, handle, capacity = grid.result.occupancy, grid.handle_seconds, grid.result.capacity_seconds
    worked = grid.result.worked_seconds  # the handle time carried over to the intervals that work it
    n_intervals = occ.shape[0]
    day_index = np.array(
        [
            ((grid.start + timedelta(minutes=seat.INTERVAL_MINUTES * t)).astimezone(tz).date() - month).days
            for t in range(n_intervals)
        ],
        dtype=np.int64,
    )
    ts, ss = np.nonzero((capacity > 0) | (handle > 0))
    for j, days in day_loads(ss, day_index[ts], worked[ts, ss], capacity[ts, ss], occ[ts, ss], month).items():
        out.shop[grid.shops[j][1]] = days
    site_of = dict(await _all(session, text("SELECT id, site_id FROM agents")))
    team_of = dict(await _all(session, text("SELECT agent_id, team_id FROM agent_team_members")))
    kinds: list[tuple[Loads, uuid.UUID]] = []  # scope index -> (where it goes, its id)
    index: dict[tuple[int, uuid.UUID], int] = {}

    def scope(where: Loads, key: uuid.UUID) -> int:
        k = index.get((id(where), key))
        if k is None:
            k = index[id(where), key] = len(kinds)
            kinds.append((where, key))
        return k

    def scopes_of(agent_id: uuid.UUID) -> list[int]:
        found = [scope(out.agent, agent_id), scope(out.site, site_of[agent_id])]
        if agent_id in team_of:
            found.append(scope(out.team, team_of[agent_id]))
        return found

    cells = await actuals.occupancy_by_scope(session, grid, scopes_of)
    for k, days in day_loads(
        cells.scope,
        day_index[cells.interval],
        cells.handle_seconds,
        cells.capacity_seconds,
        cells.occupancy,
        month,
    ).items():
        where, key = kinds[k]
        where[key] = days
    # understaffing: per shop and day; per site, team and agent, the cells their agents were rostered on
    short: dict[int, dict[tuple[uuid.UUID, date], int]] = defaultdict(lambda: defaultdict(int))
    places: dict[int, Loads] = {0: out.shop, 1: out.site, 2: out.team, 3: out.agent}
    for cell in await understaffed_by_shop_interval(session, month, after):
        day = cell.interval_start.astimezone(tz).date()
        short[0][cell.shop_id, day] += 1
        for kind, owners in (
            (1, {site_of[a] for a in cell.agent_ids if a in site_of}),
            (2, {team_of[a] for a in cell.agent_ids if a in team_of}),
            (3, set(cell.agent_ids)),
        ):
            for owner in owners:
                short[kind][owner, day] += 1
    for kind, counts in short.items():
        for (owner, day), n in counts.items():
            days = places[kind].setdefault(owner, {})
            days[day] = replace(days.get(day, Load()), understaffed=n)
    # agents' chat-slot time per shop: the month's sessions (the grid's of every shop, those starting in it)
    slots = grid.slots_by_agent_shop()
    if slots:
        out.agent_shop[month] = slots
    for row in await actuals.overtime_by_agent_day(session, month, after, grid=grid):  # the grid's sessions
        out.overtime.setdefault(row.agent_id, {})[row.day] = row.overtime_minutes
        out.normal.setdefault(row.agent_id, {})[row.day] = row.normal_minutes
        out.cap_minutes[row.agent_id] = row.month_cap_minutes
        out.norm_minutes[row.agent_id] = row.day_norm_minutes
    return out


_LOAD_COLUMNS = "day, handle_s, capacity_s, occupancies, understaffed"


async def stored_attendance(
    session: AsyncSession,
    first: date,
    last: date,
    shops: Sequence[uuid.UUID] | None = None,
    kinds: Collection[str] | None = None,
) -> Attendance:
    """The attendance facts of the local days [first, last] as the last refresh stored them (service.refresh_
    attendance keeps them from ``attendance``): what a scorecard reads, so no request recomputes occupancy.
    SHOPS: these shops' facts and their agents' (every shop those agents worked, and their overtime); KINDS:
    the people scopes whose loads to read (site, team, agent; None: all). Loads come as month totals and the
    days with hot intervals or understaffing (the only days a count needs)."""
    out = Attendance(first, last)
    p = {"a": first, "b": last, "shops": list(shops or [])}
    only = "" if shops is None else _OF_SHOPS

    async def keep(into: Loads, table: str, key: str, where: str = "") -> None:
        for owner, month, h, c in await _all(
            session,
            text(
                f"SELECT {key}, date_trunc('month', day)::date, sum(handle_s), sum(capacity_s) FROM {table} "
                f"WHERE day BETWEEN :a AND :b{where} GROUP BY 1, 2"
            ),
            p,
        ):
            out.totals.setdefault(owner, {})[month] = (h, c)
        for owner, day, occupancies, understaffed in await _all(
            session,
            text(
                f"SELECT {key}, day, occupancies, understaffed FROM {table} "
                f"WHERE day BETWEEN :a AND :b{where} AND (cardinality(occupancies) > 0 OR understaffed > 0)"
            ),
            p,
        ):
            into.setdefault(owner, {})[day] = Load(0.0, 0.0, tuple(occupancies), understaffed)

    await keep(out.shop, "scorecard_shop_load_days", "shop_id", only)
    agents = (
        ""
        if shops is None
        else (
            " AND agent_id IN (SELECT agent_id FROM scorecard_agent_shop_months WHERE month BETWEEN "
            "date_trunc('month', CAST(:a AS date)) AND :b AND shop_id = ANY(:shops))"
        )
    )
    for agent_id, days, minutes, cap, normal, norm in await _all(
        session,
        text(
            "SELECT agent_id, array_agg(day), array_agg(overtime_min), max(cap_min), array_agg(normal_min), "
            "max(norm_min) FROM scorecard_agent_days "
            f"WHERE day BETWEEN :a AND :b{agents} GROUP BY 1"
        ),
        p,
    ):
        out.overtime[agent_id] = dict(zip(days, minutes, strict=True))
        out.normal[agent_id] = dict(zip(days, normal, strict=True))
        out.cap_minutes[agent_id] = cap
        out.norm_minutes[agent_id] = norm
    for agent_id, shop_id, month, slot in await _all(
        session,
        text(
            "SELECT agent_id, shop_id, month, slot_s FROM scorecard_agent_shop_months "
            f"WHERE month BETWEEN date_trunc('month', CAST(:a AS date)) AND :b{agents}"
        ),
        p,
    ):
        out.agent_shop.setdefault(month, {}).setdefault(agent_id, {})[shop_id] = slot
    if shops is not None:
        return out
    for into, table, key, kind in (
        (out.site, "scorecard_site_load_days", "site_id", "site"),
        (out.team, "scorecard_team_load_days", "team_id", "team"),
        (out.agent, "scorecard_agent_days", "agent_id", "agent"),
    ):
        if kinds is None or kind in kinds:
            await keep(into, table, key)
    return out


def month_totals(att: Attendance, owners: Iterable[uuid.UUID], month: date) -> tuple[float, float]:
    """(handle seconds, chat-slot seconds) of OWNERS (shops, a site, a team or an agent) in MONTH."""
    h = c = 0.0
    for owner in owners:
        found = att.totals.get(owner, {}).get(month)
        if found is not None:
            h, c = h + found[0], c + found[1]
    return h, c


# --- the rest of a month's inputs ---------------------------------------------------------------------------


@dataclass
class Names:
    shops: dict[uuid.UUID, tuple[uuid.UUID, str]] = field(default_factory=dict)  # shop -> (tenant, name)
    brands: dict[uuid.UUID, str] = field(default_factory=dict)
    sites: dict[uuid.UUID, str] = field(default_factory=dict)
    teams: dict[uuid.UUID, tuple[uuid.UUID, str]] = field(default_factory=dict)  # team -> (site, name)
    agents: dict[uuid.UUID, tuple[uuid.UUID, str]] = field(default_factory=dict)  # agent -> (site, name)
    team_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # agent -> team
    tenures: dict[uuid.UUID, people.Tenure] = field(default_factory=dict)


async def names(
    session: AsyncSession, staff: bool, tenant_id: uuid.UUID | None = None, shop_id: uuid.UUID | None = None
) -> Names:
    """Shops and brands (of one brand, or one shop), and with STAFF the sites, teams and agents."""
    n = Names()
    where = " WHERE s.tenant_id = :t" if tenant_id is not None else " WHERE s.id = :s" if shop_id else ""
    for s_id, t_id, name, slug in await _all(
        session,
        text(
            "SELECT s.id, s.tenant_id, s.name, t.name FROM shops s "
            f"JOIN tenants t ON t.id = s.tenant_id{where}"
        ),
        {"t": tenant_id, "s": shop_id},
    ):
        n.shops[s_id] = (t_id, name)
        n.brands[t_id] = slug
    if shop_id is None:  # every brand (or the one), with shops or not yet
        brands = "" if tenant_id is None else " WHERE id = :t"
        found = await _all(session, text(f"SELECT id, name FROM tenants{brands}"), {"t": tenant_id})
        for t_id, name in found:
            n.brands[t_id] = name
    if not staff:
        return n
    n.sites = dict((await session.execute(text("SELECT id, name FROM sites"))).all())
    for team_id, site_id, name in await _all(session, text("SELECT id, site_id, name FROM agent_teams")):
        n.teams[team_id] = (site_id, name)
    for agent_id, site_id, name, hired, left in await _all(
        session, text("SELECT id, site_id, name, hired_on, left_on FROM agents")
    ):
        n.agents[agent_id] = (site_id, name)
        n.tenures[agent_id] = people.Tenure(str(agent_id), hired, left)
    n.team_of = dict((await session.execute(text("SELECT agent_id, team_id FROM agent_team_members"))).all())
    return n


@dataclass
class ShopMonth:
    verdicts: float = 0.0
    met: float = 0.0
    csat_count: float = 0.0
    csat_good: float = 0.0
    csat_bad: float = 0.0
    presale_offered: float = 0.0
    presale_converted: float = 0.0

    def add(self, other: ShopMonth, weight: float = 1.0) -> None:
        for f in (
            "verdicts",
            "met",
            "csat_count",
            "csat_good",
            "csat_bad",
            "presale_offered",
            "presale_converted",
        ):
            setattr(self, f, getattr(self, f) + weight * getattr(other, f))

    def kpis(self) -> dict[str, float | None]:
        return {
            sc.SLA_ATTAINMENT: _share(self.met, self.verdicts),
            sc.CSAT: _share(self.csat_good, self.csat_count),
            sc.DSAT: _share(self.csat_bad, self.csat_count),
            sc.CONVERSION: _share(self.presale_converted, self.presale_offered),
        }


def _share(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


async def shop_months(
    session: AsyncSession, first: date, after: date, shops: Sequence[uuid.UUID] | None = None
) -> dict[tuple[uuid.UUID, date], ShopMonth]:
    """The day facts summed per shop and month over [first, after), in SQL."""
    where = "" if shops is None else _OF_SHOPS
    out = {}
    for row in await _all(
        session,
        text(
            "SELECT shop_id, date_trunc('month', day)::date, sum(verdicts), sum(met), sum(csat_count), "
            "sum(csat_good), sum(csat_bad), sum(presale_offered), sum(presale_converted) "
            f"FROM scorecard_shop_days WHERE day >= :a AND day < :b{where} GROUP BY 1, 2"
        ),
        {"a": first, "b": after, "shops": list(shops or [])},
    ):
        out[row[0], row[1]] = ShopMonth(*(float(x) for x in row[2:]))
    return out


async def ratings(
    session: AsyncSession, first: date, after: date, shops: Sequence[uuid.UUID] | None = None
) -> tuple[dict[tuple[uuid.UUID, date], float], dict[tuple[uuid.UUID, date], float]]:
    """Mean client rating per (shop, month) and per (brand, month) for the brand-wide ones."""
    where = (
        ""
        if shops is None
        else (
            " AND tenant_id IN (SELECT tenant_id FROM shops WHERE id = ANY(:shops))"
            " AND (shop_id = ANY(:shops) OR shop_id IS NULL)"
        )
    )
    shop: dict[tuple[uuid.UUID, date], float] = {}
    brand: dict[tuple[uuid.UUID, date], float] = {}
    for tenant_id, shop_id, month, mean in await _all(
        session,
        text(
            "SELECT tenant_id, shop_id, month, avg(score)::float FROM client_ratings "
            f"WHERE month >= :a AND month < :b{where} GROUP BY 1, 2, 3"
        ),
        {"a": first, "b": after, "shops": list(shops or [])},
    ):
        if shop_id is None:
            brand[tenant_id, month] = mean
        else:
            shop[shop_id, month] = mean
    return shop, brand


async def pulses(session: AsyncSession, month: date) -> people.PulseReport | None:
    """The month's pulse answers (every survey of the month) as one anonymous report."""
    rows = (
        await session.execute(
            text(
                "SELECT a.site_id, a.team_id, a.recommend, a.wellbeing FROM pulse_answers a "
                "JOIN pulse_surveys s ON s.id = a.survey_id WHERE s.month = :m"
            ),
            {"m": month},
        )
    ).all()
    if not rows:
        return None
    return people.pulse_report(people.PulseResponse(str(s), str(t), r, w) for s, t, r, w in rows)


@dataclass(frozen=True)
class Reviewed:
    shop_id: uuid.UUID
    agent_id: uuid.UUID
    score: float | None


async def reviews(
    session: AsyncSession,
    first: date,
    after: date,
    shops: Sequence[uuid.UUID] | None = None,
    agents: Sequence[uuid.UUID] | None = None,
) -> dict[date, list[Reviewed]]:
    """The counted reviews (no calibration) per month, with the scores qa.score_review gave them."""
    out: dict[date, list[Reviewed]] = defaultdict(list)
    only = ("" if shops is None else _OF_SHOPS) + ("" if agents is None else " AND agent_id = ANY(:agents)")
    for shop_id, agent_id, day, score in await _all(
        session,
        text(
            "SELECT shop_id, agent_id, conversation_on, score FROM qa_reviews WHERE conversation_on >= :a "
            f"AND conversation_on < :b AND calibration_session_id IS NULL{only}"
        ),
        {"a": first, "b": after, "shops": list(shops or []), "agents": list(agents or [])},
    ):
        out[day.replace(day=1)].append(Reviewed(shop_id, agent_id, score))
    return out


def quality(items: Iterable[Reviewed]) -> qa.QualitySummary:
    """IQS and pass rate by qa's rules over stored review scores."""
    found = list(items)
    scores = [r.score for r in found if r.score is not None]
    if not scores:
        return qa.QualitySummary(len(found), 0, None, None)
    return qa.QualitySummary(
        len(found),
        len(scores),
        sum(scores) / len(scores),
        sum(s >= qa.PASS_MARK for s in scores) / len(scores),
    )


async def coaching(session: AsyncSession, first: date, after: date) -> list[qa.CoachingSession]:
    return [
        qa.CoachingSession(str(i), str(a), c, d, tuple(areas))
        for i, a, c, d, areas in await _all(
            session,
            text(
                "SELECT id, agent_id, coach, held_on, areas FROM coaching_sessions WHERE held_on >= :a "
                "AND held_on < :b"
            ),
            {"a": first, "b": after},
        )
    ]


async def promotions(session: AsyncSession, first: date, last: date, weeks: int) -> list[sc.Promotion]:
    """Declared promotions whose days or recovery window touch [first, last]."""
    return [
        sc.Promotion(str(i), name, s, e)
        for i, name, s, e in await _all(
            session,
            text(
                "SELECT p.id, p.name, p.start_date, p.end_date FROM promotions p "
                "JOIN promotion_relaxations r "
                "ON r.promotion_id = p.id WHERE p.start_date <= :last AND p.end_date + :w * 7 >= :first "
                "ORDER BY p.start_date"
            ),
            {"first": first, "last": last, "w": weeks},
        )
    ]


def days_in(
    loads: dict[date, Load], period: Period, promo_days: set[date], t: sc.Thresholds
) -> tuple[int, int, int, int]:
    """Over PERIOD, under the scope's thresholds T: (ordinary-day intervals above ``t.occupancy``,
    promotion-day intervals above ``t.promotion_occupancy``, all intervals above ``t.occupancy``, intervals
    rostered below requirement)."""
    ordinary = promotion = normal = short = 0
    for day, load in loads.items():
        if period.contains(day):
            above = load.hot(t.occupancy)
            normal += above
            short += load.understaffed
            if day in promo_days:
                promotion += load.hot(t.promotion_occupancy)
            else:
                ordinary += above
    return ordinary, promotion, normal, short


def window_inputs(
    p: sc.Promotion,
    loads: dict[date, Load] | None,
    att: Attendance,
    weights: Mapping[uuid.UUID, float],
    workdays: Container[date],
    as_of: date,
    t: sc.Thresholds,
) -> sc.RecoveryInputs:
    """A promotion's recovery so far, over its window up to AS_OF, for a scope with these LOADS and these
    agents (WEIGHTS: each agent's weight in the scope):

    - occupancy back to normal: the window's intervals above the scope's ``t.occupancy``;
    - overtime compensated, either way (scoring's rule):
      - time off in lieu: each agent's hours under its daily norm on the window's WORKDAYS (the norm's hours
        of the workdays seen less the normal hours it worked; a workday off counts whole), counted up to the
        overtime it worked on the promotion's days (one agent's rest does not compensate another's
        overtime), against the promotion days' overtime. The attendance feed does not tell time off in lieu
        from leave, so any workday hour not worked counts: the measure is generous, a failure is certain;
      - hours back under the norm: the window's overtime (seating's hours over the daily and weekly norms)
        at most ``t.overtime_cap_share`` x the normal cap pro rata of the window's days seen (a monthly cap x
        days / days of its month).

    Agents without any attendance day leave the overtime conditions unmeasured (None)."""
    window = p.recovery_window(t.recovery_weeks)
    seen = Period(window.start, max(window.start, min(as_of, window.end)))
    hot_count = (
        None if loads is None else sum(v.hot(t.occupancy) for d, v in loads.items() if seen.contains(d))
    )
    seen_days = list(_days_of(seen))
    seen_work = [d for d in seen_days if d in workdays]
    promo_days = list(_days_of(p.period))
    # A monthly cap's share of the days seen: each day a 1 / (days of its month)
    share = sum(1 / (add_months(d.replace(day=1), 1) - d.replace(day=1)).days for d in seen_days)
    promo = window_ot = rest = cap = 0.0
    measured = False
    for agent, w in weights.items():
        days = att.overtime.get(agent)
        if days is None:
            continue
        measured = True
        own = sum(days.get(d, 0) for d in promo_days)
        promo += w * own
        window_ot += w * sum(days.get(d, 0) for d in seen_days)
        normal = att.normal.get(agent, {})
        worked = sum(normal.get(d, 0) for d in seen_work)
        off = max(0, len(seen_work) * att.norm_minutes.get(agent, 0) - worked)
        rest += w * min(off, own)
        cap += w * att.cap_minutes.get(agent, 0) * share
    if not measured:
        return sc.RecoveryInputs(p, 0.0, hot_count)
    return sc.RecoveryInputs(p, promo / 60.0, hot_count, window_ot / 60.0, cap / 60.0, rest / 60.0)


def _days_of(period: Period) -> Iterable[date]:
    d = period.start
    while d <= period.end:
        yield d
        d += timedelta(days=1)


__all__ = [
    "Attendance",
    "Load",
    "day_loads",
    "month_totals",
    "Names",
    "Reviewed",
    "ShopMonth",
    "attendance",
    "coaching",
    "days_in",
    "names",
    "promotions",
    "pulses",
    "quality",
    "ratings",
    "reviews",
    "shop_months",
    "window_inputs",
    "UTC",
    "Any",
]
