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


gql.create_input(SiteCreate, name="SiteCreateInput")
gql.update_input(SiteUpdate, name="SiteUpdateInput")
gql.create_input(AgentCreate, name="AgentCreateInput")
gql.update_input(AgentUpdate, name="AgentUpdateInput")


@strawberry.type
class WorkforceQuery:
    @gql.field(auth.read)
    async def sites(self, session: Session, city: str | None = None, first: int = 50,
                    after: str | None = None) -> gql.Page[SiteType]:
        return await service.list_sites(session, gql.page_request(first, after), city)

    @gql.field(auth.read)
    async def agents(self, session: Session, site_id: uuid.UUID | None = None,
                     level: AgentLevel | None = None, employment_type: EmploymentType | None = None,
                     active: bool | None = None, q: str | None = None, first: int = 50,
                     after: str | None = None) -> gql.Page[AgentType]:
        filters = AgentFilter(site_id=site_id, level=level, employment_type=employment_type, active=active,
                              q=q)
        return await service.list_agents(session, filters, gql.page_request(first, after))


SiteMutations = gql.object_mutations("site", SiteType, SiteCreate, SiteUpdate, uuid.UUID, service, auth)
AgentMutations = gql.object_mutations("agent", AgentType, AgentCreate, AgentUpdate, uuid.UUID, service, auth)
