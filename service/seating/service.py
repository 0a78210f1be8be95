"""Seating use cases: labour rule sets, the holiday calendar, availability, shops' requirements; rosters built
from capacity plans, published and re-planned; shifts and assignments moved by hand; live KA protection.

The maths is the pure modules' (rostering.build_roster, optimise.optimise, rules.check_shift /
check_roster, rebalance.propose_moves); `inputs` shapes the stored facts into their problem. A roster, step by
step:
1. The plan's shops (tier, platform and requirements) with their allocated agents per interval: the demand.
2. Agents employed in the window with their rule sets (their own, else their employment type's, else the
   China standard rules), leave and unavailability (hard), preferred windows (soft), and their live shifts
   of the weeks before (the rules' history: rest, days in a row, the week's hours, the month's overtime).
3. Live shifts inside the window are pinned: those of the roster being re-planned (minimal disruption:
   only those that break a rule now are released, as the independent checker says) and any others
   (manual shifts, other rosters: the roster is built around them and does not store them).
4. The fast path, or CP-SAT starting from it (one worker, seed and deterministic limit as asked).
5. Stored in the caller's transaction: the roster with its summary, then its shifts and their assignments in
   one INSERT .. SELECT FROM unnest(arrays), with one audit entry for them.
Publishing makes the shifts live: the database's exclusion constraint refuses an agent in two places (409
naming the other shift) and the sites' row locks make the seat count exact under concurrent writers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.capacity.service import get_plan
from service.kit import audit, collector
from service.kit.crud import apply_changes, flush, list_page, one_or_404
from service.kit.db import ScopedSessions
from service.kit.errors import Conflict, Invalid, NotFound, Problem
from service.kit.export import copy_csv
from service.kit.identity import Principal
from service.kit.models import new_id, utcnow
from service.kit.pagination import Paged, PageRequest, page_of
from service.kit.time import DEFAULT_TZ, local_day_start
from service.kit.timing import StageClock
from service.seating import queries
from service.seating.actuals import (  # actual attendance: its own module, these use cases' API
    adherence_by_agent_day,
    agent_ids_of,
    ingest_work_session_records,
    ingest_work_sessions,
    list_work_sessions,
    occupancy_by_shop_interval,
    overtime_by_agent_day,
    overtime_by_agent_month,
)
from service.seating.calendar import CHINA_2026, CalendarBook, HolidayCalendar, PayClass
from service.seating.inputs import (
    LEVELS,
    STEP,
    TIERS,
    AgentFacts,
    Catalogue,
    ShiftFacts,
    ShopFacts,
    SiteFacts,
    catalogue,
    index_ceil,
    instant,
    rule_columns,
    rules_of,
    shift_of,
    work_span,
)
from service.seating.models import (
    AgentAvailability,
    AgentRules,
    EmploymentTypeRules,
    HolidayDay,
    LabourRuleSet,
    Roster,
    Shift,
    ShiftAssignment,
    ShopRequirements,
)
from service.seating.problem import Assignment, RosterProblem, RosterResult
from service.seating.problem import Shift as PlanShift
from service.seating.rebalance import LiveAgent, ShopSnapshot, expected_service_level, propose_moves
from service.seating.rostering import build_roster, summarise
from service.seating.rules import LabourRules, check_roster, check_shift
from service.seating.schemas import (
    AgentRulesRead,
    AppliedRead,
    AssignmentCreate,
    AssignmentRead,
    AssignmentUpdate,
    AvailabilityCreate,
    BoundRead,
    BreakRead,
    CoverageCell,
    CoverageFigures,
    HolidayCalendarRead,
    HolidayCalendarSet,
    HolidayDayFields,
    MoveRead,
    OvertimeHours,
    RebalanceApply,
    RebalanceRead,
    RebalanceRequest,
    ReplanRead,
    RequirementsRead,
    RequirementsSet,
    RosterCreate,
    RosterMode,
    RosterSummary,
    RuleSetChoice,
    RuleSetCreate,
    RuleSetRead,
    RuleSetUpdate,
    ShiftCreate,
    ShiftFilter,
    ShiftRead,
    ShiftUpdate,
    ShopCoverage,
    SolverRead,
    TierCoverage,
    Uncovered,
    UnderstaffedCell,
)
from service.shops.service import get_shop
from service.workforce.models import Agent, EmploymentType, Site
from service.workforce.service import get_agent

log = logging.getLogger("seatwise.seating")
HISTORY_DAYS = 8  # a week and a day of live shifts before the window, at least (runs of days, the week)
RULE_FIELD = {
    "meal_break_count": "breaks",
    "meal_break_length": "breaks",
    "meal_break_window": "breaks",
    "break_outside_shift": "breaks",
    "break_overlap": "breaks",
    "assignment_outside_shift": "assignments",
    "assignment_in_break": "assignments",
    "assignment_overlap": "assignments",
    "skills": "assignments",
    "home_site": "agent_id",
}


class RuleBroken(Problem, status=422, suffix="labour-rule"):
    """A change that breaks a hard rule; `rule` names it (service.seating.rules.RULES)."""

    def __init__(self, violations: Sequence[Any], field: str | None = None):
        first = violations[0]
        rules = sorted({v.rule for v in violations})
        errors = [
            {"field": field or RULE_FIELD.get(v.rule, "from"), "reason": v.detail, "rule": v.rule}
            for v in violations
        ]
        super().__init__(
            f"breaks the rule {first.rule}: {first.detail}",
            errors=errors,
            extensions={"rule": first.rule, "rules": rules},
        )


# --- labour rule sets ---------------------------------------------------------------------------------


def _checked_rules(row: LabourRuleSet) -> None:
    """The stored columns must make valid LabourRules (rules.LabourRules says what is consistent)."""
    try:
        rules_of(row.model_dump())
    except ValueError as exc:
        message = str(exc)
        named = next((f for f in RuleSetCreate.model_fields if f in message), "shift_max")
        raise Invalid(named, message) from None


async def list_rule_sets(session: AsyncSession, page: PageRequest) -> Paged[LabourRuleSet]:
    return await list_page(session, select(LabourRuleSet), LabourRuleSet.id, page)


async def get_rule_set(session: AsyncSession, rule_set_id: uuid.UUID) -> LabourRuleSet:
    row: LabourRuleSet = await one_or_404(
        session, select(LabourRuleSet).where(col(LabourRuleSet.id) == rule_set_id), "labour rule set"
    )
    return row


async def create_rule_set(session: AsyncSession, data: RuleSetCreate) -> LabourRuleSet:
    row = LabourRuleSet(**data.model_dump(mode="json"))
    _checked_rules(row)
    session.add(row)
    await flush(session, f"a labour rule set named '{data.name}'")
    return row


async def update_rule_set(
    session: AsyncSession, rule_set_id: uuid.UUID, changes: RuleSetUpdate
) -> LabourRuleSet:
    row: LabourRuleSet = apply_changes(await get_rule_set(session, rule_set_id), changes)
    _checked_rules(row)
    await flush(session, "labour rule set")
    return row


async def list_employment_type_rules(session: AsyncSession) -> list[EmploymentTypeRules]:
    return list(
        (
            await session.execute(select(EmploymentTypeRules).order_by(EmploymentTypeRules.employment_type))
        ).scalars()
    )


async def _choice(session: AsyncSession, choice: RuleSetChoice) -> uuid.UUID | None:
    if choice.rule_set_id is not None and await session.get(LabourRuleSet, choice.rule_set_id) is None:
        raise Invalid("rule_set_id", "no such labour rule set")
    return choice.rule_set_id


async def set_employment_type_rules(
    session: AsyncSession, employment_type: EmploymentType, choice: RuleSetChoice
) -> list[EmploymentTypeRules]:
    """The rule set of every agent of EMPLOYMENT_TYPE without one of its own (null: the default)."""
    rule_set = await _choice(session, choice)
    await session.execute(
        delete(EmploymentTypeRules).where(col(EmploymentTypeRules.employment_type) == employment_type.value)
    )
    if rule_set is not None:
        session.add(EmploymentTypeRules(employment_type=employment_type.value, rule_set_id=rule_set))
    await flush(session, "employment type rules")
    return await list_employment_type_rules(session)


async def agent_rules(session: AsyncSession, agent_id: uuid.UUID) -> AgentRulesRead:
    agent = await get_agent(session, agent_id)
    own = await session.get(AgentRules, agent_id)
    by_type = await session.get(EmploymentTypeRules, agent.employment_type)
    chosen = own or by_type
    source = "agent" if own else "employment_type" if by_type else "default"
    rule_set = await session.get(LabourRuleSet, chosen.rule_set_id) if chosen else None
    return AgentRulesRead(
        agent_id=agent_id, source=source, rule_set=RuleSetRead.model_validate(rule_set) if rule_set else None
    )


async def set_agent_rules(
    session: AsyncSession, agent_id: uuid.UUID, choice: RuleSetChoice
) -> AgentRulesRead:
    """An agent's own rule set (null: its employment type's again)."""
    await get_agent(session, agent_id)
    rule_set = await _choice(session, choice)
    await session.execute(delete(AgentRules).where(col(AgentRules.agent_id) == agent_id))
    if rule_set is not None:
        session.add(AgentRules(agent_id=agent_id, rule_set_id=rule_set))
    await flush(session, "agent rules")
    return await agent_rules(session, agent_id)


async def ensure_rule_set(session: AsyncSession, name: str, rules: LabourRules) -> LabourRuleSet:
    """The rule set NAME holding RULES (a preset), created when missing (the demo's)."""
    stmt = select(LabourRuleSet).where(col(LabourRuleSet.name) == name)
    found = (await session.execute(stmt)).scalars().first()
    if found is not None:
        return found
    return await create_rule_set(session, RuleSetCreate(name=name, **rule_columns(rules)))


# --- the holiday calendar -----------------------------------------------------------------------------


CALENDAR_YEARS = range(2000, 2101)


def _calendar_year(year: int) -> int:
    if year not in CALENDAR_YEARS:
        raise Invalid("year", f"must be between {CALENDAR_YEARS[0]} and {CALENDAR_YEARS[-1]}")
    return year


async def holiday_calendar(session: AsyncSession, year: int) -> HolidayCalendarRead:
    _calendar_year(year)
    rows = (
        (
            await session.execute(
                select(HolidayDay)
                .where(col(HolidayDay.day) >= date(year, 1, 1), col(HolidayDay.day) <= date(year, 12, 31))
                .order_by(col(HolidayDay.day))
            )
        )
        .scalars()
        .all()
    )
    return HolidayCalendarRead(year=year, days=[HolidayDayFields.model_validate(r) for r in rows])


def _calendar_of(year: int, days: Sequence[Any]) -> HolidayCalendar:
    kinds: dict[str, set[date]] = defaultdict(set)
    for d in days:
        kinds[d.kind].add(d.day)
    return HolidayCalendar(
        year, frozenset(kinds["holiday"]), frozenset(kinds["day_off"]), frozenset(kinds["make_up_workday"])
    )


async def set_holiday_calendar(
    session: AsyncSession, year: int, data: HolidayCalendarSet
) -> HolidayCalendarRead:
    """Replace YEAR's calendar (every listed day; the others follow the weekend rule)."""
    _calendar_year(year)
    for i, d in enumerate(data.days):
        if d.day.year != year:
            raise Invalid(f"days.{i}.day", f"must lie in {year}")
    if len({d.day for d in data.days}) != len(data.days):
        raise Invalid("days", "lists a day twice")
    try:
        _calendar_of(year, data.days)
    except ValueError as exc:
        raise Invalid("days", str(exc)) from None
    await session.execute(
        delete(HolidayDay).where(
            col(HolidayDay.day) >= date(year, 1, 1), col(HolidayDay.day) <= date(year, 12, 31)
        )
    )
    session.add_all([HolidayDay(**d.model_dump()) for d in data.days])
    await flush(session, "holiday calendar")
    return await holiday_calendar(session, year)


async def load_official_calendar(
    session: AsyncSession, calendar: HolidayCalendar = CHINA_2026, names: dict[date, str] | None = None
) -> HolidayCalendarRead:
    """Write an official calendar (default the State Council's 2026 one) into the holiday days."""
    days = [
        HolidayDayFields(day=d, kind=kind, name=(names or {}).get(d))
        for kind, group in (
            ("holiday", calendar.holidays),
            ("day_off", calendar.days_off),
            ("make_up_workday", calendar.make_up_workdays),
        )
        for d in sorted(group)
    ]
    return await set_holiday_calendar(session, calendar.year, HolidayCalendarSet(days=days))


async def calendar_book(session: AsyncSession, first: date, last: date) -> CalendarBook:
    """The stored calendars of the years FIRST..LAST (a year without any stored day follows the weekend
    rule)."""
    rows = (
        (
            await session.execute(
                select(HolidayDay).where(
                    col(HolidayDay.day) >= date(first.year, 1, 1),
                    col(HolidayDay.day) <= date(last.year, 12, 31),
                )
            )
        )
        .scalars()
        .all()
    )
    years: dict[int, list[HolidayDay]] = defaultdict(list)
    for r in rows:
        years[r.day.year].append(r)
    return CalendarBook.of(*(_calendar_of(y, ds) for y, ds in sorted(years.items())))


# --- availability and requirements --------------------------------------------------------------------


async def add_availability(
    session: AsyncSession, principal: Principal, agent_id: uuid.UUID, data: AvailabilityCreate
) -> Any:  # the stored row as get_availability reads it
    await get_agent(session, agent_id)
    row = AgentAvailability(
        agent_id=agent_id,
        kind=data.kind,
        note=data.note,
        created_by=principal.subject,
        during=_range(data.start, data.end),
    )
    session.add(row)
    await flush(session, "availability")
    return await get_availability(session, row.id)


def _range(lo: datetime, hi: datetime) -> Range[datetime]:
    return Range(lo, hi, bounds="[)")


_AVAILABILITY = text("""SELECT id, agent_id, kind, lower(during) AS starts_at, upper(during) AS ends_at, note,
    created_by, created_at FROM agent_availability""")


async def get_availability(session: AsyncSession, availability_id: uuid.UUID) -> Any:
    row = (await session.execute(text(f"{_AVAILABILITY} WHERE id = :id"), {"id": availability_id})).first()
    if row is None:
        raise NotFound("availability not found")
    return row


async def list_availability(session: AsyncSession, agent_id: uuid.UUID, page: PageRequest) -> Paged[Any]:
    await get_agent(session, agent_id)
    after = page.after(uuid.UUID)
    rows = (
        await session.execute(
            text(f"""{_AVAILABILITY} WHERE agent_id = :agent AND id > :after
        ORDER BY id LIMIT :limit"""),
            {"agent": agent_id, "after": after[0] if after else uuid.UUID(int=0), "limit": page.limit + 1},
        )
    ).all()
    return page_of(rows, page)


async def remove_availability(session: AsyncSession, availability_id: uuid.UUID) -> None:
    await get_availability(session, availability_id)
    await session.execute(delete(AgentAvailability).where(col(AgentAvailability.id) == availability_id))


async def get_requirements(
    session: AsyncSession, principal: Principal, shop_id: uuid.UUID
) -> RequirementsRead:
    shop = await get_shop(session, principal, shop_id)
    row = await session.get(ShopRequirements, (shop.tenant_id, shop.id))
    return RequirementsRead(
        tenant_id=shop.tenant_id,
        shop_id=shop.id,
        platform=shop.platform,
        skills=list(row.skills) if row else [],
    )


async def set_requirements(
    session: AsyncSession, principal: Principal, shop_id: uuid.UUID, data: RequirementsSet
) -> RequirementsRead:
    shop = await get_shop(session, principal, shop_id)
    slug = (
        await session.execute(text("SELECT slug FROM tenants WHERE id = :t"), {"t": shop.tenant_id})
    ).scalar_one()
    for skill in data.skills:
        if skill.startswith("cert:") and skill != f"cert:{slug}":
            raise Invalid("skills", f"{skill}: a shop requires its own brand's certificate (cert:{slug})")
    row = await session.get(ShopRequirements, (shop.tenant_id, shop.id))
    if row is None:
        session.add(ShopRequirements(tenant_id=shop.tenant_id, shop_id=shop.id, skills=data.skills))
    else:
        row.skills = data.skills
    await flush(session, "shop requirements")
    return await get_requirements(session, principal, shop_id)


# --- roster problems from the stored facts ------------------------------------------------------------


async def _catalogue(
    session: AsyncSession,
    start: datetime,
    n: int,
    shops: list[ShopFacts],
    demand: np.ndarray,
    required: np.ndarray,
    *,
    agent_ids: Sequence[uuid.UUID] | None = None,
    site_ids: Sequence[uuid.UUID] | None = None,
    roster_id: uuid.UUID | None = None,
    leave_out: uuid.UUID | None = None,
) -> Catalogue:
    """The problem of [start, start + n intervals): these shops and demand, the agents (all employed, or
    AGENT_IDS) at the sites (all, or SITE_IDS), their history and their live shifts inside the window pinned
    (and ROSTER_ID's drafts; LEAVE_OUT: a shift not to count)."""
    end = instant(start, n)
    site_rows = (await session.execute(select(Site).order_by(col(Site.id)))).scalars().all()
    sites = [
        SiteFacts(s.id, s.name, s.seat_capacity, s.timezone)
        for s in site_rows
        if site_ids is None or s.id in site_ids
    ]
    first, last = (start - timedelta(days=1)).date(), end.date()
    agents = await queries.employed_agents(session, first, last, agent_ids)
    sets = await queries.rule_sets(session)
    by_set = {key: rules_of(sets[key] if key else None) for key in {r.rule_set_id for r in agents}}
    rules = {r.id: by_set[r.rule_set_id] for r in agents}  # one LabourRules per rule set, shared
    history_from = min(start.replace(day=1), start - timedelta(days=HISTORY_DAYS)) - timedelta(days=1)
    if any(r.comprehensive for r in rules.values()):
        quarter = 3 * ((start.month - 1) // 3) + 1
        history_from = min(history_from, start.replace(month=quarter, day=1) - timedelta(days=1))
    calendar = await calendar_book(session, history_from.date(), last)
    ids = None if agent_ids is None else list(agent_ids)
    off: dict[Any, list[tuple[datetime, datetime]]] = defaultdict(list)
    liked: dict[Any, list[tuple[datetime, datetime]]] = defaultdict(list)
    for a in await queries.availability_between(session, start, end, ids):
        (liked if a.kind == "preferred" else off)[a.agent_id].append((a.lo, a.hi))
    zone_of = {s.id: s.timezone for s in sites}
    for r in agents:
        if r.left_on is not None and r.site_id in zone_of:
            off[r.id].append((local_day_start(r.left_on, zone_of[r.site_id]), end))
    prior: dict[Any, list[Any]] = defaultdict(list)
    pinned: list[ShiftFacts] = []
    for f in await queries.live_shifts(session, history_from, end, ids, roster_id):
        if f.id == leave_out:
            continue
        rest = timedelta(minutes=rules[f.agent_id].min_rest_between_shifts) if f.agent_id in rules else STEP
        if f.end <= start:
            prior[f.agent_id].append(work_span(f))
        elif f.start < start:  # across the window's start: history, and no work before its rest is over
            prior[f.agent_id].append(work_span(f))
            off[f.agent_id].append((start, f.end + rest))
        elif f.end > end:  # across the window's end: no work that would break its rest
            off[f.agent_id].append((f.start - rest, end))
        else:
            pinned.append(f)
    facts = [
        AgentFacts(
            r.id,
            r.code,
            r.site_id,
            r.level,
            list(r.skills),
            r.loaded_hourly_cost,
            rules[r.id],
            off.get(r.id, ()),
            liked.get(r.id, ()),
            prior.get(r.id, ()),
        )
        for r in agents
    ]
    return catalogue(start, n, shops, demand, required, facts, sites, calendar, pinned)


def _release_broken(cat: Catalogue, replaced: uuid.UUID) -> tuple[Catalogue, dict[str, int]]:
    """Minimal disruption: the replaced roster's pinned shifts stay, except those that break a rule now (the
    independent checker names them) and, where a site has fewer seats than pinned shifts, the latest ones
    there. Pinned shifts of others stay whatever they break: they are not this roster's to move."""
    p = cat.problem
    ours = [i for i, f in enumerate(cat.pinned) if f.roster_id == replaced]
    index = {s: i for i, s in enumerate(p.pinned)}
    released: dict[int, str] = {}
    for v in check_roster(p.pinned, p):
        for s in v.shifts:
            i = index.get(s)
            if i is not None and cat.pinned[i].roster_id == replaced:
                released.setdefault(i, v.rule)
    occupancy = np.zeros((len(p.sites), p.n_intervals), np.int64)
    for i, s in enumerate(p.pinned):
        if i not in released:
            occupancy[s.site, s.start : s.end] += 1
    for i in sorted(ours, key=lambda i: (-p.pinned[i].start, i)):
        s = p.pinned[i]
        if i not in released and (occupancy[s.site, s.start : s.end] > p.sites[s.site].seat_capacity).any():
            released[i] = "seat_capacity"
            occupancy[s.site, s.start : s.end] -= 1
    keep = [i for i in range(len(p.pinned)) if i not in released]
    problem = dataclasses.replace(p, pinned=tuple(p.pinned[i] for i in keep))
    counts: dict[str, int] = defaultdict(int)
    for rule in released.values():
        counts[rule] += 1
    return Catalogue(problem, cat.shops, cat.agents, cat.sites, [cat.pinned[i] for i in keep]), dict(counts)


async def _plan_problem(session: AsyncSession, plan: Any, replaced: Roster | None) -> Catalogue:
    cells = await queries.plan_cells(session, plan.id)
    if not cells:
        raise Invalid("plan_id", "the plan has no shops")
    shops = [ShopFacts(c.tenant_id, c.shop_id, c.name, c.platform, c.tier, tuple(c.skills)) for c in cells]
    demand = np.array([c.allocated for c in cells], np.int64).T
    required = np.array([c.required for c in cells], np.int64).T
    n = int((plan.ends_at - plan.starts_at) / STEP)
    return await _catalogue(session, plan.starts_at.astimezone(UTC), n, shops, demand, required)


def _solve(problem: RosterProblem, data: RosterCreate) -> tuple[RosterResult, RosterResult]:
    fast = build_roster(problem)
    if data.mode == RosterMode.fast:
        return fast, fast
    # Imported when first asked for: OR-Tools (and the pandas it loads) cost a third of a second of every
    # server start, and most rosters are built by the fast path alone.
    from service.seating.optimise import optimise

    return optimise(
        problem,
        fast,
        data.time_limit_s,
        workers=1,
        seed=data.seed,
        deterministic_time=data.deterministic_time,
    ), fast


# --- rosters ------------------------------------------------------------------------------------------


async def _replaced(session: AsyncSession, plan: Any, replaces: uuid.UUID | None) -> Roster | None:
    if replaces is None:
        return (
            (
                await session.execute(
                    select(Roster)
                    .where(col(Roster.plan_id) == plan.id, col(Roster.status) == "published")
                    .order_by(col(Roster.published_at).desc())
                    .limit(1)
                )
            )
            .scalars()
            .first()
        )
    old = await session.get(Roster, replaces)
    if old is None or old.status != "published":
        raise Invalid("replaces", "not a published roster")
    if (old.starts_at, old.ends_at) != (plan.starts_at, plan.ends_at):
        raise Invalid("replaces", "covers another window than the plan")
    return old


def _figures(s: Any) -> dict[str, Any]:
    return {
        "required": s.required,
        "allocated": s.allocated,
        "rostered": s.rostered,
        "covered": s.covered,
        "coverage": round(s.ratio, 6),
    }


def _summary(
    cat: Catalogue,
    result: RosterResult,
    own: RosterResult,
    fast: RosterResult,
    data: RosterCreate,
    replan: ReplanRead | None,
    context: int,
) -> RosterSummary:
    p = cat.problem
    tiers = [TierCoverage(tier=TIERS[t], **_figures(s)) for t, s in sorted(result.tiers.items())]
    shops = [
        ShopCoverage(tenant_id=f.tenant_id, shop_id=f.shop_id, shop_name=f.name, tier=f.tier, **_figures(s))
        for f, s in zip(cat.shops, result.shops, strict=True)
    ]
    uncovered = [
        Uncovered(shop_id=cat.shops[j].shop_id, interval_start=cat.at(t), missing=m)
        for j, t, m in result.uncovered
    ]
    bound = result.bound
    solver = result.solver
    return RosterSummary(
        intervals=p.n_intervals,
        shops=len(p.shops),
        shifts=len(own.shifts),
        assignments=sum(len(s.assignments) for s in own.shifts),
        agents_used=own.agents_used,
        hours=round(own.worked_minutes / 60, 2),
        overtime_hours=OvertimeHours(
            **{c.value: round(own.overtime_minutes.get(c, 0) / 60, 2) for c in PayClass}
        ),
        labour_cost=own.labour_cost,
        total=CoverageFigures(**_figures(result.total)),
        tiers=tiers,
        shops_coverage=shops,
        uncovered=uncovered,
        bound=BoundRead(
            value=bound.value,
            kind=bound.kind,
            per_interval=bound.per_interval,
            overall=bound.overall,
            coverage_vs_bound=round(result.coverage_vs_bound, 6),
            gap=bound.value - result.total.covered,
        ),
        solver=SolverRead(
            status=result.status,
            mode=data.mode,
            seconds=round(result.seconds, 3),
            cp_sat_status=solver.status if solver else None,
            cp_sat_gap=round(solver.gap, 6) if solver else None,
            fast_covered=fast.total.covered if data.mode == RosterMode.optimise else None,
            fast_labour_cost=fast.labour_cost if data.mode == RosterMode.optimise else None,
        ),
        replan=replan,
        context_shifts=context,
    )


async def create_roster(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, data: RosterCreate
) -> Roster:
    """Build, summarise and store a draft roster for the plan (see the module docstring). When it replaces
    a published roster, that roster's shifts are pinned and only those that must move move."""
    with collector.paused():  # the problem, the roster and its rows: no cycles among them (see rostering)
        return await _create_roster(session, principal, plan_id, data)


async def _create_roster(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, data: RosterCreate
) -> Roster:
    step = StageClock(log, "roster stage").lap
    plan = await get_plan(session, plan_id)
    replaced = await _replaced(session, plan, data.replaces)
    cat = await _plan_problem(session, plan, replaced)
    step("problem")
    released: dict[str, int] = {}
    if replaced is not None:
        cat, released = await asyncio.to_thread(_release_broken, cat, replaced.id)
    result, fast = await asyncio.to_thread(_solve, cat.problem, data)
    step("solve")
    facts_of = dict(zip(cat.problem.pinned, cat.pinned, strict=True))
    mine = replaced.id if replaced else None
    own_shifts = [s for s in result.shifts if not s.pinned or facts_of[s].roster_id == mine]
    context = len(result.shifts) - len(own_shifts)
    own = (
        result
        if not context
        else summarise(cat.problem, own_shifts, status=result.status, bound=result.bound)
    )
    replan = None
    if replaced is not None:
        kept = sum(1 for s in own_shifts if s.pinned)
        replan = ReplanRead(
            replaces=replaced.id,
            pinned=kept,
            released=sum(released.values()),
            released_rules=released,
            added=len(own_shifts) - kept,
        )
    roster = Roster(
        plan_id=plan.id,
        replaces_id=mine,
        name=data.name or plan.name,
        status="draft",
        mode=data.mode.value,
        starts_at=plan.starts_at,
        ends_at=plan.ends_at,
        summary=_summary(cat, result, own, fast, data, replan, context).model_dump(mode="json"),
        created_by=principal.subject,
    )
    step("summary")
    session.add(roster)
    await flush(session, "roster")
    await _store(
        session,
        cat.start,
        roster.id,
        own_shifts,
        principal.subject,
        "draft",
        [a.id for a in cat.agents],
        [x.id for x in cat.sites],
        [(x.tenant_id, x.shop_id) for x in cat.shops],
    )
    step("stored")
    return roster


async def _store(
    session: AsyncSession,
    start: datetime,
    roster_id: uuid.UUID | None,
    shifts: Sequence[PlanShift],
    by: str,
    status: str,
    agents: Sequence[uuid.UUID],
    sites: Sequence[uuid.UUID],
    shops: Sequence[tuple[uuid.UUID, uuid.UUID]],
    ids: Sequence[uuid.UUID] | None = None,
    kept: Sequence[tuple[uuid.UUID, str, datetime] | None] | None = None,
    action: str = "create",
) -> None:
    """SHIFTS (the problem's, by index into AGENTS, SITES and SHOPS (tenant, shop) from START) stored as
    integer arrays in one statement (new ids made by the database unless IDS), and one audit entry for the
    batch (ACTION: `update` for a shift moved by hand). KEPT: per assignment in order, the id, maker and time
    of one that is moved."""
    keys = {"agent_ids": list(agents), "site_ids": list(sites), "shop_tenants": [t for t, _ in shops],
            "shop_ids": [s for _, s in shops], "ids": list(ids or [])}
    names = ("agents", "sites", "t0", "t1", "bk", "blo", "bhi", "a_shift", "a_shop", "a_t0", "a_t1")
    rows: dict[str, list[int]] = {name: [] for name in names}
    agent, site, t0, t1, bk, blo, bhi, a_shift, a_shop, a_t0, a_t1 = rows.values()
    # Integers only, appended: tens of thousands of tuples would wake the cyclic collector over the heap.
    for i, s in enumerate(shifts, 1):
        agent.append(s.agent + 1)
        site.append(s.site + 1)
        t0.append(s.start)
        t1.append(s.end)
        for lo, hi in s.breaks:
            bk.append(i)
            blo.append(lo)
            bhi.append(hi)
        for a in s.assignments:
            a_shift.append(i)
            a_shop.append(a.shop + 1)
            a_t0.append(a.start)
            a_t1.append(a.end)
    moved: dict[str, list[Any]] | None = None
    if kept is not None:
        moved = {"keep_ids": [k[0] if k else None for k in kept],
                 "made_by": [k[1] if k else None for k in kept],
                 "made_at": [k[2] if k else None for k in kept]}
    await queries.store_shifts(session, roster_id, start, by, status, keys, rows, moved)
    # One entry for the batch (a shift placed by hand: its id; a roster's: the roster's).
    await audit.record(session, action=action, object_type="shifts", object_id=ids[0] if ids else roster_id,
                       after={"roster_id": roster_id, "status": status, "shifts": len(shifts),
                              "assignments": len(a_shift)})


async def check_stored_roster(session: AsyncSession, roster_id: uuid.UUID) -> list[Any]:
    """Every hard-rule violation of a stored roster by the independent checker (rules.check_roster), with
    the problem rebuilt from what is stored now (its own pinned shifts left out: they are the roster)."""
    roster = await get_roster(session, roster_id)
    plan = await get_plan(session, roster.plan_id)
    cat = await _plan_problem(session, plan, None)
    own = await queries.roster_shift_facts(session, roster.id)
    ids = {f.id for f in own}
    # Around it: every other live shift, but those of the roster it replaces (they leave when it is
    # published).
    others = [i for i, f in enumerate(cat.pinned)
              if f.id not in ids and (roster.replaces_id is None or f.roster_id != roster.replaces_id)]
    problem = dataclasses.replace(cat.problem, pinned=tuple(cat.problem.pinned[i] for i in others))
    agent_index = {a.id: i for i, a in enumerate(cat.agents)}
    site_index = {s.id: k for k, s in enumerate(cat.sites)}
    shop_index = {(s.tenant_id, s.shop_id): j for j, s in enumerate(cat.shops)}
    shifts = [shift_of(cat.start, f, agent_index[f.agent_id], site_index[f.site_id], shop_index) for f in own]
    return check_roster([*problem.pinned, *shifts], problem)


async def list_rosters(
    session: AsyncSession, page: PageRequest, plan_id: uuid.UUID | None = None
) -> Paged[Roster]:
    stmt = select(Roster)
    if plan_id is not None:
        stmt = stmt.where(col(Roster.plan_id) == plan_id)
    return await list_page(session, stmt, Roster.id, page)


async def get_roster(session: AsyncSession, roster_id: uuid.UUID) -> Roster:
    roster: Roster = await one_or_404(session, select(Roster).where(col(Roster.id) == roster_id), "roster")
    return roster


async def publish_roster(session: AsyncSession, principal: Principal, roster_id: uuid.UUID) -> Roster:
    """Make a draft roster live: the roster it replaces is superseded (its shifts leave the floor) in the
    same transaction; the exclusion constraint refuses an agent in two places (409 naming the other shift)
    and, under the sites' locks, no site holds more live agents than seats."""
    roster: Roster = await one_or_404(
        session, select(Roster).where(col(Roster.id) == roster_id).with_for_update(), "roster"
    )
    if roster.status != "draft":
        raise Conflict(f"the roster is {roster.status}, not a draft")
    sites = list(
        (
            await session.execute(
                text("SELECT DISTINCT site_id FROM shifts WHERE roster_id = :r"), {"r": roster.id}
            )
        ).scalars()
    )
    await queries.lock_sites(session, sites)
    now, by = utcnow(), principal.subject
    if roster.replaces_id is not None:
        old = await session.get(Roster, roster.replaces_id, with_for_update=True)
        if old is None or old.status != "published":
            raise Conflict("the roster it replaces is no longer published: build a new one")
        await session.execute(
            text(
                "UPDATE shifts SET status = 'draft', updated_by = :by, updated_at = :now WHERE roster_id = :r"
            ),
            {"r": old.id, "by": by, "now": now},
        )
        old.status = "superseded"
    await _guarded(
        session,
        lambda: session.execute(
            text(
                "UPDATE shifts SET status = 'published', updated_by = :by, updated_at = :now "
                "WHERE roster_id = :r"
            ),
            {"r": roster.id, "by": by, "now": now},
        ),
        None,
    )
    over = await queries.seats_over(session, sites, roster.starts_at, roster.ends_at)
    if over is not None:
        raise Invalid(
            "roster_id",
            f"site {over.site_id} would hold {over.agents} agents at "
            f"{over.interval_start.isoformat()}, it has {over.seats} seats",
        )
    roster.status, roster.published_at, roster.published_by = "published", now, by
    await flush(session, "roster")
    return roster


# --- coverage: what clients may read ------------------------------------------------------------------


async def coverage_scope(
    session: AsyncSession, principal: Principal, roster_id: uuid.UUID, shop_id: uuid.UUID | None
) -> dict[str, Any]:
    """What coverage a caller may read of a roster: 404 for an unknown roster or a shop the caller may not
    see; a client's is its own tenant's, explicitly."""
    roster = await get_roster(session, roster_id)
    scope: dict[str, Any] = {"roster": roster.id, "plan": roster.plan_id}
    if not principal.is_staff:
        scope["tenant"] = principal.tenant_id
    if shop_id is not None:
        shop = await get_shop(session, principal, shop_id)
        scope |= {"tenant": shop.tenant_id, "shop": shop.id}
    return scope


_CELL_KEY = (uuid.UUID, uuid.UUID, datetime)


async def coverage(
    session: AsyncSession,
    principal: Principal,
    roster_id: uuid.UUID,
    shop_id: uuid.UUID | None,
    page: PageRequest,
) -> Paged[CoverageCell]:
    """Rostered agents against the plan per shop and interval (counts only), in key order."""
    scope = await coverage_scope(session, principal, roster_id, shop_id)
    rows = await queries.coverage_rows(session, scope, page.after(*_CELL_KEY), page.limit + 1)
    cells = [CoverageCell.model_validate(dict(r)) for r in rows]
    return page_of(cells, page, key=lambda c: (c.tenant_id, c.shop_id, c.interval_start))


async def coverage_csv(
    sessions: ScopedSessions, principal: Principal, roster_id: uuid.UUID, shop_id: uuid.UUID | None
) -> AsyncIterator[bytes]:
    """The same cells as CSV, streamed."""

    async def query(session: AsyncSession) -> tuple[str, dict[str, Any]]:
        return queries.coverage_sql(await coverage_scope(session, principal, roster_id, shop_id), csv=True)

    async for chunk in copy_csv(sessions, query):
        yield chunk


async def understaffed_by_shop_interval(
    session: AsyncSession, first: date, end: date
) -> list[UnderstaffedCell]:
    """Shop-intervals of the local days [FIRST, END) (Asia/Shanghai) rostered below requirement: fewer agents
    on the shop in the published rosters than their capacity plans require, with the agents rostered there
    (staff only). The scorecard counts them against the SLA met anyway."""
    lo, hi = local_day_start(first, DEFAULT_TZ), local_day_start(end, DEFAULT_TZ)
    return [
        UnderstaffedCell.model_construct(
            tenant_id=r.tenant_id, shop_id=r.shop_id, interval_start=r.interval_start, required=r.required,
            rostered=r.rostered, agent_ids=list(r.agents))
        for r in await queries.understaffed_cells(session, lo, hi)
    ]


# --- shifts: reads ------------------------------------------------------------------------------------

_SHIFT_READ = """
SELECT s.id, s.roster_id, s.agent_id, a.code AS agent_code, s.site_id, s.status, s.source,
       lower(s.during) AS starts_at, upper(s.during) AS ends_at,
       ARRAY(SELECT lower(b) FROM unnest(s.breaks) b ORDER BY 1) AS break_lo,
       ARRAY(SELECT upper(b) FROM unnest(s.breaks) b ORDER BY 1) AS break_hi,
       s.created_by, s.updated_by, s.created_at, s.updated_at
FROM shifts s JOIN agents a ON a.id = s.agent_id
"""
_ASSIGNMENT_READ = """SELECT id, shift_id, tenant_id, shop_id, lower(during) AS starts_at,
       upper(during) AS ends_at, created_by, updated_by, created_at, updated_at FROM shift_assignments"""


async def _shift_reads(session: AsyncSession, rows: Sequence[Any]) -> list[ShiftRead]:
    pieces: dict[uuid.UUID, list[AssignmentRead]] = {r.id: [] for r in rows}
    if pieces:
        for a in (
            await session.execute(
                text(f"{_ASSIGNMENT_READ} WHERE shift_id = ANY(CAST(:ids AS uuid[])) ORDER BY lower(during)"),
                {"ids": list(pieces)},
            )
        ).mappings():
            pieces[a["shift_id"]].append(AssignmentRead.model_validate(dict(a)))
    return [
        ShiftRead(
            **{k: v for k, v in r._mapping.items() if k not in ("break_lo", "break_hi")},
            breaks=[
                BreakRead(starts_at=lo, ends_at=hi) for lo, hi in zip(r.break_lo, r.break_hi, strict=True)
            ],
            assignments=pieces[r.id],
        )
        for r in rows
    ]


async def list_shifts(session: AsyncSession, filters: ShiftFilter, page: PageRequest) -> Paged[ShiftRead]:
    """Shifts by roster, agent, site, shop and time (meeting [start, end)), in order of their start."""
    where, params = ["TRUE"], {}
    for name in ("roster_id", "agent_id", "site_id", "status"):
        value = getattr(filters, name)
        if value is not None:
            where.append(f"s.{name} = :{name}")
            params[name] = value
    if filters.shop_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM shift_assignments x WHERE x.shift_id = s.id AND x.shop_id = :shop)"
        )
        params["shop"] = filters.shop_id
    if filters.start is not None or filters.end is not None:
        where.append("s.during && tstzrange(:lo, :hi)")
        params |= {"lo": filters.start, "hi": filters.end}
    after = page.after(datetime, uuid.UUID)
    if after is not None:
        where.append("(lower(s.during), s.id) > (:a_at, :a_id)")
        params |= {"a_at": after[0], "a_id": after[1]}
    rows = (
        await session.execute(
            text(f"{_SHIFT_READ} WHERE {' AND '.join(where)} ORDER BY lower(s.during), s.id LIMIT :limit"),
            params | {"limit": page.limit + 1},
        )
    ).all()
    return page_of(await _shift_reads(session, rows), page, key=lambda s: (s.starts_at, s.id))


