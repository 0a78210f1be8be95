"""GraphQL: sites and agents (staff only). Thin, over workforce.service; shapes from workforce.schemas,
roles from workforce.auth."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from service.kit import gql
from service.kit.access import Session
from service.workforce import auth, service
from service.workforce.models import AgentLevel, EmploymentType
from service.workforce.schemas import (
    AgentCreate,
    AgentFilter,
    AgentRead,
    AgentUpdate,
    SiteCreate,
    SiteRead,
    SiteUpdate,
)

strawberry.enum(AgentLevel, name="AgentLevel")
strawberry.enum(EmploymentType, name="EmploymentType")


@gql.read_type(SiteRead, name="Site")
class SiteType: ...


@gql.read_type(AgentRead, name="Agent")
class AgentType:
    @gql.field(auth.read)
    async def site(self, info: Info) -> SiteType:
        return gql.of(SiteType,
                      await info.context.loader("site_by_id", service.sites_by_ids).load(self.site_id))


SiteCreateInput = gql.create_input(SiteCreate, name="SiteCreateInput")
SiteUpdateInput = gql.update_input(SiteUpdate, name="SiteUpdateInput")
AgentCreateInput = gql.create_input(AgentCreate, name="AgentCreateInput")
AgentUpdateInput = gql.update_input(AgentUpdate, name="AgentUpdateInput")


@strawberry.type
class WorkforceQuery:
    @gql.field(auth.read)
    async def sites(self, session: Session, city: str | None = None, first: int = 50,
                    after: str | None = None) -> gql.Page[SiteType]:
        return gql.page(SiteType, await service.list_sites(session, gql.page_request(first, after), city))

    @gql.field(auth.read)
    async def agents(self, session: Session, site_id: uuid.UUID | None = None,
                     level: AgentLevel | None = None,
                     employment_type: EmploymentType | None = None, active: bool | None = None,
                     q: str | None = None, first: int = 50, after: str | None = None) -> gql.Page[AgentType]:
        filters = AgentFilter(site_id=site_id, level=level, employment_type=employment_type,
                              active=active, q=q)
        return gql.page(AgentType,
                        await service.list_agents(session, filters, gql.page_request(first, after)))


@strawberry.type
class WorkforceMutation:
    @gql.mutation(auth.write)
    async def create_site(self, session: Session, input: SiteCreateInput) -> SiteType:
        return gql.of(SiteType,
                      await service.create_site(session, gql.validated(SiteCreate, input, ["input"])))

    @gql.mutation(auth.write)
    async def update_site(self, session: Session, id: uuid.UUID, input: SiteUpdateInput) -> SiteType:
        return gql.of(SiteType,
                      await service.update_site(session, id, gql.validated(SiteUpdate, input, ["input"])))

    @gql.mutation(auth.write)
    async def create_agent(self, session: Session, input: AgentCreateInput) -> AgentType:
        return gql.of(AgentType,
                      await service.create_agent(session, gql.validated(AgentCreate, input, ["input"])))

    @gql.mutation(auth.write)
    async def update_agent(self, session: Session, id: uuid.UUID, input: AgentUpdateInput) -> AgentType:
        changes = gql.validated(AgentUpdate, input, ["input"])
        return gql.of(AgentType, await service.update_agent(session, id, changes))
