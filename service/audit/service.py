"""Audit use cases: the entries a caller may read, newest first, filtered (a client: its brand's only,
by the query and by RLS)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.schemas import AuditEntryRead, AuditFilter
from service.kit.audit import NIL, AuditEntry
from service.kit.errors import Invalid
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest, page_of

_TENANTS = "SELECT id FROM tenants WHERE id::text = :key OR slug = :key"


async def list_entries(session: AsyncSession, caller: Principal, filters: AuditFilter, page: PageRequest
                       ) -> Paged[AuditEntryRead]:
    stmt: Any = select(AuditEntry)
    if not caller.is_staff:
        stmt = stmt.where(AuditEntry.tenant_id == caller.tenant_id)
    if filters.tenant:
        found = (await session.execute(text(_TENANTS), {"key": filters.tenant})).scalar()
        if found is None:
            return Paged([])
        stmt = stmt.where(AuditEntry.tenant_id == found)
    for name in ("actor", "action", "object_type", "object_id", "request_id"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(AuditEntry, name) == value)
    if filters.since and filters.until and filters.until <= filters.since:
        raise Invalid("until", "must be after since")
    if filters.since:
        stmt = stmt.where(AuditEntry.at >= filters.since)
    if filters.until:
        stmt = stmt.where(AuditEntry.at < filters.until)
    after = page.after(uuid.UUID, uuid.UUID)
    if after is not None:
        stmt = stmt.where(tuple_(AuditEntry.id, AuditEntry.tenant_id) < tuple_(*after))
    rows = (await session.execute(stmt.order_by(AuditEntry.id.desc(), AuditEntry.tenant_id.desc())
                                  .limit(page.limit + 1))).scalars().all()
    reads = [AuditEntryRead.model_validate({**row.model_dump(), "tenant_id": None if row.tenant_id == NIL
                                            else row.tenant_id}) for row in rows]
    return page_of(reads, page, key=lambda e: (e.id, e.tenant_id or NIL))
