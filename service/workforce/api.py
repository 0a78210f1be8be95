"""REST: /v1/sites and /v1/agents. Thin, over workforce.service; roles in workforce.auth."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.kit.access import Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.types import Text
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

router = APIRouter(prefix="/v1", tags=["workforce"])


@router.get("/sites", response_model=Page[SiteRead], summary="List sites", dependencies=[auth.read.rest])
async def list_sites(session: Session, page: Annotated[PageRequest, Depends(page_params)],
                     city: Annotated[Text | None, Query(max_length=100)] = None):
    return await service.list_sites(session, page, city)


@router.get("/sites/{site_id}", response_model=SiteRead, summary="One site", dependencies=[auth.read.rest])
async def get_site(session: Session, site_id: uuid.UUID):
    return await service.get_site(session, site_id)


@router.post("/sites", response_model=SiteRead, status_code=201, summary="Open a site",
             dependencies=[auth.write.rest])
async def create_site(session: Session, body: SiteCreate):
    return await service.create_site(session, body)


@router.patch("/sites/{site_id}", response_model=SiteRead, summary="Change a site",
              dependencies=[auth.write.rest])
async def update_site(session: Session, site_id: uuid.UUID, body: SiteUpdate):
    return await service.update_site(session, site_id, body)


@router.get("/agents", response_model=Page[AgentRead], summary="List agents", dependencies=[auth.read.rest])
async def list_agents(session: Session, page: Annotated[PageRequest, Depends(page_params)],
                      site_id: uuid.UUID | None = None, level: AgentLevel | None = None,
                      employment_type: EmploymentType | None = None,
                      active: Annotated[bool | None, Query(description="Still employed (no left_on)")] = None,
                      q: Annotated[Text | None, Query(max_length=100,
                                                     description="Name or code contains")] = None):
    filters = AgentFilter(site_id=site_id, level=level, employment_type=employment_type, active=active, q=q)
    return await service.list_agents(session, filters, page)


@router.get("/agents/{agent_id}", response_model=AgentRead, summary="One agent",
            dependencies=[auth.read.rest])
async def get_agent(session: Session, agent_id: uuid.UUID):
    return await service.get_agent(session, agent_id)


@router.post("/agents", response_model=AgentRead, status_code=201, summary="Hire an agent",
             dependencies=[auth.write.rest])
async def create_agent(session: Session, body: AgentCreate):
    return await service.create_agent(session, body)


@router.patch("/agents/{agent_id}", response_model=AgentRead, summary="Change an agent",
              dependencies=[auth.write.rest])
async def update_agent(session: Session, agent_id: uuid.UUID, body: AgentUpdate):
    return await service.update_agent(session, agent_id, body)
