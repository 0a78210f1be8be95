"""REST: POST /v1/conversations (NDJSON or CSV batches). Thin, over conversations.service."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.conversations import auth, service
from service.conversations.schemas import ConversationIn, IngestAnswer
from service.kit.access import Caller, Session
from service.settings import get_settings

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

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
