"""Balanced scorecard use cases: month scorecards of every scope, trends, the client view, the facts refresh,
client ratings, pulses, teams, QA templates and reviews, calibration, coaching, definitions, thresholds and
promotion relaxations.

Scorecards: inputs gathered by service.scorecard.inputs, scored by service.scorecard.scoring (score_month,
client_view), which alone holds the arithmetic of the indices, the headline, the quadrant and the flags.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, delete, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.kit import audit, collector
from service.kit.crud import apply_changes, flush, keyed_page, list_page
from service.kit.errors import Conflict, Invalid, NotFound
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest, page_of
from service.kit.shapes import read_of
from service.kit.time import DEFAULT_TZ, local_today
from service.scorecard import inputs as ins
from service.scorecard import people, qa
from service.scorecard import schemas as shapes
from service.scorecard import scoring as sc
from service.scorecard.evidence import Evidence, Flag, Side
from service.scorecard.models import (
    CALIBRATION_REVIEW,
    FLOOR,
    PLAIN_REVIEW,
    AgentDayOvertime,
    AgentShopMonth,
    AgentTeam,
    AgentTeamMember,
    AttendanceMonth,
    CalibrationSession,
    ClientRating,
    CoachingSession,
    PromotionRelaxation,
    PulseAnswer,
    PulseSurvey,
    QaCategory,
    QaReview,
    QaTemplate,
    ScorecardDefinitionRow,
    ShopDayFacts,
    ShopDayLoad,
    ShopMonthFacts,
    SiteDayLoad,
    TeamDayLoad,
    ThresholdOverride,
)
from service.scorecard.periods import Period, add_months, last_months
from service.seating.calendar import DayKind
from service.seating.service import calendar_book
from service.shops.models import Shop
from service.sla.queries import report_versions, shop_ref
from service.sla.service import judged_days
from tenants.service import find_tenant, read_tenant

Kind = sc.ScopeKind


def parse_month(value: str | None, field: str = "month") -> date:
    if value is None:
        return local_today(DEFAULT_TZ).replace(day=1)
    try:
        year, month = value.split("-")
        first = date(int(year), int(month), 1)
    except ValueError:
        raise Invalid(field, "a month, YYYY-MM") from None
    if not 2000 <= first.year <= 2100:
        raise Invalid(field, "a month between 2000 and 2100")
    return first


def _scope(value: str | None) -> Kind | None:
    if value is None:
        return None
    try:
        return Kind(value)
    except ValueError:
        raise Invalid("scope", "shop, brand, site, team or agent") from None


# --- definitions and thresholds -----------------------------------------------------------------------------


def _rule(k: dict[str, Any]) -> sc.Normalisation:
    if k.get("band"):
        return sc.Band(*k["band"])
    return sc.Linear(k["worst"], k["best"])


async def definition_book(session: AsyncSession) -> sc.DefinitionBook:
    rows = (await session.execute(select(ScorecardDefinitionRow))).scalars().all()
    definitions = [
        sc.ScorecardDefinition(
            r.version,
            r.effective_from,
            tuple(sc.KpiSpec(k["key"], Side(k["side"]), _rule(k), k["weight"]) for k in r.kpis),
            sc.Headline(r.headline),
        )
        for r in rows
    ]
    if not any(d.effective_from <= date(2000, 1, 1) for d in definitions):
        definitions.append(sc.standard_definition(date(2000, 1, 1)))
    return sc.DefinitionBook(definitions)


def _kpi_fields(spec: sc.KpiSpec) -> shapes.KpiSpecFields:
    rule = spec.rule
    if isinstance(rule, sc.Band):
        return shapes.KpiSpecFields(
            key=spec.key,
            side=spec.side.value,
            weight=spec.weight,
            band=[rule.zero_below, rule.low, rule.high, rule.zero_above],
        )
    return shapes.KpiSpecFields(
        key=spec.key, side=spec.side.value, weight=spec.weight, worst=rule.worst, best=rule.best
    )


def _definition_read(d: sc.ScorecardDefinition) -> shapes.DefinitionRead:
    return shapes.DefinitionRead(
        version=d.version,
        effective_from=d.effective_from,
        headline=d.headline.value,
        kpis=[_kpi_fields(k) for k in d.kpis],
    )


async def list_definitions(session: AsyncSession, page: PageRequest) -> Paged[shapes.DefinitionRead]:
    """The definitions by the month they take effect from (the standard one first, unless a stored one takes
    its place)."""
    after = page.after(date)
    book = await definition_book(session)
    shown = [d for d in book.definitions if after is None or d.effective_from > after[0]][: page.limit + 1]
    return page_of([_definition_read(d) for d in shown], page, key=lambda d: (d.effective_from,))


async def add_definition(
    session: AsyncSession, principal: Principal, data: shapes.DefinitionCreate
) -> shapes.DefinitionRead:
    month = parse_month(data.effective_from, "effective_from")
    try:
        specs = tuple(sc.KpiSpec(k.key, Side(k.side), _rule(k.model_dump()), k.weight) for k in data.kpis)
        definition = sc.ScorecardDefinition(data.version, month, specs, sc.Headline(data.headline))
    except (ValueError, TypeError, KeyError) as e:
        raise Invalid("kpis", str(e) or "each KPI needs worst and best, or a band") from None
    session.add(
        ScorecardDefinitionRow(
            version=data.version,
            effective_from=month,
            headline=data.headline,
            kpis=[k.model_dump() for k in data.kpis],
            created_by=principal.subject,
        )
    )
    await flush(session, "scorecard definition")
    return _definition_read(definition)


_THRESHOLD_NAMES = {f for f in sc.Thresholds.__dataclass_fields__}


async def threshold_policy(session: AsyncSession) -> sc.ThresholdPolicy:
    rows = (await session.execute(select(ThresholdOverride))).scalars().all()
    return sc.ThresholdPolicy(overrides={sc.ScopeRef(Kind(r.scope_kind), r.scope_id): r.values for r in rows})


async def set_thresholds(
    session: AsyncSession, principal: Principal, scope: str, scope_id: str, data: shapes.ThresholdSet
) -> shapes.ThresholdRead:
    kind = _scope(scope)
    assert kind is not None
    values = {v.name: v.value for v in data.values}
    unknown = set(values) - _THRESHOLD_NAMES
    if unknown:
        raise Invalid("values", f"unknown thresholds: {', '.join(sorted(unknown))}")
    low = sorted(k for k in ("occupancy", "promotion_occupancy") if k in values and values[k] < FLOOR)
    if low:
        # The facts keep each day's occupancies above the floor only: a lower threshold could not re-count.
        raise Invalid("values", f"{', '.join(low)} must be at least {FLOOR:g} (the hot floor)")
    row = await session.get(ThresholdOverride, (kind.value, scope_id))
    if row is None:
        session.add(
            ThresholdOverride(
                scope_kind=kind.value, scope_id=scope_id, values=values, updated_by=principal.subject
            )
        )
    else:
        row.values, row.updated_by = values, principal.subject
    await flush(session, "thresholds")
    return shapes.ThresholdRead(scope_kind=kind.value, scope_id=scope_id, values=data.values)


async def declare_promotion(
    session: AsyncSession, principal: Principal, promotion_id: uuid.UUID
) -> shapes.RelaxationRead:
    found = (
        await session.execute(
            text("SELECT name, start_date, end_date FROM promotions WHERE id = :p"), {"p": promotion_id}
        )
    ).first()
    if found is None:
        raise NotFound("promotion not found")
    if await session.get(PromotionRelaxation, promotion_id) is None:
        session.add(PromotionRelaxation(promotion_id=promotion_id, declared_by=principal.subject))
        await flush(session, "promotion relaxation")
    return shapes.RelaxationRead(promotion_id=promotion_id, name=found[0], start=found[1], end=found[2])


# --- facts: the SLA domain's day verdicts per shop, kept under its report version ---------------------------


async def refresh_facts(
    session: AsyncSession, month: date, shop_ids: Sequence[uuid.UUID] | None = None
) -> shapes.RefreshRead:
    """Compute again the day facts of the shops whose SLA report version changed since their month was
    computed (or that never were), and (for every shop) the month's attendance facts, in the caller's
    transaction; audited as set-based writes."""
    agents = await refresh_attendance(session, month) if shop_ids is None else 0
    stmt = select(Shop)
    if shop_ids is not None:
        stmt = stmt.where(col(Shop.id).in_(shop_ids))
    shops = [shop_ref(s) for s in (await session.execute(stmt)).scalars()]
    versions = await report_versions(session, shops)
    kept = {
        (t, s): v
        for t, s, v in await session.execute(
            text("SELECT tenant_id, shop_id, report_version FROM scorecard_shop_months WHERE month = :m"),
            {"m": month},
        )
    }
    stale = [
        s for s in shops if (s.tenant_id, s.id) not in kept or kept[s.tenant_id, s.id] != versions.get(s.id)
    ]
    if not stale:
        return shapes.RefreshRead(month=month, shops=0, days=0, agents=agents)
    after = add_months(month, 1)
    judged = await judged_days(session, stale, month, after)
    ids = [s.id for s in stale]
    await session.execute(
        delete(ShopDayFacts).where(
            col(ShopDayFacts.shop_id).in_(ids), col(ShopDayFacts.day) >= month, col(ShopDayFacts.day) < after
        )
    )
    rows = [
        {
            "tenant_id": s.tenant_id,
            "shop_id": s.id,
            "day": d.day,
            "verdicts": d.judged,
            "met": d.met,
            "csat_count": d.counters["csat_count"],
            "csat_good": d.counters["csat_good"],
            "csat_bad": d.counters["csat_bad"],
            "presale_offered": d.counters["presale_offered"],
            "presale_converted": d.counters["presale_converted"],
            "handle_sum_s": float(d.counters["handle_sum_s"]),
        }
        for s, days in zip(stale, judged, strict=True)
        for d in days
    ]
    if rows:
        await session.execute(insert(ShopDayFacts), rows)
    marks = [
        {"tenant_id": s.tenant_id, "shop_id": s.id, "month": month, "report_version": versions.get(s.id)}
        for s in stale
    ]
    upsert = insert(ShopMonthFacts).values(marks)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=["tenant_id", "shop_id", "month"],
            set_={"report_version": upsert.excluded.report_version, "refreshed_at": text("now()")},
        )
    )
    await audit.record(
        session,
        action="refresh",
        object_type="scorecard_shop_days",
        object_id=month.isoformat(),
        after={"shops": len(stale), "days": len(rows)},
    )
    return shapes.RefreshRead(month=month, shops=len(stale), days=len(rows), agents=agents)


async def refresh_attendance(session: AsyncSession, month: date) -> int:
    """Compute the month's attendance facts again (occupancy and understaffing per shop, site, team, agent
    and day, overtime per agent and day, agents' time per shop) with the one attendance reader
    (inputs.attendance: the seating domain's reports) and store them in the caller's transaction; audited
    as one set-based write. Returns the agents seen."""
    after = add_months(month, 1)
    att = await ins.attendance(session, month)
    shop_brands = await session.execute(text("SELECT id, tenant_id FROM shops"))
    tenants: dict[uuid.UUID, uuid.UUID] = {shop: brand for shop, brand in shop_brands}
    period = {"a": month, "b": after}
    for table in (
        "scorecard_shop_load_days",
        "scorecard_site_load_days",
        "scorecard_team_load_days",
        "scorecard_agent_days",
    ):
        await session.execute(text(f"DELETE FROM {table} WHERE day >= :a AND day < :b"), period)
    await session.execute(text("DELETE FROM scorecard_agent_shop_months WHERE month = :a"), period)

    def loads(of: ins.Loads, key: str) -> list[dict[str, Any]]:
        return [
            {
                key: owner,
                "day": day,
                "handle_s": v.handle,
                "capacity_s": v.capacity,
                "occupancies": list(v.occupancies),
                "understaffed": v.understaffed,
                **({"tenant_id": tenants[owner]} if key == "shop_id" else {}),
            }
            for owner, days in of.items()
            for day, v in days.items()
        ]

    agent_days: dict[uuid.UUID, dict[date, ins.Load]] = {a: dict(days) for a, days in att.agent.items()}
    for a, days in att.overtime.items():
        for d in days:
            agent_days.setdefault(a, {}).setdefault(d, ins.Load())
    agents_rows = [
        row
        | {
            "overtime_min": att.overtime.get(row["agent_id"], {}).get(row["day"], 0),
            "cap_min": att.cap_minutes.get(row["agent_id"], LABOUR_CAP),
            "normal_min": att.normal.get(row["agent_id"], {}).get(row["day"], 0),
            "norm_min": att.norm_minutes.get(row["agent_id"], 0),
        }
        for row in loads(agent_days, "agent_id")
    ]
    for model, rows in (
        (ShopDayLoad, loads(att.shop, "shop_id")),
        (SiteDayLoad, loads(att.site, "site_id")),
        (TeamDayLoad, loads(att.team, "team_id")),
        (AgentDayOvertime, agents_rows),
        (
            AgentShopMonth,
            [
                {"agent_id": a, "shop_id": shop, "month": m, "slot_s": w}
                for m, agents in att.agent_shop.items()
                for a, per in agents.items()
                for shop, w in per.items()
            ],
        ),
    ):
        for i in range(0, len(rows), 5000):
            await session.execute(insert(model), rows[i : i + 5000])
    upsert = insert(AttendanceMonth).values(month=month)
    await session.execute(
        upsert.on_conflict_do_update(index_elements=["month"], set_={"refreshed_at": text("now()")})
    )
    agents = {a for per in att.agent_shop.values() for a in per}
    await audit.record(
        session,
        action="refresh",
        object_type="scorecard_attendance",
        object_id=month.isoformat(),
        after={"agents": len(agents)},
    )
    return len(agents)


async def stale_shops(session: AsyncSession, month: date, tenant_id: uuid.UUID | None = None) -> int:
    where = "" if tenant_id is None else " AND s.tenant_id = :t"
    return int(
        (
            await session.execute(
                text(
                    "SELECT count(*) FROM shops s LEFT JOIN scorecard_shop_months m ON m.shop_id = s.id "
                    "AND m.tenant_id = s.tenant_id AND m.month = :m "
                    "LEFT JOIN shop_report_versions v ON v.shop_id = s.id AND v.tenant_id = s.tenant_id "
                    "WHERE (m.shop_id IS NULL OR m.report_version IS DISTINCT FROM v.version)"
                    f"{where}"
                ),
                {"m": month, "t": tenant_id},
            )
        ).scalar_one()
    )


# --- gathering a month's inputs -----------------------------------------------------------------------------


@dataclass
class Gathered:
    inputs: list[sc.ScopeMonthInputs]
    names: list[str]
    process: list[shapes.ProcessRead]


def _weighted(
    weights: dict[uuid.UUID, float],
    shop_totals: dict[uuid.UUID, float],
    facts: dict[tuple[uuid.UUID, date], ins.ShopMonth],
    month: date,
) -> ins.ShopMonth:
    out = ins.ShopMonth()
    for shop_id, w in weights.items():
        total = shop_totals.get(shop_id, 0.0)
        f = facts.get((shop_id, month))
        if f is not None and total > 0:
            out.add(f, w / total)
    return out


def _occupancy(att: ins.Attendance, owners: Iterable[uuid.UUID], month: date) -> float | None:
    h, c = ins.month_totals(att, owners, month)
    return h / c if c > 0 else None


def _merged(days: Iterable[dict[date, ins.Load]]) -> dict[date, ins.Load]:
    """Several scopes' loads as one (a brand's of its shops): seconds and understaffed intervals summed, the
    hot occupancies pooled (a brand's hot intervals are its shops')."""
    out: dict[date, ins.Load] = {}
    for loads in days:
        for day, v in loads.items():
            w = out.get(day)
            out[day] = (
                v
                if w is None
                else ins.Load(
                    w.handle + v.handle,
                    w.capacity + v.capacity,
                    tuple(sorted(w.occupancies + v.occupancies)),
                    w.understaffed + v.understaffed,
                )
            )
    return out


def _pulse(value: people.PulseValue | None) -> tuple[float | None, float | None]:
    if isinstance(value, people.PulseSummary):
        return value.enps, value.wellbeing
    return None, None


@dataclass
class _Sources:
    """Everything read for a batch of months, before it is shaped per scope and month."""

    names: ins.Names
    facts: dict[tuple[uuid.UUID, date], ins.ShopMonth]
    shop_rating: dict[tuple[uuid.UUID, date], float]
    brand_rating: dict[tuple[uuid.UUID, date], float]
    promotions: list[sc.Promotion]
    attendance: ins.Attendance
    reviews: dict[date, list[ins.Reviewed]]
    coaching: list[qa.CoachingSession]
    pulses: dict[date, people.PulseReport | None]
    today: date
    weeks: int
    staff: bool
    policy: sc.ThresholdPolicy
    workdays: set[date]  # the calendar's workdays over the attendance read (recovery windows' time off)


async def gather(
    session: AsyncSession,
    months: Sequence[date],
    only: sc.ScopeRef | None = None,
    as_of: date | None = None,
    staff: bool = True,
    policy: sc.ThresholdPolicy | None = None,
) -> Gathered:
    """The inputs of every scope (or ONLY one) in each of MONTHS, in the order (month, kind, name). Without
    STAFF, the client side only (no attendance, pulses, QA or coaching is read)."""
    first, last_month = min(months), max(months)
    after = add_months(last_month, 1)
    today = as_of or local_today(DEFAULT_TZ)
    weeks = sc.Thresholds().recovery_weeks
    tenant = uuid.UUID(only.id) if only is not None and only.kind is Kind.brand else None
    shop = uuid.UUID(only.id) if only is not None and only.kind is Kind.shop else None
    people = staff and (only is None or only.kind in (Kind.site, Kind.team, Kind.agent))
    n = await ins.names(session, people, tenant, shop)
    shop_filter: list[uuid.UUID] | None = [shop] if shop else list(n.shops) if tenant else None
    facts = await ins.shop_months(session, first, after, shop_filter)
    shop_rating, brand_rating = await ins.ratings(session, first, after, shop_filter)
    promos = await ins.promotions(session, first, after - timedelta(days=1), weeks) if staff else []
    att_first = min([first, *(p.start for p in promos)])
    att_last = max([after - timedelta(days=1), *(p.recovery_window(weeks).end for p in promos)])
    att_last = max(att_first, min(att_last, max(today, first)))
    if staff:
        kinds = None if only is None or not people else {only.kind.value}
        att = await ins.stored_attendance(session, att_first, att_last, shop_filter, kinds)
        members: list[uuid.UUID] | None = None
        if only is not None and only.kind is Kind.site:
            members = [a for a, (site, _) in n.agents.items() if str(site) == only.id]
        elif only is not None and only.kind is Kind.team:
            members = [a for a, team in n.team_of.items() if str(team) == only.id]
        elif only is not None and only.kind is Kind.agent:
            members = [uuid.UUID(only.id)]
        reviewed = await ins.reviews(session, first, after, shop_filter, members)
        coached = await ins.coaching(session, first, after) if people else []
        pulses = (
            {m: await ins.pulses(session, m) for m in {*months, *(add_months(m, -1) for m in months)}}
            if people
            else {}
        )
    else:
        att, reviewed, coached, pulses = ins.Attendance(att_first, att_last), {}, [], {}
    policy = policy or await threshold_policy(session)
    workdays: set[date] = set()
    if staff and promos:
        book = await calendar_book(session, att_first, att_last)
        workdays = {d for d in _days(Period(att_first, att_last)) if book.kind(d) is DayKind.workday}
    src = _Sources(
        n,
        facts,
        shop_rating,
        brand_rating,
        promos,
        att,
        reviewed,
        coached,
        pulses,
        today,
        weeks,
        staff,
        policy,
        workdays,
    )
    out = Gathered([], [], [])
    for month in months:
        _MonthBuilder(src, month, only, out).build()
    return out


class _MonthBuilder:
    """One month's inputs of every scope (or one), appended to OUT."""

    def __init__(self, src: _Sources, month: date, only: sc.ScopeRef | None, out: Gathered) -> None:
        self.src, self.month, self.only, self.out = src, month, only, out
        self.period = period = Period.month(month)
        self.promos = tuple(p for p in src.promotions if p.period.overlap(period) is not None)
        self.touching = tuple(
            p
            for p in src.promotions
            if p.period.overlap(period) is not None
            or p.recovery_window(src.weeks).overlap(period) is not None
        )
        self.promo_days = {d for p in self.promos for d in _days(p.period.overlap(period))}
        self.as_of = min(period.end, src.today) if src.today >= period.start else period.end
        self.weights = src.attendance.agent_shop.get(month, {})
        self.shop_totals: dict[uuid.UUID, float] = defaultdict(float)
        self.agent_totals: dict[uuid.UUID, float] = {}
        for agent_id, per_shop in self.weights.items():
            self.agent_totals[agent_id] = sum(per_shop.values())
            for shop_id, w in per_shop.items():
                self.shop_totals[shop_id] += w
        self.by_agent: dict[uuid.UUID, list[ins.Reviewed]] = defaultdict(list)
        self.by_shop: dict[uuid.UUID, list[ins.Reviewed]] = defaultdict(list)
        for r in src.reviews.get(month, []):
            self.by_agent[r.agent_id].append(r)
            self.by_shop[r.shop_id].append(r)
        # Per shop, its agents, each weighted by the share of its month's time spent on the shop.
        self.agents_of: dict[uuid.UUID, dict[uuid.UUID, float]] = defaultdict(dict)
        for agent_id, per_shop in self.weights.items():
            for shop_id, w in per_shop.items():
                if self.agent_totals[agent_id] > 0:
                    self.agents_of[shop_id][agent_id] = w / self.agent_totals[agent_id]
        self.coached = [s for s in src.coaching if period.contains(s.held_on)]
        # Per agent: the month's overtime minutes, and the part on its promotion days (once, for every scope)
        self.agent_overtime: dict[uuid.UUID, tuple[int, int]] = {}
        # ... and, of those with overtime, the agent test's hours: (ordinary days, promotion days, own cap)
        self.agent_hours: dict[uuid.UUID, tuple[float, float, float]] = {}
        for agent_id, days in src.attendance.overtime.items():
            total = sum(m for d, m in days.items() if period.contains(d))
            promo = sum(days.get(d, 0) for d in self.promo_days)
            self.agent_overtime[agent_id] = (total, promo)
            if total > 0:
                cap = src.attendance.cap_minutes.get(agent_id, LABOUR_CAP)
                self.agent_hours[agent_id] = ((total - promo) / 60.0, promo / 60.0, cap / 60.0)

    def _overtime(self, agents: dict[uuid.UUID, float]) -> tuple[float, float, float] | None:
        """(overtime, of which on the month's promotion days, cap) in hours of AGENTS, each counted with its
        weight (seating's overtime per agent and day)."""
        if not agents:
            return None
        overtime = promotion = cap = 0.0
        for a, w in agents.items():
            found = self.agent_overtime.get(a)
            if found is not None:
                overtime += w * found[0]
                promotion += w * found[1]
            cap += w * self.src.attendance.cap_minutes.get(a, LABOUR_CAP)
        return overtime / 60.0, promotion / 60.0, cap / 60.0

    def _agent_overtime(
        self, agents: dict[uuid.UUID, float], th: sc.Thresholds
    ) -> tuple[sc.AgentOvertime, ...]:
        """AGENTS over either of their own limits under TH (scoring's agent test), in hours. The others are
        left out: they neither fire the test nor appear in its evidence, and every agent of 5,000 scopes was
        ~20,000 objects a month."""
        ordinary, promotion = th.overtime_cap_share, th.promotion_overtime_cap_share
        out = []
        for a, w in agents.items():
            hours = self.agent_hours.get(a)
            if hours is not None and (hours[0] > ordinary * hours[2] or hours[1] > promotion * hours[2]):
                out.append(sc.AgentOvertime(*hours, w))
        return tuple(out)

    def add(
        self,
        ref: sc.ScopeRef,
        name: str,
        kpis: dict[str, float | None],
        parents: tuple[sc.ScopeRef, ...],
        hot: dict[date, ins.Load] | None = None,
        agents: dict[uuid.UUID, float] | None = None,
        enps_before: float | None = None,
        members: Sequence[uuid.UUID] | None = None,
        reviewed: Iterable[ins.Reviewed] | None = None,
    ) -> None:
        if self.only is not None and ref != self.only:
            return
        src, staff = self.src, self.src.staff
        th = src.policy.for_scope(ref, parents)
        ordinary = promotion = short = None
        if hot is not None and staff:
            ordinary, promotion, _, short = ins.days_in(hot, self.period, self.promo_days, th)
        overtime = self._overtime(agents or {}) if staff else None
        if overtime is not None:
            kpis[sc.OVERTIME_VS_CAP] = overtime[0] / overtime[2] if overtime[2] else None
        quality = ins.quality(reviewed) if staff and reviewed is not None else None
        if quality is not None:
            kpis[sc.QA_IQS] = quality.iqs
        coverage = None
        if members is not None and staff:
            coverage = qa.coaching_coverage(self.coached, [str(a) for a in members], self.period)
            kpis[sc.COACHING_COVERAGE] = coverage
        # A recovery obligation is the floor's: a site's occupancy and its agents' overtime.
        recoveries: tuple[sc.RecoveryInputs, ...] = ()
        if staff and ref.kind is Kind.site:
            recoveries = tuple(
                ins.window_inputs(p, hot, src.attendance, agents or {}, src.workdays, self.as_of, th)
                for p in self.touching
            )
        promoted = bool(self.promos) and staff
        self.out.inputs.append(
            sc.ScopeMonthInputs(
                ref,
                self.month,
                kpis,
                parents,
                ordinary,
                promotion if promoted else None,
                overtime[0] if overtime else None,
                overtime[1] if overtime and promoted else None,
                overtime[2] if overtime else None,
                enps_before,
                short,
                self.promos if staff else (),
                recoveries,
                self.as_of,
                self._agent_overtime(agents or {}, th) if staff else (),
            )
        )
        self.out.names.append(name)
        self.out.process.append(
            shapes.ProcessRead.model_construct(
                qa_reviews=quality.reviews if quality else 0,
                iqs=quality.iqs if quality else None,
                pass_rate=quality.pass_rate if quality else None,
                coaching_coverage=coverage,
            )
        )

    def build(self) -> None:
        if self.only is None or self.only.kind in (Kind.shop, Kind.brand):
            self.shops_and_brands()
        if self.src.staff and (self.only is None or self.only.kind not in (Kind.shop, Kind.brand)):
            self.people()

    def _shop_agents(self, shops: set[uuid.UUID]) -> dict[uuid.UUID, float]:
        """Agents who worked SHOPS, each weighted by the share of its month's time spent on them."""
        out: dict[uuid.UUID, float] = defaultdict(float)
        for shop_id in shops:
            for a, w in self.agents_of.get(shop_id, {}).items():
                out[a] += w
        return out

    def _reviews_of(self, agents: Iterable[uuid.UUID]) -> list[ins.Reviewed]:
        return [r for a in agents for r in self.by_agent.get(a, ())]

    def shops_and_brands(self) -> None:
        src, month, staff = self.src, self.month, self.src.staff
        n, att = src.names, src.attendance
        brand_facts: dict[uuid.UUID, ins.ShopMonth] = defaultdict(ins.ShopMonth)
        for shop_id, (tenant_id, name) in sorted(n.shops.items(), key=lambda x: x[1][1]):
            f = src.facts.get((shop_id, month), ins.ShopMonth())
            brand_facts[tenant_id].add(f)
            kpis = f.kpis()
            kpis[sc.CLIENT_RATING] = src.shop_rating.get(
                (shop_id, month), src.brand_rating.get((tenant_id, month))
            )
            hot = att.shop.get(shop_id, {})
            if staff:
                kpis[sc.OCCUPANCY] = _occupancy(att, (shop_id,), month)
            self.add(
                sc.ScopeRef(Kind.shop, str(shop_id)),
                name,
                kpis,
                (sc.ScopeRef(Kind.brand, str(tenant_id)),),
                hot,
                self._shop_agents({shop_id}) if staff else None,
                reviewed=self.by_shop.get(shop_id, []),
            )
        shops_of_brand: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for shop_id, (tenant_id, _) in n.shops.items():
            shops_of_brand[tenant_id].add(shop_id)
        for tenant_id, name in sorted(n.brands.items(), key=lambda x: x[1]):
            kpis = brand_facts[tenant_id].kpis()
            own = src.brand_rating.get((tenant_id, month))
            if own is None:  # the mean of its shops' ratings
                values = [
                    r for s in shops_of_brand[tenant_id] if (r := src.shop_rating.get((s, month))) is not None
                ]
                own = sum(values) / len(values) if values else None
            kpis[sc.CLIENT_RATING] = own
            shops_of = shops_of_brand[tenant_id]
            brand_hot = _merged(att.shop.get(s, {}) for s in shops_of) if staff else {}
            if staff:
                kpis[sc.OCCUPANCY] = _occupancy(att, shops_of, month)
            self.add(
                sc.ScopeRef(Kind.brand, str(tenant_id)),
                name,
                kpis,
                (),
                brand_hot,
                self._shop_agents(shops_of) if staff else None,
                reviewed=[r for shop in shops_of for r in self.by_shop.get(shop, ())],
            )

    def _client_of(self, agents: Iterable[uuid.UUID]) -> dict[str, float | None]:
        """The client side of the shops AGENTS worked, each shop weighted by their share of its time."""
        merged: dict[uuid.UUID, float] = defaultdict(float)
        for a in agents:
            for shop_id, w in self.weights.get(a, {}).items():
                merged[shop_id] += w
        return _weighted(merged, self.shop_totals, self.src.facts, self.month).kpis()

    def people(self) -> None:
        src, period = self.src, self.period
        n, att = src.names, src.attendance
        report, previous = src.pulses.get(self.month), src.pulses.get(add_months(self.month, -1))
        worked = {a for a in self.weights} | {
            a for a, days in att.overtime.items() if any(period.contains(d) for d in days)
        }
        of_site: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        of_team: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for agent_id, (site_id, _) in n.agents.items():
            t = n.tenures[agent_id]
            if t.start <= period.end and (t.end is None or t.end >= period.start):
                of_site[site_id].append(agent_id)
                if agent_id in n.team_of:
                    of_team[n.team_of[agent_id]].append(agent_id)
        kinds = {Kind.site, Kind.team} if self.only is None else {self.only.kind}
        groups = [(f"site:{s}", a) for s, agents in of_site.items() for a in agents if Kind.site in kinds]
        groups += [(f"team:{t}", a) for t, agents in of_team.items() for a in agents if Kind.team in kinds]
        attrition = people.attrition_by_group(((g, n.tenures[a]) for g, a in groups), period)

        def groups_of(r: people.PulseReport | None, kind: str) -> Mapping[str, people.PulseValue]:
            return {} if r is None else r.sites if kind == "site" else r.teams

        def employee(kpis: dict[str, float | None], key: str, kind: str) -> float | None:
            """eNPS and wellbeing (None where hidden) and attrition into KPIS; last month's eNPS."""
            kpis[sc.ENPS], kpis[sc.WELLBEING] = _pulse(groups_of(report, kind).get(key))
            a = attrition.get(f"{kind}:{key}")
            kpis[sc.ATTRITION] = a.annualised if a else None
            return _pulse(groups_of(previous, kind).get(key))[0]

        def wanted(kind: Kind, key: uuid.UUID) -> bool:
            return self.only is None or (self.only.kind is kind and self.only.id == str(key))

        for site_id, name in sorted(n.sites.items(), key=lambda x: x[1]):
            if not wanted(Kind.site, site_id):
                continue
            agents = of_site.get(site_id, [])
            kpis = self._client_of(agents)
            kpis[sc.OCCUPANCY] = _occupancy(att, (site_id,), self.month)
            before = employee(kpis, str(site_id), "site")
            ids = set(agents)
            self.add(
                sc.ScopeRef(Kind.site, str(site_id)),
                name,
                kpis,
                (),
                att.site.get(site_id, {}),
                {a: 1.0 for a in agents if a in worked},
                before,
                agents,
                self._reviews_of(ids),
            )
        for team_id, (site_id, name) in sorted(n.teams.items(), key=lambda x: x[1][1]):
            if not wanted(Kind.team, team_id):
                continue
            agents = of_team.get(team_id, [])
            kpis = self._client_of(agents)
            kpis[sc.OCCUPANCY] = _occupancy(att, (team_id,), self.month)
            before = employee(kpis, str(team_id), "team")
            ids = set(agents)
            self.add(
                sc.ScopeRef(Kind.team, str(team_id)),
                name,
                kpis,
                (sc.ScopeRef(Kind.site, str(site_id)),),
                att.team.get(team_id, {}),
                {a: 1.0 for a in agents if a in worked},
                before,
                agents,
                self._reviews_of(ids),
            )
        if self.only is not None and self.only.kind is not Kind.agent:
            return
        for agent_id in sorted(worked, key=lambda a: n.agents.get(a, (None, ""))[1]):
            if agent_id not in n.agents or not wanted(Kind.agent, agent_id):
                continue
            site_id, name = n.agents[agent_id]
            team = n.team_of.get(agent_id)
            parents = (
                *((sc.ScopeRef(Kind.team, str(team)),) if team else ()),
                sc.ScopeRef(Kind.site, str(site_id)),
            )
            kpis = self._client_of([agent_id])
            kpis[sc.OCCUPANCY] = _occupancy(att, (agent_id,), self.month)
            self.add(
                sc.ScopeRef(Kind.agent, str(agent_id)),
                name,
                kpis,
                parents,
                att.agent.get(agent_id, {}),
                {agent_id: 1.0},
                reviewed=self.by_agent.get(agent_id, []),
            )


