"""What the API accepts and answers for conversations: a record as it travels, and the ingest answer.

A record's fields are declared once, here; the reference validator (records.py) reads their names and which
are required from this model, REST documents an NDJSON line with its JSON schema, and the GraphQL input
derives from it. The wire types are loose on purpose (timestamps as text, numbers as sent): the validator
decides, with the reasons it documents.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from service.kit.batches import IngestAnswer, Rejection

__all__ = ["REQUIRED", "ConversationFilter", "ConversationIn", "ConversationRead", "IngestAnswer",
           "Rejection"]


class ConversationIn(BaseModel):
    """A conversation record (GLOSSARY.md); timestamps ISO 8601 with an offset."""

    external_id: str = Field(description="The platform's id of the conversation (with shop_id, the key)")
    shop_id: uuid.UUID
    started_at: str = Field(description="The buyer's first message, ISO 8601 with an offset")
    first_response_at: str | None = Field(default=None,
                                          description="The first human reply; absent: unanswered")
    ended_at: str | None = None
    kind: str = Field(description="presale or aftersale")
    response_times_s: list[float] | None = Field(default=None, description="Each buyer round's human "
                                                 "response time, seconds (absent: one round, the first "
                                                 "response)")
    agent_code: str | None = None
    converted: bool | None = Field(default=None, description="A paid order is attributed")
    order_amount: Decimal | None = None
    csat: int | None = Field(default=None, description="1-5")


REQUIRED: frozenset[str] = frozenset(name for name, f in ConversationIn.model_fields.items()
                                     if f.is_required())


class ConversationRead(BaseModel):
    """A stored conversation, as ingest kept it (its latest version); times in UTC."""

    model_config = ConfigDict(from_attributes=True)

    tenant_id: uuid.UUID
    shop_id: uuid.UUID
    external_id: str
    started_at: datetime
    first_response_at: datetime | None
    ended_at: datetime | None
    kind: str
    response_times_s: list[float] | None
    agent_code: str | None
    converted: bool
    order_amount: Decimal | None
    csat: int | None
    ingested_at: datetime = Field(description="When this version was stored")


class ConversationFilter(BaseModel):
    shop: uuid.UUID | None = None
    start: str | None = Field(default=None, description="Started at or after: a date (shop-local "
                              "midnight) or a datetime (shop-local unless it has an offset)")
    end: str | None = Field(default=None, description="Started before, like `from`")
    external_id: str | None = Field(default=None, max_length=128)
