"""The finance domain's SQL: what a month's figures are computed from, and the books they are written to.

Reads, set-based:
- ``worked``: one row per agent, local day, shop, site and source of the worked minutes: attendance (work
  sessions, at the agent's site, minus breaks), else, for an agent-day without any attendance, the published
  roster (shift assignments, at the shift's site, minus the shift's breaks inside them). The preference of
  attendance over the roster is applied here, in the database, once. The rows travel as PostgreSQL binary
  arrays of integers (service.kit.pgbinary) with the ids they index: a month of 4,000 agents is a few arrays,
  not 100,000 rows.
- ``rollup_usage``: conversations answered by an agent per shop for its local month, from the day FRT
  histograms, and assisted GMV from the 15-minute rollups of the shops a commission is billed on.
- the rate books, contracts, calendar, labour rules and promotions (small tables, read whole).
Writes: a month's draft statements, their lines, cost lines and usage, in one statement per table
(INSERT ... SELECT FROM unnest); finalization numbers from the counter row, locked for the transaction.

The database's refusals (migration 0011_finance) come back as 409 problems (``refused``).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from service.finance.billing import Contract, ContractTerms
from service.finance.credits import CreditPolicy, MetricAllocation
from service.finance.periods import Month
from service.finance.rates import CostRates, LoadedHourlyCost, OverheadRule, OvertimeMultipliers, RateBook
from service.kit.errors import Conflict
from service.kit.pgbinary import INT4
from service.kit.pgbinary import values as array_values
from service.seating.calendar import CalendarBook, HolidayCalendar
from service.seating.rules import CHINA_PART_TIME, CHINA_STANDARD, HoursSystem, LabourRules
from service.sla.policies import ShopRef

# SQLSTATEs of the books' triggers (migration 0011_finance).
REFUSALS = {"SWF01": "versions are never changed", "SWF02": "the month is closed",
            "SWF03": "a finalized statement is never changed", "SWF04": "reopening must be recorded"}


def _sqlstate(exc: DBAPIError) -> str | None:
    cause = getattr(exc.orig, "__cause__", None)
    return getattr(cause, "sqlstate", None) or getattr(exc.orig, "sqlstate", None)


@asynccontextmanager
async def refused() -> AsyncIterator[None]:
    """The books' own refusals as 409 problems (with the database's words), anything else as it is."""
    try:
        yield
    except DBAPIError as exc:
        if _sqlstate(exc) in REFUSALS:
            cause = getattr(exc.orig, "__cause__", None)
            message = str(getattr(cause, "message", None) or REFUSALS[_sqlstate(exc) or ""])
            raise Conflict(message) from None
        raise


# --- who is who -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopInfo(ShopRef):
    """A shop as the SLA domain refers to it, with its brand's tier and slug."""

    tier: str
    slug: str


async def shops(session: AsyncSession, tenant_id: uuid.UUID | None = None) -> list[ShopInfo]:
    """Every shop (of one brand when given) with its brand's tier and slug, in (slug, shop) order."""
    where = "WHERE s.tenant_id = :t" if tenant_id else ""
    rows = await session.execute(text(
        "SELECT s.tenant_id, s.id, s.name, s.platform, s.timezone, t.tier, t.slug FROM shops s "
        f"JOIN tenants t ON t.id = s.tenant_id {where} ORDER BY t.slug, s.id"), {"t": tenant_id})
    return [ShopInfo(*r) for r in rows]


async def brands(session: AsyncSession) -> dict[uuid.UUID, tuple[str, str]]:
    """tenant id -> (slug, tier)."""
    rows = await session.execute(text("SELECT id, slug, tier FROM tenants"))
    return {r[0]: (r[1], r[2]) for r in rows}


async def site_names(session: AsyncSession) -> dict[uuid.UUID, str]:
    return {r[0]: r[1] for r in await session.execute(text("SELECT id, name FROM sites"))}


# --- rate books ------------------------------------------------------------------------------------------

EPOCH = date(2000, 1, 1)


