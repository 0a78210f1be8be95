"""The reference rules every batch feed's records share: what "absent" means, text, uuids, timestamps with
an offset inside a plausible range, storable JSON, and the one-line rejection a record gets.

A feed's own module (service.conversations.records, service.seating.sessions) declares its fields and
their order and composes these; its reasons come from here when they are the same words.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.kit.types import storable_text

REASON_MALFORMED = "malformed line"
REASON_MISSING = "missing field"
REASON_NOT_TEXT = "not a string"
REASON_BAD_UUID = "not a valid uuid"
REASON_BAD_TIMESTAMP = "not an ISO 8601 timestamp"
REASON_NO_TIMEZONE = "timestamp without timezone offset"
REASON_OUT_OF_RANGE = "timestamp out of range"
REASON_EXTERNAL_ID_TOO_LONG = "too long (at most 128 characters)"

#: Storage limits: the external id column's length, and a plausible time range (a typo'd year is refused).
MAX_EXTERNAL_ID = 128
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)


class RecordError(ValueError):
    """A field of a record breaks a rule; ``reason`` is one of the feed's reasons."""

    def __init__(self, field: str | None, reason: str):
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one incoming record was refused. ``field`` is None when the record as a whole is bad."""

    field: str | None
    reason: str
    external_id: str | None = None

    @property
    def message(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


def absent(value: Any) -> bool:
    """None, JSON null, a missing key and an empty or blank string all mean "absent"."""
    return value is None or (isinstance(value, str) and not value.strip())


def parse_text(field: str, value: Any, longest: int, too_long: str) -> str:
    """A string (stripped) or a JSON integer, at most LONGEST characters."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        raise RecordError(field, REASON_NOT_TEXT)
    if len(text) > longest:
        raise RecordError(field, too_long)
    return text


def parse_uuid(field: str, value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise RecordError(field, REASON_BAD_UUID)
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise RecordError(field, REASON_BAD_UUID) from None


def latest_timestamp(now: datetime | None = None) -> datetime:
    """The latest instant a record may carry: clocks run a little fast, records never come from the future."""
    return (now or datetime.now(UTC)) + FUTURE_SLACK


def earliest_timestamp(max_age_days: int | None, now: datetime | None = None) -> datetime:
    """The earliest instant a record may carry: MAX_AGE_DAYS before now (a deployment's setting, so that
    one client's ancient dates cannot create partitions every tenant's ingest then probes), never before
    EARLIEST."""
    if max_age_days is None:
        return EARLIEST
    return max(EARLIEST, (now or datetime.now(UTC)) - timedelta(days=max_age_days))


def parse_timestamp(value: Any, field: str = "timestamp", latest: datetime | None = None,
                    earliest: datetime = EARLIEST) -> datetime:
    """ISO 8601 timestamp that must carry an offset and lie between EARLIEST and LATEST (default: now
    plus FUTURE_SLACK); raises :class:`RecordError`."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RecordError(field, REASON_BAD_TIMESTAMP) from None
    else:
        raise RecordError(field, REASON_BAD_TIMESTAMP)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RecordError(field, REASON_NO_TIMEZONE)
    if not earliest <= parsed <= (latest or latest_timestamp()):
        raise RecordError(field, REASON_OUT_OF_RANGE)
    return parsed


def listed(value: Any, field: str, reason: str, sep: str = ";") -> Any:
    """A list as a record carries it: a JSON value, or in CSV a string holding a JSON array or items
    separated by SEP (split, stripped). Raises RecordError(FIELD, REASON) for a string that is no JSON."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text.startswith("["):
        return [p.strip() for p in text.split(sep)]
    try:
        return json.loads(text)
    except ValueError:
        raise RecordError(field, reason) from None


def storable(value: Any) -> bool:
    """Every string in a parsed JSON value is storable text: no NUL, no lone surrogate (JSON escapes
    can spell both; PostgreSQL text holds neither). Iterative: no nesting overflows it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not storable_text(item):
                return False
        elif isinstance(item, dict):
            stack += item.keys()
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return True


def parse_json_line(line: str | bytes) -> Any | Rejection:
    """The value of one NDJSON line, or a malformed-line rejection (including text PostgreSQL can't hold)."""
    try:
        raw = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return Rejection(None, REASON_MALFORMED)
    if not storable(raw):
        return Rejection(None, REASON_MALFORMED)
    return raw
