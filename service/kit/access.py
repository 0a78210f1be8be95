"""Who may do what, and the caller's transaction: declared once, served to both doors.

Each domain declares its role sets once, in `<domain>/auth.py`:

    read = Roles(Role.admin, Role.ops, Role.finance, Role.client)

REST routes take `dependencies=[auth.read.rest]`; GraphQL fields take `kit.gql.field(auth.read)` (which
puts `auth.read.gql` in their permission classes). Handlers and resolvers alike receive what they need by
annotation, with the same aliases:

- `caller: Caller`: the principal of the bearer token;
- `session: Session`: a transaction in the caller's RLS scope, begun before the handler runs (its first
  round trip also refuses a revoked token) and committed before the answer is sent;
- `sessions: Sessions`: a factory of further transactions in the caller's scope, for a use case that reads
  on several connections at once.
A use case never chooses its own scope: it works in the session or sessions it is given.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.permission import BasePermission

from service.kit.db import Database, ScopedSessions
from service.kit.errors import BadRequest, Forbidden, Unauthorized
from service.kit.identity import Principal, Role, bearer, is_api_key, key_hash


def authorization_of(request: Request) -> str | None:
    """The request's one Authorization header (None without one); several are refused, since proxies and
    frameworks disagree on which one wins."""
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        raise BadRequest("send one Authorization header, not several")
    return values[0] if values else None


_KEY = text("SELECT id, name, role, brand_id FROM api_keys WHERE secret_hash = :hash")
_KEY_USED = text("UPDATE api_keys SET last_used_at = now() WHERE id = :id")


class ApiKeys:
    """API keys resolved to principals. A key's role and brand never change, so they are cached by hash;
    whether it is revoked or expired is asked on every call, in the transaction's opening round trip. Its
    last use is written at most once a minute per process."""

    def __init__(self, size: int = 10_000):
        self.known: dict[str, tuple[uuid.UUID, str, Role, uuid.UUID | None]] = {}
        self.used: dict[uuid.UUID, float] = {}
        self.size = size

    async def principal(self, db: Database, key: str) -> Principal:
        digest = key_hash(key)
        found = self.known.get(digest)
        if found is None:
            async with db.engine.connect() as conn:
                row = (await conn.execute(_KEY, {"hash": digest})).first()
            if row is None:
                raise Unauthorized("the API key is not known")
            if len(self.known) >= self.size:
                self.known.clear()
            found = self.known[digest] = (row.id, row.name, Role(row.role), row.brand_id)
        key_id, name, role, brand = found
        now = time.monotonic()
        if now - self.used.get(key_id, -60.0) >= 60:
            self.used[key_id] = now
            async with db.engine.begin() as conn:
                await conn.execute(_KEY_USED, {"id": key_id})
        return Principal(subject=f"api-key:{name}", role=role, tenant_id=brand, jti="", key_id=key_id)


async def principal_of(request: Request) -> Principal:
    """The principal of the request's credential (401 without a valid one): an API key, an OpenID Connect
    token of the configured issuer, or a token of the built-in issuer; counted against the rate limits."""
    state = request.app.state
    credential = bearer(authorization_of(request))
    principal: Principal
    if is_api_key(credential):
        principal = await state.api_keys.principal(state.db, credential)
    elif state.oidc is not None and state.oidc.claims_issuer(credential):
        principal = await state.oidc.principal(state.db, credential)
    else:
        principal = state.tokens.principal(credential)
    await state.limiter.hit(principal.limit_key)
    return principal


async def verify(db: Database, principal: Principal) -> None:
    """Check the caller in the database (revocation, its tenant's existence and status) for a call that runs
    no transaction of its own: beginning one runs the scope's round trip, which refuses."""
    async with db.transaction(principal.scope):
        pass


_PRINCIPAL = "seatwise.principal"  # the request's principal, in its ASGI scope once authenticated


async def _caller(request: Request) -> Principal:
    """The request's principal: authenticated (and counted against the rate limits) once per request, by
    whichever of the route's dependencies asks first. The others take it from the request, not as a
    sub-dependency: FastAPI solves a sub-dependency again wherever it is named, cached or not, and three
    namings of it cost a tenth of a cached read."""
    principal: Principal | None = request.scope.get(_PRINCIPAL)
    if principal is None:
        principal = await principal_of(request)
        request.scope[_PRINCIPAL] = principal
        request.state.principal = principal  # for the request log
    return principal


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    caller = await _caller(request)
    async with request.app.state.db.transaction(caller.scope) as session:
        yield session


async def _sessions(request: Request) -> ScopedSessions:
    db: Database = request.app.state.db
    return db.sessions((await _caller(request)).scope)


Caller = Annotated[Principal, Depends(_caller)]
# scope="function": the transaction ends (commits, or rolls back on an error) before the answer is sent.
Session = Annotated[AsyncSession, Depends(_session, scope="function")]
Sessions = Annotated[ScopedSessions, Depends(_sessions)]
INJECTED = {_caller: "caller", _session: "session", _sessions: "sessions"}


def _forbidden(role: Role, roles: frozenset[Role]) -> Forbidden:
    allowed = ", ".join(sorted(r.value for r in roles))
    return Forbidden(f"role '{role.value}' may not do this (allowed: {allowed})")


async def refusal(principal: Principal, db: Database | None, roles: frozenset[Role]) -> Forbidden:
    """403 for a valid token whose role is not allowed; a revoked token is 401 first, as everywhere else
    (the revocation list is read here, on the refusing path, since no transaction will run)."""
    if db is not None and principal.jti:
        await verify(db, principal)  # raises for a revoked token
    return _forbidden(principal.role, roles)


def _opens_transaction(request: Request) -> bool:
    """Whether the matched route takes the caller's Session (whose first round trip checks the caller)."""
    route = request.scope.get("route")
    known = getattr(route, "_seatwise_session", None)
    if known is None:
        stack, known = [getattr(route, "dependant", None)], False
        while stack:
            d = stack.pop()
            if d is None:
                continue
            known = known or d.call is _session
            stack.extend(d.dependencies)
        if route is not None:
            route._seatwise_session = known
    return bool(known)


class Allow(BasePermission):
    """The GraphQL side of a `Roles`: refuses callers without a token (401) or without a role (403)."""

    roles: frozenset[Role] = frozenset()
    message = "not allowed"

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal: Principal | None = info.context.principal
        if principal is None:
            self.message = "authentication required: send 'Authorization: Bearer <token>'"
            self.error_extensions = {"code": "UNAUTHENTICATED", "status": 401}
            return False
        if principal.role in self.roles:
            return True
        try:
            self.message = str(await refusal(principal, info.context.db, self.roles))
        except Unauthorized as revoked:
            self.message = revoked.detail
            self.error_extensions = {"code": "UNAUTHENTICATED", "status": 401}
            return False
        self.error_extensions = {"code": "FORBIDDEN", "status": 403}
        return False


class Roles:
    """A set of roles allowed to do something. `rest`: the FastAPI dependency that authenticates and
    authorizes; `gql`: the strawberry permission class. The role x route matrix test reads `roles`."""

    def __init__(self, *roles: Role):
        self.roles = frozenset(roles)
        allowed = self.roles

        async def authorize(request: Request) -> None:
            caller = await _caller(request)
            if caller.role not in allowed:
                raise await refusal(caller, request.app.state.db, allowed)
            if not _opens_transaction(request):  # e.g. the Erlang what-if: checked here instead
                await verify(request.app.state.db, caller)

        authorize.roles = allowed  # type: ignore[attr-defined]
        self.rest = Depends(authorize)
        name = "Allow_" + "_".join(sorted(r.value for r in allowed))
        self.gql: type[Allow] = type(name, (Allow,), {"roles": allowed})

    def __contains__(self, role: Role) -> bool:
        return role in self.roles

    def __repr__(self) -> str:
        return f"Roles({', '.join(sorted(r.value for r in self.roles))})"