async def get_shift(session: AsyncSession, shift_id: uuid.UUID) -> ShiftRead:
    rows = (await session.execute(text(f"{_SHIFT_READ} WHERE s.id = :id"), {"id": shift_id})).all()
    if not rows:
        raise NotFound("shift not found")
    return (await _shift_reads(session, rows))[0]


async def agent_schedule(
    session: AsyncSession, agent_id: uuid.UUID, start: datetime | None, end: datetime | None
) -> bytes:
    """An agent's live shifts as an iCalendar feed (RFC 5545): one event per shift, breaks and shops in its
    description."""
    from icalendar import Calendar, Event

    agent = await get_agent(session, agent_id)
    site = await session.get(Site, agent.site_id)
    shifts = await list_shifts(
        session,
        ShiftFilter(agent_id=agent_id, status="published", start=start, end=end),
        PageRequest(limit=500),
    )
    names = {
        r.id: r.name
        for r in (
            await session.execute(
                text("SELECT id, name FROM shops WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": list({a.shop_id for s in shifts.items for a in s.assignments})},
            )
        ).all()
    }
    cal = Calendar()
    cal.add("prodid", "-//Seatwise//Roster//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Seatwise shifts {agent.code}")
    for s in shifts.items:
        event = Event()
        event.add("uid", f"{s.id}@seatwise")
        event.add("dtstamp", s.updated_at.astimezone(UTC))
        event.add("last-modified", s.updated_at.astimezone(UTC))
        event.add("dtstart", s.starts_at.astimezone(UTC))
        event.add("dtend", s.ends_at.astimezone(UTC))
        event.add("summary", f"Shift at {site.name if site else 'site'}")
        lines = [
            f"Break {b.starts_at.astimezone(UTC):%H:%M}-{b.ends_at.astimezone(UTC):%H:%M} UTC"
            for b in s.breaks
        ]
        lines += [
            f"{names.get(a.shop_id, a.shop_id)} {a.starts_at.astimezone(UTC):%H:%M}-"
            f"{a.ends_at.astimezone(UTC):%H:%M} UTC"
            for a in s.assignments
        ]
        event.add("description", "\n".join(lines))
        if site is not None:
            event.add("location", site.name)
        cal.add_component(event)
    return bytes(cal.to_ical())


