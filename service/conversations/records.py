"""Conversation records and the validation of one incoming record.

A client platform sends conversations as NDJSON (one JSON object a line) or CSV (one row a
conversation, every cell a string). :func:`validate_record` turns one such mapping into a
:class:`ConversationRecord`, or into a :class:`Rejection` naming the field and a human reason.
It stops at the first problem: each field's own format in the order of :data:`FIELDS`, then the
cross-field rules.

This Python validator is the reference. The ingestion path may validate set-based in SQL for speed;
it must then use the ``REASON_*`` constants below (all listed in :data:`REASONS`) so that both paths
word a rejection identically.

Field rules (``None``, JSON ``null``, a missing key and an empty or blank string all mean "absent"):

==================  ========  =================================================================
field               required  accepted
==================  ========  =================================================================
external_id         yes       non-blank string (surrounding blanks stripped) or a JSON integer
shop_id             yes       UUID (any form ``uuid.UUID`` parses: dashed, plain hex, braces)
started_at          yes       ISO 8601 timestamp **with** an offset (``Z`` or ``+08:00``)
first_response_at   no        as started_at; not before started_at; absent = unanswered
ended_at            no        as started_at; not before started_at nor before first_response_at
kind                yes       ``presale`` or ``aftersale`` (case-insensitive)
response_times_s    no        list of finite non-negative numbers; in CSV a JSON array string or
                              ``;``-separated numbers. An empty list counts as absent. Only for
                              answered conversations.
agent_code          no        string (or a JSON integer)
converted           no        boolean; strings true/false/t/f/yes/no/y/n/1/0; absent = false
order_amount        no        decimal >= 0 (JSON number or decimal string), rounded half away from
                              zero to 0.01 like ``numeric(14,2)``; at most 999999999999.99
csat                no        integer 1..5
==================  ========  =================================================================

Keys not listed are ignored. Timestamps keep microseconds (like ``timestamptz``); finer digits are
truncated.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal, TypeAlias

from service.conversations.schemas import REQUIRED, ConversationIn
from service.kit.records import (  # the rules every feed shares (re-exported: this module's API)
    EARLIEST,
    FUTURE_SLACK,
    MAX_EXTERNAL_ID,
    REASON_BAD_TIMESTAMP,
    REASON_BAD_UUID,
    REASON_EXTERNAL_ID_TOO_LONG,
    REASON_MALFORMED,
    REASON_MISSING,
    REASON_NO_TIMEZONE,
    REASON_NOT_TEXT,
    REASON_OUT_OF_RANGE,
    RecordError,
    Rejection,
    earliest_timestamp,
    latest_timestamp,
    listed,
    parse_json_line,
    parse_timestamp,
    storable,
)
from service.kit.records import absent as _absent
from service.kit.records import parse_text as _text
from service.kit.records import parse_uuid as _uuid

__all__ = ["EARLIEST", "FUTURE_SLACK", "MAX_EXTERNAL_ID", "REASON_BAD_TIMESTAMP", "REASON_BAD_UUID",
           "REASON_EXTERNAL_ID_TOO_LONG", "REASON_MALFORMED", "REASON_MISSING", "REASON_NOT_TEXT",
           "REASON_NO_TIMEZONE", "REASON_OUT_OF_RANGE", "RecordError", "Rejection", "earliest_timestamp",
           "latest_timestamp", "parse_json_line", "parse_timestamp", "storable"]

# --- reason strings, shared with the SQL validation path -------------------------------------------
REASON_RESPONSE_BEFORE_START = "first response before start"
REASON_END_BEFORE_START = "end before start"
REASON_END_BEFORE_RESPONSE = "end before first response"
REASON_BAD_KIND = "kind must be presale or aftersale"
REASON_BAD_RESPONSE_TIMES = "not a list of non-negative numbers"
REASON_TIMES_WITHOUT_RESPONSE = "response times given but no first response"
REASON_BAD_BOOLEAN = "not a boolean"
REASON_BAD_AMOUNT = "not a decimal amount"
REASON_NEGATIVE_AMOUNT = "negative amount"
REASON_AMOUNT_TOO_LARGE = "amount too large"
REASON_NOT_INTEGER = "not an integer"
REASON_CSAT_RANGE = "csat outside 1-5"
REASON_AGENT_CODE_TOO_LONG = "too long (at most 64 characters)"

REASONS: tuple[str, ...] = (
    REASON_MALFORMED,
    REASON_MISSING,
    REASON_NOT_TEXT,
    REASON_BAD_UUID,
    REASON_BAD_TIMESTAMP,
    REASON_NO_TIMEZONE,
    REASON_RESPONSE_BEFORE_START,
    REASON_END_BEFORE_START,
    REASON_END_BEFORE_RESPONSE,
    REASON_BAD_KIND,
    REASON_BAD_RESPONSE_TIMES,
    REASON_TIMES_WITHOUT_RESPONSE,
    REASON_BAD_BOOLEAN,
    REASON_BAD_AMOUNT,
    REASON_NEGATIVE_AMOUNT,
    REASON_AMOUNT_TOO_LARGE,
    REASON_NOT_INTEGER,
    REASON_CSAT_RANGE,
    REASON_OUT_OF_RANGE,
    REASON_EXTERNAL_ID_TOO_LONG,
    REASON_AGENT_CODE_TOO_LONG,
)

#: The record's fields in their order, and the required ones: declared once, by schemas.ConversationIn.
FIELDS: tuple[str, ...] = tuple(ConversationIn.model_fields)
REQUIRED_FIELDS: frozenset[str] = REQUIRED
KINDS: tuple[str, ...] = ("presale", "aftersale")

#: Largest amount a ``numeric(14,2)`` column holds.
MAX_AMOUNT = Decimal("999999999999.99")
CENT = Decimal("0.01")
#: Storage limits: the columns' lengths, and a plausible time range (a typo'd year is refused, not filed).
MAX_AGENT_CODE = 64

#: A plain decimal number as accepted in strings (no ``nan``, ``inf``, ``_`` or hex).
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
INTEGER_RE = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})

Kind = Literal["presale", "aftersale"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRecord:
    """One buyer conversation (see GLOSSARY.md). Construction checks every rule of the module doc.

    ``response_times_s`` is stored as a tuple (an empty one becomes None) and ``order_amount`` is
    rounded to cents, so equal inputs give equal records.
    """

    external_id: str
    shop_id: uuid.UUID
    started_at: datetime
    kind: Kind
    first_response_at: datetime | None = None
    ended_at: datetime | None = None
    response_times_s: tuple[float, ...] | None = None
    agent_code: str | None = None
    converted: bool = False
    order_amount: Decimal | None = None
    csat: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.external_id, str):
            raise RecordError("external_id", REASON_NOT_TEXT)
        if not self.external_id.strip():
            raise RecordError("external_id", REASON_MISSING)
        if not isinstance(self.shop_id, uuid.UUID):
            raise RecordError("shop_id", REASON_BAD_UUID)
        for name in ("started_at", "first_response_at", "ended_at"):
            value = getattr(self, name)
            if value is None and name != "started_at":
                continue
            if not isinstance(value, datetime):
                raise RecordError(name, REASON_BAD_TIMESTAMP)
            if value.tzinfo is None or value.utcoffset() is None:
                raise RecordError(name, REASON_NO_TIMEZONE)
        if self.first_response_at is not None and self.first_response_at < self.started_at:
            raise RecordError("first_response_at", REASON_RESPONSE_BEFORE_START)
        if self.ended_at is not None:
            if self.ended_at < self.started_at:
                raise RecordError("ended_at", REASON_END_BEFORE_START)
            if self.first_response_at is not None and self.ended_at < self.first_response_at:
                raise RecordError("ended_at", REASON_END_BEFORE_RESPONSE)
        if self.kind not in KINDS:
            raise RecordError("kind", REASON_BAD_KIND)
        if self.response_times_s is not None:
            times = self.response_times_s
            if isinstance(times, str | bytes) or not isinstance(times, Sequence):
                raise RecordError("response_times_s", REASON_BAD_RESPONSE_TIMES)
            if not all(_is_nonneg_number(t) for t in times):
                raise RecordError("response_times_s", REASON_BAD_RESPONSE_TIMES)
            normalised = tuple(float(t) for t in times) or None
            if normalised is not None and self.first_response_at is None:
                raise RecordError("response_times_s", REASON_TIMES_WITHOUT_RESPONSE)
            object.__setattr__(self, "response_times_s", normalised)
        if self.agent_code is not None and not isinstance(self.agent_code, str):
            raise RecordError("agent_code", REASON_NOT_TEXT)
        if not isinstance(self.converted, bool):
            raise RecordError("converted", REASON_BAD_BOOLEAN)
        if self.order_amount is not None:
            object.__setattr__(self, "order_amount", _check_amount(self.order_amount))
        if self.csat is not None:
            if isinstance(self.csat, bool) or not isinstance(self.csat, int):
                raise RecordError("csat", REASON_NOT_INTEGER)
            if not 1 <= self.csat <= 5:
                raise RecordError("csat", REASON_CSAT_RANGE)

    @property
    def answered(self) -> bool:
        return self.first_response_at is not None

    @property
    def frt_s(self) -> float | None:
        """First response time in seconds (exact microseconds, then one rounding to float)."""
        if self.first_response_at is None:
            return None
        return (self.first_response_at - self.started_at).total_seconds()

    @property
    def handle_s(self) -> float | None:
        """ended_at - first_response_at in seconds, for answered conversations with an end."""
        if self.first_response_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.first_response_at).total_seconds()


def _is_nonneg_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    try:
        f = float(value)
    except (OverflowError, ValueError):
        return False
    return math.isfinite(f) and f >= 0


def _check_amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise RecordError("order_amount", REASON_BAD_AMOUNT)
    amount = Decimal(value)
    if not amount.is_finite():
        raise RecordError("order_amount", REASON_BAD_AMOUNT)
    if amount < 0:
        raise RecordError("order_amount", REASON_NEGATIVE_AMOUNT)
    if amount > MAX_AMOUNT + CENT / 2:
        raise RecordError("order_amount", REASON_AMOUNT_TOO_LARGE)
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if rounded > MAX_AMOUNT:
        raise RecordError("order_amount", REASON_AMOUNT_TOO_LARGE)
    return rounded


# --- parsing raw values (JSON values or CSV strings) -----------------------------------------------














def _response_times(value: Any) -> tuple[float, ...] | None:
    field = "response_times_s"
    if isinstance(value, str) and not value.strip().startswith("["):
        parts = listed(value, field, REASON_BAD_RESPONSE_TIMES)
        if not all(NUMBER_RE.fullmatch(p) for p in parts):
            raise RecordError(field, REASON_BAD_RESPONSE_TIMES)
        value = [float(p) for p in parts]
    value = listed(value, field, REASON_BAD_RESPONSE_TIMES)
    if not isinstance(value, list | tuple):
        raise RecordError(field, REASON_BAD_RESPONSE_TIMES)
    if not all(_is_nonneg_number(t) for t in value):
        raise RecordError(field, REASON_BAD_RESPONSE_TIMES)
    return tuple(float(t) for t in value) or None


def _boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise RecordError(field, REASON_BAD_BOOLEAN)


def _amount(value: Any) -> Decimal:
    field = "order_amount"
    if isinstance(value, bool):
        raise RecordError(field, REASON_BAD_AMOUNT)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(field, REASON_BAD_AMOUNT)
        value = Decimal(repr(value))  # the shortest decimal that reads back as this float
    elif isinstance(value, str):
        text = value.strip()
        if not NUMBER_RE.fullmatch(text):
            raise RecordError(field, REASON_BAD_AMOUNT)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise RecordError(field, REASON_BAD_AMOUNT) from None
    return _check_amount(value)


def _csat(value: Any) -> int:
    field = "csat"
    if isinstance(value, bool):
        raise RecordError(field, REASON_NOT_INTEGER)
    if isinstance(value, float):
        if not value.is_integer():
            raise RecordError(field, REASON_NOT_INTEGER)
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not INTEGER_RE.fullmatch(text):
            raise RecordError(field, REASON_NOT_INTEGER)
        value = int(text)
    if not isinstance(value, int):
        raise RecordError(field, REASON_NOT_INTEGER)
    if not 1 <= value <= 5:
        raise RecordError(field, REASON_CSAT_RANGE)
    return value


def _kind(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in KINDS:
        raise RecordError("kind", REASON_BAD_KIND)
    return value.strip().lower()


_PARSERS: dict[str, Callable[[Any, datetime, datetime], Any]] = {
    "external_id": lambda v, _, __: _text("external_id", v, MAX_EXTERNAL_ID, REASON_EXTERNAL_ID_TOO_LONG),
    "shop_id": lambda v, _, __: _uuid("shop_id", v),
    "started_at": lambda v, latest, earliest: parse_timestamp(v, "started_at", latest, earliest),
    "first_response_at": lambda v, latest, earliest: parse_timestamp(v, "first_response_at", latest,
                                                                     earliest),
    "ended_at": lambda v, latest, earliest: parse_timestamp(v, "ended_at", latest, earliest),
    "kind": lambda v, _, __: _kind(v),
    "response_times_s": lambda v, _, __: _response_times(v),
    "agent_code": lambda v, _, __: _text("agent_code", v, MAX_AGENT_CODE, REASON_AGENT_CODE_TOO_LONG),
    "converted": lambda v, _, __: _boolean("converted", v),
    "order_amount": lambda v, _, __: _amount(v),
    "csat": lambda v, _, __: _csat(v),
}


def validate_record(raw: Any, latest: datetime | None = None, earliest: datetime = EARLIEST
                    ) -> ConversationRecord | Rejection:
    """Validate one incoming record: a mapping of JSON values or of CSV strings.

    Returns the record or one :class:`Rejection`: each field's own format is checked in
    :data:`FIELDS` order, then the cross-field rules ("first response before start", "end before
    start", "end before first response", "response times given but no first response").
    A value that is not a mapping with string keys is a malformed line. LATEST bounds the timestamps
    (default: now plus FUTURE_SLACK), EARLIEST from below (default: the year 2000).
    """
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        return Rejection(None, REASON_MALFORMED)
    ext = raw.get("external_id")
    external_id = ext.strip() or None if isinstance(ext, str) else None
    values: dict[str, Any] = {}
    latest = latest or latest_timestamp()
    try:
        for field in FIELDS:
            value = raw.get(field)
            if _absent(value):
                if field in REQUIRED_FIELDS:
                    raise RecordError(field, REASON_MISSING)
                continue
            values[field] = _PARSERS[field](value, latest, earliest)
        if "external_id" in values:
            external_id = values["external_id"]
        return ConversationRecord(**values)
    except RecordError as err:
        return Rejection(err.field, err.reason, external_id)


#: A record as a plain tuple of its fields in FIELDS order: what bulk ingest stores.
Row: TypeAlias = tuple[Any, ...]


def row_of(record: ConversationRecord) -> Row:
    return tuple(getattr(record, name) for name in FIELDS)


_KINDS = frozenset(KINDS)
_INF = math.inf
_BIG_INT = 2**53  # larger integers take the reference path (float() of a huge one overflows there)


def validate_row(raw: Any, latest: datetime, shop_ids: dict[str, uuid.UUID], earliest: datetime = EARLIEST
                 ) -> Row | Rejection:
    """:func:`validate_record` as a row, several times faster for the common case: a dict as a JSON
    parser gives it, with every present value in its plain, canonical form. Anything else (a blank or
    padded string, a string number, any broken rule) goes to :func:`validate_record`, so the rules and
    their wording live there alone; a property test holds the two to the same answers. SHOP_IDS caches
    parsed shop_id strings across calls; EARLIEST bounds the timestamps from below."""
    if type(raw) is not dict:
        return _slow_row(raw, latest, earliest)
    get: Callable[[str], Any] = raw.get  # JSON values: anything, or None when absent
    ext = get("external_id")
    if type(ext) is not str or not ext or len(ext) > MAX_EXTERNAL_ID or ext != ext.strip():
        return _slow_row(raw, latest, earliest)
    shop_text = get("shop_id")
    if type(shop_text) is not str:
        return _slow_row(raw, latest, earliest)
    shop = shop_ids.get(shop_text)
    if shop is None:
        if shop_text != shop_text.strip():
            return _slow_row(raw, latest, earliest)
        try:
            shop = uuid.UUID(shop_text)
        except ValueError:
            return _slow_row(raw, latest, earliest)
        shop_ids[shop_text] = shop
    try:
        started = _fromisoformat(get("started_at"))
        value = get("first_response_at")
        first = None if value is None else _fromisoformat(value)
        value = get("ended_at")
        ended = None if value is None else _fromisoformat(value)
    except (TypeError, ValueError):
        return _slow_row(raw, latest, earliest)
    for stamp in (started, first, ended):
        if stamp is not None and (stamp.tzinfo is None or not earliest <= stamp <= latest):
            return _slow_row(raw, latest, earliest)
    if (first is not None and first < started) or (ended is not None and (ended < started or (
            first is not None and ended < first))):
        return _slow_row(raw, latest, earliest)
    kind = get("kind")
    if type(kind) is not str or kind not in _KINDS:
        return _slow_row(raw, latest, earliest)
    times = get("response_times_s")
    if times is not None:
        if type(times) is not list or first is None:
            return _slow_row(raw, latest, earliest)
        for t in times:
            if not ((type(t) is float and 0 <= t < _INF) or (type(t) is int and 0 <= t <= _BIG_INT)):
                return _slow_row(raw, latest, earliest)
        times = tuple(float(t) for t in times) or None
    agent = get("agent_code")
    if agent is not None and (type(agent) is not str or not agent or len(agent) > MAX_AGENT_CODE
                              or agent != agent.strip()):
        return _slow_row(raw, latest, earliest)
    converted = get("converted")
    if converted is None:
        converted = False
    elif type(converted) is not bool:
        return _slow_row(raw, latest, earliest)
    amount = get("order_amount")
    if amount is not None:
        try:
            amount = _amount(amount)  # the reference's own parser: strings, numbers, rounding, limits
        except RecordError:
            return _slow_row(raw, latest, earliest)
    csat = get("csat")
    if csat is not None and (type(csat) is not int or not 1 <= csat <= 5):
        return _slow_row(raw, latest, earliest)
    return (ext, shop, started, first, ended, kind, times, agent, converted, amount, csat)


_fromisoformat = datetime.fromisoformat


def _slow_row(raw: Any, latest: datetime, earliest: datetime = EARLIEST) -> Row | Rejection:
    checked = validate_record(raw, latest, earliest)
    return checked if isinstance(checked, Rejection) else row_of(checked)






def parse_ndjson_line(line: str | bytes) -> ConversationRecord | Rejection:
    """One NDJSON line; anything but a JSON object (including a blank line) is a malformed line."""
    raw = parse_json_line(line)
    return raw if isinstance(raw, Rejection) else validate_record(raw)


def parse_csv_row(row: Mapping[Any, Any]) -> ConversationRecord | Rejection:
    """One row from ``csv.DictReader``: a row with more cells than the header is a malformed line
    (DictReader files the surplus under the key ``None``); fewer cells leave fields absent."""
    if None in row:
        return Rejection(None, REASON_MALFORMED)
    return validate_record(row)
