"""The seating domain's reads and writes: what a roster problem is made of (a plan's cells per shop, the
agents with their rule sets, availability, live shifts), the roster stored set-based (one INSERT .. SELECT
FROM unnest(arrays) for shifts and assignments: COPY is refused on a table with row-level security),
coverage by interval, the site locks and seat counts, and the conflicts behind an exclusion violation.

Every read a client can reach names its tenant explicitly (RLS is the safety net).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.seating.inputs import STEP, ShiftFacts

_PLAN_SHOPS = text("""
SELECT p.tenant_id, p.shop_id, s.name, s.platform, p.tier, coalesce(r.skills, '{}') AS skills,
       c.allocated, c.required
FROM capacity_plan_shops p
JOIN shops s ON s.tenant_id = p.tenant_id AND s.id = p.shop_id
LEFT JOIN shop_requirements r ON r.tenant_id = p.tenant_id AND r.shop_id = p.shop_id
CROSS JOIN LATERAL (
    SELECT array_agg(l.allocated ORDER BY l.interval_start) AS allocated,
           array_agg(l.required ORDER BY l.interval_start) AS required
    FROM capacity_plan_lines l
    WHERE l.tenant_id = p.tenant_id AND l.plan_id = p.plan_id AND l.shop_id = p.shop_id) c
WHERE p.plan_id = :plan
ORDER BY p.tenant_id, p.shop_id
""")


async def plan_cells(session: AsyncSession, plan_id: uuid.UUID) -> list[Any]:
    """A plan's shops (tier, platform, requirements) with their allocated and required agents per
    interval, in interval order (staff)."""
    return list((await session.execute(_PLAN_SHOPS, {"plan": plan_id})).all())


async def shops_with_requirements(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> list[Any]:
    """Shops by (tenant_id, id), with their tier and requirements (staff)."""
    if not keys:
        return []
    return list(
        (
            await session.execute(
                text("""
        SELECT s.tenant_id, s.id AS shop_id, s.name, s.platform, t.tier, coalesce(r.skills, '{}') AS skills
        FROM unnest(CAST(:tenants AS uuid[]), CAST(:shops AS uuid[])) AS k(tenant_id, shop_id)
        JOIN shops s ON s.tenant_id = k.tenant_id AND s.id = k.shop_id
        JOIN tenants t ON t.id = s.tenant_id
        LEFT JOIN shop_requirements r ON r.tenant_id = s.tenant_id AND r.shop_id = s.id"""),
                {"tenants": [k[0] for k in keys], "shops": [k[1] for k in keys]},
            )
        ).all()
    )


async def shop_keys(session: AsyncSession, shop_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Shop id -> its tenant (staff: every shop)."""
    if not shop_ids:
        return {}
    rows = (
        await session.execute(
            text("SELECT id, tenant_id FROM shops WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": list(set(shop_ids))},
        )
    ).all()
    return {r.id: r.tenant_id for r in rows}


async def employed_agents(
    session: AsyncSession, first: date, last: date, agent_ids: Sequence[uuid.UUID] | None = None
) -> list[Any]:
    """Agents employed on some day of [first, last], with the rule set they work under (their own, else
    their employment type's; null: none)."""
    where = "" if agent_ids is None else " AND a.id = ANY(CAST(:ids AS uuid[]))"
    return list(
        (
            await session.execute(
                text(f"""
        SELECT a.id, a.code, a.site_id, a.level, a.skills, a.loaded_hourly_cost, a.employment_type, a.left_on,
               coalesce(ar.rule_set_id, er.rule_set_id) AS rule_set_id
        FROM agents a
        LEFT JOIN agent_rule_sets ar ON ar.agent_id = a.id
        LEFT JOIN employment_type_rules er ON er.employment_type = a.employment_type
        WHERE a.hired_on <= :last AND (a.left_on IS NULL OR a.left_on >= :first){where}
        ORDER BY a.id"""),
                {"first": first, "last": last, "ids": list(agent_ids or [])},
            )
        ).all()
    )


