"""Engines, sessions and the tenant-scoped transaction.

Every transaction starts by setting the tenancy settings that the RLS policies read, with '' when
there is none, so a pooled connection never carries one request's tenant into the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from service.kit.audit import current_request_id
from service.kit.cache import Memo
from service.kit.errors import Forbidden, Unauthorized
from service.kit.identity import Scope
from service.settings import APP_ROLE, Settings

# Every tenant, no token: only for the composition roots that act as the operator itself (the CLI, the demo
# loader, benchmarks' setup), through Database.system_transaction. A use case never picks a scope: it takes
# the caller's session.
SYSTEM_SCOPE = Scope(staff=True)


class RevokedToken(Unauthorized):
    """The caller's token was revoked after it was issued."""

    def __init__(self, jti: str):
        super().__init__("the token has been revoked; issue a new one")


# One round trip: set both settings and ask the database why the caller would be refused (a revoked token
# or key, a tenant that does not exist, a suspended or offboarded brand; NULL: it is not).
_SET_SCOPE = text(
    "SELECT set_config('app.staff', :staff, true), set_config('app.tenant_id', :tenant, true), "
    "seatwise_refusal(:jti, :tenant, :key) AS refusal"
)


def refused(refusal: str) -> Unauthorized | Forbidden:
    if refusal == "revoked":
        return RevokedToken("")
    if refusal == "unknown tenant":
        return Unauthorized("the credential names a tenant that does not exist")
    return Forbidden(f"the brand is {refusal}: its tokens and keys are refused")


@event.listens_for(Session, "after_begin")
def _apply_scope(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    waiting = session.info.pop("waiting", None)
    if waiting is not None:
        waiting(-1)
    scope: Scope | None = session.info.get("scope")
    staff = "on" if scope is not None and scope.staff else ""
    tenant = str(scope.tenant_id) if scope is not None and scope.tenant_id else ""
    jti = scope.jti if scope is not None and scope.jti else ""
    key = str(scope.key_id) if scope is not None and scope.key_id else ""
    row = connection.execute(_SET_SCOPE, {"staff": staff, "tenant": tenant, "jti": jti, "key": key}).one()
    if row.refusal is not None:
        raise refused(row.refusal)


def owner_url(settings: Settings) -> str:
    """The URL that owns the schema (migrations). Starts the embedded server when needed."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+asyncpg")
        return url.render_as_string(hide_password=False)
    from service import embedded

    return embedded.start(settings.data_dir)


def app_url(settings: Settings, owner: str | None = None) -> str:
    """The URL the server uses: the application role, never the owner (owners skip RLS)."""
    if settings.app_database_url:
        url = make_url(settings.app_database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+asyncpg")
        return url.render_as_string(hide_password=False)
    url = make_url(owner or owner_url(settings)).set(username=APP_ROLE, password=settings.app_db_password)
    return url.render_as_string(hide_password=False)


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)


class Database:
    """The app's handle on PostgreSQL: one engine and a session factory that scopes every transaction."""

    def __init__(self, engine: AsyncEngine, memo_size: int = 4096):
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self.waiting = 0  # transactions waiting for a pooled connection (the metrics read it)
        self.on_wait: Callable[[int], None] | None = None  # told every change of it (kit.observe)
        self.memo = Memo(memo_size)  # answers kept under the database's versions (kit.cache)

    def _wait(self, delta: int) -> None:
        self.waiting += delta
        if self.on_wait is not None:
            self.on_wait(delta)

    @asynccontextmanager
    async def session(self, scope: Scope) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            session.info["scope"] = scope
            session.info["request_id"] = current_request_id.get()
            session.info["memo"] = self.memo
            yield session

    @property
    def in_use(self) -> int:
        """Pooled connections checked out now."""
        checked_out: int = self.engine.pool.checkedout()  # type: ignore[attr-defined]
        return checked_out

    @asynccontextmanager
    async def transaction(self, scope: Scope) -> AsyncIterator[AsyncSession]:
        """A transaction in SCOPE, begun at once: the scope's round trip (settings and the revocation
        check) runs before the caller's first statement, so a revoked token is refused even by a use case
        that reads nothing."""
        async with self.session(scope) as session, session.begin():
            self._wait(1)
            session.info["waiting"] = self._wait  # after_begin counts it down once connected
            try:
                await session.connection()
            finally:
                if session.info.pop("waiting", None) is not None:
                    self._wait(-1)
            yield session

    def system_transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A transaction that sees every tenant, for the operator's own tools (CLI, demo loader)."""
        return self.transaction(SYSTEM_SCOPE)

    def sessions(self, scope: Scope) -> ScopedSessions:
        """A factory of transactions bound to SCOPE, for a use case that reads in parallel."""
        return ScopedSessions(self, scope)

    async def warm_up(self, connections: int) -> None:
        """Open CONNECTIONS pooled connections now, so the first requests (a plan reads history on
        several at once) don't pay for connecting and type introspection."""

        async def touch() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                await asyncio.sleep(0.05)  # hold it so the others open their own

        await asyncio.gather(*(touch() for _ in range(connections)))

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


@dataclass(frozen=True)
class ScopedSessions:
    """Transactions in one caller's scope, opened on demand: `async with sessions() as session`. A use case
    that reads on several connections at once takes this instead of (or beside) the caller's session; it
    can never widen the scope."""

    db: Database
    scope: Scope

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.db.transaction(self.scope)
