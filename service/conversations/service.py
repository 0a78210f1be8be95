"""Conversation use cases: ingest a batch (REST, GraphQL and the CLI all come here), in the caller's
transaction: one batch, one transaction, every good row kept, every bad one reported, retries idempotent; and
reading records back ("did you get record X?"), a client its own shops' only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.conversations import ingest as pipeline
from service.conversations.ingest import MAX_RECORDS, NDJSON, ingest
from service.conversations.models import Conversation
from service.conversations.records import earliest_timestamp
from service.conversations.schemas import ConversationFilter, IngestAnswer
from service.kit import audit, batches, observe
from service.kit.errors import NotFound
from service.kit.identity import Principal
from service.kit.pagination import Paged, PageRequest, keyset, page_of
from service.kit.time import DEFAULT_TZ, parse_local_moment

__all__ = ["MAX_RECORDS", "ingest_batch", "ingest_records", "ingest_staged", "list_conversations",
           "media_type"]



def media_type(content_type: str | None) -> str:
    return media_and_charset(content_type)[0]


def media_and_charset(content_type: str | None) -> tuple[str, str | None]:
    """The kind of a body and its charset when not UTF-8 (kit.batches.media_and_charset); else a 415."""
    return batches.media_and_charset(content_type, "conversations")


async def ingest_batch(session: AsyncSession, caller: Principal, body: AsyncIterator[bytes],
                       content_type: str | None, max_age_days: int | None = None) -> IngestAnswer:
    """One batch in the caller's transaction; a client may write its own shops only (another brand's shop
    is rejected as an unknown shop). MAX_AGE_DAYS: how far back a record may start (the deployment's
    setting; None: no bound but the year 2000). The batch is in the audit log, in the same transaction."""
    kind, charset = media_and_charset(content_type)
    tenant = None if caller.is_staff else caller.tenant_id
    with observe.timed("ingest"):
        answer = await ingest(session, body, kind, tenant, earliest_timestamp(max_age_days), charset)
    observe.INGEST_ROWS.labels("accepted").inc(answer.received - len(answer.rejected))
    observe.INGEST_ROWS.labels("rejected").inc(len(answer.rejected))
    await audit.record(session, action="ingest", object_type="conversations", tenant_id=tenant,
                       after={"received": answer.received, "inserted": answer.inserted,
                              "updated": answer.updated, "unchanged": answer.unchanged,
                              "rejected": len(answer.rejected)})
    return answer


async def ingest_records(session: AsyncSession, caller: Principal, records: Iterable[Mapping[str, Any]],
                         max_age_days: int | None = None) -> IngestAnswer:
    """Small batches given as dicts (GraphQL): the same path, as NDJSON lines."""
    return await ingest_batch(session, caller, batches.ndjson_of(records), NDJSON, max_age_days)


async def ingest_staged(session: AsyncSession, stage: Callable[[Any], Awaitable[None]]) -> IngestAnswer:
    """A trusted bulk loader's batch (the demo's), staged by STAGE itself: the same pipeline from there."""
    return await pipeline.ingest_staged(session, stage)


# A shop the caller may see, and its timezone: this domain sits below shops, so it asks the table itself
# (as ingest does). RLS hides other brands' shops too.
_SHOP = text("SELECT tenant_id, timezone FROM shops WHERE id = :shop AND (CAST(:tenant AS uuid) IS NULL "
             "OR tenant_id = CAST(:tenant AS uuid))")
_KEY = (uuid.UUID, uuid.UUID, str, datetime)


async def list_conversations(session: AsyncSession, caller: Principal, filters: ConversationFilter,
                             page: PageRequest) -> Paged[Conversation]:
    """Stored conversations in key order (brand, shop, external id, start), filtered by shop, start time
    and external id; a client sees its own brand's only, and another brand's shop is not found. Dates and
    datetimes without an offset are in the shop's timezone (without a shop: Asia/Shanghai)."""
    tenant = None if caller.is_staff else caller.tenant_id
    stmt = select(Conversation)
    tz = DEFAULT_TZ
    if tenant is not None:
        stmt = stmt.where(Conversation.tenant_id == tenant)
    if filters.shop is not None:
        shop = (await session.execute(_SHOP, {"shop": filters.shop, "tenant": tenant})).first()
        if shop is None:
            raise NotFound("shop not found")
        tz = shop.timezone
        stmt = stmt.where(Conversation.tenant_id == shop.tenant_id, Conversation.shop_id == filters.shop)
    if filters.external_id is not None:
        stmt = stmt.where(Conversation.external_id == filters.external_id.strip())
    if filters.start is not None:
        stmt = stmt.where(Conversation.started_at >= parse_local_moment(filters.start, "from", tz))
    if filters.end is not None:
        stmt = stmt.where(Conversation.started_at < parse_local_moment(filters.end, "to", tz))
    key = [Conversation.tenant_id, Conversation.shop_id, Conversation.external_id, Conversation.started_at]
    rows = list((await session.execute(keyset(stmt, key, page, _KEY))).scalars())
    return page_of(rows, page, key=lambda c: (c.tenant_id, c.shop_id, c.external_id, c.started_at))