LABOUR_CAP = 2160


def _days(period: Period | None) -> Iterable[date]:
    if period is None:
        return
    d = period.start
    while d <= period.end:
        yield d
        d += timedelta(days=1)


# --- shaping the maths' answers (read shapes built without re-validation: the maths made each value)


_FIELDS: dict[type, frozenset[str]] = {}
B = TypeVar("B", bound=BaseModel)


def _built(model: type[B], **values: Any) -> B:
    """A read shape as model_construct makes it (the instance's dict and its fields set) without its
    per-field loop: a month of every scope makes ~100,000 of them from values the maths produced."""
    row = model.__new__(model)
    object.__setattr__(row, "__dict__", values)
    fields = _FIELDS.get(model) or _FIELDS.setdefault(model, frozenset(model.model_fields))
    object.__setattr__(row, "__pydantic_fields_set__", fields)
    object.__setattr__(row, "__pydantic_extra__", None)
    object.__setattr__(row, "__pydantic_private__", None)
    return row


def _evidence(e: Evidence) -> shapes.EvidenceRead:
    return _built(
        shapes.EvidenceRead,
        metric=e.metric,
        value=e.value,
        comparison=e.comparison,
        threshold=e.threshold,
        period_start=e.period.start,
        period_end=e.period.end,
        side=e.side.value,
        note=e.note,
    )