async def rule_sets(session: AsyncSession) -> dict[uuid.UUID, dict[str, Any]]:
    rows = (await session.execute(text("SELECT * FROM labour_rule_sets"))).mappings().all()
    return {r["id"]: dict(r) for r in rows}


async def availability_between(
    session: AsyncSession, lo: datetime, hi: datetime, agent_ids: Sequence[uuid.UUID] | None = None
) -> list[Any]:
    where = "" if agent_ids is None else " AND agent_id = ANY(CAST(:ids AS uuid[]))"
    return list(
        (
            await session.execute(
                text(f"""
        SELECT agent_id, kind, lower(during) AS lo, upper(during) AS hi FROM agent_availability
        WHERE during && tstzrange(:lo, :hi){where}"""),
                {"lo": lo, "hi": hi, "ids": list(agent_ids or [])},
            )
        ).all()
    )


_SHIFT_COLUMNS = """s.id, s.roster_id, s.agent_id, s.site_id, s.status, lower(s.during) AS lo,
       upper(s.during) AS hi,
       ARRAY(SELECT lower(b) FROM unnest(s.breaks) b ORDER BY 1) AS break_lo,
       ARRAY(SELECT upper(b) FROM unnest(s.breaks) b ORDER BY 1) AS break_hi"""


async def shift_facts(session: AsyncSession, where: str, params: dict[str, Any]) -> list[ShiftFacts]:
    """Shifts matching WHERE (over `shifts s`) with their breaks and assignments."""
    rows = (await session.execute(text(f"SELECT {_SHIFT_COLUMNS} FROM shifts s WHERE {where}"), params)).all()
    if not rows:
        return []
    pieces: dict[uuid.UUID, list[tuple[Any, Any, datetime, datetime]]] = {r.id: [] for r in rows}
    for a in (
        await session.execute(
            text("""
            SELECT shift_id, tenant_id, shop_id, lower(during) AS lo, upper(during) AS hi
            FROM shift_assignments WHERE shift_id = ANY(CAST(:ids AS uuid[]))"""),
            {"ids": list(pieces)},
        )
    ).all():
        pieces[a.shift_id].append((a.tenant_id, a.shop_id, a.lo, a.hi))
    return [
        ShiftFacts(
            r.id,
            r.agent_id,
            r.site_id,
            r.lo,
            r.hi,
            tuple(zip(r.break_lo, r.break_hi, strict=True)),
            tuple(pieces[r.id]),
            r.roster_id,
        )
        for r in rows
    ]


async def live_shifts(
    session: AsyncSession,
    lo: datetime,
    hi: datetime,
    agent_ids: Sequence[uuid.UUID] | None = None,
    roster_id: uuid.UUID | None = None,
) -> list[ShiftFacts]:
    """Live (published) shifts meeting [lo, hi), and with ROSTER_ID that roster's drafts too."""
    where = "s.during && tstzrange(:lo, :hi) AND (s.status = 'published'"
    where += " OR s.roster_id = :roster)" if roster_id is not None else ")"
    if agent_ids is not None:
        where += " AND s.agent_id = ANY(CAST(:ids AS uuid[]))"
    return await shift_facts(
        session, where, {"lo": lo, "hi": hi, "roster": roster_id, "ids": list(agent_ids or [])}
    )


async def roster_shift_facts(session: AsyncSession, roster_id: uuid.UUID) -> list[ShiftFacts]:
    return await shift_facts(session, "s.roster_id = :roster", {"roster": roster_id})


