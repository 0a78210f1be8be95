"""The finance tables in the database itself, as the application role: a brand sees only its own contracts,
statements and cost figures (RLS); versions are append-only; a closed month's rows, and a finalized
statement, are refused any change whatever the application does; a closed month reopens only with its
reopening recorded."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.finance.models import TENANT_TABLES
from service.kit.db import make_engine
from tests.factories import rls_count, rls_execute

MONTH = date(2026, 7, 1)
COST = {"minutes": 600, "attendance_minutes": 600, "roster_minutes": 0, "overtime_workday_minutes": 0,
        "overtime_rest_day_minutes": 0, "overtime_holiday_minutes": 0, "labour_base": 300,
        "overtime_premium": 0, "seat": 50, "overhead": 10}
LINE = {"kind": "charge", "component": "seat_hours", "quantity": 10, "unit": "seat-hour", "rate": 40,
        "amount": 400, "source": "10 seat-hours from attendance"}


def insert(table: str, **values: object) -> tuple[str, dict[str, object]]:
    """INSERT INTO table (the keys) VALUES (their parameters)."""
    names = ", ".join(values)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in values)})", values


async def staff(engine, sql: str, values: dict[str, object] | None = None, **params: object):
    """SQL in one transaction as staff, with VALUES (from `insert`) or keyword parameters."""
    return await rls_execute(engine, sql, "on", "", **(values or {}), **params)


@pytest.fixture(scope="module")
async def app_engine(database):
    engine = make_engine(database.app_url, 2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def books(app_engine, world):
    """A contract with a version, a statement with a line (A's finalized, B's a draft), a cost line and a
    shop month for each brand, written as staff."""
    ids = {}
    for tenant, shop, status in ((world.tenant_a, world.shops_a[0], "finalized"),
                                 (world.tenant_b, world.shops_b[0], "draft")):
        t, c, st = tenant.id, uuid.uuid4(), uuid.uuid4()
        rows = [
            insert("contracts", tenant_id=t, id=c, name="c", created_by="t"),
            insert("contract_versions", tenant_id=t, contract_id=c, effective_from=date(2026, 1, 1),
                   seat_hour_rate=40, pool_scope="brand", created_by="t"),
            insert("statements", tenant_id=t, id=st, month=MONTH, status="draft", charges=400, credits=0,
                   adjustments=0, total=400, pending_credits=0, forgiven_credits=0, computed_at=MONTH),
            insert("statement_lines", tenant_id=t, statement_id=st, position=0, month=MONTH, shop_id=shop.id,
                   **LINE),
            insert("cost_lines", tenant_id=t, month=MONTH, shop_id=shop.id, site_id=world.site.id,
                   of_month=MONTH, **COST),
            insert("shop_month_usage", tenant_id=t, month=MONTH, shop_id=shop.id, conversations=120,
                   assisted_gmv=999, promotion_seat_days=0),
        ]
        for sql, values in rows:
            await staff(app_engine, sql, values)
        if status == "finalized":
            await staff(app_engine, "UPDATE statements SET status = 'finalized', number = :n WHERE id = :st",
                        n=f"SW-2026-{900000 + len(ids)}", st=st)
        ids[status] = {"t": t, "st": st, "m": MONTH, "s": shop.id, "site": world.site.id}
    return ids


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_a_brand_sees_only_its_own_rows(app_engine, world, books, table):
    a, b = str(world.tenant_a.id), str(world.tenant_b.id)
    # (staff setting, tenant setting, condition, rows seen): A's own; B's named outright; no scope; staff.
    cases = (("", a, "", 1), ("", a, " WHERE tenant_id = :b", 0), ("", "", "", 0), ("on", "", "", 2))
    for staff_on, tenant, where, seen in cases:
        sql = f"SELECT count(*) FROM {table}{where}"
        assert await rls_count(app_engine, sql, staff_on, tenant, b=b) == seen, (staff_on, tenant, where)


async def _refused(engine, sql: str, *codes: str, **params) -> None:
    with pytest.raises(DBAPIError) as caught:
        await staff(engine, sql, **params)
    cause = getattr(caught.value.orig, "__cause__", None)
    assert getattr(cause, "sqlstate", None) in codes, caught.value


async def test_versions_are_append_only(app_engine, database, world, books):
    await staff(app_engine, *insert("agent_cost_versions", agent_id=world.agent.id,
                                    effective_from=date(2026, 1, 1), wage=30, social_insurance=9,
                                    housing_fund=3, created_by="t"))
    owner = make_engine(database.owner_url, 1)
    try:
        # The application role may not (no grant); nobody may (the trigger stops the owner too).
        for sql in ("UPDATE agent_cost_versions SET wage = 1 WHERE agent_id = :a",
                    "DELETE FROM agent_cost_versions WHERE agent_id = :a"):
            await _refused(app_engine, sql, "42501", a=world.agent.id)
            await _refused(owner, sql, "SWF01", a=world.agent.id)
        for sql in ("UPDATE contract_versions SET seat_hour_rate = 1", "DELETE FROM contract_versions"):
            await _refused(app_engine, sql, "42501")
            await _refused(owner, sql, "SWF01")
        for table in ("statement_lines", "cost_lines", "agent_cost_versions"):  # never truncated
            await _refused(owner, f"TRUNCATE {table} CASCADE", "SWF01")
    finally:
        await owner.dispose()


async def test_a_finalized_statement_is_never_edited(app_engine, books):
    p = books["finalized"]
    new_line, values = insert("statement_lines", tenant_id=p["t"], statement_id=p["st"], position=1,
                              month=MONTH, **LINE)
    for sql in ("UPDATE statements SET total = 1, charges = 1 WHERE tenant_id = :t AND id = :st",
                "DELETE FROM statements WHERE tenant_id = :t AND id = :st",
                "DELETE FROM statement_lines WHERE tenant_id = :t AND statement_id = :st"):
        await _refused(app_engine, sql, "SWF03", **p)
    await _refused(app_engine, new_line, "SWF03", **values)
    await _refused(app_engine, "UPDATE statement_lines SET source = 'x' WHERE tenant_id = :t", "SWF03", **p)


async def test_a_closed_month_is_frozen_and_reopens_only_recorded(app_engine, world, books):
    await staff(app_engine, *insert("finance_periods", month=MONTH, status="closed", closed_by="t"))
    d = books["draft"]
    late, values = insert("cost_lines", tenant_id=d["t"], month=MONTH, shop_id=world.shops_b[1].id,
                          site_id=world.site.id, of_month=MONTH, **COST)
    for sql in ("UPDATE cost_lines SET overhead = 0 WHERE tenant_id = :t",
                "DELETE FROM shop_month_usage WHERE tenant_id = :t",
                "DELETE FROM statements WHERE tenant_id = :t AND id = :st"):  # even a draft of a closed month
        await _refused(app_engine, sql, "SWF02", **d)
    await _refused(app_engine, late, "SWF02", **values)
    reopen = "UPDATE finance_periods SET status = 'open' WHERE month = :m"
    await _refused(app_engine, reopen, "SWF04", m=MONTH)
    await _refused(app_engine, "DELETE FROM finance_periods WHERE month = :m", "42501", m=MONTH)
    # Reopened in one transaction with its event: the month's rows can change again.
    event = ("INSERT INTO finance_period_events (id, month, action, actor, reason, at) "
             "VALUES (gen_random_uuid(), :m, 'reopen', 'admin', 'test', now())")
    async with app_engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
        await conn.execute(text(event), {"m": MONTH})
        await conn.execute(text(reopen), {"m": MONTH})
    await staff(app_engine, "UPDATE cost_lines SET overhead = 11 WHERE tenant_id = :t", **d)
    await _refused(app_engine, "DELETE FROM finance_period_events", "42501")
