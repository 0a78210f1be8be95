"""What a month's scorecards read, gathered set-based from the domains that own it, and shaped into the pure
maths' inputs (scoring.ScopeMonthInputs). Nothing here computes a metric the owning domain computes:

- SLA attainment, CSAT, DSAT, conversion: the per shop and day facts (scorecard_shop_days), which hold the
  SLA domain's own day verdicts (sla.service.judged_days) and the rollups' counters;
- occupancy and overtime: ``attendance`` below, the ONE function that reads them (the seating domain's
  reports: seating.actuals.occupancy_by_shop_interval and overtime_by_agent_month), kept as facts by the
  refresh and read back by ``stored_attendance``;
- eNPS and wellbeing: people.pulse_report (suppressed below 5 respondents); attrition:
  people.attrition_by_group over agents' hire and leave dates; QA: the reviews' stored scores
  (qa.score_review at write) summarised by qa's IQS and pass-rate rules; coaching coverage:
  qa.coaching_coverage.

Site, team and agent scopes see the client side of the shops their agents worked, each shop weighted by the
scope's share of that shop's logged-in chat-slot time in the month.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.time import DEFAULT_TZ, local_day_start
from service.scorecard import people, qa
from service.scorecard import scoring as sc
from service.scorecard.periods import Period, add_months
from service.seating import attendance as seat

DEFAULT = sc.Thresholds()
# A tenant-owned table's rows of some shops, by its key (tenant first, as every such key is).
_OF_SHOPS = " AND (tenant_id, shop_id) IN (SELECT tenant_id, id FROM shops WHERE id = ANY(:shops))"


async def _all(session: AsyncSession, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
    """Every row at once (one fetch, not one call per row)."""
    return list((await session.execute(stmt, params or {})).all())


# --- attendance: occupancy and overtime, from the seating domain's maths ------------------------------------


@dataclass
class Attendance:
    """Occupancy and overtime over local days [first, last]."""

    first: date
    last: date
    # Per shop / site: per local day, (intervals above the normal occupancy threshold, above the promotion's)
    shop_hot: dict[uuid.UUID, dict[date, tuple[int, int]]] = field(default_factory=dict)
    site_hot: dict[uuid.UUID, dict[date, tuple[int, int]]] = field(default_factory=dict)
    # Per shop / site: per month, (handle seconds, chat-slot seconds)
    shop_load: dict[uuid.UUID, dict[date, tuple[float, float]]] = field(default_factory=dict)
    site_load: dict[uuid.UUID, dict[date, tuple[float, float]]] = field(default_factory=dict)
    # Per shop / site: per local day, (handle seconds, chat-slot seconds) (what the facts keep)
    shop_day_load: dict[uuid.UUID, dict[date, tuple[float, float]]] = field(default_factory=dict)
    site_day_load: dict[uuid.UUID, dict[date, tuple[float, float]]] = field(default_factory=dict)
    # Per agent and shop: chat-slot seconds logged in, per month (the weights of the client side)
    agent_shop: dict[date, dict[uuid.UUID, dict[uuid.UUID, float]]] = field(default_factory=dict)
    # Per agent: overtime minutes per local day; the monthly cap in minutes
    overtime: dict[uuid.UUID, dict[date, int]] = field(default_factory=dict)
    cap_minutes: dict[uuid.UUID, int] = field(default_factory=dict)


_SLOTS = """
SELECT w.agent_id, w.shop_id, date_trunc('month', lower(w.during) AT TIME ZONE 'Asia/Shanghai')::date,
       sum((EXTRACT(EPOCH FROM upper(w.during) - lower(w.during))
            - coalesce((SELECT sum(EXTRACT(EPOCH FROM upper(b) - lower(b))) FROM unnest(w.breaks) b), 0))
           * coalesce(a.max_concurrency, 1))