# One statement for a roster's shifts, their breaks and assignments: shifts and assignments come as integer
# arrays (indexes into the small arrays of agents, sites and shops, 1-based; times in intervals from :start),
# the shift ids are made here (uuidv7) unless given, and assignments find their shift by its position. The
# integer arrays travel as array literals ('{1,2,3}'): the driver's encoding of a list checks every element
# (some 250,000 for Double 11: a third of a second), the server parses the text at a hundredth of that.
_STORE = text("""
WITH s AS MATERIALIZED (
    SELECT coalesce((CAST(:ids AS uuid[]))[x.i], uuidv7()) AS id, x.i,
           (CAST(:agent_ids AS uuid[]))[x.agent] AS agent_id, (CAST(:site_ids AS uuid[]))[x.site] AS site_id,
           x.t0, x.t1
    FROM unnest(CAST(CAST(:agents AS text) AS int[]), CAST(CAST(:sites AS text) AS int[]),
                CAST(CAST(:t0 AS text) AS int[]), CAST(CAST(:t1 AS text) AS int[]))
         WITH ORDINALITY AS x(agent, site, t0, t1, i)),
b AS (
    SELECT b.k, range_agg(tstzrange(CAST(:start AS timestamptz) + b.lo * interval '15 minutes',
                                    CAST(:start AS timestamptz) + b.hi * interval '15 minutes')) AS breaks
    FROM unnest(CAST(CAST(:bk AS text) AS int[]), CAST(CAST(:blo AS text) AS int[]),
                CAST(CAST(:bhi AS text) AS int[])) AS b(k, lo, hi)
    GROUP BY b.k),
stored AS (
    INSERT INTO shifts (id, roster_id, agent_id, site_id, status, source, during, breaks, created_by,
                        updated_by)
    SELECT s.id, CAST(:roster AS uuid), s.agent_id, s.site_id, :status, :source,
           tstzrange(CAST(:start AS timestamptz) + s.t0 * interval '15 minutes',
                     CAST(:start AS timestamptz) + s.t1 * interval '15 minutes'),
           coalesce(b.breaks, '{}'::tstzmultirange), :by, :by
    FROM s LEFT JOIN b ON b.k = s.i)
INSERT INTO shift_assignments (tenant_id, id, shift_id, shop_id, during, created_by, updated_by, created_at)
SELECT (CAST(:shop_tenants AS uuid[]))[a.shop], coalesce((CAST(:keep_ids AS uuid[]))[a.j], uuidv7()), s.id,
       (CAST(:shop_ids AS uuid[]))[a.shop],
       tstzrange(CAST(:start AS timestamptz) + a.t0 * interval '15 minutes',
                 CAST(:start AS timestamptz) + a.t1 * interval '15 minutes'),
       coalesce((CAST(:made_by AS text[]))[a.j], :by), :by,
       coalesce((CAST(:made_at AS timestamptz[]))[a.j], now())
FROM unnest(CAST(CAST(:a_shift AS text) AS int[]), CAST(CAST(:a_shop AS text) AS int[]),
            CAST(CAST(:a_t0 AS text) AS int[]), CAST(CAST(:a_t1 AS text) AS int[]))
     WITH ORDINALITY AS a(k, shop, t0, t1, j)
JOIN s ON s.i = a.k
""")


async def store_shifts(
    session: AsyncSession,
    roster_id: uuid.UUID | None,
    start: datetime,
    by: str,
    status: str,
    keys: dict[str, list[Any]],
    rows: dict[str, list[int]],
    kept: dict[str, list[Any]] | None = None,
) -> None:
    """A roster's shifts, breaks and assignments in one statement. KEYS: agent_ids, site_ids, shop_tenants
    and shop_ids (what the integers point at), and optionally ids (the shifts' own, else new). ROWS: the
    shifts' agents, sites (1-based indexes), t0, t1 (intervals from START); their breaks bk (1-based
    position of the shift), blo, bhi; the assignments a_shift (1-based position), a_shop (1-based index),
    a_t0, a_t1. KEPT: per assignment, keep_ids, made_by and made_at (a moved assignment keeps its id and who
    made it; None: new)."""
    params = {
        "roster": roster_id,
        "start": start,
        "by": by,
        "status": status,
        "source": "manual" if roster_id is None else "roster",
        "ids": keys.get("ids") or [],
        **{k: keys[k] for k in ("agent_ids", "site_ids", "shop_tenants", "shop_ids")},
        **(kept or {"keep_ids": [], "made_by": [], "made_at": []}),
    }
    await session.execute(_STORE, params | {name: int_array(values) for name, values in rows.items()})


