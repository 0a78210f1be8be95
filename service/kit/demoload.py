"""The demo load's marker: one operator-level row (no tenant), written with the demo's first transaction and
completed by its last, so a load interrupted in between (Ctrl-C, kill, a crash, a failing part) is told
apart from a whole demo on the next start.

A database with tenants and no marker holds real data or a demo from before the marker: neither is touched.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, DateTime, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from service.kit.models import utcnow


class DemoLoad(SQLModel, table=True):
    __tablename__ = "demo_loads"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    started_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True),
                                 sa_column_kwargs={"server_default": func.now(), "nullable": False})
    completed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    seed: int
    day: date


class InterruptedDemo(Exception):
    """The database holds a demo whose load started and never completed."""

    def __init__(self, load: DemoLoad):
        super().__init__(f"the demo load of {load.day} (seed {load.seed}) started at "
                         f"{load.started_at:%Y-%m-%d %H:%M:%S %Z} never completed")
        self.load = load


async def started(session: AsyncSession, seed: int, day: date) -> None:
    """Record, in the demo's first transaction, that its load has started (a second loader of the same
    database waits on the row, then fails on it)."""
    await session.merge(DemoLoad(seed=seed, day=day))  # replaces a completed one whose demo was deleted
    await session.flush()


async def completed(session: AsyncSession) -> None:
    """Record, in the demo's last step, that its load completed. The step commits synchronously whatever the
    connection's setting (a demo loaded with commits that do not wait for the disk): once it says so, the
    load is on disk, all of it (WAL is flushed in order)."""
    await session.execute(text("SET LOCAL synchronous_commit = on"))
    load = (await session.execute(select(DemoLoad).with_for_update())).scalar_one()
    load.completed_at = utcnow()
    await session.flush()


async def check_not_interrupted(session: AsyncSession) -> None:
    """Raise InterruptedDemo when a demo load started in this database and never completed."""
    load = (await session.execute(select(DemoLoad))).scalar_one_or_none()
    if load is not None and load.completed_at is None:
        raise InterruptedDemo(load)
