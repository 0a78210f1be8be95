"""REST: GET /v1/audit. Thin, over audit.service; roles in audit.auth."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from service.audit import auth, service
from service.audit.schemas import AuditEntryRead, AuditFilter
from service.kit.access import Caller, Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.routing import Router
from service.kit.types import Text

router = Router(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEntryRead], dependencies=[auth.read.rest],
            summary="The audit log, newest first (a brand's user: its brand's entries)")
async def list_entries(
    session: Session, caller: Caller, page: Annotated[PageRequest, Depends(page_params)],
    tenant: Annotated[Text | None, Query(max_length=100, description="Tenant id or slug")] = None,
    actor: Annotated[Text | None, Query(max_length=200, description="The actor's subject")] = None,
    action: Annotated[Text | None, Query(max_length=32)] = None,
    object_type: Annotated[Text | None, Query(max_length=64, description="e.g. shops")] = None,
    object_id: Annotated[Text | None, Query(max_length=200)] = None,
    request_id: Annotated[Text | None, Query(max_length=128, description="An X-Request-ID")] = None,
    since: Annotated[datetime | None, Query(description="Inclusive, with an offset")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive, with an offset")] = None,
):
    filters = AuditFilter(tenant=tenant, actor=actor, action=action, object_type=object_type,
                          object_id=object_id, request_id=request_id, since=since, until=until)
    return await service.list_entries(session, caller, filters, page)