def int_array(values: Sequence[int]) -> str:
    """VALUES as a PostgreSQL array literal (cast in SQL: `CAST(CAST(:p AS text) AS int[])`)."""
    return "{" + ",".join(map(str, values)) + "}"


# --- coverage by interval ------------------------------------------------------------------------------

# Rostered agents per shop and interval (assignments lie outside breaks), joined to the plan's lines.
_COVERAGE = """
WITH rostered AS (
    SELECT a.tenant_id, a.shop_id, g.t AS interval_start, count(*) AS n
    FROM shifts s
    JOIN shift_assignments a ON a.shift_id = s.id
    CROSS JOIN LATERAL generate_series(lower(a.during), upper(a.during) - interval '15 minutes',
                                       interval '15 minutes') AS g(t)
    WHERE s.roster_id = {roster} AND {assignments}
    GROUP BY 1, 2, 3)
SELECT l.tenant_id, l.shop_id, {interval} AS interval_start, l.required, l.allocated,
       coalesce(c.n, 0) AS rostered, greatest(l.allocated - coalesce(c.n, 0), 0) AS missing
FROM capacity_plan_lines l
LEFT JOIN rostered c
       ON c.tenant_id = l.tenant_id AND c.shop_id = l.shop_id AND c.interval_start = l.interval_start
WHERE l.plan_id = {plan} AND {lines}
ORDER BY l.tenant_id, l.plan_id, l.shop_id, l.interval_start
"""


def coverage_sql(
    scope: dict[str, Any], after: tuple[Any, ...] | None = None, limit: int | None = None, csv: bool = False
) -> tuple[str, dict[str, Any]]:
    """The coverage query of SCOPE (roster, plan, and optionally tenant and shop), after a key (tenant,
    shop, interval), for a page (LIMIT) or a CSV export (interval as UTC text)."""
    params = dict(scope)
    lines, assignments = ["TRUE"], ["TRUE"]
    for key, column in (("tenant", "tenant_id"), ("shop", "shop_id")):
        if key in scope:
            lines.append(f"l.{column} = :{key}")
            assignments.append(f"a.{column} = :{key}")
    if after is not None:
        lines.append(
            "(l.tenant_id, l.plan_id, l.shop_id, l.interval_start) > (:a_tenant, :plan, :a_shop, :a_at)"
        )
        assignments.append("(a.tenant_id, a.shop_id) >= (:a_tenant, :a_shop)")
        params |= {"a_tenant": after[0], "a_shop": after[1], "a_at": after[2]}
    interval = (
        "to_char(l.interval_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        if csv
        else "l.interval_start"
    )
    sql = _COVERAGE.format(
        roster=":roster",
        plan=":plan",
        assignments=" AND ".join(assignments),
        lines=" AND ".join(lines),
        interval=interval,
    )
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return sql, params


async def coverage_rows(
    session: AsyncSession, scope: dict[str, Any], after: tuple[Any, ...] | None, limit: int
) -> list[Any]:
    sql, params = coverage_sql(scope, after, limit)
    return list((await session.execute(text(sql), params)).mappings().all())