def _flag(f: Flag) -> shapes.FlagRead:
    return _built(shapes.FlagRead, kind=f.kind.value, evidence=[_evidence(e) for e in f.evidence])


def _kpi(k: sc.KpiScore) -> shapes.KpiRead:
    return _built(
        shapes.KpiRead,
        key=k.key,
        side=k.side.value,
        value=k.value,
        score=k.score,
        weight=k.weight,
        share=k.share,
    )


def card_read(card: sc.Scorecard, name: str, process: shapes.ProcessRead) -> shapes.ScorecardRead:
    specs = card.definition.kpis
    kpis = [
        _built(
            shapes.KpiRead,
            key=spec.key,
            side=spec.side.value,
            value=value,
            score=score,
            weight=spec.weight,
            share=share,
        )
        for spec, value, score, share in zip(
            specs, card.kpi_values, card.kpi_scores, card.kpi_shares, strict=True
        )
    ]
    return _built(
        shapes.ScorecardRead,
        scope=card.scope.kind.value,
        scope_id=card.scope.id,
        name=name,
        month=card.month,
        definition=card.definition.version,
        headline_method=card.definition.headline.value,
        client_index=card.client_index,
        employee_index=card.employee_index,
        process_index=card.process_index,
        headline=card.headline,
        quadrant=card.quadrant.value if card.quadrant else None,
        flags=[_flag(f) for f in card.flags],
        kpis=kpis,
        process=process,
        recoveries=[
            _built(
                shapes.RecoveryRead,
                promotion=r.promotion.name,
                window_start=r.window.start,
                window_end=r.window.end,
                state=r.state.value,
                evidence=[_evidence(e) for e in r.evidence],
            )
            for r in card.recoveries
        ],
    )


