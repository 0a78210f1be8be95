"""REST: /v1/tenants. Thin, over tenants.service; roles in tenants.auth."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.kit.access import Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.types import TenantKey, Text
from tenants import auth, service
from tenants.models import TenantStatus, Tier
from tenants.schemas import TenantCreate, TenantFilter, TenantRead, TenantUpdate

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


@router.get("", response_model=Page[TenantRead], summary="List client brands", dependencies=[auth.read.rest])
async def list_tenants(session: Session, page: Annotated[PageRequest, Depends(page_params)],
                       tier: Tier | None = None, status: TenantStatus | None = None,
                       q: Annotated[Text | None, Query(max_length=100,
                                                      description="Name or slug contains")] = None):
    return await service.list_tenants(session, TenantFilter(tier=tier, status=status, q=q), page)


@router.get("/{tenant}", response_model=TenantRead, summary="One client brand, by id or slug",
            dependencies=[auth.read.rest])
async def get_tenant(session: Session, tenant: TenantKey):
    return await service.get_tenant(session, tenant)


@router.post("", response_model=TenantRead, status_code=201, summary="Onboard a client brand",
             dependencies=[auth.write.rest])
async def create_tenant(session: Session, body: TenantCreate):
    return await service.create_tenant(session, body)


@router.patch("/{tenant}", response_model=TenantRead, summary="Change a client brand",
              dependencies=[auth.write.rest])
async def update_tenant(session: Session, tenant: TenantKey, body: TenantUpdate):
    return await service.update_tenant(session, tenant, body)
