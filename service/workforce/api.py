"""REST: /v1/sites and /v1/agents. Staff read; ops and admins write."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.kit.pagination import Page, PageRequest, page_params
from service.kit.roles import Context, Role, allow
from service.workforce import service
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

read_roles = allow(Role.admin, Role.ops, Role.finance)
write_roles = allow(Role.admin, Role.ops)


@router.get("/sites", response_model=Page[SiteRead], summary="List sites")
async def list_sites(
    ctx: Annotated[Context, Depends(read_roles)],
    page: Annotated[PageRequest, Depends(page_params)],
    city: Annotated[str | None, Query(max_length=100)] = None,
):
    async with ctx.tx() as session:
        items, cursor = await service.list_sites(session, page, city)
        return Page[SiteRead](items=[SiteRead.model_validate(s) for s in items], next_cursor=cursor)


@router.get("/sites/{site_id}", response_model=SiteRead, summary="One site")
async def get_site(ctx: Annotated[Context, Depends(read_roles)], site_id: uuid.UUID):
    async with ctx.tx() as session:
        return SiteRead.model_validate(await service.get_site(session, site_id))


@router.post("/sites", response_model=SiteRead, status_code=201, summary="Open a site")
async def create_site(ctx: Annotated[Context, Depends(write_roles)], body: SiteCreate):
    async with ctx.tx() as session:
        return SiteRead.model_validate(await service.create_site(session, body))


@router.patch("/sites/{site_id}", response_model=SiteRead, summary="Change a site")
async def update_site(ctx: Annotated[Context, Depends(write_roles)], site_id: uuid.UUID, body: SiteUpdate):
    async with ctx.tx() as session:
        return SiteRead.model_validate(await service.update_site(session, site_id, body))


@router.get("/agents", response_model=Page[AgentRead], summary="List agents")
async def list_agents(
    ctx: Annotated[Context, Depends(read_roles)],
    page: Annotated[PageRequest, Depends(page_params)],
    site_id: uuid.UUID | None = None,
    level: AgentLevel | None = None,
    employment_type: EmploymentType | None = None,
    active: Annotated[bool | None, Query(description="Still employed (no left_on)")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name or code contains")] = None,
):
    filters = AgentFilter(site_id=site_id, level=level, employment_type=employment_type, active=active, q=q)
    async with ctx.tx() as session:
        items, cursor = await service.list_agents(session, filters, page)
        return Page[AgentRead](items=[AgentRead.model_validate(a) for a in items], next_cursor=cursor)


@router.get("/agents/{agent_id}", response_model=AgentRead, summary="One agent")
async def get_agent(ctx: Annotated[Context, Depends(read_roles)], agent_id: uuid.UUID):
    async with ctx.tx() as session:
        return AgentRead.model_validate(await service.get_agent(session, agent_id))


@router.post("/agents", response_model=AgentRead, status_code=201, summary="Hire an agent")
async def create_agent(ctx: Annotated[Context, Depends(write_roles)], body: AgentCreate):
    async with ctx.tx() as session:
        return AgentRead.model_validate(await service.create_agent(session, body))


@router.patch("/agents/{agent_id}", response_model=AgentRead, summary="Change an agent")
async def update_agent(ctx: Annotated[Context, Depends(write_roles)], agent_id: uuid.UUID, body: AgentUpdate):
    async with ctx.tx() as session:
        return AgentRead.model_validate(await service.update_agent(session, agent_id, body))
