"""Role declarations: every REST route and GraphQL field names the roles allowed, here and only here.

REST: `ctx: Context = Depends(allow(Role.ops, Role.admin))`; GraphQL: `permission_classes=[Allow(...)]`.
Both resolve the caller from the bearer token into a `Context` that services take.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.permission import BasePermission

from service.db import Database
from service.kit.errors import Forbidden, Unauthorized
from tenants.auth import ALL_ROLES, STAFF, Principal, Role, principal_from_header


@dataclass
class Context:
    """Who is calling and a handle on the database scoped to what they may see."""

    principal: Principal
    db: Database

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncSession]:
        """A transaction whose RLS scope is the caller's (and which refuses a revoked token)."""
        async with self.db.transaction(self.principal.scope) as session:
            yield session

    @property
    def is_staff(self) -> bool:
        return self.principal.is_staff


def _forbidden(role: Role, roles: frozenset[Role]) -> Forbidden:
    allowed = ", ".join(sorted(r.value for r in roles))
    return Forbidden(f"role '{role.value}' may not do this (allowed: {allowed})")


async def _refusal(principal: Principal, db: Database | None, roles: frozenset[Role]) -> Forbidden:
    """403 for a valid token whose role is not allowed; a revoked token is 401 first, as on every
    other route (the revocation list is only read here, on the refusing path)."""
    if db is not None and principal.jti:
        async with db.transaction(principal.scope) as session:
            await session.connection()  # begins: the scope's round trip raises RevokedToken
    return _forbidden(principal.role, roles)


def allow(*roles: Role):
    """FastAPI dependency: authenticate the bearer token and require one of ROLES."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Context:
        state = request.app.state
        principal = principal_from_header(state.jwt_secret, request.headers.get("authorization"),
                                          state.settings.jwt_issuer)
        if principal.role not in allowed:
            raise await _refusal(principal, state.db, allowed)
        return Context(principal=principal, db=state.db)

    dependency.roles = allowed  # read by the role x route matrix test
    return dependency


staff_only = (Role.admin, Role.ops, Role.finance)
everyone = tuple(ALL_ROLES)
assert frozenset(staff_only) == STAFF


class Allow(BasePermission):
    """GraphQL permission: `permission_classes=[Allow.of(Role.ops, Role.admin)]`."""

    roles: frozenset[Role] = frozenset()
    message = "not allowed"

    @classmethod
    def of(cls, *roles: Role) -> type[Allow]:
        return type(f"Allow_{'_'.join(sorted(r.value for r in roles))}", (cls,), {"roles": frozenset(roles)})

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal: Principal | None = info.context.principal
        if principal is None:
            self.message = "authentication required: send 'Authorization: Bearer <token>'"
            self.error_extensions = {"code": "UNAUTHENTICATED", "status": 401}
            return False
        if principal.role not in self.roles:
            try:
                self.message = str(await _refusal(principal, info.context.db, self.roles))
            except Unauthorized as revoked:
                self.message = revoked.detail
                self.error_extensions = {"code": "UNAUTHENTICATED", "status": 401}
                return False
            self.error_extensions = {"code": "FORBIDDEN", "status": 403}
            return False
        return True


__all__ = ["Allow", "Context", "Role", "Unauthorized", "allow", "everyone", "staff_only"]
