"""The audit log: every write of every domain records who, what, before and after, when and the request id,
in the write's own transaction. Built once, here, so a domain added later gets it for free:

- a flush hook records each ORM insert, update and delete (every SQLModel table but the log itself; a model
  may name the column holding its tenant with `__audit_tenant__`, or set it to None to keep its entries the
  outsourcer's own (staff read them, the brand does not: a contract's prices, say), and leave columns out
  with `__audit_exclude__`);
- `record()` is the explicit entry of a set-based write (an ingest batch, a plan), which the ORM never sees.

The table is tenant-owned (the nil uuid for the outsourcer's own objects: sites, agents, promotions) and
append-only in the database: the app role may only read and insert, and a trigger refuses any UPDATE,
DELETE or TRUNCATE, the owner's included.
"""

from __future__ import annotations

import enum
import math
import uuid
from contextvars import ContextVar
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import DateTime, Index, event, func, insert, inspect
from sqlalchemy.dialects.postgresql import JSONB, Range
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction
from sqlmodel import Field, SQLModel

from service.kit.identity import Scope
from service.kit.models import new_id

NIL = uuid.UUID(int=0)  # the tenant of the outsourcer's own objects
# The X-Request-ID of the request being served (set by the HTTP middleware; None for the CLI).
current_request_id: ContextVar[str | None] = ContextVar("seatwise_request_id", default=None)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object_type_object_id", "object_type", "object_id"),)

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    at: datetime = Field(sa_type=DateTime(timezone=True), index=True,
                         sa_column_kwargs={"server_default": func.now(), "nullable": False})
    request_id: str | None = Field(default=None, max_length=128)
    actor: str = Field(max_length=200)
    actor_role: str | None = Field(default=None, max_length=16)
    actor_token: str | None = Field(default=None, max_length=64)
    actor_key: uuid.UUID | None = None
    action: str = Field(max_length=32)
    object_type: str = Field(max_length=64)
    object_id: str | None = Field(default=None, max_length=200)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONB)


_TABLE = AuditEntry.__table__  # type: ignore[attr-defined]


def plain(value: Any) -> Any:
    """VALUE as JSON: ids and times as strings, amounts as strings (exact), enums by value."""
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Range | asyncpg.Range):  # a shift's time range, say
        bounds = getattr(value, "bounds", None) or \
            f"{'[' if value.lower_inc else '('}{']' if value.upper_inc else ')'}"
        return {"lower": plain(value.lower), "upper": plain(value.upper), "bounds": bounds}
    return value


def entry(scope: Scope | None, request_id: str | None, *, action: str, object_type: str,
          object_id: Any = None, tenant_id: uuid.UUID | None = None, before: dict[str, Any] | None = None,
          after: dict[str, Any] | None = None) -> dict[str, Any]:
    """One row of the log: the actor from SCOPE (None: the operator's own tools)."""
    principal = scope.principal if scope is not None else None
    return {
        "tenant_id": tenant_id or NIL, "id": new_id(), "request_id": request_id,
        "actor": principal.subject if principal else "seatwise-operator",
        "actor_role": principal.role.value if principal else None,
        "actor_token": (principal.jti or None) if principal else None,
        "actor_key": principal.key_id if principal else None,
        "action": action, "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "before": plain(before) if before is not None else None,
        "after": plain(after) if after is not None else None,
    }


async def record(session: AsyncSession, *, action: str, object_type: str, object_id: Any = None,
                 tenant_id: uuid.UUID | None = None, before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None) -> None:
    """The explicit entry of a set-based write, in the session's transaction."""
    await record_each(session, [{"action": action, "object_type": object_type, "object_id": object_id,
                                 "tenant_id": tenant_id, "before": before, "after": after}])


async def record_each(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Several explicit entries (each with record()'s keyword arguments) in one statement: a set-based write
    of many objects, each on record (a month's statements finalized, say)."""
    scope, request_id = session.info.get("scope"), session.info.get("request_id")
    if entries:
        await session.execute(insert(_TABLE), [entry(scope, request_id, **e) for e in entries])


def _audited(obj: Any) -> bool:
    return isinstance(obj, SQLModel) and not isinstance(obj, AuditEntry) and hasattr(obj, "__table__")


def _columns(obj: Any) -> list[str]:
    skip: frozenset[str] = getattr(type(obj), "__audit_exclude__", frozenset())
    return [c.key for c in inspect(type(obj)).column_attrs if c.key not in skip]


def _identity(obj: Any) -> str | None:
    # From the primary-key attributes, not the identity map: a new row has no identity until the flush ends.
    key = inspect(type(obj)).primary_key_from_instance(obj)
    if not key or any(k is None for k in key):
        return None
    return str(key[0]) if len(key) == 1 else ",".join(str(k) for k in key)


def _tenant(obj: Any) -> uuid.UUID | None:
    column = getattr(type(obj), "__audit_tenant__", "tenant_id")
    value = getattr(obj, column, None) if column else None
    return value if isinstance(value, uuid.UUID) else None


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before, after = {}, {}
    for name in _columns(obj):
        history = state.attrs[name].history
        if history.has_changes():
            before[name] = history.deleted[0] if history.deleted else None
            after[name] = history.added[0] if history.added else None
    return before, after


@event.listens_for(Session, "after_flush")
def _audit_flush(session: Session, flush_context: UOWTransaction) -> None:
    scope, request_id = session.info.get("scope"), session.info.get("request_id")
    rows = []
    for obj in session.new:
        if _audited(obj):
            rows.append(entry(scope, request_id, action="create", object_type=obj.__tablename__,
                              object_id=_identity(obj), tenant_id=_tenant(obj),
                              after={c: getattr(obj, c) for c in _columns(obj)}))
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                rows.append(entry(scope, request_id, action="update", object_type=obj.__tablename__,
                                  object_id=_identity(obj), tenant_id=_tenant(obj), before=before,
                                  after=after))
    for obj in session.deleted:
        if _audited(obj):
            rows.append(entry(scope, request_id, action="delete", object_type=obj.__tablename__,
                              object_id=_identity(obj), tenant_id=_tenant(obj),
                              before={c: getattr(obj, c) for c in _columns(obj)}))
    if rows:
        session.connection().execute(insert(_TABLE), rows)
