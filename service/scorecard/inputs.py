"""What a month's scorecards read, gathered set-based from the domains that own it, and shaped into the pure
maths' inputs (scoring.ScopeMonthInputs). Nothing here computes a metric the owning domain computes:

- SLA attainment, CSAT, DSAT, conversion: the per shop and day facts (scorecard_shop_days), which hold the
  SLA domain's own day verdicts (sla.service.judged_days) and the rollups' counters;
- occupancy and overtime: ``attendance`` below, the ONE function that reads them (the seating domain's
  attendance maths: seating.attendance.occupancy and seating.rules.overtime_by_day over work_sessions);
- eNPS and wellbeing: people.pulse_report (suppressed below 5 respondents); attrition:
  people.attrition_by_group
  over agents' hire and leave dates; QA: the reviews' stored scores (qa.score_review at write) summarised by
  qa's IQS and pass-rate rules; coaching coverage: qa.coaching_coverage.

Site, team and agent scopes see the client side of the shops their agents worked, each shop weighted by the
scope's share of that shop's logged-in chat-slot time in the month.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.finance.queries import calendar_book
from service.kit.time import DEFAULT_TZ, local_day_start
from service.scorecard import people, qa
from service.scorecard import scoring as sc
from service.scorecard.periods import Period, add_months
from service.seating import attendance as seat
from service.seating.rules import LabourRules, WorkSpan, overtime_by_day

DEFAULT = sc.Thresholds()


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


async def attendance(
    session: AsyncSession, first: date, last: date, shops: Sequence[uuid.UUID] | None = None
) -> Attendance:
    """Occupancy per shop, site and interval and overtime per agent and day over the local days [first, last],
    from work_sessions and the rollups' handle time, by the seating domain's attendance maths. SHOPS: only
    these shops' sessions (a shop's trend). The one place the scorecard reads occupancy and overtime."""
    tz = ZoneInfo(DEFAULT_TZ)
    lo, hi = local_day_start(first, tz), local_day_start(last + timedelta(days=1), tz)
    where = "" if shops is None else " AND w.shop_id = ANY(:shops)"
    rows = (
        await session.execute(
            text(
                "SELECT w.shop_id, w.agent_id, a.site_id, a.max_concurrency, lower(w.during), "
                "upper(w.during), "
                "w.breaks::text FROM work_sessions w JOIN agents a ON a.id = w.agent_id "
                f"WHERE w.during && tstzrange(:lo, :hi){where}"
            ),
            {"lo": lo, "hi": hi, "shops": list(shops or [])},
        )
    ).all()
    out = Attendance(first, last)
    if not rows:
        return out
    shop_ids = sorted({r[0] for r in rows})
    site_ids = sorted({r[2] for r in rows})
    shop_at = {s: i for i, s in enumerate(shop_ids)}
    n_intervals = int((hi - lo).total_seconds() // (seat.INTERVAL_MINUTES * 60))
    handle = np.zeros((n_intervals, len(shop_ids)))
    for shop_id, start, seconds in await _all(
        session,
        text(
            "SELECT shop_id, interval_start, handle_sum_s FROM shop_interval_stats "
            "WHERE shop_id = ANY(:shops) AND interval_start >= :lo AND interval_start < :hi"
        ),
        {"shops": shop_ids, "lo": lo, "hi": hi},
    ):
        t = int((start - lo).total_seconds() // (seat.INTERVAL_MINUTES * 60))
        handle[t, shop_at[shop_id]] += seconds
    sessions: list[seat.Session] = []
    by_site: dict[uuid.UUID, list[seat.Session]] = defaultdict(list)
    spans: dict[uuid.UUID, list[WorkSpan]] = defaultdict(list)
    for shop_id, agent_id, site_id, concurrency, start, end, breaks in rows:
        pauses = _ranges(breaks)
        s = seat.Session(0, shop_at[shop_id], start, end, pauses, concurrency)
        sessions.append(s)
        by_site[site_id].append(s)
        spans[agent_id].append(WorkSpan(start, end, pauses))
        month = start.astimezone(tz).date().replace(day=1)
        slot = (end - start).total_seconds() - sum((b - a).total_seconds() for a, b in pauses)
        weights = out.agent_shop.setdefault(month, {}).setdefault(agent_id, {})
        weights[shop_id] = weights.get(shop_id, 0.0) + slot * concurrency
    occ = seat.occupancy(sessions, handle, lo)
    days = [
        (lo + timedelta(minutes=seat.INTERVAL_MINUTES * t)).astimezone(tz).date() for t in range(n_intervals)
    ]
    day_index = np.array([(d - first).days for d in days])
    n_days = (last - first).days + 1
    month_of = [add_months(first.replace(day=1), k) for k in range(13)]
    month_index = np.array([(d.year - first.year) * 12 + d.month - first.month for d in days])

    def hot(matrix: np.ndarray) -> list[dict[date, tuple[int, int]]]:
        with np.errstate(invalid="ignore"):
            normal = np.nan_to_num(matrix > DEFAULT.occupancy).astype(np.int64)
            promo = np.nan_to_num(matrix > DEFAULT.promotion_occupancy).astype(np.int64)
        found = []
        for j in range(matrix.shape[1]):
            a = np.bincount(day_index, weights=normal[:, j], minlength=n_days)
            b = np.bincount(day_index, weights=promo[:, j], minlength=n_days)
            found.append(
                {first + timedelta(days=k): (int(a[k]), int(b[k])) for k in np.flatnonzero(a).tolist()}
            )
        return found

    def load(handle_col: np.ndarray, cap_col: np.ndarray) -> dict[date, tuple[float, float]]:
        h = np.bincount(month_index, weights=handle_col)
        c = np.bincount(month_index, weights=cap_col)
        return {month_of[k]: (float(h[k]), float(c[k])) for k in range(len(h)) if c[k] > 0}

    def day_load(handle_col: np.ndarray, cap_col: np.ndarray) -> dict[date, tuple[float, float]]:
        h = np.bincount(day_index, weights=handle_col, minlength=n_days)
        c = np.bincount(day_index, weights=cap_col, minlength=n_days)
        return {first + timedelta(days=k): (float(h[k]), float(c[k])) for k in np.flatnonzero(c).tolist()}

    for j, (shop_id, found) in enumerate(zip(shop_ids, hot(occ.occupancy), strict=True)):
        out.shop_hot[shop_id] = found
        out.shop_load[shop_id] = load(handle[:, j], occ.capacity_seconds[:, j])
        out.shop_day_load[shop_id] = day_load(handle[:, j], occ.capacity_seconds[:, j])
    for site_id in site_ids:
        cap_site = seat.logged_in_seconds(by_site[site_id], lo, n_intervals, len(shop_ids), weighted=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(occ.capacity_seconds > 0, cap_site / occ.capacity_seconds, 0.0)
        site_handle = (handle * share).sum(axis=1)
        site_cap = cap_site.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            site_occ = np.where(site_cap > 0, site_handle / site_cap, np.nan)
        out.site_hot[site_id] = hot(site_occ[:, None])[0]
        out.site_load[site_id] = load(site_handle, site_cap)
        out.site_day_load[site_id] = day_load(site_handle, site_cap)
    calendar = await calendar_book(session, first, last)
    rules = LabourRules()
    for agent_id, agent_spans in spans.items():
        out.overtime[agent_id] = {
            d.day: d.overtime for d in overtime_by_day(agent_spans, rules, calendar, tz) if d.overtime
        }
        out.cap_minutes[agent_id] = rules.overtime_cap_per_month
    return out


async def stored_attendance(
    session: AsyncSession, first: date, last: date, shops: Sequence[uuid.UUID] | None = None
) -> Attendance:
    """The attendance facts of the local days [first, last] as the last refresh stored them (service.refresh_
    attendance keeps them from ``attendance``): what a scorecard reads, so no request recomputes occupancy.
    SHOPS: these shops' facts and their agents' (every shop those agents worked, and their overtime)."""
    out = Attendance(first, last)
    p = {"a": first, "b": last, "shops": list(shops or [])}
    only = "" if shops is None else " AND shop_id = ANY(:shops)"
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


def _ranges(value: str | None) -> tuple[tuple[datetime, datetime], ...]:
    """A tstzmultirange's text ({["a","b"),...}) as pairs of datetimes."""
    if not value or value == "{}":
        return ()
    out = []
    for part in value.strip("{}").split("),"):
        a, b = part.strip("[()]").split(",")
        out.append((datetime.fromisoformat(a.strip('"')), datetime.fromisoformat(b.strip('"'))))
    return tuple(out)


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
    where = "" if shops is None else " AND shop_id = ANY(:shops)"
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
    where = "" if shops is None else " AND (shop_id = ANY(:shops) OR shop_id IS NULL)"
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
    session: AsyncSession, first: date, after: date, shops: Sequence[uuid.UUID] | None = None
) -> dict[date, list[Reviewed]]:
    """The counted reviews (no calibration) per month, with the scores qa.score_review gave them."""
    out: dict[date, list[Reviewed]] = defaultdict(list)
    only = "" if shops is None else " AND shop_id = ANY(:shops)"
    for shop_id, agent_id, day, score in await _all(
        session,
        text(
            "SELECT shop_id, agent_id, conversation_on, score FROM qa_reviews WHERE conversation_on >= :a "
            f"AND conversation_on < :b AND calibration_session_id IS NULL{only}"
        ),
        {"a": first, "b": after, "shops": list(shops or [])},
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
    p: sc.Promotion,
    hot: dict[date, tuple[int, int]] | None,
    agents: Iterable[uuid.UUID],
    att: Attendance,
    as_of: date,
    weeks: int,
) -> sc.RecoveryInputs:
    window = p.recovery_window(weeks)
    seen = Period(window.start, max(window.start, min(as_of, window.end)))
    agent_list = list(agents)
    promo_ot = sum(m for a in agent_list for d, m in att.overtime.get(a, {}).items() if p.period.contains(d))
    window_ot = sum(m for a in agent_list for d, m in att.overtime.get(a, {}).items() if seen.contains(d))
    cap = sum(att.cap_minutes.get(a, 0) for a in agent_list) * window.days / 30.0
    hot_count = None if hot is None else sum(v[0] for d, v in hot.items() if seen.contains(d))
    return sc.RecoveryInputs(
        p,
        promo_ot / 60.0,
        hot_count,
        window_ot / 60.0 if agent_list else None,
        cap / 60.0 if agent_list else None,
    )


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