def client_read(card: sc.Scorecard, name: str) -> shapes.ClientScorecardRead:
    view = sc.client_view(card)
    return shapes.ClientScorecardRead(
        scope=view.scope.kind.value,
        scope_id=view.scope.id,
        name=name,
        month=view.month,
        definition=view.definition_version,
        client_index=view.client_index,
        client_target=view.client_target,
        kpis=[_kpi(k) for k in view.kpis],
        flags=[_flag(f) for f in view.flags],
    )


async def _score(session: AsyncSession, gathered: Gathered) -> list[sc.Scorecard]:
    return sc.score_month(gathered.inputs, await definition_book(session), await threshold_policy(session))


@collector.pausing  # 5,000 scopes' inputs and cards, ~100,000 read rows, kept: see service.kit.collector
async def month_scorecards(
    session: AsyncSession, month: str | None, scope: str | None = None, as_of: date | None = None
) -> shapes.MonthScorecards:
    """Every scope's scorecard of a month (staff), or one kind's."""
    first = parse_month(month)
    kind = _scope(scope)
    gathered = await gather(session, [first], as_of=as_of)
    cards = await _score(session, gathered)
    items = [
        card_read(c, name, p)
        for c, name, p in zip(cards, gathered.names, gathered.process, strict=True)
        if kind is None or c.scope.kind is kind
    ]
    return shapes.MonthScorecards(
        month=first,
        scope=kind.value if kind else None,
        stale_shops=await stale_shops(session, first),
        items=items,
    )