async def rate_books(session: AsyncSession) -> CostRates:
    """Every version of every cost rate. An agent with no version of its own is costed at its profile's
    loaded hourly cost (as wage) since 2000; the statutory overtime multipliers apply until a version does."""
    agents: dict[Any, list[tuple[date, LoadedHourlyCost]]] = defaultdict(list)
    for agent, day, wage, si, hf in await session.execute(text(
            "SELECT agent_id, effective_from, wage, social_insurance, housing_fund "
            "FROM agent_cost_versions")):
        agents[agent].append((day, LoadedHourlyCost(wage, si, hf)))
    for agent, cost in await session.execute(text("SELECT id, loaded_hourly_cost FROM agents")):
        if agent not in agents:
            agents[agent].append((EPOCH, LoadedHourlyCost(cost)))
    seats: dict[Any, list[tuple[date, Decimal]]] = defaultdict(list)
    for site, day, cost in await session.execute(text(
            "SELECT site_id, effective_from, seat_hour_cost FROM seat_cost_versions")):
        seats[site].append((day, cost))
    overhead: dict[Any, list[tuple[date, OverheadRule]]] = defaultdict(list)
    for site, day, share in await session.execute(text(
            "SELECT site_id, effective_from, management_share FROM overhead_versions")):
        overhead[site].append((day, OverheadRule(share)))
    overtime = {EPOCH: OvertimeMultipliers()}
    for day, wd, rd, hd in await session.execute(text(
            "SELECT effective_from, workday, rest_day, holiday FROM overtime_multiplier_versions")):
        overtime[day] = OvertimeMultipliers(wd, rd, hd)
    return CostRates(agent_costs={k: RateBook(v) for k, v in agents.items()},
                     seat_costs={k: RateBook(v) for k, v in seats.items()},
                     overhead={k: RateBook(v) for k, v in overhead.items()},
                     overtime=RateBook(list(overtime.items())))


def rate_changes(rates: CostRates, month: Month) -> list[date]:
    """The days after the month's first on which any rate changes: within the pieces they bound, every rate
    of every agent and site is the same."""
    books: list[RateBook[Any]] = [*rates.agent_costs.values(), *rates.seat_costs.values(),
                                  *rates.overhead.values(), rates.overtime]
    return sorted({v.effective_from for b in books for v in b.versions
                   if month.first_day < v.effective_from <= month.last_day})


# --- the calendar and labour rules (the seating domain's tables) -----------------------------------------


async def calendar_book(session: AsyncSession, first: date, last: date) -> CalendarBook:
    """The holiday calendars of the years from FIRST to LAST (a year without rows: the weekend rule)."""
    days: dict[int, dict[str, set[date]]] = defaultdict(lambda: defaultdict(set))
    for day, kind in await session.execute(text(
            "SELECT day, kind FROM holiday_days WHERE day >= :a AND day <= :b"),
            {"a": date(first.year, 1, 1), "b": date(last.year, 12, 31)}):
        days[day.year][kind].add(day)
    return CalendarBook.of(*(HolidayCalendar(year, frozenset(k["holiday"]), frozenset(k["day_off"]),
                                             frozenset(k["make_up_workday"])) for year, k in days.items()))


_RULE_FIELDS = ("shift_min", "shift_max", "normal_per_day", "normal_per_week", "overtime_cap_per_day",
                "overtime_cap_per_month", "min_rest_between_shifts", "max_consecutive_days",
                "min_rest_days_per_week", "meal_break_after", "meal_break_min", "meal_break_max",
                "meal_break_earliest", "meal_break_latest_end", "max_meal_breaks", "normal_per_period")


async def labour_rules(session: AsyncSession) -> dict[uuid.UUID, LabourRules]:
    """Each agent's labour rules: its own rule set, else its employment type's, else the statutory rules
    (part-timers: CHINA_PART_TIME)."""
    sets = {}
    for row in await session.execute(text(f"SELECT id, name, hours_system, {', '.join(_RULE_FIELDS)} "
                                          "FROM labour_rule_sets")):
        values = dict(zip(_RULE_FIELDS, row[3:], strict=True))
        sets[row[0]] = LabourRules(name=row[1], hours_system=HoursSystem(row[2]), **values)
    by_type = {t: sets[r] for t, r in await session.execute(text(
        "SELECT employment_type, rule_set_id FROM employment_type_rules"))}
    own = {a: sets[r] for a, r in await session.execute(text(
        "SELECT agent_id, rule_set_id FROM agent_rule_sets"))}
    out = {}
    for agent, kind in await session.execute(text("SELECT id, employment_type FROM agents")):
        out[agent] = own.get(agent) or by_type.get(kind) or (CHINA_PART_TIME if kind == "part_time"
                                                             else CHINA_STANDARD)
    return out


