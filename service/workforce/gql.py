"""GraphQL: sites and agents (staff only). Thin, over workforce.service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from service.kit.gql import input_dict, validated
from service.kit.roles import Allow, Role
from service.workforce import service
from service.workforce.models import Agent, AgentLevel, EmploymentType, Site
from service.workforce.schemas import AgentCreate, AgentFilter, AgentUpdate, SiteCreate, SiteUpdate
from tenants.gql import page_request

AgentLevelEnum = strawberry.enum(AgentLevel, name="AgentLevel")
EmploymentTypeEnum = strawberry.enum(EmploymentType, name="EmploymentType")

READ = Allow.of(Role.admin, Role.ops, Role.finance)
WRITE = Allow.of(Role.admin, Role.ops)


@strawberry.type(name="Site", description="A floor with seats.")
class SiteType:
    id: uuid.UUID
    name: str
    city: str
    seat_capacity: int
    timezone: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Site) -> SiteType:
        return cls(id=s.id, name=s.name, city=s.city, seat_capacity=s.seat_capacity, timezone=s.timezone,
                   created_at=s.created_at, updated_at=s.updated_at)


@strawberry.type(name="Agent", description="An employee answering chats.")
class AgentType:
    id: uuid.UUID
    site_id: uuid.UUID
    code: str
    name: str
    level: AgentLevelEnum
    skills: list[str]
    loaded_hourly_cost: Decimal
    max_concurrency: int
    employment_type: EmploymentTypeEnum
    hired_on: date
    left_on: date | None

    @strawberry.field(permission_classes=[READ])
    async def site(self, info: Info) -> SiteType:
        return SiteType.of(await info.context.loader("site_by_id", service.sites_by_ids).load(self.site_id))

    @classmethod
    def of(cls, a: Agent) -> AgentType:
        return cls(id=a.id, site_id=a.site_id, code=a.code, name=a.name, level=AgentLevel(a.level), skills=list(a.skills),
                   loaded_hourly_cost=a.loaded_hourly_cost, max_concurrency=a.max_concurrency,
                   employment_type=EmploymentType(a.employment_type), hired_on=a.hired_on, left_on=a.left_on)


@strawberry.type
class SitePage:
    items: list[SiteType]
    next_cursor: str | None


@strawberry.type
class AgentPage:
    items: list[AgentType]
    next_cursor: str | None


@strawberry.experimental.pydantic.input(model=SiteCreate, all_fields=True)
class SiteCreateInput:
    pass


@strawberry.experimental.pydantic.input(model=SiteUpdate, all_fields=True)
class SiteUpdateInput:
    pass


@strawberry.experimental.pydantic.input(model=AgentCreate, all_fields=True)
class AgentCreateInput:
    pass


@strawberry.experimental.pydantic.input(model=AgentUpdate, all_fields=True)
class AgentUpdateInput:
    pass


@strawberry.type
class WorkforceQuery:
    @strawberry.field(permission_classes=[READ])
    async def sites(self, info: Info, city: str | None = None, first: int = 50, after: str | None = None) -> SitePage:
        page = page_request(first, after)
        async with info.context.tx() as session:
            items, cursor = await service.list_sites(session, page, city)
        return SitePage(items=[SiteType.of(s) for s in items], next_cursor=cursor)

    @strawberry.field(permission_classes=[READ])
    async def agents(self, info: Info, site_id: uuid.UUID | None = None, level: AgentLevelEnum | None = None,
                     employment_type: EmploymentTypeEnum | None = None, active: bool | None = None,
                     q: str | None = None, first: int = 50, after: str | None = None) -> AgentPage:
        page = page_request(first, after)
        filters = AgentFilter(site_id=site_id, level=level, employment_type=employment_type, active=active, q=q)
        async with info.context.tx() as session:
            items, cursor = await service.list_agents(session, filters, page)
        return AgentPage(items=[AgentType.of(a) for a in items], next_cursor=cursor)


@strawberry.type
class WorkforceMutation:
    @strawberry.mutation(permission_classes=[WRITE])
    async def create_site(self, info: Info, input: SiteCreateInput) -> SiteType:
        data = validated(SiteCreate, input_dict(input))
        async with info.context.tx() as session:
            return SiteType.of(await service.create_site(session, data))

    @strawberry.mutation(permission_classes=[WRITE])
    async def update_site(self, info: Info, id: uuid.UUID, input: SiteUpdateInput) -> SiteType:
        data = validated(SiteUpdate, input_dict(input))
        async with info.context.tx() as session:
            return SiteType.of(await service.update_site(session, id, data))

    @strawberry.mutation(permission_classes=[WRITE])
    async def create_agent(self, info: Info, input: AgentCreateInput) -> AgentType:
        data = validated(AgentCreate, input_dict(input))
        async with info.context.tx() as session:
            return AgentType.of(await service.create_agent(session, data))

    @strawberry.mutation(permission_classes=[WRITE])
    async def update_agent(self, info: Info, id: uuid.UUID, input: AgentUpdateInput) -> AgentType:
        data = validated(AgentUpdate, input_dict(input))
        async with info.context.tx() as session:
            return AgentType.of(await service.update_agent(session, id, data))
