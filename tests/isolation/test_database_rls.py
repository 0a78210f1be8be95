"""The database itself enforces tenancy: raw SQL as the application role cannot cross tenants."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.kit.db import Scope, make_engine
from tests.factories import rls_count, rls_execute


async def test_app_role_is_not_privileged(database):
    engine = make_engine(database.app_url, 1)
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"))).one()
    await engine.dispose()
    assert row == (False, False)


async def test_raw_sql_with_client_tenant_sees_only_its_rows(database, world):
    engine = make_engine(database.app_url, 1)
    a, b = str(world.tenant_a.id), str(world.tenant_b.id)
    try:
        # Client A: B's shops are invisible even when asked for by tenant id.
        assert await rls_count(engine, "SELECT count(*) FROM shops WHERE tenant_id = :b", "", a, b=b) == 0
        assert await rls_count(engine, "SELECT count(*) FROM shops WHERE tenant_id = :a", "", a, a=a) == 2
        assert await rls_count(engine, "SELECT count(*) FROM tenants WHERE id = :b", "", a, b=b) == 0
        # Nothing set: no rows at all (unset never opens up).
        assert await rls_count(engine, "SELECT count(*) FROM shops", "", "") == 0
        assert await rls_count(engine, "SELECT count(*) FROM tenants", "", "") == 0
        # Staff: every tenant.
        assert await rls_count(engine, "SELECT count(*) FROM shops WHERE tenant_id IN (:a, :b)",
                               "on", "", a=a, b=b) == 4
    finally:
        await engine.dispose()


async def test_client_cannot_write_into_another_tenant(database, world):
    engine = make_engine(database.app_url, 1)
    try:
        a, b = str(world.tenant_a.id), str(world.tenant_b.id)
        with pytest.raises(DBAPIError, match="row-level security"):
            await rls_execute(engine, "INSERT INTO shops (tenant_id, id, platform, name, timezone, status) "
                              "VALUES (:b, gen_random_uuid(), 'jd', 'smuggled', 'Asia/Shanghai', 'active')",
                              "", a, b=b)
        result = await rls_execute(engine, "UPDATE shops SET name = 'hijacked' WHERE tenant_id = :b",
                                   "", a, b=b)
        assert result.rowcount == 0
    finally:
        await engine.dispose()


async def test_pooled_connection_does_not_leak_tenant(db, world):
    # The same pooled connection serves a client transaction, then an unscoped one: the second sees nothing.
    async with db.transaction(Scope(staff=False, tenant_id=world.tenant_a.id)) as session:
        assert (await session.execute(text("SELECT count(*) FROM shops"))).scalar_one() == 2
    async with db.transaction(Scope(staff=False)) as session:
        assert (await session.execute(text("SELECT count(*) FROM shops"))).scalar_one() == 0