# --- worked time ------------------------------------------------------------------------------------------



def _seconds(ranges: str) -> str:
    """The seconds a tstzmultirange covers: one range (a lunch break, a whole span) read off its bounds, no
    per-row subquery; several summed over its ranges."""
    return (f"CASE WHEN isempty({ranges}) THEN 0 WHEN {ranges} = tstzmultirange(range_merge({ranges})) "
            f"THEN extract(epoch FROM upper({ranges}) - lower({ranges})) "
            f"ELSE (SELECT sum(extract(epoch FROM upper(b) - lower(b))) FROM unnest({ranges}) b) END")


def _worked_minutes(span: str, breaks: str) -> str:
    """The agent, shop and site numbers, the local day (days from :first) SPAN starts on at its site, and
    its minutes outside BREAKS (a tstzmultirange), each whole minute counted once as seating's
    worked_minutes does."""
    return (f"SELECT ag.i AS a, sh.i AS s, si.i AS t, "
            f"(lower({span}) AT TIME ZONE si.timezone)::date - CAST(:first AS date) AS d, "
            f"floor((extract(epoch FROM upper({span}) - lower({span})) - {_seconds(breaks)}) / 60)::int AS m")


# The agents, shops and sites numbered by id (small tables): the month's rows carry those numbers from the
# start, so they are grouped on integers, and the answer gives the ids in that order.
_WORKED_SQL = f"""
WITH ag AS (SELECT id, site_id, (row_number() OVER (ORDER BY id))::int - 1 AS i FROM agents),
sh AS (SELECT id, (row_number() OVER (ORDER BY id))::int - 1 AS i FROM shops),
si AS (SELECT id, timezone, (row_number() OVER (ORDER BY id))::int - 1 AS i FROM sites),
att AS MATERIALIZED (
  {_worked_minutes("w.during", "w.breaks")}
  FROM work_sessions w JOIN ag ON ag.id = w.agent_id JOIN si ON si.id = ag.site_id
  JOIN sh ON sh.id = w.shop_id
  WHERE w.during && tstzrange(:lo, :hi)
), ros AS (
  {_worked_minutes("x.during", "tstzmultirange(x.during) * r.breaks")}
  FROM shifts r JOIN shift_assignments x ON x.shift_id = r.id JOIN ag ON ag.id = r.agent_id
  JOIN si ON si.id = r.site_id JOIN sh ON sh.id = x.shop_id
  WHERE r.status = 'published' AND r.during && tstzrange(:lo, :hi)
), worked AS (
  SELECT a, s, t, d, 0 AS source, sum(m)::int AS minutes FROM att WHERE d >= 0 AND d < :days
  GROUP BY 1, 2, 3, 4
  UNION ALL
  SELECT r.a, r.s, r.t, r.d, 1, sum(r.m)::int FROM ros r
  WHERE r.d >= 0 AND r.d < :days AND NOT EXISTS (SELECT 1 FROM att x WHERE x.a = r.a AND x.d = r.d)
  GROUP BY 1, 2, 3, 4
)
SELECT {", ".join(f"(SELECT array_agg(id ORDER BY i) FROM {k})" for k in ("ag", "sh", "si"))},
       {", ".join(f"array_send(COALESCE(array_agg({c}), '{{}}'::int4[]))"
                  for c in ("a", "s", "t", "d", "source", "minutes"))}
FROM worked WHERE minutes > 0
"""