FROM work_sessions w LEFT JOIN agents a ON a.id = w.agent_id
WHERE lower(w.during) >= :lo AND lower(w.during) < :hi
GROUP BY 1, 2, 3
"""


async def attendance(session: AsyncSession, month: date) -> Attendance:
    """A month's occupancy and overtime from the seating domain's reports, the one place the scorecard reads
    them: occupancy per shop and interval (seating.actuals.occupancy_by_shop_interval: the rollups' handle
    time over logged-in chat-slot time, attendance.occupancy's maths) counted into intervals above the
    thresholds per local day; overtime per agent and month against its rule set's cap
    (seating.actuals.overtime_by_agent_month), kept on the month's first day (the reports have no daily
    overtime: promotion days and recovery windows are judged on occupancy only). A site's occupancy is its
    agents' share of each shop's chat-slot time in the month applied to the shop's intervals."""
    from service.seating import actuals

    tz = ZoneInfo(DEFAULT_TZ)
    after = add_months(month, 1)
    last = after - timedelta(days=1)
    out = Attendance(month, last)
    grid = await actuals.occupancy_by_shop_interval(session, (month, after))
    occ, handle, capacity = grid.result.occupancy, grid.handle_seconds, grid.result.capacity_seconds
    n_intervals = occ.shape[0]
    days = [
        (grid.start + timedelta(minutes=seat.INTERVAL_MINUTES * t)).astimezone(tz).date()
        for t in range(n_intervals)
    ]
    day_index = np.array([(d - month).days for d in days], dtype=np.int64)
    n_days = (last - month).days + 1

    def per_day(matrix: np.ndarray) -> np.ndarray:
        """(days, columns) sums of a (intervals, columns) matrix."""
        sums = np.zeros((n_days, matrix.shape[1]))
        np.add.at(sums, day_index, matrix)
        return sums

    with np.errstate(invalid="ignore"):
        above = np.nan_to_num(occ, nan=0.0)
        hot, promo = (
            per_day((above > DEFAULT.occupancy) * 1.0),
            per_day((above > DEFAULT.promotion_occupancy) * 1.0),
        )
    handle_days, capacity_days = per_day(handle), per_day(capacity)

    def store(
        owner: uuid.UUID,
        j: int,
        hot_days: np.ndarray,
        promo_days: np.ndarray,
        h: np.ndarray,
        c: np.ndarray,
        into_hot: dict[Any, Any],
        into_load: dict[Any, Any],
    ) -> None:
        for k in np.flatnonzero((c[:, j] > 0) | (h[:, j] > 0)).tolist():
            day = month + timedelta(days=k)
            into_load.setdefault(owner, {})[day] = (float(h[k, j]), float(c[k, j]))
            if hot_days[k, j]:
                into_hot.setdefault(owner, {})[day] = (int(hot_days[k, j]), int(promo_days[k, j]))

    for j, (_, shop_id) in enumerate(grid.shops):
        store(shop_id, j, hot, promo, handle_days, capacity_days, out.shop_hot, out.shop_day_load)
    lo, hi = local_day_start(month, tz), local_day_start(after, tz)
    site_of = dict(await _all(session, text("SELECT id, site_id FROM agents")))
    per_site: dict[uuid.UUID, np.ndarray] = {}
    column = {shop: j for j, (_, shop) in enumerate(grid.shops)}
    for agent_id, shop_id, m, slot in await _all(session, text(_SLOTS), {"lo": lo, "hi": hi}):
        weights = out.agent_shop.setdefault(m, {}).setdefault(agent_id, {})
        weights[shop_id] = weights.get(shop_id, 0.0) + float(slot)
        if m == month and shop_id in column:
            share = per_site.setdefault(site_of[agent_id], np.zeros(len(grid.shops)))
            share[column[shop_id]] += float(slot)
    totals = sum(per_site.values()) if per_site else np.zeros(len(grid.shops))
    for site_id, slots in per_site.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(totals > 0, slots / totals, 0.0)
        site_handle, site_cap = (handle * share).sum(axis=1), (capacity * share).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            site_occ = np.where(site_cap > 0, site_handle / site_cap, 0.0)[:, None]
        store(
            site_id,
            0,
            per_day((site_occ > DEFAULT.occupancy) * 1.0),
            per_day((site_occ > DEFAULT.promotion_occupancy) * 1.0),
            per_day(site_handle[:, None]),
            per_day(site_cap[:, None]),
            out.site_hot,
            out.site_day_load,
        )
    for row in await actuals.overtime_by_agent_month(session, f"{month:%Y-%m}"):
        out.overtime[row.agent_id] = {month: row.total_minutes}
        out.cap_minutes[row.agent_id] = row.cap_minutes
    return out


