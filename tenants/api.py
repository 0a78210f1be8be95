"""REST: /v1/tenants. Thin, over tenants.service; roles in tenants.auth."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query

from service.kit.access import Caller, Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.rest import Resource, object_routes
from service.kit.routing import Router
from service.kit.types import TenantKey, Text
from tenants import auth, schemas, service
from tenants.models import TenantStatus, Tier
from tenants.schemas import TenantCreate, TenantFilter, TenantRead, TenantUpdate

router = Router(prefix="/v1/tenants", tags=["tenants"])


@router.get("", response_model=Page[TenantRead], summary="List client brands", dependencies=[auth.read.rest])
async def list_tenants(session: Session, page: Annotated[PageRequest, Depends(page_params)],
                       tier: Tier | None = None, status: TenantStatus | None = None,
                       q: Annotated[Text | None, Query(max_length=100,
                                                      description="Name or slug contains")] = None):
    return await service.list_tenants(session, TenantFilter(tier=tier, status=status, q=q), page)


object_routes(router, Resource("", "tenant", TenantKey, "tenant", TenantRead, TenantCreate, TenantUpdate),
              service, auth,
              ("One client brand, by id or slug (a client: its own)", "Onboard a client brand",
               "Change a client brand"))


tokens_router = Router(prefix="/v1/tokens", tags=["tokens"])


@tokens_router.get("", response_model=Page[schemas.TokenRead], dependencies=[auth.tokens.rest],
                   summary="Tokens the built-in issuer signed, newest first, with their status")
async def list_tokens(session: Session, page: Annotated[PageRequest, Depends(page_params)]):
    return await service.list_tokens(session, page)


@tokens_router.post("/{jti}/revoke", response_model=schemas.TokenRead, dependencies=[auth.tokens.rest],
                    summary="Refuse a token from now on (a leaked one, say)")
async def revoke_token(session: Session, jti: Annotated[Text, Path(max_length=64)]):
    await service.revoke_token(session, jti, "revoked by an admin over the API")
    return await service.get_token(session, jti)


keys_router = Router(prefix="/v1/api-keys", tags=["api keys"])


@keys_router.post("", response_model=schemas.ApiKeyCreated, status_code=201, dependencies=[auth.keys.rest],
                  summary="Create an API key (shown once); a brand's user: a client key of its own brand")
async def create_api_key(session: Session, caller: Caller, body: schemas.ApiKeyCreate):
    return await service.create_api_key(session, caller, body)


@keys_router.get("", response_model=Page[schemas.ApiKeyRead], dependencies=[auth.keys.rest],
                 summary="API keys with their prefix and last use (a brand's user: its own brand's)")
async def list_api_keys(session: Session, caller: Caller, page: Annotated[PageRequest, Depends(page_params)]):
    return await service.list_api_keys(session, caller, page)


@keys_router.post("/{key_id}/revoke", response_model=schemas.ApiKeyRead, dependencies=[auth.keys.rest],
                  summary="Revoke an API key at once")
async def revoke_api_key(session: Session, caller: Caller, key_id: uuid.UUID):
    return await service.revoke_api_key(session, caller, key_id)
