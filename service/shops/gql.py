"""GraphQL: shops, each with its tenant through a DataLoader. Thin, over shops.service; shapes from
shops.schemas, roles from shops.auth. (The SLA fields of Shop are the SLA domain's: service/sla/gql.py
declares them and service/schema.py adds them to this type.)"""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from service.kit import gql
from service.kit.access import Caller, Session
from service.shops import auth, service
from service.shops.models import Platform, ShopStatus
from service.shops.schemas import ShopCreate, ShopFilter, ShopRead, ShopUpdate
from tenants.gql import TenantType
from tenants.service import tenants_by_ids

strawberry.enum(Platform, name="Platform")
strawberry.enum(ShopStatus, name="ShopStatus")


@gql.read_type(ShopRead, name="Shop")
class ShopType:
    @gql.field(auth.read)
    async def tenant(self, info: Info) -> TenantType:
        return gql.of(TenantType,
                      await info.context.loader("tenant_by_id", tenants_by_ids).load(self.tenant_id))


ShopCreateInput = gql.create_input(ShopCreate, name="ShopCreateInput")
ShopUpdateInput = gql.update_input(ShopUpdate, name="ShopUpdateInput")


@strawberry.type
class ShopQuery:
    @gql.field(auth.read, description="Shops you may see (a client: its own).")
    async def shops(self, session: Session, caller: Caller, tenant: str | None = None,
                    platform: Platform | None = None, status: ShopStatus | None = None, q: str | None = None,
                    first: int = 50, after: str | None = None) -> gql.Page[ShopType]:
        filters = ShopFilter(tenant=tenant, platform=platform, status=status, q=q)
        return gql.page(ShopType,
                        await service.list_shops(session, caller, filters, gql.page_request(first, after)))

    @gql.field(auth.read)
    async def shop(self, session: Session, caller: Caller, id: uuid.UUID) -> ShopType:
        return gql.of(ShopType, await service.get_shop(session, caller, id))


@strawberry.type
class ShopMutation:
    @gql.mutation(auth.write)
    async def create_shop(self, session: Session, input: ShopCreateInput) -> ShopType:
        return gql.of(ShopType,
                      await service.create_shop(session, gql.validated(ShopCreate, input, ["input"])))

    @gql.mutation(auth.write)
    async def update_shop(self, session: Session, caller: Caller, id: uuid.UUID,
                          input: ShopUpdateInput) -> ShopType:
        changes = gql.validated(ShopUpdate, input, ["input"])
        return gql.of(ShopType, await service.update_shop(session, caller, id, changes))
