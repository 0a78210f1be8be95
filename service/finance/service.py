"""Finance use cases: cost rates, contracts, the month's figures and the books (compute, finalize, close,
reopen), statements, reports (costs, margins, the balance view, plan and roster estimates) and exports.

A month's figures, computed (``compute_month``) from the data as it stands:
1. Worked time (service.finance.queries.worked): attendance, else the published roster, per agent, local
   day, shop and site. Overtime per agent-day by the seating domain's rules (rules.overtime_by_day, on the
   agent's labour rules and the holiday calendar), for the agents that can have any (see ``_overtime``),
   split over the day's shops by their minutes; then summed per agent, shop, site, source and run of days
   over which no rate changes, and costed (costing.cost_lines: labour, overtime premium, seat, overhead).
2. Usage per shop: seat-hours from the same worked time, conversations answered (the day FRT histograms)
   and, where a commission is billed, assisted GMV (the 15-minute rollups), seat-days on promotion days.
3. A statement per brand (statements.build_statement): the contracts' charge lines, SLA credits from the
   SLA domain's breach list (sla.service.shop_breaches, never recomputed here) with earn-back of the
   credits held from earlier months, judged on the SLA domain's monthly figures.
4. Late data: each closed month right before (up to ``LOOKBACK`` months) is computed again; what differs
   from what it closed with (plus the adjustments already booked for it) becomes adjustment lines on this
   month's statement, linked to the line they correct, reason ``late_data``, and adjustment cost lines
   (of_month the closed month). A closed month itself never changes.
The reads run on their own transactions of the caller's scope, in parallel; the costing runs in a thread;
the cyclic garbage collector waits while the month's objects are built (service.kit.collector).
Drafts are replaced in the caller's transaction; finalized statements are left as they are. Closing
(``close_month``) computes the month's own figures once more (step 4 is the computation of an open month's:
the corrections its drafts already carry are kept, and late data found after the close goes to the next
open month), finalizes every draft with its gapless number and freezes the month, in one transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import queue
import tempfile
import time as clock
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.capacity.allocation import allocate_plan, erlang_curve
from service.capacity.forecast import DEFAULT_AHT_S
from service.capacity.planning import DEFAULT_CONCURRENCY
from service.finance import queries as q
from service.finance.balance import (
    IntervalLoad,
    PlanEstimate,
    PlannedInterval,
    Queue,
    estimate_plan,
    marginal_cost,
    plan_difference,
    shop_balance,
)
from service.finance.billing import (
    Contract,
    ContractTerms,
    covered_shops,
    terms_for_month,
    usage_from_segments,
)
from service.finance.costing import CostLine, WorkedSegment, cost_lines, rollup
from service.finance.credits import Breach, Credit, Observation
from service.finance.exports import (
    COST_TOTAL_COLUMNS,
    LINE_COLUMNS,
    MARGIN_COLUMNS,
    Column,
    line_row,
    write_csv,
    write_xlsx,
)
from service.finance.lines import Line, LineKey
from service.finance.models import (
    AgentCostVersion,
    ContractVersion,
    FinancePeriodEvent,
    OverheadVersion,
    OvertimeMultiplierVersion,
    SeatCostVersion,
)
from service.finance.models import Contract as ContractRow
from service.finance.money import ZERO, split_units
from service.finance.periods import Month, months
from service.finance.rates import CostRates, NoRateInForce, RateBook
from service.finance.schemas import (
    AgentCostCreate,
    AgentCostRead,
    CloseRead,
    ComputeRead,
    ContractCreate,
    ContractRead,
    ContractVersionCreate,
    ContractVersionRead,
    CostReport,
    CostRow,
    FinalizeRead,
    KaFirstRead,
    LineRead,
    LineView,
    MarginalCostRead,
    MarginReport,
    MarginRow,
    OverheadCreate,
    OvertimeCreate,
    PeriodEventRead,
    PeriodRead,
    PlanDeltaRead,
    PlanEstimateRead,
    PlanShopRead,
    ReportFilter,
    SeatCostCreate,
    ShopBalanceRead,
    StatementFilter,
    StatementRead,
    StatementSummary,
    StatementView,
)
from service.finance.statements import Margin, Statement, adjustments, build_statement, format_number, margins
from service.kit import audit, collector
from service.kit.crud import flush
from service.kit.db import ScopedSessions
from service.kit.errors import Conflict, Invalid, NotFound
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest, keyset, page_of
from service.kit.time import DEFAULT_TZ, INTERVAL_S, local_today
from service.seating.calendar import CalendarBook, DayKind, PayClass
from service.seating.rules import HoursSystem, LabourRules, WorkSpan, overtime_by_day
from service.shops.models import Platform
from service.sla.figures import PeriodKind
from service.sla.service import policies_in_force, reports, shop_breaches
from tenants.models import Tier
from tenants.service import find_tenant

#: Closed months right before a computed month that are computed again for late data.
LOOKBACK = 3
#: Credits held for earn-back are looked for on the statements of this many months before.
HELD_MONTHS = 13
LATE_DATA = "late_data"


def parse_month(field_name: str, value: str | None) -> Month:
    if not value:
        raise Invalid(field_name, "give a month, YYYY-MM")
    try:
        return Month.parse(value)
    except ValueError:
        raise Invalid(field_name, "not a month, YYYY-MM") from None


def _month_of(d: date | None) -> str | None:
    return None if d is None else str(Month.of(d))


# --- cost rates ------------------------------------------------------------------------------------------

RATE_MODELS: dict[str, tuple[type[Any], tuple[str, ...]]] = {
    "agent": (AgentCostVersion, ("agent_id", "effective_from")),
    "seat": (SeatCostVersion, ("site_id", "effective_from")),
    "overhead": (OverheadVersion, ("site_id", "effective_from")),
    "overtime": (OvertimeMultiplierVersion, ("effective_from",)),
}


async def add_rate(session: AsyncSession, principal: Principal, kind: str,
                   data: AgentCostCreate | SeatCostCreate | OverheadCreate | OvertimeCreate) -> Any:
    """A new version of a rate (never a change of one: the database refuses that)."""
    model, _ = RATE_MODELS[kind]
    row = model(**data.model_dump(), created_by=principal.subject)
    session.add(row)
    await flush(session, f"a version taking effect on {data.effective_from}")
    return rate_read(kind, row)


async def add_rates(session: AsyncSession, principal: Principal, kind: str,
                    data: Sequence[AgentCostCreate | SeatCostCreate | OverheadCreate | OvertimeCreate]
                    ) -> None:
    """Several new versions of KIND's rates in one flush (one batched INSERT; each audited as add_rate's):
    a loader's."""
    model, _ = RATE_MODELS[kind]
    session.add_all([model(**d.model_dump(), created_by=principal.subject) for d in data])
    await flush(session, f"a {kind} rate version")


def rate_read(kind: str, row: Any) -> Any:
    if kind == "agent":
        return AgentCostRead(agent_id=row.agent_id, effective_from=row.effective_from, wage=row.wage,
                             social_insurance=row.social_insurance, housing_fund=row.housing_fund,
                             loaded=row.wage + row.social_insurance + row.housing_fund,
                             created_by=row.created_by, created_at=row.created_at)
    return row


async def list_rates(session: AsyncSession, kind: str, page: PageRequest,
                     owner: uuid.UUID | None = None) -> Paged[Any]:
    """A rate's versions, by owner (agent or site) and effective date."""
    model, key = RATE_MODELS[kind]
    stmt = select(model)
    if owner is not None and len(key) == 2:
        stmt = stmt.where(col(getattr(model, key[0])) == owner)
    columns: list[Any] = [col(getattr(model, k)) for k in key]
    types = [uuid.UUID, date][-len(key):]
    rows = list((await session.execute(keyset(stmt, columns, page, types))).scalars())
    found = page_of(rows, page, key=lambda r: tuple(getattr(r, k) for k in key))
    return Paged([rate_read(kind, r) for r in found.items], found.next_cursor)


# --- contracts -------------------------------------------------------------------------------------------


def _version_row(tenant_id: uuid.UUID, contract_id: uuid.UUID, data: ContractVersionCreate,
                 principal: Principal) -> ContractVersion:
    terms = data.model_dump(include={"effective_from", *q.TERM_COLUMNS})
    policy = data.credit_policy
    return ContractVersion(
        tenant_id=tenant_id, contract_id=contract_id, **terms, created_by=principal.subject,
        at_risk_share=policy.at_risk_share if policy else None,
        pool_scope=policy.pool_scope if policy else "brand",
        earn_back_months=policy.earn_back_months if policy else 0,
        credit_allocations=[a.model_dump(mode="json") for a in policy.allocations] if policy else [])


def _version_read(v: ContractVersion) -> ContractVersionRead:
    policy = None
    if v.at_risk_share is not None:
        policy = {"at_risk_share": v.at_risk_share, "allocations": v.credit_allocations,
                  "earn_back_months": v.earn_back_months, "pool_scope": v.pool_scope}
    return ContractVersionRead.model_validate({
        **{k: getattr(v, k) for k in ("effective_from", *q.TERM_COLUMNS, "created_by", "created_at")},
        "credit_policy": policy})


async def _contract_read(session: AsyncSession, row: ContractRow) -> ContractRead:
    versions = (await session.execute(select(ContractVersion).where(
        col(ContractVersion.tenant_id) == row.tenant_id, col(ContractVersion.contract_id) == row.id)
        .order_by(col(ContractVersion.effective_from)))).scalars()
    return ContractRead(id=row.id, tenant_id=row.tenant_id, shop_id=row.shop_id, name=row.name,
                        created_by=row.created_by, created_at=row.created_at,
                        versions=[_version_read(v) for v in versions])


async def create_contract(session: AsyncSession, principal: Principal, data: ContractCreate) -> ContractRead:
    if await find_tenant(session, data.tenant_id) is None:
        raise Invalid("tenant_id", "no such brand")
    if data.shop_id is not None:
        found = await session.execute(text("SELECT 1 FROM shops WHERE tenant_id = :t AND id = :s"),
                                      {"t": data.tenant_id, "s": data.shop_id})
        if found.first() is None:
            raise Invalid("shop_id", "no such shop of this brand")
    row = ContractRow(tenant_id=data.tenant_id, shop_id=data.shop_id, name=data.name,
                      created_by=principal.subject)
    session.add(row)
    what = "a contract for this shop" if data.shop_id else "a brand-wide contract for this brand"
    await flush(session, what + " (add a version to change it)")
    session.add(_version_row(row.tenant_id, row.id, data, principal))
    await flush(session, "the version")
    return await _contract_read(session, row)


