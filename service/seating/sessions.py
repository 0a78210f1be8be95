"""Work session records (attendance exports) and the validation of one incoming record: the reference
rules, fast on the common line. The shared rules (absent values, text, uuids, timestamps) are
service.kit.records'; the batch machinery is service.kit.batches'.

==========  ========  ======================================================================
field       required  accepted
==========  ========  ======================================================================
external_id yes       non-blank string (stripped) or a JSON integer; at most 128 characters
agent_code  yes       non-blank string (stripped) or a JSON integer; at most 32 characters
shop_id     yes       UUID
login       yes       ISO 8601 timestamp with an offset
logout      yes       as login; after it, at most 24 hours later
breaks      no        list of [from, to] pairs of timestamps, each inside the session and ordered; in
                      CSV a JSON array string or ``from/to;from/to``
==========  ========  ======================================================================

Keys not listed are ignored. A session's overlap with another (the same agent on two shops) is no error:
an export records what happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from service.kit import records as kr
from service.kit.records import RecordError, Rejection
from service.seating.schemas import WORK_SESSION_REQUIRED, WorkSessionIn

REASON_AGENT_CODE_TOO_LONG = "too long (at most 32 characters)"
REASON_LOGOUT_NOT_AFTER_LOGIN = "logout not after login"
REASON_TOO_LONG = "session longer than 24 hours"
REASON_BAD_BREAKS = "not a list of [from, to] timestamp pairs"
REASON_BREAK_OUTSIDE = "break not inside the session"
REASON_UNKNOWN_AGENT = "unknown agent"
REASON_UNKNOWN_SHOP = "unknown shop"
REASON_SUPERSEDED = "superseded by a later line with the same shop_id and external_id"

FIELDS: tuple[str, ...] = tuple(WorkSessionIn.model_fields)
REQUIRED_FIELDS: frozenset[str] = WORK_SESSION_REQUIRED
MAX_AGENT_CODE = 32
LONGEST = timedelta(hours=24)

#: (external_id, agent_code, shop_id, login, logout, break_starts, break_ends): what ingest stages.
Row: TypeAlias = tuple[str, str, uuid.UUID, datetime, datetime, list[datetime] | None, list[datetime] | None]


def _breaks(value: Any, login: datetime, logout: datetime, latest: datetime, earliest: datetime
            ) -> tuple[list[datetime], list[datetime]] | None:
    field = "breaks"
    if isinstance(value, str) and not value.strip().startswith("["):
        value = [part.split("/") for part in kr.listed(value, field, REASON_BAD_BREAKS)]
    value = kr.listed(value, field, REASON_BAD_BREAKS)
    if not isinstance(value, list):
        raise RecordError(field, REASON_BAD_BREAKS)
    starts: list[datetime] = []
    ends: list[datetime] = []
    for pair in value:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise RecordError(field, REASON_BAD_BREAKS)
        try:
            a = kr.parse_timestamp(pair[0], field, latest, earliest)
            b = kr.parse_timestamp(pair[1], field, latest, earliest)
        except RecordError:
            raise RecordError(field, REASON_BAD_BREAKS) from None
        if b <= a:
            raise RecordError(field, REASON_BAD_BREAKS)
        if a < login or b > logout:
            raise RecordError(field, REASON_BREAK_OUTSIDE)
        starts.append(a)
        ends.append(b)
    return (starts, ends) if starts else None


def validate_session(raw: Any, latest: datetime, earliest: datetime = kr.EARLIEST) -> Row | Rejection:
    """One record (a mapping of JSON values or of CSV strings) as a row, or the first rule it breaks, in
    FIELDS order, then logout after login, the 24 hours and the breaks."""
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        return Rejection(None, kr.REASON_MALFORMED)
    ext = raw.get("external_id")
    external_id = ext.strip() or None if isinstance(ext, str) else None
    try:
        for name in FIELDS:
            if name in REQUIRED_FIELDS and kr.absent(raw.get(name)):
                raise RecordError(name, kr.REASON_MISSING)
        external_id = kr.parse_text("external_id", ext, kr.MAX_EXTERNAL_ID, kr.REASON_EXTERNAL_ID_TOO_LONG)
        agent = kr.parse_text("agent_code", raw["agent_code"], MAX_AGENT_CODE, REASON_AGENT_CODE_TOO_LONG)
        shop = kr.parse_uuid("shop_id", raw["shop_id"])
        login = kr.parse_timestamp(raw["login"], "login", latest, earliest)
        logout = kr.parse_timestamp(raw["logout"], "logout", latest, earliest)
        if logout <= login:
            raise RecordError("logout", REASON_LOGOUT_NOT_AFTER_LOGIN)
        if logout - login > LONGEST:
            raise RecordError("logout", REASON_TOO_LONG)
        value = raw.get("breaks")
        breaks = None if kr.absent(value) or value == [] else _breaks(value, login, logout, latest, earliest)
    except RecordError as err:
        return Rejection(err.field, err.reason, external_id)
    starts, ends = breaks if breaks else (None, None)
    return (external_id, agent, shop, login, logout, starts, ends)


_fromisoformat = datetime.fromisoformat


def session_row(raw: Any, latest: datetime, shop_ids: dict[str, uuid.UUID], earliest: datetime = kr.EARLIEST
                ) -> Row | Rejection:
    """:func:`validate_session`, fast for the common line (a dict as a JSON parser gives it, canonical
    values, no breaks): anything else goes to the reference, so the rules and their wording live there
    alone. SHOP_IDS caches parsed shop_id strings across calls."""
    if type(raw) is not dict:
        return validate_session(raw, latest, earliest)
    ext, agent, shop_text = raw.get("external_id"), raw.get("agent_code"), raw.get("shop_id")
    if (type(ext) is not str or not ext or len(ext) > kr.MAX_EXTERNAL_ID or ext != ext.strip()
            or type(agent) is not str or not agent or len(agent) > MAX_AGENT_CODE or agent != agent.strip()
            or type(shop_text) is not str):
        return validate_session(raw, latest, earliest)
    shop = shop_ids.get(shop_text)
    if shop is None:
        try:
            shop = uuid.UUID(shop_text)
        except ValueError:
            return validate_session(raw, latest, earliest)
        if shop_text != shop_text.strip():
            return validate_session(raw, latest, earliest)
        shop_ids[shop_text] = shop
    try:
        login = _fromisoformat(raw.get("login"))  # type: ignore[arg-type]
        logout = _fromisoformat(raw.get("logout"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return validate_session(raw, latest, earliest)
    if (login.tzinfo is None or logout.tzinfo is None or not earliest <= login < logout <= latest
            or logout - login > LONGEST):
        return validate_session(raw, latest, earliest)
    breaks = raw.get("breaks")
    if not breaks:
        return validate_session(raw, latest, earliest) if breaks not in (None, []) else \
            (ext, agent, shop, login, logout, None, None)
    if type(breaks) is not list:
        return validate_session(raw, latest, earliest)
    starts, ends = [], []
    try:
        for a_text, b_text in breaks:
            a, b = _fromisoformat(a_text), _fromisoformat(b_text)
            if a.tzinfo is None or b.tzinfo is None or not login <= a < b <= logout:
                return validate_session(raw, latest, earliest)
            starts.append(a)
            ends.append(b)
    except (TypeError, ValueError):
        return validate_session(raw, latest, earliest)
    return (ext, agent, shop, login, logout, starts, ends)
