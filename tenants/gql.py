"""GraphQL: tenants and `me`. Thin, over tenants.service; shapes from tenants.schemas, roles from
tenants.auth."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from service.kit import gql
from service.kit.access import Caller, Session
from service.kit.identity import Role
from tenants import auth, service
from tenants.models import TenantStatus, Tier
from tenants.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    TenantCreate,
    TenantFilter,
    TenantRead,
    TenantUpdate,
    TokenRead,
    TokenStatus,
)

strawberry.enum(Tier, name="Tier")
strawberry.enum(TokenStatus, name="TokenStatus")
strawberry.enum(TenantStatus, name="TenantStatus")
strawberry.enum(Role, name="Role")


@gql.read_type(TenantRead, name="Tenant", description="A client brand.")
class TenantType: ...


@gql.read_type(TokenRead, name="Token")
class TokenType: ...


@gql.read_type(ApiKeyRead, name="ApiKey")
class ApiKeyType: ...


@gql.read_type(ApiKeyCreated, name="ApiKeyCreated")
class ApiKeyCreatedType: ...


ApiKeyCreateInput = gql.create_input(ApiKeyCreate, name="ApiKeyCreateInput")
TenantCreateInput = gql.create_input(TenantCreate, name="TenantCreateInput")
TenantUpdateInput = gql.update_input(TenantUpdate, name="TenantUpdateInput")


@strawberry.type(description="Who the bearer token says you are.")
class Me:
    subject: str
    role: Role
    tenant_id: uuid.UUID | None

    @strawberry.field(description="A client's own brand; null for staff.")
    async def tenant(self, info: Info) -> TenantType | None:
        if self.tenant_id is None:
            return None
        tenant = await info.context.loader("tenant_by_id", service.tenants_by_ids).load(self.tenant_id)
        return gql.of(TenantType, tenant) if tenant else None


@strawberry.type
class TenantQuery:
    @gql.field(auth.me)
    async def me(self, caller: Caller, session: Session) -> Me:
        # The session's first round trip has refused a revoked token, as on every field.
        return Me(subject=caller.subject, role=caller.role, tenant_id=caller.tenant_id)

    @gql.field(auth.read)
    async def tenants(self, session: Session, tier: Tier | None = None, status: TenantStatus | None = None,
                      q: str | None = None, first: int = 50,
                      after: str | None = None) -> gql.Page[TenantType]:
        found = await service.list_tenants(session, TenantFilter(tier=tier, status=status, q=q),
                                           gql.page_request(first, after))
        return gql.page(TenantType, found)

    @gql.field(auth.one, description="One brand by slug or id (a client: its own).")
    async def tenant(self, session: Session, caller: Caller, slug: str) -> TenantType:
        return gql.of(TenantType, await service.read_tenant(session, caller, slug))

    @gql.field(auth.tokens, description="Tokens the built-in issuer signed, newest first (admins).")
    async def tokens(self, session: Session, first: int = 50,
                     after: str | None = None) -> gql.Page[TokenType]:
        return gql.page(TokenType, await service.list_tokens(session, gql.page_request(first, after)))

    @gql.field(auth.keys, description="API keys with their prefix and last use (a brand's user: its own).")
    async def api_keys(self, session: Session, caller: Caller, first: int = 50,
                       after: str | None = None) -> gql.Page[ApiKeyType]:
        found = await service.list_api_keys(session, caller, gql.page_request(first, after))
        return gql.page(ApiKeyType, found)


@strawberry.type
class TenantMutation:
    @gql.mutation(auth.write)
    async def create_tenant(self, session: Session, input: TenantCreateInput) -> TenantType:
        return gql.of(TenantType, await service.create_tenant(session, gql.validated(TenantCreate, input,
                                                                                       ["input"])))

    @gql.mutation(auth.write)
    async def update_tenant(self, session: Session, slug: str, input: TenantUpdateInput) -> TenantType:
        changes = gql.validated(TenantUpdate, input, ["input"])
        return gql.of(TenantType, await service.update_tenant(session, slug, changes))

    @gql.mutation(auth.tokens, description="Refuse a token from now on.")
    async def revoke_token(self, session: Session, jti: str) -> TokenType:
        await service.revoke_token(session, jti, "revoked by an admin over the API")
        return gql.of(TokenType, await service.get_token(session, jti))

    @gql.mutation(auth.keys, description="Create an API key; `key` is shown this once.")
    async def create_api_key(self, session: Session, caller: Caller, input: ApiKeyCreateInput
                             ) -> ApiKeyCreatedType:
        data = gql.validated(ApiKeyCreate, input, ["input"])
        return gql.of(ApiKeyCreatedType, await service.create_api_key(session, caller, data))

    @gql.mutation(auth.keys, description="Revoke an API key at once.")
    async def revoke_api_key(self, session: Session, caller: Caller, id: uuid.UUID) -> ApiKeyType:
        return gql.of(ApiKeyType, await service.revoke_api_key(session, caller, id))
