"""GraphQL: the conversation ingest for small batches. Thin, over conversations.service (the same path as
POST /v1/conversations: the same validation, idempotency and rejection reasons)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from service.conversations import auth, service
from service.conversations.schemas import ConversationIn, IngestAnswer, Rejection
from service.kit import gql
from service.kit.access import Caller, Session
from service.kit.errors import Invalid

MAX_GRAPHQL_RECORDS = 1_000  # larger loads: REST NDJSON/CSV or `seatwise ingest`

ConversationInput = gql.create_input(ConversationIn, name="ConversationInput")


@gql.read_type(Rejection, name="IngestRejection")
class RejectionType: ...


@gql.read_type(IngestAnswer, name="IngestResult", description="`line` is the record's 1-based position in "
               "the list.")
class IngestResultType: ...


@strawberry.type
class ConversationMutation:
    @gql.mutation(auth.write, description=f"Ingest up to {MAX_GRAPHQL_RECORDS:,} records; idempotent by shop "
                  "and externalId.")
    async def ingest_conversations(self, session: Session, caller: Caller, info: Info,
                                   records: list[ConversationInput]) -> IngestResultType:
        if len(records) > MAX_GRAPHQL_RECORDS:
            raise Invalid("records", f"at most {MAX_GRAPHQL_RECORDS:,} a call; send larger batches to POST "
                          "/v1/conversations")
        rows = [{k: v for k, v in gql.plain(r).items() if v is not None} for r in records]
        max_age = info.context.request.app.state.settings.ingest_max_age_days
        return gql.of(IngestResultType, await service.ingest_records(session, caller, rows, max_age))