_UNDERSTAFFED = """
WITH live AS (
    SELECT id, plan_id FROM rosters WHERE status = 'published' AND starts_at < :hi AND ends_at > :lo),
rostered AS (
    SELECT a.tenant_id, a.shop_id, g.t AS interval_start, array_agg(DISTINCT s.agent_id) AS agents
    FROM live r
    JOIN shifts s ON s.roster_id = r.id
    JOIN shift_assignments a ON a.shift_id = s.id
    CROSS JOIN LATERAL generate_series(greatest(lower(a.during), :lo),
                                       least(upper(a.during), :hi) - interval '15 minutes',
                                       interval '15 minutes') AS g(t)
    WHERE a.during && tstzrange(:lo, :hi)
    GROUP BY 1, 2, 3)
SELECT l.tenant_id, l.shop_id, l.interval_start, max(l.required) AS required,
       coalesce(cardinality(c.agents), 0) AS rostered, coalesce(c.agents, '{}') AS agents
FROM live r
JOIN capacity_plan_lines l ON l.plan_id = r.plan_id
LEFT JOIN rostered c
       ON c.tenant_id = l.tenant_id AND c.shop_id = l.shop_id AND c.interval_start = l.interval_start
WHERE l.interval_start >= :lo AND l.interval_start < :hi
GROUP BY l.tenant_id, l.shop_id, l.interval_start, c.agents
HAVING coalesce(cardinality(c.agents), 0) < max(l.required)
ORDER BY l.tenant_id, l.shop_id, l.interval_start
"""


async def understaffed_cells(session: AsyncSession, lo: datetime, hi: datetime) -> list[Any]:
    """Shop-intervals of [lo, hi) in which the published rosters put fewer agents on the shop than their
    plans require (capacity_plan_lines.required: agents logged in to meet the targets), with the agents
    they did put there."""
    return list((await session.execute(text(_UNDERSTAFFED), {"lo": lo, "hi": hi})).all())


# --- seats, locks and conflicts ------------------------------------------------------------------------