async def _contract_row(session: AsyncSession, contract_id: uuid.UUID) -> ContractRow:
    stmt = select(ContractRow).where(col(ContractRow.id) == contract_id)
    row = (await session.execute(stmt)).scalars().first()
    if row is None:
        raise NotFound("contract not found")
    return row


async def get_contract(session: AsyncSession, contract_id: uuid.UUID) -> ContractRead:
    return await _contract_read(session, await _contract_row(session, contract_id))


async def add_contract_version(session: AsyncSession, principal: Principal, contract_id: uuid.UUID,
                               data: ContractVersionCreate) -> ContractRead:
    row = await _contract_row(session, contract_id)
    session.add(_version_row(row.tenant_id, row.id, data, principal))
    await flush(session, f"a version taking effect on {data.effective_from}")
    return await _contract_read(session, row)


async def list_contracts(session: AsyncSession, page: PageRequest, tenant: str | None = None
                         ) -> Paged[ContractRead]:
    stmt = select(ContractRow)
    if tenant:
        found = await find_tenant(session, tenant)
        if found is None:
            return Paged([])
        stmt = stmt.where(col(ContractRow.tenant_id) == found.id)
    by_id: list[Any] = [col(ContractRow.id)]
    rows = list((await session.execute(keyset(stmt, by_id, page))).scalars())
    paged = page_of(rows, page)
    return Paged([await _contract_read(session, r) for r in paged.items], paged.next_cursor)


# --- a month's figures -------------------------------------------------------------------------------------


@dataclass
class Inputs:
    """What every month of one computation reads once."""

    shops: list[q.ShopInfo]
    shop_of: dict[uuid.UUID, q.ShopInfo]
    rates: CostRates
    rules: dict[uuid.UUID, LabourRules]
    contracts: dict[uuid.UUID, list[Contract]]  # by brand

    @classmethod
    async def read(cls, session: AsyncSession) -> Inputs:
        shops = await q.shops(session)
        by_brand: dict[uuid.UUID, list[Contract]] = defaultdict(list)
        for c in await q.contracts(session):
            by_brand[c.brand].append(c)  # type: ignore[index]
        rates, rules = await q.rate_books(session), await q.labour_rules(session)
        return cls(shops, {s.id: s for s in shops}, rates, rules, dict(by_brand))


@dataclass
class Figures:
    """A month computed: cost lines, usage per shop, and each brand's statement (charges and credits)."""

    month: Month
    costs: list[CostLine]
    # shop -> (conversations, GMV (None: no commission billed on it, not read), promotion seat-days)
    usage: dict[uuid.UUID, tuple[int, Decimal | None, int]]
    statements: dict[uuid.UUID, Statement] = field(default_factory=dict)


