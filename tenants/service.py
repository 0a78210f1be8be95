"""Tenant use cases. Staff manage tenants; a client's transaction sees its own tenant only (RLS)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.crud import apply_changes, by_ids, flush, list_page, one_or_404
from service.kit.errors import NotFound
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest
from tenants.models import Tenant, TokenRevocation
from tenants.schemas import TenantCreate, TenantFilter, TenantUpdate


def _by_key(key: str | uuid.UUID):
    """A tenant by id or slug: the API accepts either."""
    if isinstance(key, uuid.UUID):
        return Tenant.id == key
    try:
        return Tenant.id == uuid.UUID(key)
    except ValueError:
        return Tenant.slug == key


async def get_tenant(session: AsyncSession, key: str | uuid.UUID) -> Tenant:
    return await one_or_404(session, select(Tenant).where(_by_key(key)), "tenant")


async def read_tenant(session: AsyncSession, principal: Principal, key: str | uuid.UUID) -> Tenant:
    """One brand by id or slug: staff any, a client its own; another brand's is not found (never confirm
    that it exists)."""
    tenant = await find_tenant(session, key)
    if tenant is None or (not principal.is_staff and tenant.id != principal.tenant_id):
        raise NotFound("tenant not found")
    return tenant


async def find_tenant(session: AsyncSession, key: str | uuid.UUID) -> Tenant | None:
    return (await session.execute(select(Tenant).where(_by_key(key)))).scalars().first()


async def list_tenants(session: AsyncSession, filters: TenantFilter, page: PageRequest) -> Paged[Tenant]:
    stmt = select(Tenant).filter_by(**filters.model_dump(include={"tier", "status"}, exclude_none=True))
    if filters.q:
        stmt = stmt.where(Tenant.name.ilike(f"%{filters.q}%") | Tenant.slug.ilike(f"%{filters.q}%"))
    return await list_page(session, stmt, Tenant.id, page)


async def create_tenant(session: AsyncSession, data: TenantCreate) -> Tenant:
    tenant = Tenant(**data.model_dump(mode="json"))
    session.add(tenant)
    await flush(session, f"tenant '{data.slug}'")
    return tenant


async def update_tenant(session: AsyncSession, key: str | uuid.UUID, changes: TenantUpdate) -> Tenant:
    tenant = await get_tenant(session, key)
    apply_changes(tenant, changes)
    await flush(session, "tenant")
    return tenant


async def tenants_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Tenant | None]:
    return await by_ids(session, Tenant, ids)


async def revoke_token(session: AsyncSession, jti: str, reason: str | None = None) -> bool:
    """Put JTI on the revocation list; False when it already was."""
    if await session.get(TokenRevocation, jti) is not None:
        return False
    session.add(TokenRevocation(jti=jti, reason=reason))
    await flush(session, "revocation")
    return True
