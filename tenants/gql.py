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
from tenants.schemas import TenantCreate, TenantFilter, TenantRead, TenantUpdate

strawberry.enum(Tier, name="Tier")
strawberry.enum(TenantStatus, name="TenantStatus")
strawberry.enum(Role, name="Role")


@gql.read_type(TenantRead, name="Tenant", description="A client brand.")
class TenantType: ...


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
