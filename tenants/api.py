"""REST: /v1/tenants. Thin, over tenants.service; roles in tenants.auth."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.kit.access import Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.rest import Resource, object_routes
from tenants import auth, service
from tenants.models import TenantStatus, Tier
from tenants.schemas import TenantCreate, TenantFilter, TenantRead, TenantUpdate

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


@router.get("", response_model=Page[TenantRead], summary="List client brands", dependencies=[auth.read.rest])
async def list_tenants(session: Session, page: Annotated[PageRequest, Depends(page_params)],
                       tier: Tier | None = None, status: TenantStatus | None = None,
                       q: Annotated[str | None, Query(max_length=100,
                                                      description="Name or slug contains")] = None):
    return await service.list_tenants(session, TenantFilter(tier=tier, status=status, q=q), page)


object_routes(router, Resource("", "tenant", str, "tenant", TenantRead, TenantCreate, TenantUpdate),
              service, auth,
              ("One client brand, by id or slug (a client: its own)", "Onboard a client brand",
               "Change a client brand"))
