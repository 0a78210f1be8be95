"""The seating tables in the database itself: a brand sees only its own shops' requirements, assignments and
work sessions (RLS, as the application role), and no agent is in two places at once (exclusion constraints),
whatever the application does."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from service.kit.db import make_engine
from tests.factories import plan_for_world, rls_count

DAY = "2026-12-12"


def _range(start: str, end: str) -> dict[str, datetime]:
    return {"lo": datetime.fromisoformat(f"{DAY}T{start}+08:00"),
            "hi": datetime.fromisoformat(f"{DAY}T{end}+08:00")}


@pytest.fixture(scope="module")
async def app_engine(database):
    engine = make_engine(database.app_url, 2)
    yield engine
    await engine.dispose()


async def _shift(session, world, *, status: str = "published", start: str = "09:00", end: str = "17:00",
                 roster=None) -> uuid.UUID:
    shift_id = uuid.uuid4()
    await session.execute(text(
        "INSERT INTO shifts (id, roster_id, agent_id, site_id, status, source, during, created_by, "
        "updated_by) VALUES (:id, :roster, :agent, :site, :status, :source, tstzrange(:lo, :hi), 'test', "
        "'test')"),
        {"id": shift_id, "roster": roster, "agent": world.agent.id, "site": world.site.id, "status": status,
         "source": "roster" if roster else "manual"} | _range(start, end))
    return shift_id


@pytest.fixture(scope="module")
async def seated(db, world):
    """A live shift of the world's agent, split between A's and B's shops; a requirement and a work session
    on a shop of each brand."""
    async with db.system_transaction() as session:
        shift = await _shift(session, world)
        for tenant, shop, hours in ((world.tenant_a, world.shops_a[0], ("09:00", "13:00")),
                                    (world.tenant_b, world.shops_b[0], ("13:00", "17:00"))):
            params = {"t": tenant.id, "s": shop.id, "shift": shift, "agent": world.agent.id} | _range(*hours)
            await session.execute(text(
                "INSERT INTO shift_assignments (tenant_id, id, shift_id, shop_id, during, created_by, "
                "updated_by) "
                "VALUES (:t, gen_random_uuid(), :shift, :s, tstzrange(:lo, :hi), 'test', 'test')"), params)
            await session.execute(text(
                "INSERT INTO shop_requirements (tenant_id, shop_id, skills) "
                "VALUES (:t, :s, ARRAY['aftersale'])"), params)
            await session.execute(text(
                "INSERT INTO work_sessions (tenant_id, shop_id, external_id, agent_id, during) "
                "VALUES (:t, :s, 'ws-1', :agent, tstzrange(:lo, :hi))"), params)
    return shift


@pytest.mark.parametrize("table", ["shift_assignments", "shop_requirements", "work_sessions"])
async def test_a_brand_sees_only_its_own_rows(app_engine, world, seated, table):
    a, b = str(world.tenant_a.id), str(world.tenant_b.id)
    sql = f"SELECT count(*) FROM {table}"
    assert await rls_count(app_engine, sql, "", a) == 1
    assert await rls_count(app_engine, sql + " WHERE tenant_id = :b", "", a, b=b) == 0
    assert await rls_count(app_engine, sql, "", "") == 0  # no scope: no rows
    assert await rls_count(app_engine, sql, "on", "") == 2


async def test_one_agent_is_never_in_two_places(db, world, seated):
    async with db.system_transaction() as session:
        await _shift(session, world, status="draft", start="10:00", end="12:00")  # a draft may overlap
    with pytest.raises(IntegrityError, match="no_double_booking"):
        async with db.system_transaction() as session:
            await _shift(session, world, start="16:00", end="20:00")
    roster, plan = uuid.uuid4(), await plan_for_world(db)
    async with db.system_transaction() as session:
        await session.execute(text(
            "INSERT INTO rosters (id, plan_id, name, status, mode, starts_at, ends_at, summary, created_by) "
            "VALUES (:id, :plan, 'r', 'draft', 'fast', now(), now() + interval '1 day', '{}', 'test')"),
            {"id": roster, "plan": plan})
        await _shift(session, world, status="draft", start="06:00", end="08:00", roster=roster)
    with pytest.raises(IntegrityError, match="no_overlap_in_roster"):
        async with db.system_transaction() as session:
            await _shift(session, world, status="draft", start="07:00", end="09:00", roster=roster)
    with pytest.raises(IntegrityError, match="one_shop_at_a_time"):
        async with db.system_transaction() as session:
            await session.execute(text(
                "INSERT INTO shift_assignments (tenant_id, id, shift_id, shop_id, during, created_by, "
                "updated_by) "
                "VALUES (:t, gen_random_uuid(), :shift, :s, tstzrange(:lo, :hi), 'test', 'test')"),
                {"t": world.tenant_a.id, "s": world.shops_a[1].id, "shift": seated}
                | _range("12:00", "14:00"))


async def _assignment(session, world, shift, start: str, end: str) -> None:
    await session.execute(text(
        "INSERT INTO shift_assignments (tenant_id, id, shift_id, shop_id, during, created_by, updated_by) "
        "VALUES (:t, gen_random_uuid(), :shift, :s, tstzrange(:lo, :hi), 'test', 'test')"),
        {"t": world.tenant_a.id, "s": world.shops_a[0].id, "shift": shift} | _range(start, end))


async def _roster(db, session) -> uuid.UUID:
    roster = uuid.uuid4()
    await session.execute(text(
        "INSERT INTO rosters (id, plan_id, name, status, mode, starts_at, ends_at, summary, created_by) "
        "VALUES (:id, :plan, 'r', 'draft', 'fast', now(), now() + interval '1 day', '{}', 'test')"),
        {"id": roster, "plan": await plan_for_world(db)})
    return roster


async def test_an_overlap_made_by_a_move_is_refused_too(db, world, seated):
    """The statement triggers (migration 0010) check updates as well as inserts, whatever the statement."""
    async with db.system_transaction() as session:
        roster = await _roster(db, session)
        late = await _shift(session, world, status="draft", start="18:00", end="20:00", roster=roster)
        await _shift(session, world, status="draft", start="20:00", end="22:00", roster=roster)
        await _assignment(session, world, late, "18:00", "19:00")
        await _assignment(session, world, late, "19:00", "20:00")
    try:
        with pytest.raises(IntegrityError, match="no_overlap_in_roster"):
            async with db.system_transaction() as session:
                await session.execute(text("UPDATE shifts SET during = tstzrange(:lo, :hi) WHERE id = :id"),
                                      {"id": late} | _range("18:00", "21:00"))
        with pytest.raises(IntegrityError, match="one_shop_at_a_time"):
            async with db.system_transaction() as session:
                await session.execute(text(
                    "UPDATE shift_assignments SET during = tstzrange(:lo, :hi) WHERE shift_id = :id "
                    "AND lower(during) = :lo"), {"id": late} | _range("18:00", "19:30"))
    finally:
        async with db.system_transaction() as session:
            await session.execute(text("DELETE FROM shifts WHERE roster_id = :r"), {"r": roster})


@pytest.mark.parametrize("table", ["shifts", "shift_assignments"])
async def test_concurrent_writers_check_one_after_another(db, world, seated, table):
    """Two transactions write overlapping rows of one roster (or one shift) at once: the second waits on the
    row lock the first took, then sees what it committed and is refused. Not a check that each made alone."""
    async with db.system_transaction() as session:
        roster = await _roster(db, session)
        shift = await _shift(session, world, status="draft", start="18:00", end="23:00", roster=roster)

    async def write(session, start: str, end: str) -> None:
        if table == "shifts":
            await _shift(session, world, status="draft", start=start, end=end, roster=roster)
        else:
            await _assignment(session, world, shift, start, end)

    first, second = ("06:00", "08:00"), ("07:00", "09:00")
    if table == "shift_assignments":
        first, second = ("18:00", "20:00"), ("19:00", "21:00")
    try:
        async with db.system_transaction() as one:
            await write(one, *first)

            async def other() -> None:
                async with db.system_transaction() as two:
                    await write(two, *second)

            waiting = asyncio.create_task(other())
            await asyncio.sleep(0.5)
            assert not waiting.done(), "the second writer should wait for the first one's lock"
        with pytest.raises(IntegrityError, match="no_overlap_in_roster|one_shop_at_a_time"):
            await waiting
    finally:
        async with db.system_transaction() as session:
            await session.execute(text("DELETE FROM shifts WHERE roster_id = :r"), {"r": roster})


async def test_repeatable_read_writers_are_refused(app_engine, world, seated):
    """Under REPEATABLE READ the check would not see a concurrent writer's rows: it refuses to run there."""
    async with app_engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        with pytest.raises(DBAPIError, match="READ COMMITTED or SERIALIZABLE"):
            async with conn.begin():
                await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
                await _assignment(conn, world, seated, "08:00", "09:00")