# --- manual seat moves --------------------------------------------------------------------------------

_EXCLUSIONS = {"no_double_booking", "no_overlap_in_roster", "one_shop_at_a_time"}


async def _guarded(session: AsyncSession, write: Any, conflict: Any) -> None:
    """Run WRITE in a savepoint; an exclusion constraint's refusal becomes a 409 naming what it conflicts
    with (looked up after the savepoint rolled back, by CONFLICT(constraint) -> Conflict, or the
    constraint's own words)."""
    try:
        async with session.begin_nested():
            await write()
    except IntegrityError as exc:
        cause = getattr(exc.orig, "__cause__", None)
        constraint = getattr(cause, "constraint_name", None) or next(
            (c for c in _EXCLUSIONS if c in str(exc.orig)), None
        )
        if constraint not in _EXCLUSIONS:
            raise
        if conflict is not None:
            raise await conflict(constraint) from None
        raise Conflict(
            f"an agent would be in two places at once ({constraint})", extensions={"constraint": constraint}
        ) from None


def _shift_conflict(row: Any, constraint: str) -> Conflict:
    span = f"{row.lo.isoformat()}/{row.hi.isoformat()}"
    return Conflict(
        f"agent {row.agent_code} is already on shift {row.id} ({span})",
        extensions={
            "constraint": constraint,
            "conflict": {
                "shift_id": str(row.id),
                "agent_id": str(row.agent_id),
                "agent_code": row.agent_code,
                "from": row.lo.isoformat(),
                "to": row.hi.isoformat(),
                "roster_id": str(row.roster_id) if row.roster_id else None,
            },
        },
    )