async def _exists(session: AsyncSession, ref: sc.ScopeRef) -> None:
    table = {
        Kind.shop: "shops",
        Kind.brand: "tenants",
        Kind.site: "sites",
        Kind.team: "agent_teams",
        Kind.agent: "agents",
    }[ref.kind]
    try:
        key = uuid.UUID(ref.id)
    except ValueError:
        raise NotFound(f"{ref.kind.value} not found") from None
    if (await session.execute(text(f"SELECT 1 FROM {table} WHERE id = :id"), {"id": key})).first() is None:
        raise NotFound(f"{ref.kind.value} not found")


@collector.pausing  # twelve months of a site's or team's agents: see service.kit.collector
async def trend(
    session: AsyncSession, scope: str, scope_id: str, month: str | None = None, as_of: date | None = None
) -> list[shapes.ScorecardRead]:
    """One scope's 12 months up to MONTH (staff), each under the definition in force then."""
    kind = _scope(scope)
    assert kind is not None
    ref = sc.ScopeRef(kind, scope_id)
    await _exists(session, ref)
    months = list(last_months(parse_month(month), 12))
    gathered = await gather(session, months, ref, as_of)
    if not gathered.inputs:
        raise NotFound(f"{kind.value} not found")
    # The inputs come oldest first, as scoring.trend returns them.
    cards = sc.trend(gathered.inputs, await definition_book(session), await threshold_policy(session))
    return [card_read(c, name, p) for c, name, p in zip(cards, gathered.names, gathered.process, strict=True)]


async def brand_scorecard(
    session: AsyncSession, principal: Principal, tenant_key: str, month: str | None
) -> shapes.BrandScorecard:
    """A brand's client side: the brand and each of its shops (a client: its own brand; another: 404)."""
    tenant = await read_tenant(session, principal, tenant_key)
    first = parse_month(month)
    gathered = await gather(session, [first], sc.ScopeRef(Kind.brand, str(tenant.id)), staff=False)
    brand_only = await _score(session, gathered)
    shops = await _client_shops(session, tenant.id, first)
    return shapes.BrandScorecard(
        tenant_id=tenant.id,
        slug=tenant.slug,
        month=first,
        brand=client_read(brand_only[0], gathered.names[0]),
        shops=shops,
    )