async def lock_sites(session: AsyncSession, site_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Take the sites' row locks (in id order: two writers never wait on each other in a circle) before
    counting their seats: writers of live shifts at a site then count one after another."""
    rows = (
        await session.execute(
            text("""
        SELECT id, name, seat_capacity, timezone FROM sites WHERE id = ANY(CAST(:ids AS uuid[]))
        ORDER BY id FOR UPDATE"""),
            {"ids": sorted(set(site_ids))},
        )
    ).all()
    return {r.id: r for r in rows}


async def seat_counts(
    session: AsyncSession,
    site_id: uuid.UUID,
    lo: datetime,
    hi: datetime,
    except_agent: uuid.UUID,
    roster_id: uuid.UUID | None = None,
) -> dict[datetime, int]:
    """Other agents' live shifts (and ROSTER_ID's drafts) at a site per interval of [lo, hi)."""
    rows = (
        await session.execute(
            text("""
        SELECT g.t AS at, count(*) AS n
        FROM shifts s
        CROSS JOIN LATERAL generate_series(greatest(lower(s.during), :lo),
                                           least(upper(s.during), :hi) - interval '15 minutes',
                                           interval '15 minutes') AS g(t)
        WHERE s.site_id = :site AND s.during && tstzrange(:lo, :hi) AND s.agent_id <> :agent
          AND (s.status = 'published' OR s.roster_id = :roster)
        GROUP BY g.t"""),
            {"site": site_id, "lo": lo, "hi": hi, "agent": except_agent, "roster": roster_id},
        )
    ).all()
    return {r.at: r.n for r in rows}


async def seats_over(
    session: AsyncSession, site_ids: Sequence[uuid.UUID], lo: datetime, hi: datetime
) -> Any | None:
    """The first site and interval of [lo, hi) where live shifts outnumber the seats, or None."""
    return (
        await session.execute(
            text("""
        SELECT s.site_id, g.t AS interval_start, count(*) AS agents, min(x.seat_capacity) AS seats
        FROM shifts s
        JOIN sites x ON x.id = s.site_id
        CROSS JOIN LATERAL generate_series(greatest(lower(s.during), :lo),
                                           least(upper(s.during), :hi) - interval '15 minutes',
                                           interval '15 minutes') AS g(t)
        WHERE s.status = 'published' AND s.site_id = ANY(CAST(:sites AS uuid[]))
          AND s.during && tstzrange(:lo, :hi)
        GROUP BY s.site_id, g.t
        HAVING count(*) > min(x.seat_capacity)
        ORDER BY 2, 1 LIMIT 1"""),
            {"sites": list(site_ids), "lo": lo, "hi": hi},
        )
    ).first()


async def overlapping_shift(
    session: AsyncSession,
    agent_id: uuid.UUID,
    lo: datetime,
    hi: datetime,
    not_id: uuid.UUID | None,
    roster_id: uuid.UUID | None,
) -> Any | None:
    """The live shift (or ROSTER_ID's) of AGENT_ID meeting [lo, hi), other than NOT_ID."""
    return (
        await session.execute(
            text("""
        SELECT s.id, s.agent_id, a.code AS agent_code, lower(s.during) AS lo, upper(s.during) AS hi,
               s.roster_id, s.status
        FROM shifts s JOIN agents a ON a.id = s.agent_id
        WHERE s.agent_id = :agent AND s.during && tstzrange(:lo, :hi) AND s.id IS DISTINCT FROM :not_id
          AND (s.status = 'published' OR s.roster_id = :roster)
        ORDER BY lower(s.during) LIMIT 1"""),
            {"agent": agent_id, "lo": lo, "hi": hi, "not_id": not_id, "roster": roster_id},
        )
    ).first()


async def overlapping_assignment(
    session: AsyncSession, shift_id: uuid.UUID, lo: datetime, hi: datetime, not_id: uuid.UUID | None
) -> Any | None:
    return (
        await session.execute(
            text("""
        SELECT id, shop_id, lower(during) AS lo, upper(during) AS hi FROM shift_assignments
        WHERE shift_id = :shift AND during && tstzrange(:lo, :hi) AND id IS DISTINCT FROM :not_id
        ORDER BY lower(during) LIMIT 1"""),
            {"shift": shift_id, "lo": lo, "hi": hi, "not_id": not_id},
        )
    ).first()


# --- live -----------------------------------------------------------------------------------------------


async def on_shift_at(session: AsyncSession, at: datetime) -> list[Any]:
    """Agents on a live shift at AT and not on a break, with the shop they serve then (or none)."""
    return list(
        (
            await session.execute(
                text("""
        SELECT s.id AS shift_id, s.agent_id, a.code, a.level, a.skills, s.site_id,
               x.id AS assignment_id, x.tenant_id, x.shop_id
        FROM shifts s
        JOIN agents a ON a.id = s.agent_id
        LEFT JOIN shift_assignments x ON x.shift_id = s.id AND x.during @> CAST(:at AS timestamptz)
        WHERE s.status = 'published' AND s.during @> CAST(:at AS timestamptz)
          AND NOT s.breaks @> CAST(:at AS timestamptz)
        ORDER BY s.agent_id"""),
                {"at": at},
            )
        ).all()
    )


async def last_volumes(session: AsyncSession, interval_start: datetime) -> dict[uuid.UUID, float]:
    """Chats offered per shop in the interval starting at INTERVAL_START (the rollups)."""
    rows = (
        await session.execute(
            text("""
        SELECT shop_id, offered FROM shop_interval_stats WHERE interval_start = :at"""),
            {"at": interval_start},
        )
    ).all()
    return {r.shop_id: float(r.offered) for r in rows}


async def plan_shop_parameters(session: AsyncSession, at: datetime) -> dict[uuid.UUID, Any]:
    """Per shop, the parameters of the latest plan whose window holds AT (AHT, concurrency, targets)."""
    rows = (
        await session.execute(
            text("""
        SELECT DISTINCT ON (p.shop_id) p.shop_id, p.aht_s, p.concurrency, p.target_service_level,
               p.target_answer_s
        FROM capacity_plan_shops p JOIN capacity_plans c ON c.id = p.plan_id
        WHERE c.starts_at <= :at AND c.ends_at > :at
        ORDER BY p.shop_id, c.created_at DESC"""),
            {"at": at},
        )
    ).all()
    return {r.shop_id: r for r in rows}


def interval_floor(moment: datetime) -> datetime:
    """The start of the 15-minute interval holding MOMENT."""
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % int(STEP.total_seconds()), moment.tzinfo)