def _shift_conflicts(session: AsyncSession, agent_id: uuid.UUID, lo: datetime, hi: datetime,
                     not_id: uuid.UUID | None, roster_id: uuid.UUID | None) -> Any:
    """What a refused shift write conflicts with, by constraint (for _guarded)."""

    async def conflict(constraint: str) -> Conflict:
        if constraint == "one_shop_at_a_time":
            return Conflict("two of the shift's assignments overlap", extensions={"constraint": constraint})
        other = await queries.overlapping_shift(session, agent_id, lo, hi, not_id, roster_id)
        return _shift_conflict(other, constraint) if other else Conflict(f"conflict ({constraint})")

    return conflict


async def _shop_tenants(
    session: AsyncSession, shop_ids: Sequence[uuid.UUID], field: str
) -> dict[uuid.UUID, uuid.UUID]:
    found = await queries.shop_keys(session, shop_ids)
    for i, shop in enumerate(shop_ids):
        if shop not in found:
            raise Invalid(field.format(i=i), "no such shop")
    return found


async def _roster_target(session: AsyncSession, roster_id: uuid.UUID | None) -> tuple[str, Roster | None]:
    """The status a shift placed by hand takes: live, or its roster's (a draft's are published with it)."""
    if roster_id is None:
        return "published", None
    roster = await session.get(Roster, roster_id)
    if roster is None:
        raise Invalid("roster_id", "no such roster")
    if roster.status == "superseded":
        raise Invalid("roster_id", "the roster has been superseded")
    return ("published" if roster.status == "published" else "draft"), roster