async def _client_shops(
    session: AsyncSession, tenant_id: uuid.UUID, first: date
) -> list[shapes.ClientScorecardRead]:
    n = await ins.names(session, False, tenant_id)
    out = []
    for shop_id in sorted(n.shops, key=lambda s: n.shops[s][1]):
        g = await gather(session, [first], sc.ScopeRef(Kind.shop, str(shop_id)), staff=False)
        out += [client_read(c, name) for c, name in zip(await _score(session, g), g.names, strict=True)]
    return out


async def shop_trend(
    session: AsyncSession, principal: Principal, shop_id: uuid.UUID, month: str | None = None
) -> list[shapes.ClientScorecardRead]:
    """A shop's 12 months, client side (a client: its own shops; another brand's: 404)."""
    shop = (await session.execute(select(Shop).where(col(Shop.id) == shop_id))).scalars().first()
    if shop is None or (not principal.is_staff and shop.tenant_id != principal.tenant_id):
        raise NotFound("shop not found")
    months = list(last_months(parse_month(month), 12))
    g = await gather(session, months, sc.ScopeRef(Kind.shop, str(shop_id)), staff=False)
    cards = sc.trend(g.inputs, await definition_book(session), await threshold_policy(session))
    return [
        client_read(c, name) for c, name in sorted(zip(cards, g.names, strict=True), key=lambda x: x[0].month)
    ]


# --- client ratings -----------------------------------------------------------------------------------------


async def rate(session: AsyncSession, principal: Principal, data: shapes.ClientRatingCreate) -> ClientRating:
    """A brand user's rating of this month (only the current month is open)."""
    month = parse_month(data.month)
    if month != local_today(DEFAULT_TZ).replace(day=1):
        raise Invalid("month", "only the current month can be rated (ratings close at the month's end)")
    if principal.is_staff:
        if data.tenant is None:
            raise Invalid("tenant", "staff name the brand rated for")
        tenant = await find_tenant(session, data.tenant)
        if tenant is None:
            raise NotFound("tenant not found")
        tenant_id = tenant.id
    else:
        assert principal.tenant_id is not None
        tenant_id = principal.tenant_id
    if data.shop_id is not None:
        found = (
            await session.execute(
                select(col(Shop.id)).where(col(Shop.tenant_id) == tenant_id, col(Shop.id) == data.shop_id)
            )
        ).first()
        if found is None:
            raise NotFound("shop not found")
    row = ClientRating(
        tenant_id=tenant_id,
        shop_id=data.shop_id,
        month=month,
        rater=principal.subject,
        score=data.score,
        comment=data.comment,
    )
    session.add(row)
    await flush(session, "client rating")
    return row


async def update_rating(
    session: AsyncSession, principal: Principal, rating_id: uuid.UUID, changes: shapes.ClientRatingUpdate
) -> ClientRating:
    stmt = select(ClientRating).where(col(ClientRating.id) == rating_id)
    row = (await session.execute(stmt)).scalars().first()
    if row is None or (not principal.is_staff and row.tenant_id != principal.tenant_id):
        raise NotFound("rating not found")
    if row.rater != principal.subject:
        raise NotFound("rating not found")
    if row.month != local_today(DEFAULT_TZ).replace(day=1):
        raise Invalid("month", "a rating is editable until its month's end")
    if "score" in changes.model_fields_set and changes.score is None:
        raise Invalid("score", "required")
    apply_changes(row, changes)
    await flush(session, "client rating")
    return row


async def list_ratings(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    month: str | None,
    tenant: str | None = None,
    shop_id: uuid.UUID | None = None,
) -> Paged[ClientRating]:
    """A month's ratings (a brand: its own; staff: every brand's, or one's), of one shop if asked, in the
    order they were given."""
    stmt = select(ClientRating).where(col(ClientRating.month) == parse_month(month))
    if not principal.is_staff:
        stmt = stmt.where(col(ClientRating.tenant_id) == principal.tenant_id)
    elif tenant is not None:
        found = await find_tenant(session, tenant)
        if found is None:
            return Paged([])
        stmt = stmt.where(col(ClientRating.tenant_id) == found.id)
    if shop_id is not None:
        stmt = stmt.where(col(ClientRating.shop_id) == shop_id)
    return await list_page(session, stmt, col(ClientRating.id), page)


# --- teams --------------------------------------------------------------------------------------------------


async def create_team(session: AsyncSession, data: shapes.TeamCreate) -> shapes.TeamRead:
    team = AgentTeam(
        site_id=data.site_id, name=data.name, lead_id=data.lead_id, supervisor_id=data.supervisor_id
    )
    session.add(team)
    await flush(session, "team")
    members = list(dict.fromkeys(data.members))
    for agent_id in members:
        member = await session.get(AgentTeamMember, agent_id)
        if member is None:
            session.add(AgentTeamMember(agent_id=agent_id, team_id=team.id))
        else:
            member.team_id = team.id
    await flush(session, "team member")
    return read_of(shapes.TeamRead, team, members=members)


async def list_teams(
    session: AsyncSession, page: PageRequest, site_id: uuid.UUID | None = None
) -> Paged[shapes.TeamRead]:
    """Teams by name (of one site if asked), each with its members."""
    stmt = select(AgentTeam)
    if site_id is not None:
        stmt = stmt.where(col(AgentTeam.site_id) == site_id)
    teams = await keyed_page(session, stmt, [col(AgentTeam.name), col(AgentTeam.id)], [str, uuid.UUID], page)
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    of_page = select(AgentTeamMember).where(col(AgentTeamMember.team_id).in_([t.id for t in teams.items]))
    for m in (await session.execute(of_page.order_by(col(AgentTeamMember.agent_id)))).scalars():
        members[m.team_id].append(m.agent_id)
    return Paged([read_of(shapes.TeamRead, t, members=members[t.id]) for t in teams.items], teams.next_cursor)


# --- pulses -------------------------------------------------------------------------------------------------


CSV_COLUMNS = ("response_id", "team_id", "recommend", "wellbeing")


def parse_pulse_csv(body: bytes) -> tuple[list[shapes.PulseAnswerIn], list[shapes.RejectedRow]]:
    """A survey tool's CSV export (columns response_id, team_id, recommend, wellbeing; others ignored): the
    answers and the rows refused, each with the field and the reason."""
    try:
        reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
    except UnicodeDecodeError:
        raise Invalid("body", "UTF-8 CSV") from None
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid("body", f"missing columns: {', '.join(missing)}")
    answers, rejected = [], []
    for i, row in enumerate(reader, start=1):
        try:
            answers.append(
                shapes.PulseAnswerIn.model_validate(
                    {c: (row.get(c) or "").strip() or None for c in CSV_COLUMNS}
                )
            )
        except ValueError as e:
            errors = getattr(e, "errors", lambda e=e: [{"loc": ("row",), "msg": str(e)}])()
            rejected += [
                shapes.RejectedRow(row=i, field=str(err["loc"][0]), reason=err["msg"]) for err in errors
            ]
    return answers, rejected


async def import_pulses(
    session: AsyncSession,
    data: shapes.PulseImport,
    rejected: Sequence[shapes.RejectedRow] = (),
    first_row: int = 1,
) -> shapes.PulseImportRead:
    """Answers into a survey (made on first use), idempotent by response id; unknown teams are refused by
    row."""
    month = parse_month(data.month)
    survey = (
        (await session.execute(select(PulseSurvey).where(col(PulseSurvey.name) == data.survey)))
        .scalars()
        .first()
    )
    if survey is None:
        survey = PulseSurvey(name=data.survey, month=month)
        session.add(survey)
        await flush(session, "pulse survey")
    elif survey.month != month:
        raise Invalid("month", f"survey {data.survey!r} is of {survey.month:%Y-%m}")
    team_sites = await session.execute(select(col(AgentTeam.id), col(AgentTeam.site_id)))
    sites: dict[uuid.UUID, uuid.UUID] = {team: site for team, site in team_sites}
    refused = list(rejected)
    rows = []
    for i, a in enumerate(data.answers, start=first_row):
        if a.team_id not in sites:
            refused.append(shapes.RejectedRow(row=i, field="team_id", reason="no such team"))
            continue
        rows.append(
            {
                "survey_id": survey.id,
                "response_id": a.response_id,
                "site_id": sites[a.team_id],
                "team_id": a.team_id,
                "recommend": a.recommend,
                "wellbeing": a.wellbeing,
            }
        )
    inserted = 0
    if rows:
        result = await session.execute(
            insert(PulseAnswer).values(rows).on_conflict_do_nothing().returning(col(PulseAnswer.response_id))
        )
        inserted = len(result.all())
        await audit.record(
            session,
            action="import",
            object_type="pulse_answers",
            object_id=survey.id,
            after={"inserted": inserted},
        )
    return shapes.PulseImportRead(
        survey_id=survey.id,
        survey=survey.name,
        inserted=inserted,
        unchanged=len(rows) - inserted,
        rejected=sorted(refused, key=lambda r: r.row),
    )