@dataclass(frozen=True)
class Worked:
    """Worked minutes per (agent, local day, shop, site, source), as parallel integer arrays: `agent`,
    `shop` and `site` index the id lists, `day` counts days from `first`, source 0 is attendance and 1 the
    roster."""

    first: date
    agent_ids: list[uuid.UUID]
    shop_ids: list[uuid.UUID]
    site_ids: list[uuid.UUID]
    agent: NDArray[np.int64]
    shop: NDArray[np.int64]
    site: NDArray[np.int64]
    day: NDArray[np.int64]
    source: NDArray[np.int64]
    minutes: NDArray[np.int64]


async def worked(session: AsyncSession, first: date, after: date) -> Worked:
    """Worked time on the local days [first, after), attendance preferred over the roster per agent-day."""
    lo = datetime.combine(first, time(), UTC) - timedelta(days=1)
    hi = datetime.combine(after, time(), UTC) + timedelta(days=1)
    params = {"lo": lo, "hi": hi, "first": first, "days": (after - first).days}
    # A month of sessions hashed, not on disk; one process (the month's other reads run beside it).
    await session.execute(text("SET LOCAL work_mem = '64MB'"))
    await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    row = (await session.execute(text(_WORKED_SQL), params)).one()
    arrays = [array_values(bytes(b), INT4) for b in row[3:]]
    return Worked(first, list(row[0] or []), list(row[1] or []), list(row[2] or []), *arrays)


# --- usage from the rollups -------------------------------------------------------------------------------

# Answered conversations per shop and local day are the sums of the day FRT histograms (every answered
# conversation has a first response time, counted in one bin): a month is ~30 rows a shop, not ~3,000.
_ANSWERED_SQL = """
SELECT d.shop_id, sum((SELECT sum(c) FROM unnest(d.frt_counts) c))::bigint
FROM shop_day_frt d WHERE d.day >= :a AND d.day < :b GROUP BY 1
"""
# Assisted GMV, from the 15-minute rollups of the shops that need it (a commission is billed on them).
_GMV_SQL = """
SELECT q.shop_id, sum(s.gmv)
FROM unnest(CAST(:tenant_ids AS uuid[]), CAST(:shop_ids AS uuid[]), CAST(:los AS timestamptz[]),
            CAST(:his AS timestamptz[])) AS q(tenant_id, shop_id, lo, hi)
CROSS JOIN LATERAL (SELECT COALESCE(sum(s.gmv), 0) AS gmv FROM shop_interval_stats s
                    WHERE s.tenant_id = q.tenant_id AND s.shop_id = q.shop_id
                      AND s.interval_start >= q.lo AND s.interval_start < q.hi) s
GROUP BY q.shop_id
"""


async def rollup_usage(session: AsyncSession, shop_list: Sequence[ShopInfo], month: Month,
                       gmv_of: Collection[uuid.UUID] = ()) -> dict[uuid.UUID, tuple[int, Decimal | None]]:
    """(conversations answered by an agent, assisted GMV) per shop for its local month; GMV only for the
    shops in GMV_OF (None for the others: not read)."""
    answered = {r[0]: int(r[1]) for r in await session.execute(
        text(_ANSWERED_SQL), {"a": month.first_day, "b": month.after})}
    gmv_shops = [s for s in shop_list if s.id in gmv_of]
    gmv: dict[uuid.UUID, Decimal] = {}
    if gmv_shops:
        spans = [month.span(s.timezone) for s in gmv_shops]
        params = {"tenant_ids": [s.tenant_id for s in gmv_shops], "shop_ids": [s.id for s in gmv_shops],
                  "los": [a for a, _ in spans], "his": [b for _, b in spans]}
        gmv = {r[0]: r[1] for r in await session.execute(text(_GMV_SQL), params)}
    return {s.id: (answered.get(s.id, 0), gmv.get(s.id) if s.id in gmv_of else None) for s in shop_list
            if s.id in answered or s.id in gmv}


async def promotion_days(session: AsyncSession, month: Month) -> dict[str, set[date]]:
    """Promotion days of the month by platform (`all`: every platform's)."""
    out: dict[str, set[date]] = defaultdict(set)
    for platform, start, end in await session.execute(text(
            "SELECT platform, start_date, end_date FROM promotions "
            "WHERE end_date >= :a AND start_date <= :b"),
            {"a": month.first_day, "b": month.last_day}):
        day = max(start, month.first_day)
        while day <= min(end, month.last_day):
            out[platform].add(day)
            day += timedelta(days=1)
    return out


