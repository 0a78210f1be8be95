"""Shop use cases. Queries name the tenant explicitly for clients; RLS is the safety net."""

from __future__ import annotations

import uuid

from sqlalchemy import BindParameter, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.conversations.day_rollup import rebuild_day_frt
from service.kit.crud import apply_changes, by_ids, flush, list_page, one_or_404
from service.kit.errors import Invalid
from service.kit.pagination import PageRequest
from service.shops.models import Shop
from service.shops.schemas import ShopCreate, ShopFilter, ShopUpdate
from tenants.auth import Principal
from tenants.service import find_tenant


def visible_shops(principal: Principal):
    return shops_visible_to(principal.is_staff, principal.tenant_id)


def shops_visible_to(staff: bool, tenant_id: uuid.UUID | BindParameter | None) -> Select:
    """select(Shop) of what a caller sees: every shop (staff) or its brand's (a client). TENANT_ID may be a
    bindparam, for a statement built once and executed with parameters."""
    stmt = select(Shop)
    if not staff:
        stmt = stmt.where(Shop.tenant_id == tenant_id)
    return stmt


async def get_shop(session: AsyncSession, principal: Principal, shop_id: uuid.UUID) -> Shop:
    return await one_or_404(session, visible_shops(principal).where(Shop.id == shop_id), "shop")


async def list_shops(session: AsyncSession, principal: Principal, filters: ShopFilter, page: PageRequest):
    stmt = visible_shops(principal)
    if filters.tenant:
        tenant = await find_tenant(session, filters.tenant)
        if tenant is None:  # unknown, or another brand's: the same empty answer
            return [], None
        stmt = stmt.where(Shop.tenant_id == tenant.id)
    if filters.platform:
        stmt = stmt.where(Shop.platform == filters.platform)
    if filters.status:
        stmt = stmt.where(Shop.status == filters.status)
    if filters.q:
        stmt = stmt.where(Shop.name.ilike(f"%{filters.q}%"))
    return await list_page(session, stmt, Shop.id, page)


async def create_shop(session: AsyncSession, data: ShopCreate) -> Shop:
    if await find_tenant(session, data.tenant_id) is None:
        raise Invalid("tenant_id", "no such tenant")
    shop = Shop(**data.model_dump(mode="json"))
    shop.tenant_id = data.tenant_id
    session.add(shop)
    await flush(session, f"a {data.platform} shop named '{data.name}' for this tenant")
    return shop


async def update_shop(session: AsyncSession, principal: Principal, shop_id: uuid.UUID, changes: ShopUpdate) -> Shop:
    shop = await get_shop(session, principal, shop_id)
    moved = changes.timezone is not None and changes.timezone != shop.timezone
    apply_changes(shop, changes)
    await flush(session, "shop")
    if moved:  # its local days are other days now
        await rebuild_day_frt(session, [shop.id])
    return shop


async def shops_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Shop | None]:
    return await by_ids(session, Shop, ids)


async def shops_of_tenants(session: AsyncSession, tenant_ids: list[uuid.UUID]) -> list[list[Shop]]:
    rows = (await session.execute(select(Shop).where(Shop.tenant_id.in_(set(tenant_ids))).order_by(Shop.id))).scalars()
    grouped: dict[uuid.UUID, list[Shop]] = {t: [] for t in tenant_ids}
    for shop in rows:
        grouped[shop.tenant_id].append(shop)
    return [grouped[t] for t in tenant_ids]