def _read_from(month: Month, rules: Iterable[LabourRules]) -> date:
    """The first day whose work the month's overtime depends on: its first ISO week's Monday, or its
    quarter's first day when an agent's hours are averaged over a quarter."""
    first = month.first_day
    start = first - timedelta(days=first.weekday())
    if any(r.hours_system is HoursSystem.comprehensive_quarter for r in rules):
        start = min(start, date(first.year, 3 * ((first.month - 1) // 3) + 1, 1))
    return start


def _overtime(w: q.Worked, n_days: int, inputs: Inputs, calendar: CalendarBook
              ) -> dict[tuple[int, int], dict[PayClass, int]]:
    """Overtime minutes by pay class per (agent, day) of the worked time, by the seating domain's rules
    (rules.overtime_by_day), evaluated as few times as the rules allow.

    Standard hours reckon each ISO week on its own (its normal minutes, its rest and holiday work), so a
    week's overtime depends only on its days' kinds, the minutes worked on each and the rules: a week with no
    rest or holiday work, no day beyond normal_per_day and no more than normal_per_week has none, and weeks of
    the same shape are evaluated once, the answer reused (the function is pure). Averaged (comprehensive)
    hours carry their period across weeks: each such agent is evaluated over the whole range.
    """
    n_agents = len(w.agent_ids)
    totals = np.bincount(w.agent * n_days + w.day, weights=w.minutes, minlength=n_agents * n_days)
    totals = totals.astype(np.int64).reshape(n_agents, n_days)
    days = [w.first + timedelta(days=i) for i in range(n_days)]
    kinds = tuple(calendar.kind(d) for d in days)
    workday = np.array([k is DayKind.workday for k in kinds])
    mondays = [i for i, d in enumerate(days) if i == 0 or d.weekday() == 0]  # ISO weeks (a quarter's
    weeks = list(zip(mondays, [*mondays[1:], n_days], strict=True))  # first day may fall mid-week)
    rules = [inputs.rules.get(a) or inputs.rules.setdefault(a, LabourRules()) for a in w.agent_ids]
    npd = np.array([r.normal_per_day for r in rules], np.int64)[:, None]
    npw = np.array([r.normal_per_week for r in rules], np.int64)
    averaged = np.array([r.comprehensive for r in rules], bool)
    canon: dict[LabourRules, int] = {}
    rule_key = [canon.setdefault(r, len(canon)) for r in rules]  # equal rules, one key (hashed once)
    out: dict[tuple[int, int], dict[PayClass, int]] = {}
    noon = datetime.min.time().replace(hour=12)

    def evaluate(a: int, lo: int, hi: int) -> list[tuple[int, dict[PayClass, int]]]:
        worked = [d for d in range(lo, hi) if totals[a, d]]
        spans = [WorkSpan(start, start + timedelta(minutes=int(totals[a, d])))
                 for d in worked for start in (datetime.combine(days[d], noon, UTC),)]
        return [(d - lo, {pc: m for pc, m in day.by_class().items() if m})
                for d, day in zip(worked, overtime_by_day(spans, rules[a], calendar, UTC), strict=True)
                if day.overtime]

    for a in np.flatnonzero(averaged).tolist():
        out.update({(a, d): by_class for d, by_class in evaluate(a, 0, n_days)})
    shapes: dict[tuple[Any, ...], list[tuple[int, dict[PayClass, int]]]] = {}
    for lo, hi in weeks:
        week = totals[:, lo:hi]
        can = ((week[:, ~workday[lo:hi]] > 0).any(axis=1) | (week > npd).any(axis=1)
               | ((week * workday[lo:hi]).sum(axis=1) > npw)) & ~averaged
        for a in np.flatnonzero(can).tolist():
            shape = (rule_key[a], kinds[lo:hi], tuple(week[a].tolist()))
            if shape not in shapes:
                shapes[shape] = evaluate(a, lo, hi)
            out.update({(a, lo + d): by_class for d, by_class in shapes[shape]})
    return out


def _segments(w: q.Worked, month: Month, inputs: Inputs, calendar: CalendarBook,
              promotions: Mapping[str, set[date]]) -> tuple[list[WorkedSegment], dict[uuid.UUID, int]]:
    """The month's worked segments (summed per agent, shop, site, source and run of days at the same
    rates) with their overtime, and the promotion seat-days per shop."""
    offset = (month.first_day - w.first).days
    n_days = offset + month.days
    overtime = _overtime(w, n_days, inputs, calendar)
    rows = np.flatnonzero(w.day >= offset)
    # Runs of days over which no rate changes (pieces), and the cells summed over them.
    starts = [month.first_day, *q.rate_changes(inputs.rates, month)]
    bounds = np.array([(d - w.first).days for d in starts], np.int64)
    piece = np.searchsorted(bounds, w.day[rows], side="right") - 1
    n_shop, n_site = len(w.shop_ids), len(w.site_ids)
    codes = (((w.agent[rows] * n_shop + w.shop[rows]) * n_site + w.site[rows]) * 2 + w.source[rows]) * \
        len(starts) + piece
    cells, inverse = np.unique(codes, return_inverse=True)
    cell_minutes = np.bincount(inverse, weights=w.minutes[rows], minlength=cells.size).astype(np.int64)
    # An agent-day's overtime split over its rows (shops, sites) by their minutes, into their cells.
    cell_overtime: dict[int, dict[PayClass, int]] = defaultdict(lambda: defaultdict(int))
    if overtime:
        day_key = w.agent[rows] * n_days + w.day[rows]
        keys = np.array([a * n_days + d for a, d in overtime], np.int64)
        hit = np.flatnonzero(np.isin(day_key, keys))
        members: dict[int, list[tuple[int, int]]] = defaultdict(list)  # day key -> (cell, minutes) of rows
        for key, cell, m in zip(day_key[hit].tolist(), inverse[hit].tolist(), w.minutes[rows[hit]].tolist(),
                                strict=True):
            members[key].append((cell, m))
        for key, found in members.items():
            for pc, minutes in overtime[divmod(key, n_days)].items():
                parts = [minutes] if len(found) == 1 else split_units(minutes, [m for _, m in found])
                for (cell, _), part in zip(found, parts, strict=True):
                    cell_overtime[cell][pc] += part
    segments = []
    for c, (code, m) in enumerate(zip(cells.tolist(), cell_minutes.tolist(), strict=True)):
        code, p = divmod(code, len(starts))
        code, source = divmod(code, 2)
        code, site = divmod(code, n_site)
        agent, shop = divmod(code, n_shop)
        segments.append(WorkedSegment(w.agent_ids[agent], w.shop_ids[shop], w.site_ids[site], starts[p], m,
                                      dict(cell_overtime.get(c, {})), "roster" if source else "attendance"))
    # Seat-days on promotion days: an agent working a shop on a promotion day of the shop's platform.
    promo = np.zeros((n_shop, n_days), bool)
    for s, shop_id in enumerate(w.shop_ids):
        info = inputs.shop_of.get(shop_id)
        for d in promotions.get("all", set()) | (promotions.get(info.platform, set()) if info else set()):
            promo[s, (d - w.first).days] = True
    on = rows[promo[w.shop[rows], w.day[rows]]]
    seat_days: dict[uuid.UUID, int] = {}
    if on.size:
        pairs = np.unique((w.agent[on] * n_shop + w.shop[on]) * n_days + w.day[on])
        counts = np.bincount((pairs // n_days) % n_shop, minlength=n_shop)
        seat_days = {w.shop_ids[s]: int(n) for s, n in enumerate(counts.tolist()) if n}
    return segments, seat_days


def _costs(w: q.Worked, month: Month, inputs: Inputs, calendar: CalendarBook,
           promotions: Mapping[str, set[date]]
           ) -> tuple[list[WorkedSegment], list[CostLine], dict[uuid.UUID, int]]:
    segments, seat_days = _segments(w, month, inputs, calendar, promotions)
    try:
        return segments, cost_lines(segments, inputs.rates), seat_days
    except NoRateInForce as exc:
        raise Conflict(f"{exc}: add a version of that rate before computing {month}") from None


def _credit_json(c: Credit) -> dict[str, Any]:
    b = c.breach
    return {"metric": b.metric, "breach_month": str(b.month), "target": b.target, "actual": b.actual,
            "allocation": str(c.allocation), "at_risk_share": str(c.at_risk_share), "fees": str(c.fees),
            "pool": str(c.pool), "pool_scope": c.pool_scope, "uncapped": str(c.uncapped),
            "amount": str(c.amount), "status": c.status, "earn_back_target": c.earn_back_target,
            "higher_is_better": c.higher_is_better,
            "window_end": None if c.window_end is None else str(c.window_end)}


def _held_credit(shop: uuid.UUID, j: Mapping[str, Any]) -> Credit:
    month = Month.parse(j["breach_month"])
    return Credit(Breach(shop, j["metric"], month, j["target"], j["actual"]), Decimal(j["allocation"]),
                  Decimal(j["at_risk_share"]), Decimal(j["fees"]), Decimal(j["pool"]), j["pool_scope"],
                  Decimal(j["uncapped"]), Decimal(j["amount"]), "pending", month, j["earn_back_target"],
                  j["higher_is_better"],
                  None if j["window_end"] is None else Month.parse(j["window_end"]))


def held_credits(stored: Iterable[q.StoredLine], before: Month) -> dict[uuid.UUID, list[Credit]]:
    """Per brand, the credits held for earn-back on the statements before BEFORE and not resolved on one
    of them (a credit is resolved by a later statement's applied or forgiven line of the same breach)."""
    pending: dict[tuple[uuid.UUID, Any, str, str], q.StoredLine] = {}
    resolved = set()
    for line in stored:
        if line.credit is None or Month.of(line.month) >= before:
            continue
        key = (line.tenant_id, line.shop_id, line.credit["metric"], line.credit["breach_month"])
        if line.kind == "credit_pending":
            pending[key] = line
        elif line.credit["breach_month"] != str(Month.of(line.month)):
            resolved.add(key)
    out: dict[uuid.UUID, list[Credit]] = defaultdict(list)
    for key, line in pending.items():
        if key not in resolved and line.shop_id is not None:
            out[line.tenant_id].append(_held_credit(line.shop_id, line.credit))
    return out


async def _observations(session: AsyncSession, held: Mapping[uuid.UUID, list[Credit]], month: Month,
                        inputs: Inputs) -> list[Observation]:
    """The SLA domain's monthly values of the metrics of held credits that could be earned back in MONTH."""
    wanted = {(c.shop, c.metric) for credits in held.values() for c in credits
              if c.window_end is not None and c.breach.month < month <= c.window_end}
    shop_ids = sorted({s for s, _ in wanted}, key=str)
    if not shop_ids:
        return []
    ranges = [(inputs.shop_of[s], *month.span(inputs.shop_of[s].timezone)) for s in shop_ids  # type: ignore[index]
              if s in inputs.shop_of]
    found = await reports(session, ranges, "month")
    out = []
    for (shop, _, _), report in zip(ranges, found, strict=True):
        for s, metric in wanted:
            value = getattr(report.total, metric, None) if s == shop.id else None
            if value is not None:
                out.append(Observation(shop.id, metric, month, float(value)))
    return out


def _shops_billed_with(inputs: Inputs, month: Month, has: Callable[[ContractTerms], bool]
                       ) -> list[q.ShopInfo]:
    """The shops billed in MONTH by a contract whose version for it HAS something (a credit policy, a
    commission)."""
    out = []
    for brand, contracts in inputs.contracts.items():
        with_it = [c for c in contracts if (tif := terms_for_month(c, month)) is not None and has(tif.terms)]
        if not with_it:
            continue
        own = {c.shop for c in contracts if c.shop is not None and terms_for_month(c, month) is not None}
        for s in inputs.shops:
            if s.tenant_id != brand:
                continue
            if any(c.shop == s.id or (c.shop is None and s.id not in own) for c in with_it):
                out.append(s)
    return out


async def month_figures(session: AsyncSession, sessions: ScopedSessions, month: Month, inputs: Inputs,
                        adjustment_lines: Mapping[uuid.UUID, list[Line]] | None = None) -> Figures:
    """A month's cost lines, usage and statements from the data as it stands (see the module docstring)."""
    first = _read_from(month, inputs.rules.values())

    async def own(read: Callable[[AsyncSession], Any]) -> Any:
        async with sessions() as s:
            return await read(s)

    breach_shops = _shops_billed_with(inputs, month, lambda t: t.credit_policy is not None)
    commission = {s.id for s in _shops_billed_with(inputs, month,
                                                   lambda t: t.gmv_commission_share is not None)}
    worked_task = asyncio.ensure_future(own(lambda s: q.worked(s, first, month.after)))
    usage_task = asyncio.ensure_future(own(lambda s: q.rollup_usage(s, inputs.shops, month, commission)))
    breach_task = asyncio.ensure_future(own(lambda s: shop_breaches(
        s, breach_shops, month.first_day, month.after, period=PeriodKind.month)))
    calendar = await q.calendar_book(session, first, month.last_day)
    promotions = await q.promotion_days(session, month)
    stored = await q.lines_where(session, "l.credit IS NOT NULL AND l.month >= :a AND l.month < :b",
                                 {"a": month.shift(-HELD_MONTHS).first_day, "b": month.first_day})
    held = held_credits(stored, month)
    observations = await _observations(session, held, month, inputs)
    w = await worked_task
    segments, costs, seat_days = await asyncio.to_thread(_costs, w, month, inputs, calendar, promotions)
    rollups = await usage_task
    found = await breach_task
    breaches: dict[uuid.UUID, list[Breach]] = defaultdict(list)
    for shop, items in zip(breach_shops, found, strict=True):
        breaches[shop.tenant_id] += [Breach(shop.id, b.metric.value, month, b.target, b.actual)
                                     for b in items]

    usage = {s.id: (*rollups.get(s.id, (0, None)), seat_days.get(s.id, 0)) for s in inputs.shops}
    by_brand: dict[uuid.UUID, list[WorkedSegment]] = defaultdict(list)
    for seg in segments:
        by_brand[inputs.shop_of[seg.shop].tenant_id].append(seg)  # type: ignore[index]
    figures = Figures(month, costs, usage)
    adjustment_lines = adjustment_lines or {}
    brands = {b for b, cs in inputs.contracts.items() if any(terms_for_month(c, month) for c in cs)}
    brands |= set(held) | {b for b, lines in adjustment_lines.items() if lines}
    for brand in sorted(brands, key=str):
        shop_ids = [s.id for s in inputs.shops if s.tenant_id == brand]
        brand_usage = usage_from_segments(
            by_brand.get(brand, []), month,
            handled_conversations={s: usage[s][0] for s in shop_ids if usage[s][0]},
            assisted_gmv={s: usage[s][1] for s in shop_ids if usage[s][1]},
            promotion_seat_days={s: usage[s][2] for s in shop_ids if usage[s][2]})
        statement, _ = build_statement(brand, month, inputs.contracts.get(brand, []), brand_usage,
                                       breaches.get(brand, []), held.get(brand, []), observations,
                                       adjustment_lines.get(brand, []))
        figures.statements[brand] = statement
    return figures


# --- late data: adjustments for closed months --------------------------------------------------------------


def _kind_of(component: str) -> str:
    return "credit" if component.startswith("sla_credit") else "charge"


@dataclass
class _Effective:
    """A closed month as booked: its lines with the adjustments already booked for it, per brand, and the
    stored line each key first appeared on (what an adjustment links to)."""

    lines: dict[uuid.UUID, list[Line]]
    first_line: dict[tuple[uuid.UUID, LineKey], tuple[uuid.UUID, int]]
    costs: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], list[Any]]  # (brand, shop, site) -> summed figures


async def _effective(session: AsyncSession, closed: Month, upto: Month) -> _Effective:
    stored = await q.lines_where(
        session, "((l.month = :c AND l.kind IN ('charge', 'credit')) OR "
        "(l.kind = 'adjustment' AND l.corrects_month = :c AND l.month > :c AND l.month < :u))",
        {"c": closed.first_day, "u": upto.first_day})
    sums: dict[tuple[uuid.UUID, LineKey], list[Any]] = {}
    first_line: dict[tuple[uuid.UUID, LineKey], tuple[uuid.UUID, int]] = {}
    for line in stored:
        key = (line.tenant_id, LineKey(line.component, line.shop_id, line.unit))
        first_line.setdefault(key, (line.statement_id, line.position))
        acc = sums.setdefault(key, [ZERO, ZERO, line.rate])
        acc[0] += line.quantity
        acc[1] += line.amount
        acc[2] = line.rate
    lines: dict[uuid.UUID, list[Line]] = defaultdict(list)
    for (tenant, k), (quantity, amount, rate) in sums.items():
        lines[tenant].append(Line(k.component, k.shop, quantity, k.unit, rate, amount, "booked",
                                  _kind_of(k.component)))  # type: ignore[arg-type]
    costs: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], list[Any]] = {}
    for r in await q.stored_cost_lines(session, "c.of_month = :c AND c.month >= :c AND c.month < :u",
                                       {"c": closed.first_day, "u": upto.first_day}):
        acc = costs.setdefault((r[0], r[2], r[3]), [0] * 6 + [ZERO] * 4)
        for i, value in enumerate(r[5:]):
            acc[i] += value
    return _Effective(dict(lines), first_line, costs)


_COST_FIELDS = ("minutes", "attendance_minutes", "roster_minutes", "overtime_workday_minutes",
                "overtime_rest_day_minutes", "overtime_holiday_minutes", "labour_base", "overtime_premium",
                "seat", "overhead")


def _cost_values(c: CostLine) -> list[Any]:
    return [c.minutes, c.minutes_by_source.get("attendance", 0), c.minutes_by_source.get("roster", 0),
            *(c.overtime_minutes.get(pc, 0) for pc in PayClass), c.labour_base, c.overtime_premium, c.seat,
            c.overhead]


@dataclass
class _Corrections:
    lines: dict[uuid.UUID, list[Line]] = field(default_factory=lambda: defaultdict(list))
    links: dict[tuple[uuid.UUID, date, LineKey], tuple[uuid.UUID, int]] = field(default_factory=dict)
    costs: list[dict[str, Any]] = field(default_factory=list)
    months: list[Month] = field(default_factory=list)


async def _corrections(session: AsyncSession, sessions: ScopedSessions, month: Month, inputs: Inputs,
                       skip: set[uuid.UUID]) -> _Corrections:
    """Adjustments for the closed months right before MONTH (up to LOOKBACK), from their recomputation.
    Brands in SKIP (their statement of MONTH is finalized) get none now: the next open month takes them."""
    out = _Corrections()
    closed = await q.closed_months(session, month.shift(-LOOKBACK).first_day, month.first_day)
    run = []
    m = month.shift(-1)
    while m.first_day in closed:
        run.append(m)
        m = m.shift(-1)
    for c in sorted(run):
        booked = await _effective(session, c, month)
        now = await month_figures(session, sessions, c, inputs)
        out.months.append(c)
        for brand in sorted(set(booked.lines) | set(now.statements), key=str):
            if brand in skip:
                continue
            recomputed = [x for x in now.statements[brand].lines if x.kind in ("charge", "credit")] \
                if brand in now.statements else []
            for fix in adjustments(booked.lines.get(brand, []), recomputed, LATE_DATA, c):
                out.lines[brand].append(fix)
                if fix.corrects is not None:
                    out.links[(brand, c.first_day, fix.corrects)] = booked.first_line[(brand, fix.corrects)]
        recosted: dict[tuple[Any, ...], list[Any]] = {
            (inputs.shop_of[x.shop].tenant_id, x.shop, x.site): _cost_values(x)  # type: ignore[index]
            for x in now.costs}
        for key in sorted(set(recosted) | set(booked.costs), key=str):
            if key[0] in skip:
                continue
            diff = [a - b for a, b in zip(recosted.get(key, [0] * 6 + [ZERO] * 4),
                                          booked.costs.get(key, [0] * 6 + [ZERO] * 4), strict=True)]
            if any(diff):
                out.costs.append({"tenant_id": key[0], "month": month.first_day, "shop_id": key[1],
                                  "site_id": key[2], "of_month": c.first_day,
                                  **dict(zip(_COST_FIELDS, diff, strict=True))})
    return out


# --- the books: compute, finalize, close, reopen -----------------------------------------------------------


def _line_row(tenant: uuid.UUID, statement_id: uuid.UUID, month: Month, position: int, line: Line,
              credit: Credit | None, link: tuple[uuid.UUID, int] | None) -> dict[str, Any]:
    corrects = link or (None, None)
    return {"tenant_id": tenant, "statement_id": statement_id, "position": position, "month": month.first_day,
            "kind": line.kind, "component": line.component, "shop_id": line.shop, "quantity": line.quantity,
            "unit": line.unit, "rate": line.rate, "amount": line.amount, "source": line.source,
            "corrects_statement_id": corrects[0], "corrects_position": corrects[1],
            "corrects_month": line.corrects_month.first_day if line.corrects_month else None,
            "reason": line.reason, "credit": None if credit is None else _credit_json(credit)}


async def _booked_corrections(session: AsyncSession, month: Month, skip: set[uuid.UUID]) -> _Corrections:
    """The corrections of closed months already on the month's drafts (as last computed), to keep."""
    out = _Corrections()
    for x in await q.lines_where(session, "l.month = :m AND l.kind = 'adjustment'", {"m": month.first_day}):
        if x.tenant_id in skip or x.corrects_month is None or x.reason is None:
            continue
        key = LineKey(x.component, x.shop_id, x.unit)
        fixed = Month.of(x.corrects_month)
        corrects = key if x.corrects_statement_id is not None else None
        out.lines[x.tenant_id].append(Line(x.component, x.shop_id, x.quantity, x.unit, x.rate, x.amount,
                                           x.source, "adjustment", corrects, fixed, x.reason))
        if x.corrects_statement_id is not None and x.corrects_position is not None:
            out.links[(x.tenant_id, x.corrects_month, key)] = (x.corrects_statement_id, x.corrects_position)
        if fixed not in out.months:
            out.months.append(fixed)
    for r in await q.stored_cost_lines(session, "c.month = :m AND c.of_month < :m", {"m": month.first_day}):
        out.costs.append(dict(zip([n for n, _ in q.COST_TYPES], r, strict=True)))
    return out


@collector.pausing  # thousands of rows built and kept: see service.kit.collector
async def _compute(session: AsyncSession, sessions: ScopedSessions, principal: Principal, month: Month,
                   correct: bool = True) -> ComputeRead:
    """The month's figures from the data as it stands, replacing its drafts. CORRECT: the closed months
    before it are computed again for late data; else the corrections already on its drafts are kept (a
    close: late data found later goes to the next open month)."""
    started = clock.perf_counter()
    period = await q.lock_period(session, month.first_day)
    if period.status == "closed":
        raise Conflict(f"{month} is closed: its figures are frozen (late data for it becomes adjustments "
                       "when an open month is computed)")
    inputs = await Inputs.read(session)
    existing = await q.month_statements(session, month.first_day)
    finalized = {t for t, (_, status) in existing.items() if status == "finalized"}
    if correct:
        corrections = await _corrections(session, sessions, month, inputs, finalized)
    else:
        corrections = await _booked_corrections(session, month, finalized)
    figures = await month_figures(session, sessions, month, inputs, corrections.lines)
    statements, lines = [], []
    for brand, st in figures.statements.items():
        if brand in finalized:
            continue
        sid = existing[brand][0] if brand in existing else uuid.uuid4()
        statements.append({"tenant_id": brand, "id": sid, "month": month.first_day, "charges": st.charges,
                           "credits": st.credits, "adjustments": st.adjustments, "total": st.total,
                           "pending_credits": st.pending_credits, "forgiven_credits": st.forgiven_credits})
        terms = {(c.line().kind, c.line().key): c for c in st.credit_terms}
        for position, line in enumerate(st.lines):
            link = None
            if line.kind == "adjustment" and line.corrects is not None and line.corrects_month is not None:
                link = corrections.links.get((brand, line.corrects_month.first_day, line.corrects))
            lines.append(_line_row(brand, sid, month, position, line, terms.get((line.kind, line.key)), link))
    costs = [{"tenant_id": inputs.shop_of[c.shop].tenant_id, "month": month.first_day,  # type: ignore[index]
              "shop_id": c.shop, "site_id": c.site, "of_month": month.first_day,
              **dict(zip(_COST_FIELDS, _cost_values(c), strict=True))} for c in figures.costs]
    usage = [{"tenant_id": s.tenant_id, "month": month.first_day, "shop_id": s.id, "conversations": u[0],
              "assisted_gmv": u[1], "promotion_seat_days": u[2]}
             for s in inputs.shops if any(u := figures.usage[s.id])]
    await q.replace_month(session, month.first_day, statements, lines, [*costs, *corrections.costs], usage)
    await session.execute(text("UPDATE finance_periods SET computed_at = now(), computed_by = :who "
                               "WHERE month = :m"), {"who": principal.subject, "m": month.first_day})
    done = ComputeRead(month=str(month), statements=len(statements), kept=len(finalized), lines=len(lines),
                       adjustments=sum(1 for x in lines if x["kind"] == "adjustment"),
                       cost_lines=len(costs) + len(corrections.costs),
                       corrected_months=[str(m) for m in sorted(corrections.months)] if correct else [],
                       seconds=0)
    await audit.record(session, action="compute", object_type="finance_periods", object_id=month,
                       after=done.model_dump(exclude={"seconds"}))
    return done.model_copy(update={"seconds": round(clock.perf_counter() - started, 3)})


async def compute_month(session: AsyncSession, sessions: ScopedSessions, principal: Principal,
                        month: str) -> ComputeRead:
    """Compute (again) an open month's drafts and cost figures from the data as it stands."""
    return await _compute(session, sessions, principal, parse_month("month", month))


def _today() -> date:
    return local_today(DEFAULT_TZ)


async def _finalize(session: AsyncSession, principal: Principal, month: Month,
                    ids: Sequence[uuid.UUID] | None = None, today: date | None = None) -> list[str]:
    """Number and finalize the month's drafts (ids: only these), in brand order, in this transaction; the
    numbers are TODAY's year's (default: the real today)."""
    rows = (await session.execute(text(
        "SELECT s.id, s.tenant_id, s.total FROM statements s JOIN tenants t ON t.id = s.tenant_id "
        "WHERE s.month = :m AND s.status = 'draft' ORDER BY t.slug"), {"m": month.first_day})).all()
    chosen = [r for r in rows if ids is None or r.id in ids]
    year = (today or _today()).year
    numbers = [format_number(year, n) for n in await q.take_numbers(session, year, len(chosen))]
    await q.finalize(session, [r.id for r in chosen], numbers, principal.subject)
    await audit.record_each(session, [  # each on its brand's record: what a brand reads of its own
        {"action": "finalize", "object_type": "statements", "object_id": r.id, "tenant_id": r.tenant_id,
         "before": {"status": "draft"}, "after": {"status": "finalized", "number": n, "month": str(month),
                                                  "total": r.total}}
        for r, n in zip(chosen, numbers, strict=True)])
    return numbers


async def finalize_month(session: AsyncSession, principal: Principal, month: str) -> FinalizeRead:
    """Finalize every draft of an open month (as last computed) with its gapless number."""
    m = parse_month("month", month)
    period = await q.lock_period(session, m.first_day)
    if period.status == "closed":
        raise Conflict(f"{m} is closed")
    return FinalizeRead(month=str(m), numbers=await _finalize(session, principal, m))


async def finalize_statement(session: AsyncSession, principal: Principal, statement_id: uuid.UUID
                             ) -> StatementRead:
    row = await _statement_row(session, statement_id)
    if row.status == "finalized":  # finalizing is idempotent: the statement as it was finalized
        return await get_statement(session, statement_id)
    month = Month.of(row.month)
    period = await q.lock_period(session, row.month)
    if period.status == "closed":
        raise Conflict(f"{month} is closed")
    await _finalize(session, principal, month, [row.id])
    return await get_statement(session, statement_id)


async def close_month(session: AsyncSession, sessions: ScopedSessions, principal: Principal,
                      month: str, today: date | None = None) -> CloseRead:
    """Compute the month's own figures once more (keeping the corrections of closed months its drafts carry),
    finalize every draft with its number, and freeze the month: one transaction. TODAY (default: the real
    today) is for the operator's tools: a demo set on another day."""
    m = parse_month("month", month)
    if m >= Month.of(today or _today()):
        raise Invalid("month", f"{m} has not ended yet")
    computed = await _compute(session, sessions, principal, m, correct=False)
    numbers = await _finalize(session, principal, m, today=today)
    await q.record_event(session, m.first_day, "close", principal.subject, None)
    closed_at = (await session.execute(text(
        "UPDATE finance_periods SET status = 'closed', closed_at = now(), closed_by = :who WHERE month = :m "
        "RETURNING closed_at"), {"who": principal.subject, "m": m.first_day})).scalar_one()
    await audit.record(session, action="close", object_type="finance_periods", object_id=m,
                       before={"status": "open"}, after={"status": "closed", "numbers": len(numbers)})
    return CloseRead(**computed.model_dump(), numbers=numbers, closed_at=closed_at)


async def reopen_month(session: AsyncSession, principal: Principal, month: str, reason: str) -> PeriodRead:
    """Open a closed month again (admins only; recorded with who, when and why). Its finalized statements
    stay finalized; its cost figures can be computed again."""
    m = parse_month("month", month)
    period = await q.lock_period(session, m.first_day)
    if period.status != "closed":
        raise Conflict(f"{m} is not closed")
    await q.record_event(session, m.first_day, "reopen", principal.subject, reason)
    async with q.refused():
        await session.execute(text("UPDATE finance_periods SET status = 'open', closed_at = NULL, "
                                   "closed_by = NULL WHERE month = :m"), {"m": m.first_day})
    await audit.record(session, action="reopen", object_type="finance_periods", object_id=m,
                       before={"status": "closed"}, after={"status": "open", "reason": reason})
    return await get_period(session, str(m))


async def get_period(session: AsyncSession, month: str) -> PeriodRead:
    m = parse_month("month", month)
    row = (await session.execute(text("SELECT * FROM finance_periods WHERE month = :m"),
                                 {"m": m.first_day})).first()
    counts: dict[str, int] = {r[0]: r[1] for r in await session.execute(text(
        "SELECT status, count(*) FROM statements WHERE month = :m GROUP BY status"), {"m": m.first_day})}
    events = (await session.execute(select(FinancePeriodEvent)
                                    .where(col(FinancePeriodEvent.month) == m.first_day)
                                    .order_by(col(FinancePeriodEvent.at)))).scalars()
    book = {k: getattr(row, k) if row else None
            for k in ("computed_at", "computed_by", "closed_at", "closed_by")}
    return PeriodRead(month=str(m), status=row.status if row else "open", **book,
                      drafts=counts.get("draft", 0), finalized=counts.get("finalized", 0),
                      events=[PeriodEventRead.model_validate(e) for e in events])


async def list_periods(session: AsyncSession, page: PageRequest) -> Paged[PeriodRead]:
    """The months with books (computed or closed), latest first."""
    after = page.after(date)
    params = {"after": after[0] if after else None, "n": page.limit + 1}
    months = list((await session.execute(text(
        "SELECT month FROM finance_periods WHERE (CAST(:after AS date) IS NULL OR month < :after) "
        "ORDER BY month DESC LIMIT :n"), params)).scalars())
    found = page_of(months, page, key=lambda m: (m,))
    return Paged([await get_period(session, str(Month.of(m))) for m in found.items], found.next_cursor)


# --- statements --------------------------------------------------------------------------------------------


# A statement with its brand's slug and whether its month is closed.
_STATEMENTS = ("SELECT s.*, t.slug, p.status = 'closed' AS closed FROM statements s "
               "JOIN tenants t ON t.id = s.tenant_id LEFT JOIN finance_periods p ON p.month = s.month")


async def _statement_row(session: AsyncSession, statement_id: uuid.UUID,
                         tenant_id: uuid.UUID | None = None) -> Any:
    where = " AND s.tenant_id = :t" if tenant_id else ""
    row = (await session.execute(text(f"{_STATEMENTS} WHERE s.id = :id{where}"),
                                 {"id": statement_id, "t": tenant_id})).first()
    if row is None:
        raise NotFound("statement not found")
    return row


def _summary(row: Any) -> StatementSummary:
    return StatementSummary(
        id=row.id, tenant_id=row.tenant_id, tenant_slug=row.slug, month=str(Month.of(row.month)),
        status=row.status, number=row.number, closed=bool(row.closed), computed_at=row.computed_at,
        finalized_at=row.finalized_at, finalized_by=row.finalized_by,
        **{k: getattr(row, k) for k in ("charges", "credits", "adjustments", "total", "pending_credits",
                                        "forgiven_credits")})


def _line_view(line: q.StoredLine) -> dict[str, Any]:
    return {"position": line.position, "kind": line.kind, "component": line.component,
            "shop_id": line.shop_id, "quantity": line.quantity, "unit": line.unit, "amount": line.amount,
            "source": line.source, "corrects_month": _month_of(line.corrects_month), "reason": line.reason}


async def _lines_of(session: AsyncSession, tenant_id: uuid.UUID, statement_id: uuid.UUID
                    ) -> list[q.StoredLine]:
    return await q.lines_where(session, "l.tenant_id = :t AND l.statement_id = :s",
                               {"t": tenant_id, "s": statement_id})


async def get_statement(session: AsyncSession, statement_id: uuid.UUID) -> StatementRead:
    """A statement with every line (staff)."""
    row = await _statement_row(session, statement_id)
    stored = await _lines_of(session, row.tenant_id, row.id)
    lines = [LineRead(**_line_view(x), rate=x.rate, corrects_statement_id=x.corrects_statement_id,
                      corrects_position=x.corrects_position) for x in stored]
    return StatementRead(**_summary(row).model_dump(), lines=lines)


async def list_statements(session: AsyncSession, filters: StatementFilter, page: PageRequest
                          ) -> Paged[StatementSummary]:
    """Statements, latest month first, then by brand."""
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {}
    if filters.month:
        where.append("s.month = :m")
        params["m"] = Month.parse(filters.month).first_day
    if filters.status:
        where.append("s.status = :st")
        params["st"] = filters.status
    if filters.tenant:
        tenant = await find_tenant(session, filters.tenant)
        if tenant is None:
            return Paged([])
        where.append("s.tenant_id = :t")
        params["t"] = tenant.id
    after = page.after(date, str)
    if after:
        where.append("(s.month < :am OR (s.month = :am AND t.slug > :asl))")
        params.update(am=after[0], asl=after[1])
    rows = (await session.execute(text(f"{_STATEMENTS} WHERE {' AND '.join(where)} "
                                       "ORDER BY s.month DESC, t.slug LIMIT :n"),
                                  {**params, "n": page.limit + 1})).all()
    found = page_of(rows, page, key=lambda r: (r.month, r.slug))
    return Paged([_summary(r) for r in found.items], found.next_cursor)


async def _brand(session: AsyncSession, principal: Principal, tenant_key: str) -> Any:
    """The brand a caller names: a client only its own (another's is not found, like an unknown one)."""
    tenant = await find_tenant(session, tenant_key)
    if tenant is None or (not principal.is_staff and tenant.id != principal.tenant_id):
        raise NotFound("tenant not found")
    return tenant


def _view(row: Any, lines: Sequence[q.StoredLine]) -> StatementView:
    return StatementView(tenant_id=row.tenant_id, month=str(Month.of(row.month)), number=row.number,
                         finalized_at=row.finalized_at, lines=[LineView(**_line_view(x)) for x in lines],
                         **{k: getattr(row, k) for k in ("charges", "credits", "adjustments", "total",
                                                         "pending_credits", "forgiven_credits")})


async def brand_statements(session: AsyncSession, principal: Principal, tenant_key: str,
                           page: PageRequest) -> Paged[StatementView]:
    """A brand's finalized statements, latest first: charges, credits and their quantities (no rates)."""
    tenant = await _brand(session, principal, tenant_key)
    after = page.after(date)
    rows = (await session.execute(text(
        "SELECT * FROM statements WHERE tenant_id = :t AND status = 'finalized' "
        "AND (CAST(:after AS date) IS NULL OR month < :after) ORDER BY month DESC LIMIT :n"),
        {"t": tenant.id, "after": after[0] if after else None, "n": page.limit + 1})).all()
    found = page_of(rows, page, key=lambda r: (r.month,))
    views = [_view(r, await _lines_of(session, tenant.id, r.id)) for r in found.items]
    return Paged(views, found.next_cursor)


async def brand_statement(session: AsyncSession, principal: Principal, tenant_key: str,
                          month: str) -> StatementView:
    """A brand's finalized statement of a month (a draft is not the brand's to read yet: not found)."""
    tenant = await _brand(session, principal, tenant_key)
    m = parse_month("month", month)
    row = (await session.execute(text(
        "SELECT * FROM statements WHERE tenant_id = :t AND month = :m AND status = 'finalized'"),
        {"t": tenant.id, "m": m.first_day})).first()
    if row is None:
        raise NotFound(f"no finalized statement of {m}")
    return _view(row, await _lines_of(session, tenant.id, row.id))


# --- reports: costs and margins -------------------------------------------------------------------------

MAX_REPORT_MONTHS = 36


def statement_filter(month: str | None, tenant: str | None, status: str | None) -> StatementFilter:
    if month is not None:
        parse_month("month", month)
    return StatementFilter(month=month, tenant=tenant, status=status)


def report_filter(start: str | None, end: str | None, by: str = "brand", tier: str | None = None,
                  platform: str | None = None, tenant: str | None = None) -> ReportFilter:
    """Whole months [from, to] (default: this month), checked; names what is wrong by parameter."""
    first = parse_month("from", start) if start else Month.of(_today())
    last = parse_month("to", end) if end else first
    if last < first:
        raise Invalid("to", "must not be before from")
    if len(months(first, last)) > MAX_REPORT_MONTHS:
        raise Invalid("to", f"a report spans at most {MAX_REPORT_MONTHS} months")
    if tier is not None and tier not in Tier.__members__:
        raise Invalid("tier", f"one of {', '.join(Tier.__members__)}")
    if platform is not None and platform not in Platform.__members__:
        raise Invalid("platform", f"one of {', '.join(Platform.__members__)}")
    return ReportFilter.model_validate({"start": str(first), "end": str(last), "by": by, "tier": tier,
                                        "platform": platform, "tenant": tenant})


@dataclass
class _Scope:
    """What a report covers: its months, and the shops (with their brands) it keeps."""

    months: list[Month]
    shops: dict[uuid.UUID, q.ShopInfo]
    brands: set[uuid.UUID]
    sites: dict[uuid.UUID, str]
    platform: str | None

    def keeps(self, shop: Any) -> bool:
        return shop in self.shops and (self.platform is None or self.shops[shop].platform == self.platform)

    @property
    def dates(self) -> dict[str, date]:
        return {"a": self.months[0].first_day, "b": self.months[-1].after}


async def _scope(session: AsyncSession, f: ReportFilter) -> _Scope:
    tenant_id = None
    if f.tenant:
        found = await find_tenant(session, f.tenant)
        if found is None:
            raise NotFound("tenant not found")
        tenant_id = found.id
    shops = {s.id: s for s in await q.shops(session, tenant_id) if f.tier is None or s.tier == f.tier}
    covered = months(Month.parse(f.start), Month.parse(f.end))
    brands = {s.tenant_id for s in shops.values()}
    return _Scope(covered, shops, brands, await q.site_names(session), f.platform)


async def _booked_costs(session: AsyncSession, scope: _Scope) -> list[CostLine]:
    """The cost lines booked in the scope's months (a month's own and its corrections of closed months,
    summed per shop and site)."""
    rows = await q.cost_sums(session, _COST_FIELDS, scope.dates)
    months_of = {m.first_day: m for m in scope.months}
    return [CostLine(shop=r[0], site=r[1], month=months_of[r[2]], minutes=int(r[3]),
                     minutes_by_source={"attendance": int(r[4]), "roster": int(r[5])},
                     overtime_minutes=dict(zip(PayClass, map(int, r[6:9]), strict=True)),
                     labour_base=r[9], overtime_premium=r[10], seat=r[11], overhead=r[12])
            for r in rows if r[0] in scope.shops]


def _name(scope: _Scope, by: str, key: Any, slugs: Mapping[uuid.UUID, str]) -> str | None:
    if key is None:
        return None
    if by == "shop":
        return scope.shops[key].name if key in scope.shops else None
    return slugs.get(key) if by == "brand" else scope.sites.get(key)


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.0001"))


@collector.pausing  # thousands of rows built and kept: see service.kit.collector
async def cost_report(session: AsyncSession, f: ReportFilter) -> CostReport:
    """Cost per shop, brand or site and month, with the hours behind it and the unit costs (per conversation
    handled, per seat-hour)."""
    scope = await _scope(session, f)
    lines = [c for c in await _booked_costs(session, scope) if scope.keeps(c.shop)]
    conversations = {(r[0], Month.of(r[1])): r[2] for r in await session.execute(text(
        "SELECT shop_id, month, conversations FROM shop_month_usage WHERE month >= :a AND month < :b"),
        scope.dates)}
    slugs = {s.tenant_id: s.slug for s in scope.shops.values()}
    shop_brand: dict[Any, Any] = {k: s.tenant_id for k, s in scope.shops.items()}
    rows = []
    for t in rollup(lines, f.by, shop_brand, conversations):
        rows.append(CostRow(
            by=f.by, key=t.key, name=_name(scope, f.by, t.key, slugs), month=str(t.month), hours=t.hours,
            attendance_hours=_hours(t.minutes_by_source.get("attendance", 0)),
            roster_hours=_hours(t.minutes_by_source.get("roster", 0)),
            **{f"overtime_{pc.value}_hours": _hours(t.overtime_minutes.get(pc, 0)) for pc in PayClass},
            labour_base=t.labour_base, overtime_premium=t.overtime_premium, labour=t.labour, seat=t.seat,
            overhead=t.overhead, total=t.total, conversations=t.conversations,
            cost_per_conversation=t.cost_per_conversation, cost_per_seat_hour=t.cost_per_seat_hour))
    return CostReport(start=f.start, end=f.end, by=f.by, rows=rows)


class _BookedLine(NamedTuple):
    kind: str
    component: str
    shop: uuid.UUID | None
    amount: Decimal


class _Booked(NamedTuple):
    """A statement as booked, as much as a margin reads of it (statements.Billed)."""

    brand: uuid.UUID
    month: Month
    counted_lines: list[_BookedLine]


async def _booked_statements(session: AsyncSession, scope: _Scope) -> list[_Booked]:
    """The counted lines of the statements of the scope's months and brands (their amounts: what a margin
    reads; the stored statements were checked when they were written)."""
    grouped: dict[tuple[uuid.UUID, date], list[_BookedLine]] = defaultdict(list)
    for tenant, month, kind, component, shop, amount in await q.counted_amounts(session, scope.dates):
        if tenant in scope.brands:
            grouped[(tenant, month)].append(_BookedLine(kind, component, shop, amount))
    months_of = {m.first_day: m for m in scope.months}
    return [_Booked(brand, months_of[month], lines) for (brand, month), lines in grouped.items()]


def _margin_fields(m: Margin, name: str | None, month: str | None = None) -> dict[str, Any]:
    return {"by": m.by, "key": m.key, "name": name, "month": month or str(m.month), "revenue": m.revenue,
            "revenue_by_component": [{"component": k, "amount": v}
                                     for k, v in m.revenue_by_component.items()],
            "credits": m.credits, "adjustments": m.adjustments, "labour": m.labour, "seat": m.seat,
            "overhead": m.overhead, "cost": m.cost, "margin": m.margin, "margin_pct": m.margin_pct}


# Thousands of rows validated in one call (pydantic-core), not one model at a time.
_MARGIN_ROWS = TypeAdapter(list[MarginRow])


class _BookedCost(NamedTuple):
    """A shop's cost at a site in a month as booked, as much as a margin reads of it (statements.Costed)."""

    shop: uuid.UUID
    site: uuid.UUID
    month: Month
    minutes: int
    labour: Decimal
    seat: Decimal
    overhead: Decimal


async def margins_of(session: AsyncSession, scope: _Scope, by: str) -> list[Margin]:
    statements_ = await _booked_statements(session, scope)
    months_of = {m.first_day: m for m in scope.months}
    sums = ("minutes", "labour_base + overtime_premium", "seat", "overhead")
    costs = [_BookedCost(r[0], r[1], months_of[r[2]], int(r[3]), *r[4:])
             for r in await q.cost_sums(session, sums, scope.dates) if r[0] in scope.shops]
    shop_brand = {k: s.tenant_id for k, s in scope.shops.items()}
    keep = scope.keeps if scope.platform else None
    return margins(statements_, costs, by, shop_brand, keep)  # type: ignore[arg-type]


@collector.pausing  # thousands of rows built and kept: see service.kit.collector
async def margin_report(session: AsyncSession, f: ReportFilter) -> MarginReport:
    """Revenue by component, credits, adjustments, labour, seat, overhead, margin and margin % per shop, brand
    or site and month, from the books (a closed month as it closed; an open one as last computed)."""
    scope = await _scope(session, f)
    found = await margins_of(session, scope, f.by)
    slugs = {s.tenant_id: s.slug for s in scope.shops.values()}
    components: dict[str, Decimal] = defaultdict(Decimal)
    for m in found:
        for k, v in m.revenue_by_component.items():
            components[k] += v
    total = Margin(f.by, None, scope.months[0], dict(sorted(components.items())),
                   *(sum((getattr(m, k) for m in found), ZERO)
                     for k in ("credits", "adjustments", "labour", "seat", "overhead")))
    rows = _MARGIN_ROWS.validate_python([_margin_fields(m, _name(scope, f.by, m.key, slugs)) for m in found])
    return MarginReport(start=f.start, end=f.end, by=f.by, rows=rows,
                        total=MarginRow.model_validate(_margin_fields(total, "total", f"{f.start}..{f.end}")))


# --- the balance view --------------------------------------------------------------------------------------


def _stored_credit(shop: uuid.UUID, j: Mapping[str, Any], kind: str) -> Credit:
    status = {"credit": "applied", "credit_pending": "pending", "credit_forgiven": "forgiven"}[kind]
    return dataclasses.replace(_held_credit(shop, j), status=status)  # type: ignore[arg-type]


_LOADS_SQL = """
WITH q AS (SELECT * FROM unnest(CAST(:tenant_ids AS uuid[]), CAST(:shop_ids AS uuid[]),
                                CAST(:los AS timestamptz[]), CAST(:his AS timestamptz[]))
           AS q(tenant_id, shop_id, lo, hi)),
att AS (
  SELECT w.shop_id, g.t, sum(extract(epoch FROM least(upper(w.during), g.t + interval '15 minutes')
                                   - greatest(lower(w.during), g.t))) / 900 AS agents
  FROM q JOIN work_sessions w ON w.tenant_id = q.tenant_id AND w.shop_id = q.shop_id
   AND w.during && tstzrange(q.lo, q.hi)
  CROSS JOIN LATERAL generate_series(date_bin('15 minutes', greatest(lower(w.during), q.lo), q.lo),
                                     least(upper(w.during), q.hi) - interval '1 microsecond',
                                     interval '15 minutes') AS g(t)
  GROUP BY 1, 2
)
SELECT s.shop_id, s.interval_start, s.offered, COALESCE(a.agents, 0)
FROM q JOIN shop_interval_stats s ON s.tenant_id = q.tenant_id AND s.shop_id = q.shop_id
 AND s.interval_start >= q.lo AND s.interval_start < q.hi
LEFT JOIN att a ON a.shop_id = s.shop_id AND a.t = s.interval_start
WHERE s.offered > 0
"""


async def balance(session: AsyncSession, month: str | None, tenant: str | None, shop: uuid.UUID | None,
                  page: PageRequest) -> Paged[ShopBalanceRead]:
    """Per shop for a month (default: the last one): the service level reached against its target (the SLA
    domain's), what the month cost, the credit exposure where it fell short, the margin, and the marginal
    cost of one more point from the Erlang curves over its intervals (volumes from the rollups, agents from
    attendance, handle time the month's mean)."""
    m = parse_month("month", month) if month else Month.of(_today()).shift(-1)
    scope = await _scope(session, ReportFilter(start=str(m), end=str(m), tenant=tenant))
    after = page.after(uuid.UUID)
    ids = sorted((k for k in scope.shops if (shop is None or k == shop) and (after is None or k > after[0])),
                 key=lambda k: k.int)[: page.limit + 1]
    if shop is not None and not ids:
        raise NotFound("shop not found")
    found = page_of(ids, page, key=lambda k: (k,))
    chosen = [scope.shops[k] for k in found.items]
    by_shop = {x.key: x for x in await margins_of(session, scope, "shop")}
    refs = chosen  # a finance shop is the SLA domain's shop reference
    terms = await policies_in_force(session, refs, m.first_day)
    reached = await reports(session, [(r, *m.span(r.timezone)) for r in refs], "month")
    stored = await q.lines_where(session, "l.month = :m AND l.kind IN ('credit', 'credit_pending')",
                                 {"m": m.first_day})
    credits = [_stored_credit(x.shop_id, x.credit, x.kind) for x in stored if x.credit and x.shop_id]
    loads: dict[uuid.UUID, list[tuple[float, float]]] = defaultdict(list)
    spans = [m.span(s.timezone) for s in chosen]
    for sid, _, offered, agents in await session.execute(text(_LOADS_SQL), {
            "tenant_ids": [s.tenant_id for s in chosen], "shop_ids": [s.id for s in chosen],
            "los": [a for a, _ in spans], "his": [b for _, b in spans]}):
        loads[sid].append((float(offered), float(agents)))
    handle = {r[0]: (r[1], r[2]) for r in await session.execute(text(
        "SELECT shop_id, sum(handled), sum(handle_sum_s) FROM shop_interval_stats WHERE shop_id = ANY(:ids) "
        "AND interval_start >= :a AND interval_start < :b GROUP BY 1"),
        {"ids": [s.id for s in chosen], "a": m.span("UTC")[0] - timedelta(days=1),
         "b": m.span("UTC")[1] + timedelta(days=1)})}
    out = []
    for s, t, report in zip(chosen, terms, reached, strict=True):
        margin = by_shop.get(s.id)
        cost = margin.cost if margin else ZERO
        minutes = sum(c.minutes for c in await _shop_costs(session, s, m))
        target, level = t.targets.service_level, report.total.service_level
        handled, handle_s = handle.get(s.id, (0, 0.0))
        aht = float(handle_s) / handled if handled else DEFAULT_AHT_S
        marginal = None
        if minutes and loads.get(s.id) and margin is not None:
            hours = Decimal(minutes) / 60
            queue = Queue(answer_s=t.targets.answer_target_s, concurrency=DEFAULT_CONCURRENCY)
            intervals = [IntervalLoad(v, aht, int(round(a))) for v, a in loads[s.id]]
            mc = marginal_cost(intervals, margin.labour / hours, queue, seat_hour_cost=margin.seat / hours)
            marginal = MarginalCostRead(**dataclasses.asdict(mc))
        b = shop_balance(s.id, m, target or 0.0, level or 0.0, cost, credits)
        out.append(ShopBalanceRead(
            shop_id=s.id, tenant_id=s.tenant_id, shop_name=s.name, month=str(m), target_sl=target,
            reached_sl=level, met=None if target is None or level is None else b.met,
            gap=None if target is None or level is None else b.gap, cost=cost,
            revenue=margin.revenue if margin else ZERO, credit_exposure=b.credit_exposure,
            margin=margin.margin if margin else ZERO, agent_hours=_hours(minutes),
            hourly_cost=((cost - (margin.overhead if margin else ZERO)) / (Decimal(minutes) / 60)).quantize(
                Decimal("0.01")) if minutes else None, marginal=marginal))
    return Paged(out, found.next_cursor)


async def _shop_costs(session: AsyncSession, shop: q.ShopInfo, month: Month) -> list[Any]:
    return await q.stored_cost_lines(session, "c.tenant_id = :t AND c.shop_id = :s AND c.of_month = :m",
                                     {"t": shop.tenant_id, "s": shop.id, "m": month.first_day})


# --- plan and roster estimates -----------------------------------------------------------------------------


def _average_costs(rates: CostRates, day: date) -> tuple[Decimal, Decimal]:
    """The fleet's mean loaded hourly cost and the sites' mean seat cost in force on DAY (a plan names no
    agents), to the fen."""
    loaded = [cost.loaded for b in rates.agent_costs.values() if (cost := b.get(day)) is not None]
    seats = [seat for b in rates.seat_costs.values() if (seat := b.get(day)) is not None]
    return _mean(loaded), _mean(seats)


def _mean(values: Sequence[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01")) if values else ZERO


def _usage_terms(contract: Contract, month: Month) -> Contract:
    """The contract for a plan's estimate: its usage-based components only (the fixed fees are earned
    whether or not the plan runs, and a plan of three days would carry a whole month of them)."""
    tif = terms_for_month(contract, month)
    if tif is None:
        return contract
    terms = dataclasses.replace(tif.terms, monthly_base_fee=None, dedicated_seats=0)
    return Contract(contract.id, contract.brand, RateBook([(month.first_day, terms)]), contract.shop)


@dataclass
class _Plan:
    id: uuid.UUID
    name: str
    model: str
    shops: dict[uuid.UUID, Any]  # shop -> plan shop row (tier, aht, concurrency, targets, patience)
    lines: list[Any]  # (tenant, shop, interval_start, volume, required, allocated)
    seats: dict[datetime, int]
    promotion_days: set[date]


async def _plan(session: AsyncSession, plan_id: uuid.UUID) -> _Plan:
    header = (await session.execute(text("SELECT id, name, model, promotion_id FROM capacity_plans "
                                          "WHERE id = :p"), {"p": plan_id})).first()
    if header is None:
        raise NotFound("capacity plan not found")
    shops = {r.shop_id: r for r in await session.execute(text(
        "SELECT * FROM capacity_plan_shops WHERE plan_id = :p"), {"p": plan_id})}
    lines = list(await session.execute(text(
        "SELECT tenant_id, shop_id, interval_start, forecast_volume, required, allocated "
        "FROM capacity_plan_lines WHERE plan_id = :p ORDER BY interval_start, shop_id"), {"p": plan_id}))
    seats = {r[0]: r[1] for r in await session.execute(text(
        "SELECT interval_start, seats_available FROM capacity_plan_intervals WHERE plan_id = :p"),
        {"p": plan_id})}
    days: set[date] = set()
    if header.promotion_id:
        start, end = (await session.execute(text("SELECT start_date, end_date FROM promotions WHERE id = :p"),
                                            {"p": header.promotion_id})).one()
        days = {start + timedelta(days=i) for i in range((end - start).days + 1)}
    return _Plan(header.id, header.name, header.model, shops, lines, seats, days)


def _planned(plan: _Plan, inputs: Inputs, agents: Mapping[tuple[Any, datetime], int] | None = None
             ) -> dict[Month, list[PlannedInterval]]:
    """The plan's intervals per shop-local month, with the plan's agents (or AGENTS by shop and interval)."""
    out: dict[Month, list[PlannedInterval]] = defaultdict(list)
    for _, shop, start, volume, _, allocated in plan.lines:
        info = inputs.shop_of.get(shop)
        day = start.astimezone(ZoneInfo(info.timezone if info else DEFAULT_TZ)).date()
        n = allocated if agents is None else agents.get((shop, start), 0)
        aht = float(plan.shops[shop].aht_s)
        out[Month.of(day)].append(PlannedInterval(shop, day, int(n), float(volume), aht))
    return out


def _estimates(plan: _Plan, inputs: Inputs, planned: Mapping[Month, list[PlannedInterval]],
               hourly: Decimal | Mapping[Any, Decimal], seat_cost: Decimal
               ) -> list[tuple[Month, PlanEstimate]]:
    """Estimates per month and contract (a brand's shops split by the contract that bills them)."""
    out = []
    for month, intervals in sorted(planned.items()):
        by_shop: dict[Any, list[PlannedInterval]] = defaultdict(list)
        for i in intervals:
            by_shop[i.shop].append(i)
        groups: dict[Any, list[Any]] = defaultdict(list)  # contract id (None: no contract) -> shops
        contract_of: dict[Any, Contract | None] = {None: None}
        for brand in {inputs.shop_of[s].tenant_id for s in by_shop if s in inputs.shop_of}:
            contracts = inputs.contracts.get(brand, [])
            mine = [s for s in by_shop if s in inputs.shop_of and inputs.shop_of[s].tenant_id == brand]
            covered = covered_shops(contracts, mine, month)
            for c in contracts:
                if c.id in covered:
                    contract_of[c.id] = _usage_terms(c, month)
                    groups[c.id] += covered[c.id]
            rest = set(mine) - {s for shops in covered.values() for s in shops}
            groups[None] += sorted(rest, key=str)
        for cid, shops in groups.items():
            if not shops:
                continue
            queues = {s: Queue(answer_s=float(plan.shops[s].target_answer_s),
                               concurrency=plan.shops[s].concurrency,
                               model="erlang_a" if plan.model == "erlang_a" else "erlang_c",
                               patience_s=plan.shops[s].patience_s) for s in shops}
            targets = {s: float(plan.shops[s].target_service_level) for s in shops}
            out.append((month, estimate_plan(
                [i for s in shops for i in by_shop[s]], month, hourly, seat_hour_cost=seat_cost,
                contract=contract_of[cid], targets=targets, promotion_days=plan.promotion_days,
                queue=queues)))
    return out


def _estimate_read(plan: _Plan, roster_id: uuid.UUID | None, inputs: Inputs,
                   estimates: Sequence[tuple[Month, PlanEstimate]], hourly: Decimal, seat_cost: Decimal,
                   ka_first: KaFirstRead | None) -> PlanEstimateRead:
    shops = []
    for month, e in estimates:
        for s in e.shops:
            info = inputs.shop_of[s.shop]  # type: ignore[index]
            tier = plan.shops[s.shop].tier  # type: ignore[index]
            shops.append(PlanShopRead(shop_id=s.shop, tenant_id=info.tenant_id, shop_name=info.name,
                                      tier=tier, month=str(month), agent_hours=s.agent_hours,
                                      labour=s.labour, seat=s.seat, cost=s.cost, expected_sl=s.expected_sl,
                                      target_sl=s.target_sl, revenue=s.revenue, credits=s.credits,
                                      margin=s.margin))
    total = {k: sum((getattr(x, k) for x in shops), ZERO) for k in ("labour", "seat", "cost", "revenue",
                                                                        "credits", "margin")}
    return PlanEstimateRead(plan_id=plan.id, roster_id=roster_id, name=plan.name, hourly_cost=hourly,
                            seat_hour_cost=seat_cost, shops=shops, ka_first=ka_first, **total)


def _without_tiers(plan: _Plan) -> dict[tuple[Any, datetime], int]:
    """The plan's seats given out as KA first would, but with every shop in one tier (by contacts alone):
    the counterfactual that prices KA first."""
    starts = sorted({r[2] for r in plan.lines})
    shops = sorted(plan.shops, key=str)
    t_of, s_of = {t: i for i, t in enumerate(starts)}, {s: j for j, s in enumerate(shops)}
    volume = np.zeros((len(starts), len(shops)))
    required = np.zeros((len(starts), len(shops)), np.int64)
    for _, shop, start, v, req, _ in plan.lines:
        volume[t_of[start], s_of[shop]], required[t_of[start], s_of[shop]] = v, req
    p = [plan.shops[s] for s in shops]
    patience = None if plan.model != "erlang_a" else np.array([x.patience_s or 0.0 for x in p])
    curve = erlang_curve(volume, np.array([x.aht_s for x in p]), INTERVAL_S,
                         np.array([x.target_answer_s for x in p]), np.array([x.concurrency for x in p]),
                         patience)
    seats = np.array([plan.seats.get(t, int(required[i].sum())) for i, t in enumerate(starts)], np.int64)
    res = allocate_plan(seats, required, np.zeros(len(shops), np.int64), volume, curve)
    return {(shop, start): int(res.allocated[t_of[start], s_of[shop]]) for shop in shops for start in starts}


async def plan_estimate(session: AsyncSession, plan_id: uuid.UUID) -> PlanEstimateRead:
    """A capacity plan priced before the promotion: agent-hours at the fleet's loaded cost and the sites' seat
    cost, the projected statement lines (usage components) and service-level credits, margin per shop; and
    KA first against the same seats given by contacts alone: its price (the other tiers' margin lost) and
    what it protects (the KA shops' credits avoided and revenue kept)."""
    plan = await _plan(session, plan_id)
    inputs = await Inputs.read(session)
    day = min((r[2] for r in plan.lines), default=datetime.now(UTC)).date()
    hourly, seat_cost = _average_costs(inputs.rates, day)
    ka_first = _estimates(plan, inputs, _planned(plan, inputs), hourly, seat_cost)
    proportional = _estimates(plan, inputs, _planned(plan, inputs, _without_tiers(plan)), hourly, seat_cost)
    deltas = []
    for (_, a), (_, b) in zip(proportional, ka_first, strict=True):
        deltas += plan_difference(a, b)
    rows = [PlanDeltaRead(shop_id=d.shop, shop_name=inputs.shop_of[d.shop].name,  # type: ignore[index]
                          tier=plan.shops[d.shop].tier,  # type: ignore[index]
                          agent_hours=_hours(d.agent_minutes), cost=d.cost,
                          revenue=d.revenue, credits=d.credits, margin=d.margin, expected_sl=d.expected_sl)
            for d in deltas]
    ka = [r for r in rows if r.tier == "KA"]
    others = [r for r in rows if r.tier != "KA"]
    summary = KaFirstRead(price=-sum((r.margin for r in others), ZERO),
                          protects=sum((r.credits + r.revenue for r in ka), ZERO),
                          net=sum((r.margin for r in rows), ZERO), shops=rows)
    return _estimate_read(plan, None, inputs, ka_first, hourly, seat_cost, summary)


async def roster_estimate(session: AsyncSession, roster_id: uuid.UUID) -> PlanEstimateRead:
    """A roster priced: the agents per shop and interval from its shifts' assignments, each shop's hours at
    its named agents' loaded cost in force on the roster's first day, the volumes and targets of its plan."""
    roster = (await session.execute(text("SELECT id, plan_id, starts_at FROM rosters WHERE id = :r"),
                                    {"r": roster_id})).first()
    if roster is None:
        raise NotFound("roster not found")
    plan = await _plan(session, roster.plan_id)
    inputs = await Inputs.read(session)
    agents: dict[tuple[Any, datetime], int] = {}
    weights: dict[Any, list[tuple[Decimal, int]]] = defaultdict(list)
    for shop, start, n in await session.execute(text(_ROSTER_SQL), {"r": roster_id}):
        agents[(shop, start)] = int(n)
    for shop, agent, minutes in await session.execute(text(_ROSTER_AGENTS_SQL), {"r": roster_id}):
        book = inputs.rates.agent_costs.get(agent)
        cost = book.get(roster.starts_at.date()) if book else None
        if cost is not None:
            weights[shop].append((cost.loaded, int(minutes)))
    fleet, seat_cost = _average_costs(inputs.rates, roster.starts_at.date())
    hourly = {s: (sum((c * m for c, m in w), Decimal(0)) / sum(m for _, m in w)).quantize(Decimal("0.01"))
              if w and sum(m for _, m in w) else fleet for s, w in weights.items()}
    hourly = {s: hourly.get(s, fleet) for s in plan.shops}
    estimates = _estimates(plan, inputs, _planned(plan, inputs, agents), hourly, seat_cost)
    minutes = sum(m for w in weights.values() for _, m in w)
    mean = (sum((c * m for w in weights.values() for c, m in w), Decimal(0)) / minutes).quantize(
        Decimal("0.01")) if minutes else fleet
    return _estimate_read(plan, roster_id, inputs, estimates, mean, seat_cost, None)


_ROSTER_SQL = """
SELECT x.shop_id, g.t, count(DISTINCT s.agent_id)
FROM shifts s JOIN shift_assignments x ON x.shift_id = s.id
CROSS JOIN LATERAL generate_series(date_bin('15 minutes', lower(x.during), TIMESTAMPTZ '2000-01-01'),
                                   upper(x.during) - interval '1 microsecond', interval '15 minutes') AS g(t)
WHERE s.roster_id = :r
GROUP BY 1, 2
"""
_ROSTER_AGENTS_SQL = """
SELECT x.shop_id, s.agent_id, sum(extract(epoch FROM upper(x.during) - lower(x.during)) / 60)::int
FROM shifts s JOIN shift_assignments x ON x.shift_id = s.id WHERE s.roster_id = :r GROUP BY 1, 2
"""


# --- exports -----------------------------------------------------------------------------------------------

MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_BATCH = 2000


async def _line_batches(sessions: ScopedSessions, scope: _Scope) -> AsyncIterator[list[dict[str, object]]]:
    """The scope's statement lines in the long format, a batch at a time, from a server-side cursor (its own
    transaction: a streamed answer outlives the request's)."""
    async with sessions() as session:
        result = await session.stream(text(
            f"{q.SELECT_LINES}, s.number, t.slug FROM statement_lines l "
            "JOIN statements s ON s.tenant_id = l.tenant_id AND s.id = l.statement_id "
            "JOIN tenants t ON t.id = l.tenant_id WHERE l.month >= :a AND l.month < :b "
            "AND l.tenant_id = ANY(:brands) ORDER BY l.month, t.slug, l.position"),
            {**scope.dates, "brands": sorted(scope.brands, key=str)})
        async for rows in result.partitions(_BATCH):
            batch = []
            for r in rows:
                x = q.StoredLine(*r[:-2])
                kind = x.kind
                corrects = None
                if kind == "adjustment" and x.corrects_statement_id is not None:
                    corrects = LineKey(x.component, x.shop_id, x.unit)
                line = Line(x.component, x.shop_id, x.quantity, x.unit, x.rate, x.amount, x.source,
                            kind,  # type: ignore[arg-type]
                            corrects, Month.of(x.corrects_month) if x.corrects_month else None, x.reason)
                batch.append(line_row(r[-2], r[-1], Month.of(x.month), line))
            yield batch


Progress = Callable[[int], Any]


async def export_rows(session: AsyncSession, sessions: ScopedSessions, report: str, f: ReportFilter
                      ) -> tuple[tuple[Column, ...], AsyncIterator[list[dict[str, object]]]]:
    """The columns and the row batches of an export."""
    if report == "statements":
        return LINE_COLUMNS, _line_batches(sessions, await _scope(session, f))
    if report == "margins":
        found = (await margin_report(session, f)).rows
        rows: list[dict[str, object]] = [
            {**r.model_dump(include={c.key for c in MARGIN_COLUMNS}), "by": f.by, "key": r.name or r.key}
            for r in found]
        columns = MARGIN_COLUMNS
    elif report == "costs":
        rows = [{**r.model_dump(), "key": r.name or r.key} for r in (await cost_report(session, f)).rows]
        columns = COST_TOTAL_COLUMNS
    else:
        raise Invalid("report", "statements, margins or costs")

    async def once() -> AsyncIterator[list[dict[str, object]]]:
        for i in range(0, len(rows), _BATCH):
            yield rows[i:i + _BATCH]

    return columns, once()


async def csv_chunks(columns: Sequence[Column], batches: AsyncIterator[list[dict[str, object]]],
                     progress: Progress | None = None) -> AsyncIterator[bytes]:
    """CSV a batch at a time: the header first, then each batch's lines as soon as it comes."""
    count, header = 0, True
    async for batch in batches:
        buffer = io.StringIO()
        write_csv(buffer, columns, batch, header=header)
        header = False
        count += len(batch)
        if progress:
            progress(count)
        yield buffer.getvalue().encode()
    if header:
        buffer = io.StringIO()
        write_csv(buffer, columns, [])
        yield buffer.getvalue().encode()


async def write_export(columns: Sequence[Column], batches: AsyncIterator[list[dict[str, object]]], fmt: str,
                       out: IO[bytes], progress: Progress | None = None, sheet: str = "Lines") -> int:
    """Write the batches to OUT as CSV or XLSX in bounded memory (the XLSX writer runs in a thread, fed a
    few batches ahead); returns the rows written."""
    count = 0

    def counted(n: int) -> None:
        nonlocal count
        count = n
        if progress:
            progress(n)

    if fmt == "csv":
        async for chunk in csv_chunks(columns, batches, counted):
            out.write(chunk)
        return count
    feed: queue.Queue[list[dict[str, object]] | None] = queue.Queue(maxsize=4)

    def rows() -> Iterator[dict[str, object]]:
        while (batch := feed.get()) is not None:
            yield from batch

    writer = asyncio.ensure_future(asyncio.to_thread(write_xlsx, out, columns, rows(), sheet_name=sheet))
    try:
        async for batch in batches:
            await asyncio.to_thread(feed.put, batch)
            counted(count + len(batch))
    finally:
        await asyncio.to_thread(feed.put, None)
        await writer
    return count


async def export(session: AsyncSession, sessions: ScopedSessions, report: str, f: ReportFilter,
                 fmt: str) -> tuple[str, str, AsyncIterator[bytes]]:
    """(file name, media type, body) of an export, streamed: CSV as it is written, XLSX from a temporary
    file once the workbook is complete (the format is a zip, finished only at its end)."""
    columns, batches = await export_rows(session, sessions, report, f)
    name = f"{report}-{f.start}{'' if f.end == f.start else '-' + f.end}.{fmt}"

    async def xlsx() -> AsyncIterator[bytes]:
        with tempfile.TemporaryFile() as out:
            await write_export(columns, batches, "xlsx", out, sheet=report.title())
            out.seek(0)
            while data := await asyncio.to_thread(out.read, 1 << 16):
                yield data

    return name, MEDIA[fmt], csv_chunks(columns, batches) if fmt == "csv" else xlsx()


__all__ = [
    "LOOKBACK", "Figures", "Inputs", "add_contract_version", "add_rate", "balance", "brand_statement",
    "brand_statements", "close_month", "compute_month", "cost_report", "create_contract", "export",
    "export_rows", "finalize_month", "finalize_statement", "get_contract", "get_period", "get_statement",
    "held_credits", "list_contracts", "list_periods", "list_rates", "list_statements", "margin_report",
    "month_figures", "parse_month", "plan_estimate", "reopen_month", "report_filter", "roster_estimate",
    "statement_filter", "write_export",
]