async def _check(session: AsyncSession, shift_id: uuid.UUID, field: str | None = None) -> None:
    """The stored shift against every hard rule (rules.check_shift): its agent's other shifts (live, and its
    roster's), history, availability and its site's seats, counted under the site's lock the caller holds.
    An overlap is a 409 naming the other shift; any other break a 422 naming the rule."""
    row = (
        await session.execute(text("SELECT roster_id, status FROM shifts WHERE id = :id"), {"id": shift_id})
    ).one()
    target = (await queries.shift_facts(session, "s.id = :id", {"id": shift_id}))[0]
    agent = await session.get(Agent, target.agent_id)
    assert agent is not None
    site = await session.get(Site, target.site_id)
    assert site is not None
    day = target.start.astimezone(_zone(site.timezone)).date()
    first = min(day.replace(day=1), day - timedelta(days=day.weekday()), day - timedelta(days=7))
    start = local_day_start(first, site.timezone)
    end = local_day_start(
        target.end.astimezone(_zone(site.timezone)).date() + timedelta(days=8), site.timezone
    )
    n = int((end - start) / STEP)
    roster = row.roster_id if row.status == "draft" else None
    others = await queries.live_shifts(session, start, end, [agent.id], roster)
    keys = sorted({(t, s) for f in [target, *others] for t, s, _, _ in f.assignments}, key=str)
    shops = [
        ShopFacts(r.tenant_id, r.shop_id, r.name, r.platform, r.tier, tuple(r.skills))
        for r in await queries.shops_with_requirements(session, keys)
    ]
    zeros = np.zeros((n, len(shops)), np.int64)
    cat = await _catalogue(
        session,
        start.astimezone(UTC),
        n,
        shops,
        zeros,
        zeros,
        agent_ids=[agent.id],
        site_ids=[site.id],
        roster_id=roster,
        leave_out=target.id,
    )
    if not cat.agents:
        raise Invalid("agent_id", "the agent is not employed then")
    shop_index = {(s.tenant_id, s.shop_id): j for j, s in enumerate(cat.shops)}
    shift = shift_of(cat.start, target, 0, 0, shop_index)
    occupancy = np.zeros((1, n), np.int64)
    for at, count in (
        await queries.seat_counts(session, site.id, target.start, target.end, agent.id, roster)
    ).items():
        occupancy[0, int((at - cat.start) / STEP)] = count
    violations = check_shift(shift, cat.problem, cat.problem.pinned, occupancy)
    if any(v.rule == "shift_overlap" for v in violations):
        other = await queries.overlapping_shift(
            session, agent.id, target.start, target.end, target.id, roster
        )
        if other is not None:
            raise _shift_conflict(other, "shift_overlap")
    if violations:
        raise RuleBroken(violations, field)


