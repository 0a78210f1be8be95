"""Shop use cases. Queries name the tenant explicitly for clients; RLS is the safety net."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.conversations.day_rollup import rebuild_day_frt
from service.kit.crud import apply_changes, flush, list_page, one_or_404
from service.kit.errors import Invalid
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest
from service.shops.models import Shop
from service.shops.schemas import ShopCreate, ShopFilter, ShopUpdate
from tenants.service import find_tenant


def visible_shops(principal: Principal) -> Select[Any]:
    return shops_visible_to(principal.is_staff, principal.tenant_id)


def shops_visible_to(staff: bool, tenant_id: uuid.UUID | BindParameter[Any] | None) -> Select[Any]:
    """select(Shop) of what a caller sees: every shop (staff) or its brand's (a client). TENANT_ID may be a
    bindparam, for a statement built once and executed with parameters."""
    stmt = select(Shop)
    if not staff:
        stmt = stmt.where(Shop.tenant_id == tenant_id)
    return stmt


async def get_shop(session: AsyncSession, principal: Principal, shop_id: uuid.UUID) -> Shop:
    return await one_or_404(session, _visible_shop(principal.is_staff), "shop",
                            {"tenant_id": principal.tenant_id, "shop_id": shop_id})


@lru_cache(maxsize=2)
def _visible_shop(staff: bool) -> Select[Any]:
    """One shop the caller sees (parameters shop_id, and tenant_id for a client), built once: building it
    was a tenth of a request for a shop."""
    return shops_visible_to(staff, bindparam("tenant_id")).where(Shop.id == bindparam("shop_id"))


async def list_shops(session: AsyncSession, principal: Principal, filters: ShopFilter,
                     page: PageRequest) -> Paged[Shop]:
    stmt = visible_shops(principal)
    if filters.tenant:
        tenant = await find_tenant(session, filters.tenant)
        if tenant is None:  # unknown, or another brand's: the same empty answer
            return Paged([])
        stmt = stmt.where(Shop.tenant_id == tenant.id)
    stmt = stmt.filter_by(**filters.model_dump(include={"platform", "status"}, exclude_none=True))
    if filters.q:
        stmt = stmt.where(Shop.name.ilike(f"%{filters.q}%"))
    return await list_page(session, stmt, Shop.id, page)


async def create_shop(session: AsyncSession, data: ShopCreate) -> Shop:
    if (data.tenant is None) == (data.tenant_id is None):
        raise Invalid("tenant", "name the brand: tenant (its slug or id) or tenant_id, one of them")
    field, key = ("tenant", data.tenant) if data.tenant is not None else ("tenant_id", data.tenant_id)
    assert key is not None
    tenant = await find_tenant(session, key)
    if tenant is None:
        raise Invalid(field, "no such tenant")
    shop = Shop(**data.model_dump(mode="json", exclude={"tenant", "tenant_id"}), tenant_id=tenant.id)
    session.add(shop)
    await flush(session, f"a {data.platform} shop named '{data.name}' for this brand")
    await session.refresh(shop, ["tenant_slug"])
    return shop


async def update_shop(session: AsyncSession, principal: Principal, shop_id: uuid.UUID,
                      changes: ShopUpdate) -> Shop:
    shop = await get_shop(session, principal, shop_id)
    moved = changes.timezone is not None and changes.timezone != shop.timezone
    apply_changes(shop, changes)
    await flush(session, "shop")
    await session.refresh(shop, ["tenant_slug"])  # an UPDATE expires the column expressions of the row
    if moved:  # its local days are other days now
        await rebuild_day_frt(session, [shop.id])
    return shop