async def stored_attendance(
    session: AsyncSession, first: date, last: date, shops: Sequence[uuid.UUID] | None = None
) -> Attendance:
    """The attendance facts of the local days [first, last] as the last refresh stored them (service.refresh_
    attendance keeps them from ``attendance``): what a scorecard reads, so no request recomputes occupancy.
    SHOPS: these shops' facts and their agents' (every shop those agents worked, and their overtime)."""
    out = Attendance(first, last)
    p = {"a": first, "b": last, "shops": list(shops or [])}
    only = "" if shops is None else _OF_SHOPS
    for shop_id, day, hot, promo in await _all(
        session,
        text(
            "SELECT shop_id, day, hot, promotion_hot FROM scorecard_shop_load_days "
            "WHERE day BETWEEN :a AND :b "
            f"AND hot > 0{only}"
        ),
        p,
    ):
        out.shop_hot.setdefault(shop_id, {})[day] = (hot, promo)
    for shop_id, month, h, c in await _all(
        session,
        text(
            "SELECT shop_id, date_trunc('month', day)::date, sum(handle_s), sum(capacity_s) "
            f"FROM scorecard_shop_load_days WHERE day BETWEEN :a AND :b{only} GROUP BY 1, 2"
        ),
        p,
    ):
        out.shop_load.setdefault(shop_id, {})[month] = (h, c)
    agents = (
        ""
        if shops is None
        else (
            " AND agent_id IN (SELECT agent_id FROM scorecard_agent_shop_months WHERE month BETWEEN "
            "date_trunc('month', CAST(:a AS date)) AND :b AND shop_id = ANY(:shops))"
        )
    )
    for agent_id, days, minutes, cap in await _all(
        session,
        text(
            "SELECT agent_id, array_agg(day), array_agg(overtime_min), max(cap_min) "
            "FROM scorecard_agent_days "
            f"WHERE day BETWEEN :a AND :b{agents} GROUP BY 1"
        ),
        p,
    ):
        out.overtime[agent_id] = dict(zip(days, minutes, strict=True))
        out.cap_minutes[agent_id] = cap
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
    for site_id, day, hot, promo in await _all(
        session,
        text(
            "SELECT site_id, day, hot, promotion_hot FROM scorecard_site_load_days "
            "WHERE day BETWEEN :a AND :b "
            "AND hot > 0"
        ),
        p,
    ):
        out.site_hot.setdefault(site_id, {})[day] = (hot, promo)
    for site_id, month, h, c in await _all(
        session,
        text(
            "SELECT site_id, date_trunc('month', day)::date, sum(handle_s), sum(capacity_s) "
            "FROM scorecard_site_load_days WHERE day BETWEEN :a AND :b GROUP BY 1, 2"
        ),
        p,
    ):
        out.site_load.setdefault(site_id, {})[month] = (h, c)
    return out


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


def days_in(hot: dict[date, tuple[int, int]], period: Period, promo_days: set[date]) -> tuple[int, int, int]:
    """(ordinary-day intervals above normal, promotion-day intervals above the promotion threshold, all above
    normal) over PERIOD."""
    ordinary = promotion = normal = 0
    for day, (above, above_promo) in hot.items():
        if period.contains(day):
            normal += above
            if day in promo_days:
                promotion += above_promo
            else:
                ordinary += above
    return ordinary, promotion, normal


def window_inputs(
    p: sc.Promotion, hot: dict[date, tuple[int, int]] | None, as_of: date, weeks: int
) -> sc.RecoveryInputs:
    """A promotion's recovery so far: the intervals above the normal occupancy threshold in its window up to
    AS_OF. Overtime in the window is not measured (the seating domain reports overtime per month), so the
    overtime condition stays unknown and a window with occupancy back to normal is reported as no_data."""
    window = p.recovery_window(weeks)
    seen = Period(window.start, max(window.start, min(as_of, window.end)))
    hot_count = None if hot is None else sum(v[0] for d, v in hot.items() if seen.contains(d))
    return sc.RecoveryInputs(p, 0.0, hot_count)


__all__ = [
    "Attendance",
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
