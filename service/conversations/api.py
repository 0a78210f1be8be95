"""REST: POST /v1/conversations (NDJSON or CSV batches)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from service.conversations import service
from service.conversations.ingest import MAX_RECORDS
from service.kit.roles import Context, Role, allow

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

write_roles = allow(Role.admin, Role.ops, Role.client)


class Rejection(BaseModel):
    line: int
    field: str | None
    reason: str


class IngestAnswer(BaseModel):
    received: int
    inserted: int
    updated: int
    unchanged: int
    rejected: list[Rejection]


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": f"Up to {MAX_RECORDS:,} conversation records: NDJSON (one JSON object a line) or CSV with a "
                       "header row. Fields: external_id, shop_id, started_at, first_response_at, ended_at, kind "
                       "(presale|aftersale), response_times_s, agent_code, converted, order_amount, csat (1-5). "
                       "Timestamps are ISO 8601 with an offset.",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}, "example":
                '{"external_id": "c-1", "shop_id": "…", "started_at": "2026-11-11T00:01:02+08:00", '
                '"first_response_at": "2026-11-11T00:01:09+08:00", "kind": "presale", "converted": true, '
                '"order_amount": "199.00", "csat": 5}'},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post("", response_model=IngestAnswer, openapi_extra=_BODY_DOC,
             summary="Ingest a batch of conversation records (idempotent by shop and external_id)")
async def ingest_conversations(ctx: Annotated[Context, Depends(write_roles)], request: Request):
    """Good rows are kept even when others are rejected; sending the same batch again changes nothing;
    a changed record replaces its earlier version. Clients may write their own shops only (another
    brand's shop is rejected as an unknown shop)."""
    result = await service.ingest_batch(ctx.db, ctx.principal, request.stream(), request.headers.get("content-type"))
    return result.as_dict()
