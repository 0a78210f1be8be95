"""REST: /v1/shops. Everyone reads (clients their own shops); ops and admins write."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.kit.pagination import Page, PageRequest, page_params
from service.kit.roles import Context, Role, allow
from service.shops import service
from service.shops.models import Platform, ShopStatus
from service.shops.schemas import ShopCreate, ShopFilter, ShopRead, ShopUpdate

router = APIRouter(prefix="/v1/shops", tags=["shops"])

read_roles = allow(Role.admin, Role.ops, Role.finance, Role.client)
write_roles = allow(Role.admin, Role.ops)


@router.get("", response_model=Page[ShopRead], summary="List shops (a client sees its own)")
async def list_shops(
    ctx: Annotated[Context, Depends(read_roles)],
    page: Annotated[PageRequest, Depends(page_params)],
    tenant: Annotated[str | None, Query(description="Tenant id or slug")] = None,
    platform: Platform | None = None,
    status: ShopStatus | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
):
    filters = ShopFilter(tenant=tenant, platform=platform, status=status, q=q)
    async with ctx.tx() as session:
        items, cursor = await service.list_shops(session, ctx.principal, filters, page)
        return Page[ShopRead](items=[ShopRead.model_validate(s) for s in items], next_cursor=cursor)


@router.get("/{shop_id}", response_model=ShopRead, summary="One shop")
async def get_shop(ctx: Annotated[Context, Depends(read_roles)], shop_id: uuid.UUID):
    async with ctx.tx() as session:
        return ShopRead.model_validate(await service.get_shop(session, ctx.principal, shop_id))


@router.post("", response_model=ShopRead, status_code=201, summary="Add a shop to a client brand")
async def create_shop(ctx: Annotated[Context, Depends(write_roles)], body: ShopCreate):
    async with ctx.tx() as session:
        return ShopRead.model_validate(await service.create_shop(session, body))


@router.patch("/{shop_id}", response_model=ShopRead, summary="Change a shop")
async def update_shop(ctx: Annotated[Context, Depends(write_roles)], shop_id: uuid.UUID, body: ShopUpdate):
    async with ctx.tx() as session:
        return ShopRead.model_validate(await service.update_shop(session, ctx.principal, shop_id, body))