def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


async def _write_shift(
    session: AsyncSession,
    principal: Principal,
    shift_id: uuid.UUID,
    roster_id: uuid.UUID | None,
    status: str,
    agent: Agent,
    lo: datetime,
    hi: datetime,
    breaks: Sequence[tuple[datetime, datetime]],
    pieces: Sequence[tuple[uuid.UUID, uuid.UUID, datetime, datetime]],
    kept: Sequence[tuple[uuid.UUID, str, datetime] | None] | None = None,
    action: str = "create",
) -> None:
    """Insert one shift with its breaks and assignments (the roster's set-based statements, one row)."""
    start = lo.astimezone(UTC)

    def t(moment: datetime) -> int:
        return index_ceil(start, moment)

    shift = PlanShift(
        0,
        0,
        t(lo),
        t(hi),
        tuple((t(a), t(b)) for a, b in breaks),
        tuple(Assignment(i, t(a), t(b)) for i, (_, _, a, b) in enumerate(pieces)),
    )
    await _store(
        session,
        start,
        roster_id,
        [shift],
        principal.subject,
        status,
        [agent.id],
        [agent.site_id],
        [(tenant, shop) for tenant, shop, _, _ in pieces],
        [shift_id],
        kept,
        action,
    )


async def create_shift(session: AsyncSession, principal: Principal, data: ShiftCreate) -> ShiftRead:
    """Place a shift by hand (see ShiftCreate)."""
    try:
        agent = await get_agent(session, data.agent_id)
    except NotFound:
        raise Invalid("agent_id", "no such agent") from None
    status, roster = await _roster_target(session, data.roster_id)
    tenants = await _shop_tenants(session, [a.shop_id for a in data.assignments], "assignments.{i}.shop_id")
    await queries.lock_sites(session, [agent.site_id])
    shift_id = new_id()
    pieces = [(tenants[a.shop_id], a.shop_id, a.start, a.end) for a in data.assignments]
    roster_id = roster.id if roster else None

    conflict = _shift_conflicts(session, agent.id, data.start, data.end, None, roster_id)

    await _guarded(
        session,
        lambda: _write_shift(
            session,
            principal,
            shift_id,
            roster_id,
            status,
            agent,
            data.start,
            data.end,
            [(b.start, b.end) for b in data.breaks],
            pieces,
        ),
        conflict,
    )
    await _check(session, shift_id)
    return await get_shift(session, shift_id)


