"""REST: /v1/shops. Thin, over shops.service; roles in shops.auth."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from service.kit.access import Caller, Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.routing import Router
from service.kit.types import Text
from service.shops import auth, service
from service.shops.models import Platform, ShopStatus
from service.shops.schemas import ShopCreate, ShopFilter, ShopRead, ShopUpdate

router = Router(prefix="/v1/shops", tags=["shops"])


@router.get("", response_model=Page[ShopRead], summary="List shops (a client sees its own)",
            dependencies=[auth.read.rest])
async def list_shops(session: Session, caller: Caller, page: Annotated[PageRequest, Depends(page_params)],
                     tenant: Annotated[Text | None, Query(max_length=100,
                                                          description="Tenant id or slug")] = None,
                     platform: Platform | None = None, status: ShopStatus | None = None,
                     q: Annotated[Text | None, Query(max_length=100, description="Name contains")] = None):
    filters = ShopFilter(tenant=tenant, platform=platform, status=status, q=q)
    return await service.list_shops(session, caller, filters, page)


@router.get("/{shop_id}", response_model=ShopRead, summary="One shop", dependencies=[auth.read.rest])
async def get_shop(session: Session, caller: Caller, shop_id: uuid.UUID):
    return await service.get_shop(session, caller, shop_id)


@router.post("", response_model=ShopRead, status_code=201, summary="Add a shop to a client brand",
             dependencies=[auth.write.rest])
async def create_shop(session: Session, body: ShopCreate):
    return await service.create_shop(session, body)


@router.patch("/{shop_id}", response_model=ShopRead, summary="Change a shop", dependencies=[auth.write.rest])
async def update_shop(session: Session, caller: Caller, shop_id: uuid.UUID, body: ShopUpdate):
    return await service.update_shop(session, caller, shop_id, body)
