"""What the audit log answers: one entry per write, and the filters of a listing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.kit.types import Text


class AuditEntryRead(BaseModel):
    """One write: who (subject, role, token id or API key), what (action, object type and id), before and
    after, when, and the request it came in."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    tenant_id: uuid.UUID | None = Field(description="The brand the object belongs to (null: the "
                                        "outsourcer's own)")
    request_id: str | None
    actor: str
    actor_role: str | None
    actor_token: str | None = Field(description="The token id (jti) the actor authenticated with")
    actor_key: uuid.UUID | None = Field(description="The API key the actor authenticated with")
    action: str = Field(description="create, update, delete, ingest, ...")
    object_type: str = Field(description="The table, e.g. shops, sla_policies, conversations")
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditFilter(BaseModel):
    tenant: Text | None = Field(default=None, max_length=100)
    actor: Text | None = Field(default=None, max_length=200)
    action: Text | None = Field(default=None, max_length=32)
    object_type: Text | None = Field(default=None, max_length=64)
    object_id: Text | None = Field(default=None, max_length=200)
    request_id: Text | None = Field(default=None, max_length=128)
    since: datetime | None = None
    until: datetime | None = None