# --- contracts ---------------------------------------------------------------------------------------------

TERM_COLUMNS = ("seat_hour_rate", "dedicated_seats", "dedicated_seat_monthly_rate", "per_conversation_rate",
                "monthly_base_fee", "gmv_commission_share", "peak_surcharge_per_seat_day")


def credit_policy(at_risk: Decimal | None, scope: Any, months: int, allocations: Any) -> CreditPolicy | None:
    """A stored policy (allocations: [{metric, allocation, earn_back_target}]) as the maths' policy."""
    if at_risk is None:
        return None
    ceilings = {"frt_mean_s", "abandon_rate"}
    return CreditPolicy(at_risk, tuple(
        MetricAllocation(a["metric"], Decimal(str(a["allocation"])), a.get("earn_back_target"),
                         a["metric"] not in ceilings) for a in allocations), months, scope)


async def contracts(session: AsyncSession, tenant_id: uuid.UUID | None = None) -> list[Contract]:
    """Every contract (of one brand) with its versions, as the billing maths takes them."""
    where = "WHERE v.tenant_id = :t" if tenant_id else ""
    rows = await session.execute(text(
        "SELECT c.tenant_id, c.id, c.shop_id, v.effective_from, "
        f"{', '.join('v.' + c for c in TERM_COLUMNS)}, "
        "v.at_risk_share, v.pool_scope, v.earn_back_months, v.credit_allocations FROM contract_versions v "
        f"JOIN contracts c ON c.tenant_id = v.tenant_id AND c.id = v.contract_id {where}"),
        {"t": tenant_id})
    versions: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None], list[tuple[date, ContractTerms]]] = \
        defaultdict(list)
    n = len(TERM_COLUMNS)
    for r in rows:
        terms = dict(zip(TERM_COLUMNS, r[4:4 + n], strict=True))
        versions[(r[0], r[1], r[2])].append((r[3], ContractTerms(
            **terms, credit_policy=credit_policy(r[4 + n], r[5 + n], r[6 + n], r[7 + n]))))
    return [Contract(cid, tenant, RateBook(v), shop) for (tenant, cid, shop), v in versions.items()]


# --- stored statements -------------------------------------------------------------------------------------

LINE_COLUMNS = ("kind", "component", "shop_id", "quantity", "unit", "rate", "amount", "source",
                "corrects_statement_id", "corrects_position", "corrects_month", "reason", "credit")


@dataclass(frozen=True)
class StoredLine:
    tenant_id: uuid.UUID
    statement_id: uuid.UUID
    position: int
    month: date
    kind: str
    component: str
    shop_id: uuid.UUID | None
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal
    source: str
    corrects_statement_id: uuid.UUID | None
    corrects_position: int | None
    corrects_month: date | None
    reason: str | None
    credit: Any


SELECT_LINES = "SELECT l.tenant_id, l.statement_id, l.position, l.month, " + \
    ", ".join("l." + c for c in LINE_COLUMNS)


async def lines_where(session: AsyncSession, where: str, params: dict[str, Any]) -> list[StoredLine]:
    """Stored lines (alias l) matching WHERE, in statement and position order."""
    rows = await session.execute(text(f"{SELECT_LINES} FROM statement_lines l WHERE {where} "
                                      "ORDER BY l.month, l.tenant_id, l.statement_id, l.position"), params)
    return [StoredLine(*r) for r in rows]


async def month_statements(session: AsyncSession, month: date) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
    """tenant -> (statement id, status) of the month."""
    rows = await session.execute(text("SELECT tenant_id, id, status FROM statements WHERE month = :m"),
                                 {"m": month})
    return {r[0]: (r[1], r[2]) for r in rows}


async def stored_cost_lines(session: AsyncSession, where: str, params: dict[str, Any]) -> list[Any]:
    """Cost line rows (alias c) matching WHERE."""
    return list(await session.execute(text(
        f"SELECT {', '.join('c.' + n for n, _ in COST_TYPES)} FROM cost_lines c WHERE {where}"), params))