def _group(key: str | None, value: people.PulseValue) -> shapes.PulseGroupRead:
    gid = uuid.UUID(key) if key else None
    if isinstance(value, people.PulseSummary):
        return shapes.PulseGroupRead(
            group_id=gid,
            hidden=False,
            respondents=value.respondents,
            enps=value.enps,
            wellbeing=value.wellbeing,
        )
    return shapes.PulseGroupRead(group_id=gid, hidden=True, respondents=None, enps=None, wellbeing=None)


async def pulse_report(session: AsyncSession, survey: str) -> shapes.PulseReportRead:
    stmt = select(PulseSurvey).where(col(PulseSurvey.name) == survey)
    found = (await session.execute(stmt)).scalars().first()
    if found is None:
        raise NotFound("survey not found")
    rows = (
        await session.execute(
            select(
                col(PulseAnswer.site_id), col(PulseAnswer.team_id), col(PulseAnswer.recommend),
                col(PulseAnswer.wellbeing),
            ).where(col(PulseAnswer.survey_id) == found.id)
        )
    ).all()
    report = people.pulse_report(people.PulseResponse(str(s), str(t), r, w) for s, t, r, w in rows)
    return shapes.PulseReportRead(
        survey=found.name,
        month=found.month,
        minimum=report.minimum,
        total=_group(None, report.total),
        sites=[_group(k, v) for k, v in sorted(report.sites.items())],
        teams=[_group(k, v) for k, v in sorted(report.teams.items())],
    )


# --- QA -----------------------------------------------------------------------------------------------------


def _template(t: QaTemplate, cats: Sequence[QaCategory]) -> qa.Template:
    return qa.Template(
        t.key,
        tuple(
            qa.Category(
                c.key,
                c.weight,
                qa.RatingScale.binary() if c.points == 2 else qa.RatingScale.points(c.points),
                c.critical,
                c.na_allowed,
            )
            for c in sorted(cats, key=lambda c: c.position)
        ),
    )


async def create_template(session: AsyncSession, data: shapes.QaTemplateCreate) -> shapes.QaTemplateRead:
    try:
        qa.Template(
            data.key,
            tuple(
                qa.Category(
                    c.key,
                    c.weight,
                    qa.RatingScale.binary() if c.points == 2 else qa.RatingScale.points(c.points),
                )
                for c in data.categories
            ),
        )
    except ValueError as e:
        raise Invalid("categories", str(e)) from None
    t = QaTemplate(key=data.key, name=data.name)
    session.add(t)
    await flush(session, "QA template")
    for i, c in enumerate(data.categories):
        session.add(QaCategory(template_id=t.id, position=i, **c.model_dump()))
    await flush(session, "QA category")
    return read_of(shapes.QaTemplateRead, t, categories=data.categories)


async def list_templates(session: AsyncSession, page: PageRequest) -> Paged[shapes.QaTemplateRead]:
    """Templates by key, each with its categories in their order."""
    templates = await keyed_page(session, select(QaTemplate), [col(QaTemplate.key)], [str], page)
    cats: dict[uuid.UUID, list[QaCategory]] = defaultdict(list)
    of_page = select(QaCategory).where(col(QaCategory.template_id).in_([t.id for t in templates.items]))
    for c in (await session.execute(of_page.order_by(col(QaCategory.position)))).scalars():
        cats[c.template_id].append(c)
    items = [read_of(shapes.QaTemplateRead, t, categories=cats[t.id]) for t in templates.items]
    return Paged(items, templates.next_cursor)


M = TypeVar("M")


async def _stored(session: AsyncSession, model: type[M], key: Any, what: str) -> M:
    found = await session.get(model, key)
    if found is None:
        raise NotFound(f"{what} not found")
    return found


async def _loaded_template(session: AsyncSession, template_id: uuid.UUID) -> qa.Template:
    t = await _stored(session, QaTemplate, template_id, "template")
    stmt = select(QaCategory).where(col(QaCategory.template_id) == t.id)
    return _template(t, (await session.execute(stmt)).scalars().all())


def review_row(
    template: qa.Template,
    template_id: uuid.UUID,
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    conversation_id: str,
    on: date,
    agent_id: uuid.UUID,
    reviewer: str,
    ratings: dict[str, int | None],
    calibration_id: uuid.UUID | None = None,
) -> QaReview:
    """A review's row, scored by the QA maths (qa.score_review: ValueError for ratings off the template)."""
    result = qa.score_review(template, ratings)
    return QaReview(
        tenant_id=tenant_id,
        shop_id=shop_id,
        conversation_id=conversation_id,
        conversation_on=on,
        agent_id=agent_id,
        reviewer=reviewer,
        template_id=template_id,
        ratings=ratings,
        calibration_session_id=calibration_id,
        score=result.score,
        failed_critical=bool(result.failed_critical),
    )


async def create_review(
    session: AsyncSession, principal: Principal, data: shapes.QaReviewCreate
) -> tuple[QaReview, bool]:
    """A review scored by the QA maths (qa.score_review) as it is written, and whether it was written now.

    A retry never duplicates: the same request again (the reviewer's stored review of the conversation, in
    the same calibration session or on the same template, with the same answers) is that stored review,
    not written again (False); a second review with other answers is a 409 naming the stored one.
    """
    template = await _loaded_template(session, data.template_id)
    shop = (await session.execute(select(Shop).where(col(Shop.id) == data.shop_id))).scalars().first()
    if shop is None:
        raise NotFound("shop not found")
    ratings = {r.category: r.value for r in data.ratings}
    try:
        row = review_row(
            template,
            data.template_id,
            shop.tenant_id,
            shop.id,
            data.conversation_id,
            data.conversation_on,
            data.agent_id,
            principal.subject,
            ratings,
            data.calibration_session_id,
        )
    except ValueError as e:
        raise Invalid("ratings", str(e)) from None
    stored = await _stored_review(session, row)
    if stored is not None:
        differs = [words for name, words in _ANSWERS.items() if getattr(stored, name) != getattr(row, name)]
        if differs:
            unique = CALIBRATION_REVIEW if row.calibration_session_id is not None else PLAIN_REVIEW
            raise DUPLICATE_REVIEW[unique](stored, differs)
        return stored, False
    session.add(row)
    # Two requests at once: the later one's insert is refused by the unique index (a 409; its retry is 200).
    await flush(session, "QA review", DUPLICATE_REVIEW)
    return row, True


# What a review's request says, in the words of a conflict (the reviewer and the unique key's other parts
# are the same by construction).
_ANSWERS = {"ratings": "ratings", "agent_id": "agent", "conversation_on": "conversation day",
            "shop_id": "shop", "template_id": "template"}


async def _stored_review(session: AsyncSession, row: QaReview) -> QaReview | None:
    """The stored review ROW would duplicate under models.QaReview's unique indexes, if any."""
    same = [col(QaReview.tenant_id) == row.tenant_id, col(QaReview.reviewer) == row.reviewer,
            col(QaReview.conversation_id) == row.conversation_id]
    calibration = col(QaReview.calibration_session_id)
    if row.calibration_session_id is not None:
        same.append(calibration == row.calibration_session_id)
    else:
        same += [calibration.is_(None), col(QaReview.shop_id) == row.shop_id,
                 col(QaReview.template_id) == row.template_id]
    return (await session.execute(select(QaReview).where(*same))).scalars().first()


