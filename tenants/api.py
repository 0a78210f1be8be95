"""REST: /v1/tenants. Staff read; admin and ops write."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.kit.pagination import Page, PageRequest, page_params
from service.kit.roles import Context, Role, allow
from tenants import service
from tenants.models import TenantStatus, Tier
from tenants.schemas import TenantCreate, TenantFilter, TenantRead, TenantUpdate

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])

read_roles = allow(Role.admin, Role.ops, Role.finance)
write_roles = allow(Role.admin, Role.ops)


@router.get("", response_model=Page[TenantRead], summary="List client brands")
async def list_tenants(
    ctx: Annotated[Context, Depends(read_roles)],
    page: Annotated[PageRequest, Depends(page_params)],
    tier: Tier | None = None,
    status: TenantStatus | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Name or slug contains")] = None,
):
    async with ctx.tx() as session:
        items, cursor = await service.list_tenants(session, TenantFilter(tier=tier, status=status, q=q), page)
        return Page[TenantRead](items=[TenantRead.model_validate(t) for t in items], next_cursor=cursor)


@router.get("/{tenant}", response_model=TenantRead, summary="One client brand, by id or slug")
async def get_tenant(ctx: Annotated[Context, Depends(read_roles)], tenant: str):
    async with ctx.tx() as session:
        return TenantRead.model_validate(await service.get_tenant(session, tenant))


@router.post("", response_model=TenantRead, status_code=201, summary="Onboard a client brand")
async def create_tenant(ctx: Annotated[Context, Depends(write_roles)], body: TenantCreate):
    async with ctx.tx() as session:
        return TenantRead.model_validate(await service.create_tenant(session, body))


@router.patch("/{tenant}", response_model=TenantRead, summary="Change a client brand")
async def update_tenant(ctx: Annotated[Context, Depends(write_roles)], tenant: str, body: TenantUpdate):
    async with ctx.tx() as session:
        return TenantRead.model_validate(await service.update_tenant(session, tenant, body))
