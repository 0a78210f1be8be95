"""Conversation use cases: ingest a batch (REST, GraphQL, the CLI all come here)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

from service.conversations.ingest import CSV, NDJSON, IngestResult, ingest
from service.db import Database, Scope
from service.kit.errors import Problem
from tenants.auth import Principal

CONTENT_TYPES = {
    "application/x-ndjson": NDJSON, "application/ndjson": NDJSON, "application/jsonl": NDJSON,
    "application/json-lines": NDJSON, "text/csv": CSV,
}


class UnsupportedMediaType(Problem):
    status = 415
    type_suffix = "unsupported-media-type"


def media_type(content_type: str | None) -> str:
    kind = CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower())
    if kind is None:
        raise UnsupportedMediaType(
            f"send conversations as application/x-ndjson or text/csv (got {content_type or 'no Content-Type'})")
    return kind


async def ingest_batch(db: Database, principal: Principal, body: AsyncIterator[bytes], content_type: str | None
                       ) -> IngestResult:
    """One batch, one transaction: every good row kept, every bad one reported, retries idempotent."""
    kind = media_type(content_type)
    async with db.transaction(principal.scope) as session:
        return await ingest(session, body, kind, None if principal.is_staff else principal.tenant_id)


async def ingest_records(db: Database, principal: Principal, records: Iterable[dict]) -> IngestResult:
    """Small batches given as dicts (GraphQL): the same path, as NDJSON lines."""
    async def lines() -> AsyncIterator[bytes]:
        yield "\n".join(json.dumps(rec, default=str, ensure_ascii=False) for rec in records).encode()

    return await ingest_batch(db, principal, lines(), NDJSON)


async def ingest_as_system(db: Database, body: AsyncIterator[bytes], content_type: str) -> IngestResult:
    """The CLI and the demo loader: staff scope, no token."""
    async with db.transaction(Scope.system()) as session:
        return await ingest(session, body, media_type(content_type), None)
