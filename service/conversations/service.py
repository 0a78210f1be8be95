"""Conversation use cases: ingest a batch (REST, GraphQL and the CLI all come here), in the caller's
transaction: one batch, one transaction, every good row kept, every bad one reported, retries idempotent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.conversations import ingest as pipeline
from service.conversations.ingest import CSV, MAX_RECORDS, NDJSON, ingest
from service.conversations.schemas import IngestAnswer
from service.kit.errors import UnsupportedMediaType
from service.kit.identity import Principal

__all__ = ["MAX_RECORDS", "ingest_batch", "ingest_records", "ingest_staged", "media_type"]

CONTENT_TYPES = {
    "application/x-ndjson": NDJSON, "application/ndjson": NDJSON, "application/jsonl": NDJSON,
    "application/json-lines": NDJSON, "text/csv": CSV,
}


def media_type(content_type: str | None) -> str:
    kind = CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower())
    if kind is None:
        raise UnsupportedMediaType(
            "send conversations as application/x-ndjson or text/csv (got "
            f"{content_type or 'no Content-Type'})")
    return kind


async def ingest_batch(session: AsyncSession, caller: Principal, body: AsyncIterator[bytes],
                       content_type: str | None) -> IngestAnswer:
    """One batch in the caller's transaction; a client may write its own shops only (another brand's shop
    is rejected as an unknown shop)."""
    kind = media_type(content_type)
    return await ingest(session, body, kind, None if caller.is_staff else caller.tenant_id)


async def ingest_records(session: AsyncSession, caller: Principal, records: Iterable[Mapping[str, Any]]
                         ) -> IngestAnswer:
    """Small batches given as dicts (GraphQL): the same path, as NDJSON lines."""
    async def lines() -> AsyncIterator[bytes]:
        yield "\n".join(json.dumps(rec, default=str, ensure_ascii=False) for rec in records).encode()

    return await ingest_batch(session, caller, lines(), NDJSON)



async def ingest_staged(session: AsyncSession, stage: Callable[[Any], Awaitable[None]]) -> IngestAnswer:
    """A trusted bulk loader's batch (the demo's), staged by STAGE itself: the same pipeline from there."""
    return await pipeline.ingest_staged(session, stage)