async def cost_sums(session: AsyncSession, fields: Iterable[str], dates: dict[str, Any]) -> list[Any]:
    """(shop, site, month, the sums of FIELDS) of the cost lines booked in months [a, b)."""
    sums = ", ".join(f"sum({c})" for c in fields)
    return list(await session.execute(text(f"SELECT shop_id, site_id, month, {sums} FROM cost_lines "
                                           "WHERE month >= :a AND month < :b GROUP BY 1, 2, 3"), dates))


async def counted_amounts(session: AsyncSession, dates: dict[str, Any]) -> list[Any]:
    """(tenant, month, kind, component, shop, amount) of the lines counted in totals (charges, credits,
    adjustments) in months [a, b): what a margin reads."""
    return list(await session.execute(text(
        "SELECT tenant_id, month, kind, component, shop_id, amount "
        "FROM statement_lines WHERE month >= :a AND month < :b "
        "AND kind IN ('charge', 'credit', 'adjustment')"), dates))


# --- the period book ----------------------------------------------------------------------------------------


async def lock_period(session: AsyncSession, month: date) -> Any:
    """The month's period row, created open if absent, locked until the transaction ends (one computation,
    close or reopening of a month at a time)."""
    await session.execute(text("INSERT INTO finance_periods (month, status) VALUES (:m, 'open') "
                               "ON CONFLICT (month) DO NOTHING"), {"m": month})
    return (await session.execute(text("SELECT * FROM finance_periods WHERE month = :m FOR UPDATE"),
                                  {"m": month})).one()


async def closed_months(session: AsyncSession, first: date, after: date) -> set[date]:
    rows = await session.execute(text("SELECT month FROM finance_periods WHERE status = 'closed' "
                                      "AND month >= :a AND month < :b"), {"a": first, "b": after})
    return {r[0] for r in rows}


async def record_event(session: AsyncSession, month: date, action: str, actor: str,
                       reason: str | None) -> None:
    """An event of the period, at the transaction's time (what the reopening guard looks for)."""
    await session.execute(text(
        "INSERT INTO finance_period_events (id, month, action, actor, reason, at) "
        "VALUES (:id, :m, :a, :who, :why, now())"),
        {"id": uuid.uuid4(), "m": month, "a": action, "who": actor, "why": reason})


async def take_numbers(session: AsyncSession, year: int, count: int) -> range:
    """The next COUNT numbers of YEAR: the counter row stays locked until the transaction ends, so two
    finalizations never share or skip a number (a rolled-back one gives its numbers back)."""
    if count == 0:
        return range(0)
    last = (await session.execute(text(
        "INSERT INTO statement_counters (year, last_number) VALUES (:y, :n) ON CONFLICT (year) "
        "DO UPDATE SET last_number = statement_counters.last_number + EXCLUDED.last_number "
        "RETURNING last_number"), {"y": year, "n": count})).scalar_one()
    return range(last - count + 1, last + 1)


# --- writing a month ----------------------------------------------------------------------------------------


def _unnest(columns: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns)


_LINE_TYPES = (("tenant_id", "uuid"), ("statement_id", "uuid"), ("position", "int"), ("month", "date"),
               ("kind", "text"), ("component", "text"), ("shop_id", "uuid"), ("quantity", "numeric"),
               ("unit", "text"), ("rate", "numeric"), ("amount", "numeric"), ("source", "text"),
               ("corrects_statement_id", "uuid"), ("corrects_position", "int"), ("corrects_month", "date"),
               ("reason", "text"), ("credit", "jsonb"))
COST_TYPES = (("tenant_id", "uuid"), ("month", "date"), ("shop_id", "uuid"), ("site_id", "uuid"),
               ("of_month", "date"), ("minutes", "int"), ("attendance_minutes", "int"),
               ("roster_minutes", "int"), ("overtime_workday_minutes", "int"),
               ("overtime_rest_day_minutes", "int"), ("overtime_holiday_minutes", "int"),
               ("labour_base", "numeric"), ("overtime_premium", "numeric"), ("seat", "numeric"),
               ("overhead", "numeric"))
_USAGE_TYPES = (("tenant_id", "uuid"), ("month", "date"), ("shop_id", "uuid"), ("conversations", "int"),
                ("assisted_gmv", "numeric"), ("promotion_seat_days", "int"))
