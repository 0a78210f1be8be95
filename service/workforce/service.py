"""Sites and agents: the outsourcer's own people and floors (staff only, no tenant)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.crud import apply_changes, by_ids, flush, list_page, one_or_404
from service.kit.errors import Invalid
from service.kit.pagination import Paged, PageRequest
from service.workforce.models import Agent, Site
from service.workforce.schemas import AgentCreate, AgentFilter, AgentUpdate, SiteCreate, SiteUpdate


async def get_site(session: AsyncSession, site_id: uuid.UUID) -> Site:
    return await one_or_404(session, select(Site).where(Site.id == site_id), "site")


async def list_sites(session: AsyncSession, page: PageRequest, city: str | None = None) -> Paged[Site]:
    stmt = select(Site)
    if city:
        stmt = stmt.where(Site.city == city)
    return await list_page(session, stmt, Site.id, page)


async def create_site(session: AsyncSession, data: SiteCreate) -> Site:
    site = Site(**data.model_dump())
    session.add(site)
    await flush(session, f"site '{data.name}'")
    return site


async def update_site(session: AsyncSession, site_id: uuid.UUID, changes: SiteUpdate) -> Site:
    site = apply_changes(await get_site(session, site_id), changes)
    await flush(session, "site")
    return site


async def sites_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Site | None]:
    return await by_ids(session, Site, ids)


async def get_agent(session: AsyncSession, agent_id: uuid.UUID) -> Agent:
    return await one_or_404(session, select(Agent).where(Agent.id == agent_id), "agent")


async def list_agents(session: AsyncSession, filters: AgentFilter, page: PageRequest) -> Paged[Agent]:
    equal = filters.model_dump(include={"site_id", "level", "employment_type"}, exclude_none=True)
    stmt = select(Agent).filter_by(**equal)
    if filters.active is not None:
        stmt = stmt.where(Agent.left_on.is_(None) if filters.active else Agent.left_on.is_not(None))
    if filters.q:
        stmt = stmt.where(Agent.name.ilike(f"%{filters.q}%") | Agent.code.ilike(f"%{filters.q}%"))
    return await list_page(session, stmt, Agent.id, page)


async def _check_site(session: AsyncSession, site_id: uuid.UUID | None) -> None:
    if site_id is not None and await session.get(Site, site_id) is None:
        raise Invalid("site_id", "no such site")


async def create_agent(session: AsyncSession, data: AgentCreate) -> Agent:
    await _check_site(session, data.site_id)
    if data.left_on and data.left_on < data.hired_on:
        raise Invalid("left_on", "must not be before hired_on")
    agent = Agent(**data.model_dump())
    session.add(agent)
    await flush(session, f"agent '{data.code}'")
    return agent


async def create_agents(session: AsyncSession, data: list[AgentCreate]) -> list[Agent]:
    """Several agents in one flush (one batched INSERT; each audited as create_agent's): a loader's."""
    for site_id in {d.site_id for d in data}:
        await _check_site(session, site_id)
    for d in data:
        if d.left_on and d.left_on < d.hired_on:
            raise Invalid("left_on", f"must not be before hired_on (agent '{d.code}')")
    agents = [Agent(**d.model_dump()) for d in data]
    session.add_all(agents)
    await flush(session, "an agent")
    return agents


async def update_agent(session: AsyncSession, agent_id: uuid.UUID, changes: AgentUpdate) -> Agent:
    await _check_site(session, changes.site_id)
    agent = apply_changes(await get_agent(session, agent_id), changes)
    if agent.left_on and agent.left_on < agent.hired_on:
        raise Invalid("left_on", "must not be before hired_on")
    await flush(session, "agent")
    return agent
