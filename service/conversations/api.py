"""REST: POST /v1/conversations (NDJSON or CSV batches). Thin, over conversations.service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request

from service.conversations import auth, service
from service.conversations.schemas import ConversationFilter, ConversationIn, ConversationRead, IngestAnswer
from service.kit.access import Caller, Session
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.routing import Router
from service.kit.types import Text
from service.settings import get_settings

router = Router(prefix="/v1/conversations", tags=["conversations"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": f"Up to {service.MAX_RECORDS:,} conversation records: NDJSON (one JSON object a line, "
                       "each a ConversationIn) or CSV with a header row naming the same fields. Timestamps "
                       "are ISO 8601 with an offset.",
        "content": {
            "application/x-ndjson": {"schema": ConversationIn.model_json_schema(), "example":
                '{"external_id": "c-1", "shop_id": "…", "started_at": "2026-11-11T00:01:02+08:00", '
                '"first_response_at": "2026-11-11T00:01:09+08:00", "kind": "presale", "converted": true, '
                '"order_amount": "199.00", "csat": 5}'},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post("", response_model=IngestAnswer, openapi_extra=_BODY_DOC, dependencies=[auth.write.rest],
             max_body_size=get_settings().max_ingest_bytes,
             summary="Ingest a batch of conversation records (idempotent by shop and external_id)")
async def ingest_conversations(session: Session, caller: Caller, request: Request):
    """Good rows are kept even when others are rejected; sending the same batch again changes nothing;
    a changed record replaces its earlier version. Clients may write their own shops only (another
    brand's shop is rejected as an unknown shop)."""
    settings = request.app.state.settings
    return await service.ingest_batch(session, caller, request.stream(), request.headers.get("content-type"),
                                      settings.ingest_max_age_days)


_MOMENT = ("a date (YYYY-MM-DD: the shop's local midnight) or a datetime (YYYY-MM-DDTHH:MM, in the shop's "
           "timezone unless it has an offset; without `shop`, Asia/Shanghai)")


@router.get("", response_model=Page[ConversationRead], dependencies=[auth.read.rest],
            summary="Stored conversations by shop, start time and external id (a client: its own shops')")
async def list_conversations(
    session: Session, caller: Caller, page: Annotated[PageRequest, Depends(page_params)],
    shop: Annotated[uuid.UUID | None, Query(description="One shop's (another brand's: 404)")] = None,
    start: Annotated[Text | None, Query(alias="from", max_length=40,
                                        description=f"Started at or after: {_MOMENT}")] = None,
    end: Annotated[Text | None, Query(alias="to", max_length=40,
                                      description="Started before, like `from`")] = None,
    external_id: Annotated[Text | None, Query(max_length=128,
                                              description="The platform's id: did you get it?")] = None,
):
    """In key order (brand, shop, external id, start): the latest version of each record, as ingest kept
    it."""
    filters = ConversationFilter(shop=shop, start=start, end=end, external_id=external_id)
    return await service.list_conversations(session, caller, filters, page)