_STATEMENT_TYPES = (("tenant_id", "uuid"), ("id", "uuid"), ("month", "date"), ("charges", "numeric"),
                    ("credits", "numeric"), ("adjustments", "numeric"), ("total", "numeric"),
                    ("pending_credits", "numeric"), ("forgiven_credits", "numeric"))


async def insert_rows(session: AsyncSession, table: str, types: Sequence[tuple[str, str]],
                      rows: Sequence[dict[str, Any]]) -> None:
    """ROWS (dicts by column) into TABLE in one statement: INSERT ... SELECT FROM unnest(arrays) (JSON
    travels as text and is cast back)."""
    if not rows:
        return
    names = [n for n, _ in types]
    params = {n: [r[n] if kind != "jsonb" or r[n] is None else json.dumps(r[n]) for r in rows]
              for n, kind in types}
    arrays = ", ".join(f"CAST(:{n} AS {'text' if kind == 'jsonb' else kind}[])" for n, kind in types)
    select = ", ".join(f"u.{n}::jsonb" if kind == "jsonb" else f"u.{n}" for n, kind in types)
    async with refused():
        await session.execute(text(f"INSERT INTO {table} ({', '.join(names)}) SELECT {select} "
                                   f"FROM unnest({arrays}) AS u({', '.join(names)})"), params)


async def replace_month(session: AsyncSession, month: date, statements: Sequence[dict[str, Any]],
                        lines: Sequence[dict[str, Any]], cost_lines: Sequence[dict[str, Any]],
                        usage: Sequence[dict[str, Any]]) -> None:
    """The month's drafts, cost lines and usage replaced by these (finalized statements stay as they are).
    A draft keeps its id across recomputations."""
    async with refused():
        await session.execute(text(
            "DELETE FROM statement_lines l USING statements s WHERE s.month = :m AND s.status = 'draft' "
            "AND l.tenant_id = s.tenant_id AND l.statement_id = s.id"), {"m": month})
        ids = [s["id"] for s in statements]
        await session.execute(text("DELETE FROM statements WHERE month = :m AND status = 'draft' "
                                   "AND NOT id = ANY(CAST(:ids AS uuid[]))"), {"m": month, "ids": ids})
        await session.execute(text("DELETE FROM cost_lines WHERE month = :m"), {"m": month})  # its own and
        # its corrections of closed months: both are in COST_LINES again
        await session.execute(text("DELETE FROM shop_month_usage WHERE month = :m"), {"m": month})
        if statements:
            names = [n for n, _ in _STATEMENT_TYPES]
            params = {n: [s[n] for s in statements] for n in names}
            await session.execute(text(
                f"INSERT INTO statements ({', '.join(names)}, status, computed_at) "
                f"SELECT *, 'draft', now() FROM unnest({_unnest(_STATEMENT_TYPES)}) "
                "ON CONFLICT (tenant_id, id) DO UPDATE SET charges = EXCLUDED.charges, "
                "credits = EXCLUDED.credits, adjustments = EXCLUDED.adjustments, total = EXCLUDED.total, "
                "pending_credits = EXCLUDED.pending_credits, forgiven_credits = EXCLUDED.forgiven_credits, "
                "computed_at = EXCLUDED.computed_at"), params)
    await insert_rows(session, "statement_lines", _LINE_TYPES, lines)
    await insert_rows(session, "cost_lines", COST_TYPES, cost_lines)
    await insert_rows(session, "shop_month_usage", _USAGE_TYPES, usage)


async def finalize(session: AsyncSession, ids: Sequence[uuid.UUID], numbers: Sequence[str],
                   actor: str) -> None:
    params = {"ids": list(ids), "numbers": list(numbers), "who": actor}
    async with refused():
        await session.execute(text(
            "UPDATE statements s SET status = 'finalized', number = u.number, finalized_at = now(), "
            "finalized_by = :who FROM unnest(CAST(:ids AS uuid[]), CAST(:numbers AS text[])) "
            "AS u(id, number) WHERE s.id = u.id AND s.status = 'draft'"), params)
