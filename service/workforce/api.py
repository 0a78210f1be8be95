"""REST: /v1/sites and /v1/agents. Thin, over workforce.service; roles in workforce.auth."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from service.kit.access import Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.rest import Resource, object_routes
from service.kit.routing import Router
from service.kit.types import Text
from service.workforce import auth, schemas, service
from service.workforce.models import AgentLevel, EmploymentType

router = Router(prefix="/v1", tags=["workforce"])


@router.get("/sites", response_model=Page[schemas.SiteRead], summary="List sites",
            dependencies=[auth.read.rest])
async def list_sites(session: Session, page: Annotated[PageRequest, Depends(page_params)],
                     city: Annotated[Text | None, Query(max_length=100)] = None):
    return await service.list_sites(session, page, city)


object_routes(router, Resource("/sites", "site_id", uuid.UUID, "site", schemas.SiteRead, schemas.SiteCreate,
                               schemas.SiteUpdate), service, auth,
              ("One site", "Open a site", "Change a site"))


@router.get("/agents", response_model=Page[schemas.AgentRead], summary="List agents",
            dependencies=[auth.read.rest])
async def list_agents(session: Session, page: Annotated[PageRequest, Depends(page_params)],
                      site_id: uuid.UUID | None = None, level: AgentLevel | None = None,
                      employment_type: EmploymentType | None = None,
                      active: Annotated[bool | None, Query(description="Still employed (no left_on)")] = None,
                      q: Annotated[Text | None, Query(max_length=100,
                                                     description="Name or code contains")] = None):
    filters = schemas.AgentFilter(site_id=site_id, level=level, employment_type=employment_type,
                                  active=active, q=q)
    return await service.list_agents(session, filters, page)


object_routes(router, Resource("/agents", "agent_id", uuid.UUID, "agent", schemas.AgentRead,
                               schemas.AgentCreate, schemas.AgentUpdate), service, auth,
              ("One agent", "Hire an agent", "Change an agent"))
