"""GraphQL: the audit log. Thin, over audit.service; shapes from audit.schemas, roles from audit.auth."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from service.audit import auth, service
from service.audit.schemas import AuditEntryRead, AuditFilter
from service.kit import gql
from service.kit.access import Caller, Session


@gql.read_type(AuditEntryRead, name="AuditEntry")
class AuditEntryType:
    before: JSON | None
    after: JSON | None


@strawberry.type
class AuditQuery:
    @gql.field(auth.read, description="The audit log, newest first (a brand's user: its brand's entries).")
    async def audit_log(self, session: Session, caller: Caller, tenant: str | None = None,
                        actor: str | None = None, action: str | None = None, object_type: str | None = None,
                        object_id: str | None = None, request_id: str | None = None,
                        since: datetime | None = None, until: datetime | None = None, first: int = 50,
                        after: str | None = None) -> gql.Page[AuditEntryType]:
        filters = gql.validated(AuditFilter, {"tenant": tenant, "actor": actor, "action": action,
                                              "object_type": object_type, "object_id": object_id,
                                              "request_id": request_id, "since": since, "until": until})
        found = await service.list_entries(session, caller, filters, gql.page_request(first, after))
        return gql.page(AuditEntryType, found)
