"""Migrations: upgrade head, downgrade base, upgrade head; the models and the migrations agree; the
live schema keeps the RLS and Citus-readiness rules (DESIGN.md 2 and 2.1), which autogenerate cannot see."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from service import migrations
from service.kit.db import make_engine
from tests.conftest import scratch_database

# Tables that belong to no tenant (operator-level, small: Citus reference tables).
OPERATOR_TABLES = {"tenants", "sites", "agents", "revoked_tokens", "alembic_version", "api_keys",
                   "issued_tokens", "promotions", "capacity_plans", "capacity_plan_intervals",
                   "holiday_days", "labour_rule_sets", "employment_type_rules", "agent_rule_sets",
                   "agent_availability", "rosters", "shifts",
                   "agent_cost_versions", "seat_cost_versions", "overhead_versions",
                   "overtime_multiplier_versions", "finance_periods", "finance_period_events",
                   "statement_counters", "agent_teams", "agent_team_members", "pulse_surveys",
                   "pulse_answers", "qa_templates", "qa_categories", "calibration_sessions",
                   "coaching_sessions",
                   "scorecard_definitions", "scorecard_thresholds", "promotion_relaxations",
                   "scorecard_site_load_days", "scorecard_team_load_days", "scorecard_agent_days",
                   "scorecard_agent_shop_months",
                   "scorecard_attendance_months", "demo_loads"}


@pytest.fixture(scope="module")
async def scratch(server_url):
    async for url in scratch_database(server_url, "sw_migrations_scratch"):
        yield url


async def _tables(url: str) -> set[str]:
    engine = make_engine(url, 1)
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT relname FROM pg_class c "
                                       "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                       "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
                                       "AND NOT c.relispartition"))
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


async def test_upgrade_downgrade_upgrade(scratch):
    await asyncio.to_thread(migrations.upgrade, scratch)
    assert {"tenants", "shops", "sites", "agents"} <= await _tables(scratch)
    await asyncio.to_thread(migrations.downgrade, scratch, "base")
    assert await _tables(scratch) <= {"alembic_version"}
    await asyncio.to_thread(migrations.upgrade, scratch)
    await asyncio.to_thread(migrations.check, scratch)  # raises when autogenerate finds a difference


def test_the_start_reads_the_same_heads_as_alembic():
    """`serve` finds the scripts' heads without alembic (migrations.script_heads): the same answer."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrations.alembic_config("postgresql+asyncpg://nobody@/none"))
    assert migrations.script_heads() == set(scripts.get_heads())


async def _rows(database, sql: str) -> list:
    engine = make_engine(database.owner_url, 1)
    async with engine.connect() as conn:
        rows = (await conn.execute(text(sql))).all()
    await engine.dispose()
    return rows


async def test_every_tenant_table_has_forced_rls_and_a_policy(database):
    rows = await _rows(database, """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               (SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname) AS policies,
               EXISTS (SELECT 1 FROM information_schema.columns i WHERE i.table_name = c.relname
                       AND i.column_name = 'tenant_id') AS has_tenant
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition""")
    tenant_tables = [r for r in rows if r.has_tenant or r.relname == "tenants"]
    assert {r.relname for r in tenant_tables} >= {"tenants", "shops"}
    for r in tenant_tables:
        assert r.relrowsecurity and r.relforcerowsecurity and r.policies >= 1, r.relname
    untracked = {r.relname for r in rows if not r.has_tenant} - OPERATOR_TABLES
    assert not untracked, f"tables with no tenant_id that are not declared operator-level: {untracked}"


async def test_policies_never_open_up_when_unset(database):
    for (qual,) in await _rows(database, "SELECT qual FROM pg_policies WHERE schemaname = 'public'"):
        assert "NULLIF(current_setting('app.tenant_id'" in qual, qual
        assert "current_setting('app.staff'" in qual, qual


async def test_citus_rules(database):
    """tenant_id leads every tenant-owned primary key; tenant-owned foreign keys include tenant_id."""
    pks = await _rows(database, """
        SELECT c.conrelid::regclass::text AS tbl, a.attname AS first_col
        FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'p' AND c.connamespace = 'public'::regnamespace""")
    tenant_owned = {r[0] for r in await _rows(database, """
        SELECT table_name FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name = 'tenant_id'""")}
    for tbl, first_col in pks:
        if tbl.split(".")[-1] in tenant_owned:
            assert first_col == "tenant_id", f"{tbl}: primary key must start with tenant_id"
    fks = await _rows(database, """
        SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
               ARRAY(SELECT attname FROM pg_attribute
                     WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey)) AS cols
        FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace""")
    for name, tbl, ref, cols in fks:
        if tbl in tenant_owned and ref in tenant_owned:
            assert "tenant_id" in cols, (f"{name}: a foreign key between tenant-owned tables must include "
                                         "tenant_id")
    assert pks, "no primary keys found"