async def _shift_row(session: AsyncSession, shift_id: uuid.UUID) -> Shift:
    row = await session.get(Shift, shift_id, with_for_update=True)
    if row is None:
        raise NotFound("shift not found")
    return row


async def update_shift(
    session: AsyncSession, principal: Principal, shift_id: uuid.UUID, changes: ShiftUpdate
) -> ShiftRead:
    """Move a shift: its times (breaks and assignments move with its start unless given, clipped to it), its
    agent, breaks or assignments; checked like a new one."""
    current = await get_shift(session, shift_id)
    await _shift_row(session, shift_id)
    sent = changes.model_fields_set
    agent = (
        await get_agent(session, changes.agent_id)
        if "agent_id" in sent and changes.agent_id
        else await get_agent(session, current.agent_id)
    )
    lo = changes.start if "start" in sent and changes.start else current.starts_at
    hi = changes.end if "end" in sent and changes.end else current.ends_at
    if hi <= lo:
        raise Invalid("to", "must be after from")
    delta = lo - current.starts_at

    def moved(a: datetime, b: datetime) -> tuple[datetime, datetime] | None:
        a, b = max(a + delta, lo), min(b + delta, hi)
        return (a, b) if a < b else None

    if "breaks" in sent:
        breaks = [(b.start, b.end) for b in changes.breaks or []]
    else:
        breaks = [m for b in current.breaks if (m := moved(b.starts_at, b.ends_at))]
    if "assignments" in sent:
        given = changes.assignments or []
        tenants = await _shop_tenants(session, [a.shop_id for a in given], "assignments.{i}.shop_id")
        pieces = [(tenants[a.shop_id], a.shop_id, a.start, a.end) for a in given]
        kept = None
    else:
        still = [(a, m) for a in current.assignments if (m := moved(a.starts_at, a.ends_at))]
        pieces = [(a.tenant_id, a.shop_id, *m) for a, m in still]
        kept = [(a.id, a.created_by, a.created_at) for a, _ in still]
    await queries.lock_sites(session, [current.site_id, agent.site_id])
    roster_id = current.roster_id

    async def write() -> None:
        await session.execute(delete(Shift).where(col(Shift.id) == shift_id))
        await _write_shift(
            session, principal, shift_id, roster_id, current.status, agent, lo, hi, breaks, pieces, kept,
            action="update",
        )
        await session.execute(
            text("UPDATE shifts SET created_by = :by, created_at = :at WHERE id = :id"),
            {"by": current.created_by, "at": current.created_at, "id": shift_id},
        )

    conflict = _shift_conflicts(session, agent.id, lo, hi, shift_id,
                                roster_id if current.status == "draft" else None)

    await _guarded(session, write, conflict)
    await _check(session, shift_id)
    return await get_shift(session, shift_id)


async def delete_shift(session: AsyncSession, shift_id: uuid.UUID) -> None:
    await _shift_row(session, shift_id)
    await session.execute(delete(Shift).where(col(Shift.id) == shift_id))


async def _assignment_row(session: AsyncSession, assignment_id: uuid.UUID) -> ShiftAssignment:
    row = (
        (await session.execute(select(ShiftAssignment).where(col(ShiftAssignment.id) == assignment_id)))
        .scalars()
        .first()
    )
    if row is None:
        raise NotFound("assignment not found")
    return row


