"""GraphQL: the conversation ingest for small batches. Thin, over conversations.service (the same
path as POST /v1/conversations: the same validation, idempotency and rejection reasons)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import strawberry
from strawberry.types import Info

from service.conversations import service
from service.kit.errors import Invalid
from service.kit.roles import Allow, Role

MAX_GRAPHQL_RECORDS = 1_000  # larger loads: REST NDJSON/CSV or `seatwise ingest`

WRITE = Allow.of(Role.admin, Role.ops, Role.client)


@strawberry.input(description="A conversation record (GLOSSARY.md); timestamps ISO 8601 with an offset.")
class ConversationInput:
    external_id: str
    shop_id: uuid.UUID
    started_at: str
    kind: str
    first_response_at: str | None = None
    ended_at: str | None = None
    response_times_s: list[float] | None = None
    agent_code: str | None = None
    converted: bool | None = None
    order_amount: Decimal | None = None
    csat: int | None = None


@strawberry.type(name="IngestRejection")
class RejectionType:
    line: int
    field: str | None
    reason: str


@strawberry.type(name="IngestResult", description="`line` is the record's 1-based position in the list.")
class IngestResultType:
    received: int
    inserted: int
    updated: int
    unchanged: int
    rejected: list[RejectionType]


@strawberry.type
class ConversationMutation:
    @strawberry.mutation(permission_classes=[WRITE],
                         description=f"Ingest up to {MAX_GRAPHQL_RECORDS:,} records; idempotent by shop and externalId.")
    async def ingest_conversations(self, info: Info, records: list[ConversationInput]) -> IngestResultType:
        if len(records) > MAX_GRAPHQL_RECORDS:
            raise Invalid("records", f"at most {MAX_GRAPHQL_RECORDS:,} a call; send larger batches to POST /v1/conversations")
        rows = [{k: v for k, v in vars(r).items() if v is not None} for r in records]
        result = await service.ingest_records(info.context.db, info.context.principal, rows)
        return IngestResultType(received=result.received, inserted=result.inserted, updated=result.updated,
                                unchanged=result.unchanged,
                                rejected=[RejectionType(**r) for r in result.rejected])
