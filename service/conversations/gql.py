"""GraphQL: the conversation ingest for small batches. Thin, over conversations.service (the same path as
POST /v1/conversations: the same validation, idempotency and rejection reasons)."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from service.conversations import auth, service
from service.conversations.schemas import (
    ConversationFilter,
    ConversationIn,
    ConversationRead,
    IngestAnswer,
    Rejection,
)
from service.kit import gql
from service.kit.access import Caller, Session

MAX_GRAPHQL_RECORDS = 1_000  # larger loads: REST NDJSON/CSV or `seatwise ingest`

ConversationInput = gql.create_input(ConversationIn, name="ConversationInput")


gql.nested_types((Rejection, "IngestRejection"))


@gql.read_type(IngestAnswer, name="IngestResult", description="`line` is the record's 1-based position in "
               "the list.")
class IngestResultType: ...


@gql.read_type(ConversationRead, name="Conversation")
class ConversationType: ...


@strawberry.type
class ConversationQuery:
    @gql.field(auth.read, description="Stored conversations by shop, start time and external id, in key "
               "order (a client: its own shops'; another brand's shop is not found). `from`/`to`: a date "
               "(the shop's local midnight) or a datetime (the shop's timezone unless it has an offset).")
    async def conversations(self, session: Session, caller: Caller, shop: uuid.UUID | None = None,
                            from_: Annotated[str | None, strawberry.argument(name="from")] = None,
                            to: str | None = None, external_id: str | None = None, first: int = 50,
                            after: str | None = None) -> gql.Page[ConversationType]:
        filters = ConversationFilter(shop=shop, start=from_, end=to, external_id=external_id)
        found = await service.list_conversations(session, caller, filters, gql.page_request(first, after))
        return gql.page(ConversationType, found)


@strawberry.type
class ConversationMutation:
    ingest_conversations = gql.ingest_mutation(auth.write, ConversationInput, IngestResultType,
                                               most=MAX_GRAPHQL_RECORDS, what="records",
                                               route="/v1/conversations", use_case=service.ingest_records)