async def get_assignment(session: AsyncSession, assignment_id: uuid.UUID) -> AssignmentRead:
    row = (
        (await session.execute(text(f"{_ASSIGNMENT_READ} WHERE id = :id"), {"id": assignment_id}))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("assignment not found")
    return AssignmentRead.model_validate(dict(row))


async def _put_assignment(
    session: AsyncSession,
    principal: Principal,
    shift_id: uuid.UUID,
    assignment_id: uuid.UUID,
    shop_id: uuid.UUID,
    lo: datetime,
    hi: datetime,
    created: tuple[str, datetime] | None,
) -> AssignmentRead:
    if hi <= lo:
        raise Invalid("to", "must be after from")
    tenant = (await _shop_tenants(session, [shop_id], "shop_id"))[shop_id]
    shift = await _shift_row(session, shift_id)
    await queries.lock_sites(session, [shift.site_id])
    by, now = principal.subject, utcnow()

    async def write() -> None:
        await session.execute(
            text("""
            INSERT INTO shift_assignments (tenant_id, id, shift_id, shop_id, during, created_by, updated_by,
                                           created_at, updated_at)
            VALUES (:tenant, :id, :shift, :shop, tstzrange(:lo, :hi), :created_by, :by, :created_at,
                    :now)"""),
            {
                "tenant": tenant,
                "id": assignment_id,
                "shift": shift_id,
                "shop": shop_id,
                "lo": lo,
                "hi": hi,
                "by": by,
                "now": now,
                "created_by": created[0] if created else by,
                "created_at": created[1] if created else now,
            },
        )
        shift.updated_by, shift.updated_at = by, now
        await session.flush()

    async def conflict(constraint: str) -> Conflict:
        other = await queries.overlapping_assignment(session, shift_id, lo, hi, assignment_id)
        extra = (
            {
                "assignment_id": str(other.id),
                "shop_id": str(other.shop_id),
                "from": other.lo.isoformat(),
                "to": other.hi.isoformat(),
            }
            if other
            else {}
        )
        return Conflict(
            f"the shift {shift_id} already serves another shop then",
            extensions={"constraint": constraint, "conflict": {"shift_id": str(shift_id), **extra}},
        )

    await _guarded(session, write, conflict)
    await _check(session, shift_id, "shop_id")
    return await get_assignment(session, assignment_id)


async def create_assignment(
    session: AsyncSession, principal: Principal, shift_id: uuid.UUID, data: AssignmentCreate
) -> AssignmentRead:
    await _shift_row(session, shift_id)
    return await _put_assignment(
        session, principal, shift_id, new_id(), data.shop_id, data.start, data.end, None
    )


async def update_assignment(
    session: AsyncSession, principal: Principal, assignment_id: uuid.UUID, changes: AssignmentUpdate
) -> AssignmentRead:
    row = await _assignment_row(session, assignment_id)
    current = await get_assignment(session, assignment_id)
    sent = changes.model_fields_set
    shop = changes.shop_id if "shop_id" in sent and changes.shop_id else current.shop_id
    lo = changes.start if "start" in sent and changes.start else current.starts_at
    hi = changes.end if "end" in sent and changes.end else current.ends_at
    await session.delete(row)
    await session.flush()
    return await _put_assignment(
        session,
        principal,
        current.shift_id,
        assignment_id,
        shop,
        lo,
        hi,
        (current.created_by, current.created_at),
    )


async def delete_assignment(session: AsyncSession, principal: Principal, assignment_id: uuid.UUID) -> None:
    row = await _assignment_row(session, assignment_id)
    shift = await _shift_row(session, row.shift_id)
    await session.delete(row)
    shift.updated_by, shift.updated_at = principal.subject, utcnow()
    await session.flush()


# --- live KA protection -------------------------------------------------------------------------------

DEFAULT_AHT_S, DEFAULT_CONCURRENCY, DEFAULT_SL, DEFAULT_ANSWER_S = 300.0, 3, 0.8, 30.0


async def _live(
    session: AsyncSession, at: datetime, given: Sequence[Any]
) -> tuple[list[ShopSnapshot], list[LiveAgent], dict[str, Any]]:
    """The snapshot per active shop (tier, skills, waiting, agents, last volume, parameters) and the agents on
    shift now with the shop they serve."""
    on = await queries.on_shift_at(session, at)
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for r in on:
        if r.shop_id is not None:
            counts[r.shop_id] += 1
    shops = (
        await session.execute(
            text("""
        SELECT s.tenant_id, s.id, s.platform, t.tier, coalesce(r.skills, '{}') AS skills
        FROM shops s JOIN tenants t ON t.id = s.tenant_id
        LEFT JOIN shop_requirements r ON r.tenant_id = s.tenant_id AND r.shop_id = s.id
        WHERE s.status = 'active' AND t.status = 'active'""")
        )
    ).all()
    known = {s.id for s in shops}
    live = {g.shop_id: g for g in given}
    for i, g in enumerate(given):
        if g.shop_id not in known:
            raise Invalid(f"shops.{i}.shop_id", "no such active shop")
    volumes = await queries.last_volumes(session, queries.interval_floor(at) - STEP)
    params = await queries.plan_shop_parameters(session, at)
    snapshots = []
    for s in shops:
        g, p = live.get(s.id), params.get(s.id)
        snapshots.append(
            ShopSnapshot(
                id=str(s.id),
                tier=TIERS.index(s.tier),
                required_skills=frozenset({s.platform, *s.skills}),
                waiting=g.waiting if g else 0,
                agents=g.agents if g is not None and g.agents is not None else counts.get(s.id, 0),
                volume=g.volume if g is not None and g.volume is not None else volumes.get(s.id, 0.0),
                aht_s=p.aht_s if p else DEFAULT_AHT_S,
                concurrency=p.concurrency if p else DEFAULT_CONCURRENCY,
                answer_s=p.target_answer_s if p else DEFAULT_ANSWER_S,
                target_sl=p.target_service_level if p else DEFAULT_SL,
            )
        )
    agents = [
        LiveAgent(
            str(r.agent_id), frozenset(r.skills), str(r.shop_id) if r.shop_id else None, _level(r.level)
        )
        for r in on
    ]
    return snapshots, agents, {str(r.agent_id): r for r in on}


def _level(name: str) -> int:
    return LEVELS.index(name) if name in LEVELS else 1


async def rebalance(
    session: AsyncSession, data: RebalanceRequest, now: datetime | None = None
) -> RebalanceRead:
    """Moves of skilled agents from lower-tier shops to KA shops at risk in the next interval, each with the
    expected service level before and after for both shops (rebalance.propose_moves, Erlang C)."""
    at = (data.at or now or utcnow()).astimezone(UTC)
    shops, agents, on = await _live(session, at, data.shops)
    moves = await asyncio.to_thread(propose_moves, shops, agents, max_moves=data.max_moves)
    at_risk = sum(1 for s in shops if s.tier == 0 and expected_service_level(s, s.agents) < s.target_sl)
    return RebalanceRead(
        at=at,
        interval_start=queries.interval_floor(at) + STEP,
        shops_at_risk=at_risk,
        moves=[
            MoveRead(
                agent_id=uuid.UUID(m.agent),
                agent_code=on[m.agent].code,
                from_shop_id=uuid.UUID(m.from_shop) if m.from_shop else None,
                to_shop_id=uuid.UUID(m.to_shop),
                to_service_level_before=m.to_before,
                to_service_level_after=m.to_after,
                from_service_level_before=m.from_before,
                from_service_level_after=m.from_after,
            )
            for m in moves
        ],
    )


async def apply_rebalance(
    session: AsyncSession, principal: Principal, data: RebalanceApply, now: datetime | None = None
) -> AppliedRead:
    """Each move as assignment changes from the next interval to the end of the agent's current stretch
    (its assignment, else up to its next break, assignment or the shift's end), validated again: the agent
    really on shift and serving FROM, the KA shop's skills (the rules' check of the changed shift)."""
    at = (data.at or now or utcnow()).astimezone(UTC)
    cut = queries.interval_floor(at) + STEP
    on = {r.agent_id: r for r in await queries.on_shift_at(session, at)}
    changed: list[AssignmentRead] = []

    async def assign(
        shift_id: uuid.UUID, shop_id: uuid.UUID, start: datetime, end: datetime
    ) -> AssignmentRead:
        """A new assignment of the shift to SHOP_ID from START to END (the rules' check included)."""
        times = {"shop_id": str(shop_id), "from": start.isoformat(), "to": end.isoformat()}
        return await create_assignment(session, principal, shift_id, AssignmentCreate.model_validate(times))

    for i, move in enumerate(data.moves):
        r = on.get(move.agent_id)
        if r is None:
            raise Invalid(f"moves.{i}.agent_id", "not on a live shift now (or on a break)")
        if r.shop_id != move.from_shop_id:
            raise Invalid(f"moves.{i}.from_shop_id", "the agent is not serving that shop now")
        shift = (await queries.shift_facts(session, "s.id = :id", {"id": r.shift_id}))[0]
        end = shift.end
        for lo, _ in shift.breaks:
            if lo >= cut:
                end = min(end, lo)
        for _, _, lo, hi in shift.assignments:
            if r.assignment_id is not None and lo <= at < hi:
                end = min(end, hi)
            elif lo >= cut:
                end = min(end, lo)
        if end <= cut:
            raise Invalid(f"moves.{i}.agent_id", "the agent's stretch ends before the next interval")
        if r.assignment_id is not None:
            current = await get_assignment(session, r.assignment_id)
            if current.starts_at >= cut:
                await delete_assignment(session, principal, r.assignment_id)
            else:
                changed.append(
                    await update_assignment(
                        session,
                        principal,
                        r.assignment_id,
                        AssignmentUpdate.model_validate({"to": cut.isoformat()}),
                    )
                )
            if current.ends_at > end:  # the rest of the old assignment after the new one comes back
                changed.append(await assign(r.shift_id, current.shop_id, end, current.ends_at))
        try:
            changed.append(await assign(r.shift_id, move.to_shop_id, cut, end))
        except RuleBroken as exc:
            raise RuleBroken(
                [type("V", (), {"rule": e["rule"], "detail": e["reason"]})() for e in exc.errors or []],
                f"moves.{i}.to_shop_id",
            ) from None
    return AppliedRead(interval_start=cut, assignments=changed)


__all__ = [
    "RuleBroken",
    "add_availability",
    "adherence_by_agent_day",
    "agent_ids_of",
    "ingest_work_session_records",
    "ingest_work_sessions",
    "list_work_sessions",
    "occupancy_by_shop_interval",
    "overtime_by_agent_day",
    "overtime_by_agent_month",
    "understaffed_by_shop_interval",
    "agent_rules",
    "agent_schedule",
    "apply_rebalance",
    "calendar_book",
    "coverage",
    "coverage_csv",
    "coverage_scope",
    "create_assignment",
    "create_roster",
    "create_rule_set",
    "create_shift",
    "delete_assignment",
    "delete_shift",
    "ensure_rule_set",
    "get_assignment",
    "get_availability",
    "get_requirements",
    "get_roster",
    "get_rule_set",
    "get_shift",
    "holiday_calendar",
    "list_availability",
    "list_employment_type_rules",
    "list_rosters",
    "list_rule_sets",
    "list_shifts",
    "load_official_calendar",
    "publish_roster",
    "rebalance",
    "remove_availability",
    "set_agent_rules",
    "set_employment_type_rules",
    "set_holiday_calendar",
    "set_requirements",
    "update_assignment",
    "update_rule_set",
    "update_shift",
]
