"""GraphQL: shops, each with its tenant through a DataLoader. Thin, over shops.service."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from service.kit.gql import input_dict, validated
from service.kit.roles import Allow, Role
from service.shops import service
from service.shops.models import Platform, Shop, ShopStatus
from service.shops.schemas import ShopCreate, ShopFilter, ShopUpdate
from service.sla import gql as sla_gql
from tenants.gql import TenantType, page_request
from tenants.service import tenants_by_ids

PlatformEnum = strawberry.enum(Platform, name="Platform")
ShopStatusEnum = strawberry.enum(ShopStatus, name="ShopStatus")

READ = Allow.of(Role.admin, Role.ops, Role.finance, Role.client)
WRITE = Allow.of(Role.admin, Role.ops)


@strawberry.type(name="Shop", description="A brand's store on one platform.")
class ShopType:
    id: uuid.UUID
    tenant_id: uuid.UUID
    platform: PlatformEnum
    name: str
    timezone: str
    category: str | None
    status: ShopStatusEnum
    created_at: datetime
    updated_at: datetime

    @strawberry.field(permission_classes=[READ])
    async def tenant(self, info: Info) -> TenantType:
        tenant = await info.context.loader("tenant_by_id", tenants_by_ids).load(self.tenant_id)
        return TenantType.of(tenant)

    # SLA fields: resolvers, roles and batching live in service/sla/gql.py.
    sla = sla_gql.shop_sla
    breaches = sla_gql.shop_breaches
    sla_policy = sla_gql.shop_sla_policy

    @classmethod
    def of(cls, s: Shop) -> ShopType:
        return cls(id=s.id, tenant_id=s.tenant_id, platform=Platform(s.platform), name=s.name, timezone=s.timezone,
                   category=s.category, status=ShopStatus(s.status), created_at=s.created_at, updated_at=s.updated_at)


@strawberry.type
class ShopPage:
    items: list[ShopType]
    next_cursor: str | None


@strawberry.experimental.pydantic.input(model=ShopCreate, all_fields=True)
class ShopCreateInput:
    pass


@strawberry.experimental.pydantic.input(model=ShopUpdate, all_fields=True)
class ShopUpdateInput:
    pass


@strawberry.type
class ShopQuery:
    @strawberry.field(permission_classes=[READ], description="Shops you may see (a client: its own).")
    async def shops(self, info: Info, tenant: str | None = None, platform: PlatformEnum | None = None,
                    status: ShopStatusEnum | None = None, q: str | None = None, first: int = 50,
                    after: str | None = None) -> ShopPage:
        page = page_request(first, after)
        filters = ShopFilter(tenant=tenant, platform=platform, status=status, q=q)
        async with info.context.tx() as session:
            items, cursor = await service.list_shops(session, info.context.principal, filters, page)
        return ShopPage(items=[ShopType.of(s) for s in items], next_cursor=cursor)

    @strawberry.field(permission_classes=[READ])
    async def shop(self, info: Info, id: uuid.UUID) -> ShopType:
        async with info.context.tx() as session:
            return ShopType.of(await service.get_shop(session, info.context.principal, id))


@strawberry.type
class ShopMutation:
    @strawberry.mutation(permission_classes=[WRITE])
    async def create_shop(self, info: Info, input: ShopCreateInput) -> ShopType:
        data = validated(ShopCreate, input_dict(input))
        async with info.context.tx() as session:
            return ShopType.of(await service.create_shop(session, data))

    @strawberry.mutation(permission_classes=[WRITE])
    async def update_shop(self, info: Info, id: uuid.UUID, input: ShopUpdateInput) -> ShopType:
        data = validated(ShopUpdate, input_dict(input))
        async with info.context.tx() as session:
            return ShopType.of(await service.update_shop(session, info.context.principal, id, data))
