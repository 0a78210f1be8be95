"""GraphQL: tenants and `me`. Thin, over tenants.service."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from service.kit.gql import input_dict, validated
from service.kit.pagination import PageRequest, check_limit, decode_cursor
from service.kit.roles import Allow, Role
from tenants import service
from tenants.models import Tenant, TenantStatus, Tier
from tenants.schemas import TenantCreate, TenantFilter, TenantUpdate

TierEnum = strawberry.enum(Tier, name="Tier")
TenantStatusEnum = strawberry.enum(TenantStatus, name="TenantStatus")
RoleEnum = strawberry.enum(Role, name="Role")

STAFF_READ = Allow.of(Role.admin, Role.ops, Role.finance)
STAFF_WRITE = Allow.of(Role.admin, Role.ops)
EVERYONE = Allow.of(*Role)


@strawberry.type(name="Tenant", description="A client brand.")
class TenantType:
    id: uuid.UUID
    slug: str
    name: str
    tier: TierEnum
    priority_weight: float
    status: TenantStatusEnum
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: Tenant) -> TenantType:
        return cls(id=t.id, slug=t.slug, name=t.name, tier=Tier(t.tier), priority_weight=t.priority_weight,
                   status=TenantStatus(t.status), created_at=t.created_at, updated_at=t.updated_at)


@strawberry.type
class TenantPage:
    items: list[TenantType]
    next_cursor: str | None


@strawberry.type(description="Who the bearer token says you are.")
class Me:
    subject: str
    role: RoleEnum
    tenant_id: uuid.UUID | None

    @strawberry.field(description="A client's own brand; null for staff.")
    async def tenant(self, info: Info) -> TenantType | None:
        if self.tenant_id is None:
            return None
        tenant = await info.context.loader("tenant_by_id", service.tenants_by_ids).load(self.tenant_id)
        return TenantType.of(tenant) if tenant else None


def page_request(first: int, after: str | None) -> PageRequest:
    return PageRequest(limit=check_limit(first), after=decode_cursor(after) if after else None)


@strawberry.experimental.pydantic.input(model=TenantCreate, all_fields=True)
class TenantCreateInput:
    pass


@strawberry.experimental.pydantic.input(model=TenantUpdate, all_fields=True)
class TenantUpdateInput:
    pass


@strawberry.type
class TenantQuery:
    @strawberry.field(permission_classes=[EVERYONE])
    async def me(self, info: Info) -> Me:
        p = info.context.principal
        async with info.context.tx() as session:
            await session.connection()  # begins the transaction: refuses a revoked token, like every field
        return Me(subject=p.subject, role=p.role, tenant_id=p.tenant_id)

    @strawberry.field(permission_classes=[STAFF_READ])
    async def tenants(self, info: Info, tier: TierEnum | None = None, status: TenantStatusEnum | None = None,
                      q: str | None = None, first: int = 50, after: str | None = None) -> TenantPage:
        page = page_request(first, after)
        async with info.context.tx() as session:
            items, cursor = await service.list_tenants(session, TenantFilter(tier=tier, status=status, q=q), page)
        return TenantPage(items=[TenantType.of(t) for t in items], next_cursor=cursor)

    @strawberry.field(permission_classes=[STAFF_READ])
    async def tenant(self, info: Info, slug: str) -> TenantType:
        async with info.context.tx() as session:
            return TenantType.of(await service.get_tenant(session, slug))


@strawberry.type
class TenantMutation:
    @strawberry.mutation(permission_classes=[STAFF_WRITE])
    async def create_tenant(self, info: Info, input: TenantCreateInput) -> TenantType:
        data = validated(TenantCreate, input_dict(input))
        async with info.context.tx() as session:
            return TenantType.of(await service.create_tenant(session, data))

    @strawberry.mutation(permission_classes=[STAFF_WRITE])
    async def update_tenant(self, info: Info, slug: str, input: TenantUpdateInput) -> TenantType:
        data = validated(TenantUpdate, input_dict(input))
        async with info.context.tx() as session:
            return TenantType.of(await service.update_tenant(session, slug, data))
