"""Engines, sessions and the tenant-scoped transaction.

Every transaction starts by setting the tenancy settings that the RLS policies read, with '' when
there is none, so a pooled connection never carries one request's tenant into the next.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio.base import _run_to_completion
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util import await_only, greenlet_spawn

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


class ScopedConnection(asyncpg.Connection):  # type: ignore[misc]
    """asyncpg's connection, able to send the statement that sets a transaction's scope in the same message
    as its BEGIN (`begin_with`): one round trip for both, on every request. `scoped`: the database has
    seatwise_enter (migration 0012; probed once per connection), else the scope takes its own round trip."""

    begin_with: str | None = None
    scoped = False

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        if self.begin_with is not None and not args and query.startswith("BEGIN"):
            query, self.begin_with = f"{query.rstrip(';')}; {self.begin_with}", None
        status: str = await super().execute(query, *args, timeout=timeout)
        return status


_REFUSED = "SW001"  # seatwise_enter's SQLSTATE for a refused caller (its message: the reason)
# Values inlined into seatwise_enter's call, which travels as plain SQL text with the BEGIN: uuids, 'on',
# and token ids of these characters only (anything else takes the parametrized round trip).
_PLAIN = re.compile(r"[A-Za-z0-9._:@+=/-]{0,200}")


def _probe_enter(dbapi_connection: Any, record: Any) -> None:
    raw = dbapi_connection.driver_connection
    if isinstance(raw, ScopedConnection):
        raw.scoped = bool(await_only(raw.fetchval(
            "SELECT to_regprocedure('seatwise_enter(text, text, text, text)') IS NOT NULL")))


def _refusal_in(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) == _REFUSED:
            return str(getattr(seen, "message", None) or seen)
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return None


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
    pooled = connection.connection
    raw, adapter = pooled.driver_connection, pooled.dbapi_connection
    # Not begun yet (the adapter begins on the first statement; a savepoint's begin finds it begun).
    begun = getattr(adapter, "_transaction", 0) is not None
    start = None if begun else getattr(adapter, "_start_transaction", None)
    if isinstance(raw, ScopedConnection) and raw.scoped and start is not None and _PLAIN.fullmatch(jti):
        # BEGIN and the scope in one message: the driver begins the transaction now (the adapter would at
        # the first statement), its BEGIN carrying seatwise_enter.
        raw.begin_with = f"SELECT seatwise_enter('{staff}', '{tenant}', '{jti}', '{key}')"
        try:
            await_only(start())
        except Exception as exc:
            # The connection's transaction block failed (or the connection is gone): never for reuse.
            connection.invalidate()
            reason = _refusal_in(exc)
            if reason is not None:
                raise refused(reason) from None
            # As SQLAlchemy raises the driver's errors (an outage's is then a 503, service.kit.errors).
            raise DBAPIError.instance("BEGIN", None, exc, Exception, connection_invalidated=True) from exc
        finally:
            raw.begin_with = None
        return
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


def make_engine(url: str, pool_size: int = 10, max_overflow: int | None = None, *,
                wait_for_flush: bool = True) -> AsyncEngine:
    """An engine of POOL_SIZE pooled connections and MAX_OVERFLOW (default: as many) more under bursts, which
    are closed again when they come back. Not WAIT_FOR_FLUSH: its commits return before their WAL is on disk
    (synchronous_commit off: a crash can lose the last ones, whole, never part of one); for a load whose
    last transaction commits synchronously, which makes it and everything before it durable (the demo's)."""
    overflow = pool_size if max_overflow is None else max_overflow
    connect_args: dict[str, Any] = {"connection_class": ScopedConnection}
    if not wait_for_flush:
        connect_args["server_settings"] = {"synchronous_commit": "off"}
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=overflow, pool_pre_ping=False,
                                 connect_args=connect_args)
    event.listen(engine.sync_engine, "connect", _probe_enter)
    return engine


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

    def _new(self, scope: Scope) -> AsyncSession:
        session = self._sessions()
        session.info["scope"] = scope
        session.info["request_id"] = current_request_id.get()
        session.info["memo"] = self.memo
        return session

    @asynccontextmanager
    async def session(self, scope: Scope) -> AsyncIterator[AsyncSession]:
        async with self._new(scope) as session:
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
        # What `async with session, session.begin(): await session.connection()` does, in two of the driver's
        # greenlet hops instead of four and without the task AsyncSession's exit closes in: the begin and the
        # connection (whose after_begin sets the scope) in one, the commit (a rollback on an error) and the
        # close in the other. A failed or interrupted end is closed again as AsyncSession's exit closes.
        session = self._new(scope)
        sync = session.sync_session
        self._wait(1)
        session.info["waiting"] = self._wait  # after_begin counts it down once connected
        try:
            transaction = await greenlet_spawn(_begin, sync)
        except BaseException:
            await _run_to_completion(session.close())
            raise
        finally:
            if session.info.pop("waiting", None) is not None:
                self._wait(-1)
        try:
            yield session
        except BaseException as exc:
            await self._end(session, transaction, (type(exc), exc, exc.__traceback__))
            raise
        await self._end(session, transaction, (None, None, None))

    @staticmethod
    async def _end(session: AsyncSession, transaction: SessionTransaction, exc_info: tuple[Any, Any, Any]
                   ) -> None:
        try:
            await greenlet_spawn(_finish, session.sync_session, transaction, exc_info)
        except BaseException:
            await _run_to_completion(session.close())
            raise

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


def _begin(sync: Session) -> SessionTransaction:
    """SYNC's transaction begun and connected, as `async with session.begin()` and `session.connection()`
    leave it (rolled back and closed when connecting fails)."""
    transaction = sync.begin()
    transaction.__enter__()
    try:
        sync.connection()
    except BaseException as exc:
        try:
            transaction.__exit__(type(exc), exc, exc.__traceback__)
        finally:
            sync.close()
        raise
    return transaction


def _finish(sync: Session, transaction: SessionTransaction, exc_info: tuple[Any, Any, Any]) -> None:
    """TRANSACTION ended as its context manager ends it (committed, or rolled back after an error), then
    SYNC closed."""
    try:
        transaction.__exit__(*exc_info)
    finally:
        sync.close()


@dataclass(frozen=True)
class ScopedSessions:
    """Transactions in one caller's scope, opened on demand: `async with sessions() as session`. A use case
    that reads on several connections at once takes this instead of (or beside) the caller's session; it
    can never widen the scope."""

    db: Database
    scope: Scope

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.db.transaction(self.scope)