def _duplicate(reason: str, *fields: str) -> Callable[..., Conflict]:
    def conflict(stored: QaReview | None = None, differs: Sequence[str] = ()) -> Conflict:
        detail = f"QA review already exists: {reason}"
        if stored is not None:
            detail += f"; review {stored.id} has other {', '.join(differs)}"
        return Conflict(detail, errors=[{"field": f, "reason": reason} for f in fields],
                        extensions={"review_id": str(stored.id)} if stored is not None else None)
    return conflict


# A reviewer reviews a conversation once (models.QaReview): the database's refusal as the 409 a caller reads.
DUPLICATE_REVIEW = {
    CALIBRATION_REVIEW: _duplicate("you already graded this conversation in this calibration session "
                                   "(one grade per reviewer)", "conversation_id", "calibration_session_id"),
    PLAIN_REVIEW: _duplicate("you already reviewed this conversation of this shop with this template "
                             "(one review per reviewer)", "conversation_id", "template_id"),
}


HELD = (date, uuid.UUID)  # the key of the lists by day: (the day, the id)


def _in_month(column: Any, month: date) -> Any:
    """COLUMN (a date) within the month that starts on MONTH."""
    return (column >= month) & (column < add_months(month, 1))


def _filtered(
    stmt: Select[Any], agent: Any, team_id: uuid.UUID | None, *equal: tuple[Any, Any]
) -> Select[Any]:
    """STMT where each column of EQUAL is its value (None: any) and AGENT (an agent id column) is one of the
    members of TEAM_ID (None: any team)."""
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    if team_id is not None:
        members = select(col(AgentTeamMember.agent_id)).where(col(AgentTeamMember.team_id) == team_id)
        stmt = stmt.where(agent.in_(members))
    return stmt


async def list_reviews(
    session: AsyncSession, filters: shapes.ReviewFilter, page: PageRequest
) -> Paged[QaReview]:
    """A month's reviews (default: this month), of one agent, team, shop or reviewer if asked, by the day of
    their conversation."""
    agent = col(QaReview.agent_id)
    stmt = _filtered(
        select(QaReview).where(_in_month(col(QaReview.conversation_on), parse_month(filters.month))),
        agent,
        filters.team_id,
        (agent, filters.agent_id),
        (col(QaReview.shop_id), filters.shop_id),
        (col(QaReview.reviewer), filters.reviewer),
    )
    return await keyed_page(session, stmt, [col(QaReview.conversation_on), col(QaReview.id)], HELD, page)


async def _scored(session: AsyncSession, where: Any) -> list[qa.ScoredReview]:
    rows = (await session.execute(select(QaReview).where(where))).scalars().all()
    templates: dict[uuid.UUID, qa.Template] = {}
    for r in rows:
        if r.template_id not in templates:
            templates[r.template_id] = await _loaded_template(session, r.template_id)
    # A conversation is named by its brand (calibration sessions are operator-level: two brands' "12345" are
    # two conversations), the key uq_qa_reviews_calibration holds unique per reviewer and session.
    reviews = [
        qa.Review(
            str(r.id),
            str(r.template_id),
            f"{r.tenant_id}/{r.conversation_id}",
            r.conversation_on,
            str(r.agent_id),
            r.reviewer,
            r.ratings,
            str(r.calibration_session_id) if r.calibration_session_id else None,
        )
        for r in rows
    ]
    return qa.score_reviews(reviews, {str(k): v for k, v in templates.items()})


async def create_calibration(session: AsyncSession, data: shapes.CalibrationCreate) -> shapes.CalibrationRead:
    row = CalibrationSession(**data.model_dump())
    session.add(row)
    await flush(session, "calibration session")
    return await get_calibration(session, row.id)


async def _calibration_reads(
    session: AsyncSession, rows: Sequence[CalibrationSession]
) -> list[shapes.CalibrationRead]:
    """Calibration sessions with each reviewer's alignment, their reviews read in one statement."""
    if not rows:
        return []
    scored = await _scored(session, col(QaReview.calibration_session_id).in_([r.id for r in rows]))
    out = []
    for row in rows:
        mine = [s for s in scored if s.review.calibration_session_id == str(row.id)]
        try:
            found = qa.calibration_alignment(mine, str(row.id), row.benchmark_reviewer)
        except ValueError as e:
            raise Invalid("reviews", str(e)) from None
        alignments = [
            shapes.AlignmentRead(
                reviewer=a.reviewer_id,
                conversations=a.conversations,
                alignment=a.alignment,
                review_alignment=a.review_alignment,
                na_mismatches=a.na_mismatches,
            )
            for a in sorted(found.values(), key=lambda a: a.reviewer_id)
        ]
        out.append(read_of(shapes.CalibrationRead, row, reviews=len(mine), alignments=alignments))
    return out


async def get_calibration(session: AsyncSession, calibration_id: uuid.UUID) -> shapes.CalibrationRead:
    row = await _stored(session, CalibrationSession, calibration_id, "calibration session")
    return (await _calibration_reads(session, [row]))[0]


async def list_calibrations(
    session: AsyncSession, page: PageRequest, month: str | None = None
) -> Paged[shapes.CalibrationRead]:
    """Calibration sessions by the day they were held (in one month if asked), each with its alignments."""
    stmt = select(CalibrationSession)
    if month is not None:
        stmt = stmt.where(_in_month(col(CalibrationSession.held_on), parse_month(month)))
    key = [col(CalibrationSession.held_on), col(CalibrationSession.id)]
    found = await keyed_page(session, stmt, key, HELD, page)
    return Paged(await _calibration_reads(session, found.items), found.next_cursor)


async def create_coaching(
    session: AsyncSession, principal: Principal, data: shapes.CoachingCreate
) -> shapes.CoachingRead:
    template = await _loaded_template(session, data.template_id)
    unknown = set(data.areas) - set(template.keys)
    if unknown:
        raise Invalid("areas", f"not categories of the template: {', '.join(sorted(unknown))}")
    row = CoachingSession(
        **data.model_dump(exclude={"action_items"}),
        action_items=[i.model_dump(mode="json") for i in data.action_items],
        coach=principal.subject,
    )
    session.add(row)
    await flush(session, "coaching session")
    return await get_coaching(session, row.id)


COACHING_WINDOW = 28  # days before and after a session that its effect compares


async def _coaching_reads(
    session: AsyncSession, rows: Sequence[CoachingSession]
) -> list[shapes.CoachingRead]:
    """Coaching sessions with their effect on the coached categories, the reviews around them read in one
    statement."""
    if not rows:
        return []
    window = timedelta(days=COACHING_WINDOW)
    scored = await _scored(session, or_(*(
        (col(QaReview.agent_id) == r.agent_id)
        & (col(QaReview.conversation_on) >= r.held_on - window)
        & (col(QaReview.conversation_on) <= r.held_on + window)
        for r in rows
    )))
    out = []
    for row in rows:
        coached = qa.CoachingSession(str(row.id), str(row.agent_id), row.coach, row.held_on, tuple(row.areas))
        out.append(read_of(shapes.CoachingRead, row,
                           effect=qa.coaching_effect(coached, scored, COACHING_WINDOW)))
    return out


async def get_coaching(session: AsyncSession, coaching_id: uuid.UUID) -> shapes.CoachingRead:
    row = await _stored(session, CoachingSession, coaching_id, "coaching session")
    return (await _coaching_reads(session, [row]))[0]


async def list_coaching(
    session: AsyncSession, filters: shapes.CoachingFilter, page: PageRequest
) -> Paged[shapes.CoachingRead]:
    """Coaching sessions by the day they were held (in one month, of one agent or team, by one coach if
    asked), each with its effect."""
    stmt = select(CoachingSession)
    if filters.month is not None:
        stmt = stmt.where(_in_month(col(CoachingSession.held_on), parse_month(filters.month)))
    agent = col(CoachingSession.agent_id)
    stmt = _filtered(stmt, agent, filters.team_id, (agent, filters.agent_id),
                     (col(CoachingSession.coach), filters.coach))
    key = [col(CoachingSession.held_on), col(CoachingSession.id)]
    found = await keyed_page(session, stmt, key, HELD, page)
    return Paged(await _coaching_reads(session, found.items), found.next_cursor)
