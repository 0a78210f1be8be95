"""Keyset pagination: every list answers {"items": [...], "next_cursor": "..." | null}.

A cursor is the key of the last item seen (its id, or the columns a list is ordered by), opaque to clients:
one codec, `encode_cursor` / `decode_cursor`, for every list. Services take a `PageRequest` (limit and the
cursor as received), order by their key, fetch one row more than the limit, and answer a `Paged`.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from service.kit.errors import Invalid

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_KEY_TYPES: tuple[type, ...] = (uuid.UUID, datetime, date, int, str)


class Page(BaseModel, Generic[T]):
    """The REST shape of a list page."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Paged(Generic[T]):
    """What a listing use case answers: the page's items and the cursor of the next page (None: the last)."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = field(default=None)

    def after(self, *types: type) -> tuple[Any, ...] | None:
        """The key the cursor holds, typed as TYPES; None on the first page."""
        return None if self.cursor is None else decode_cursor(self.cursor, *types)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID | date):  # datetime is a date
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    if isinstance(value, int | str):
        return value
    raise TypeError(f"a cursor key holds ids, dates, times, numbers or text, not {type(value).__name__}")


def encode_cursor(*key: Any) -> str:
    """An opaque cursor holding KEY (ids, dates, aware datetimes, ints, strings)."""
    return base64.urlsafe_b64encode(orjson.dumps([_plain(v) for v in key])).decode().rstrip("=")


def _typed(value: Any, kind: type) -> Any:
    if kind in (uuid.UUID, datetime, date) and not isinstance(value, str):
        raise ValueError("an id, date or time in a cursor is text")
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive time in a cursor")
        return moment
    if kind is date:
        return date.fromisoformat(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError("wrong type in a cursor")
    return value


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The key a cursor of this API holds, as TYPES; Invalid('cursor') for anything else."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(types):
            raise ValueError("wrong length")
        return tuple(_typed(v, t) for v, t in zip(raw, types, strict=True))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise Invalid("cursor", "not a cursor returned by this API") from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (max 500).")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")]
    = None,
) -> PageRequest:
    """The REST page parameters (`limit`, `cursor`). A coroutine: FastAPI runs a plain function dependency
    in its thread pool, a hop per request."""
    return PageRequest(limit=limit, cursor=cursor)


def keyset(stmt: Select[Any], columns: Sequence[ColumnElement[Any]], page: PageRequest,
           types: Sequence[type] | None = None) -> Select[Any]:
    """STMT ordered by COLUMNS (the list's key), after the page's cursor, one row more than the limit (to
    know whether a next page exists). TYPES: the key's Python types (default: one uuid)."""
    after = page.after(*(types or (uuid.UUID,)))
    if after is not None:
        stmt = stmt.where(columns[0] > after[0] if len(columns) == 1 else tuple_(*columns) > tuple_(*after))
    return stmt.order_by(*columns).limit(page.limit + 1)


def by_id(row: Any) -> tuple[Any, ...]:
    """The key of a row listed by its (time-ordered uuid7) id."""
    return (row.id,)


def page_of(rows: Sequence[T], page: PageRequest, key: Callable[[T], tuple[Any, ...]] = by_id) -> Paged[T]:
    """The first LIMIT of ROWS (fetched with one extra), and the cursor after the last when more exist."""
    if len(rows) > page.limit:
        kept = list(rows[: page.limit])
        return Paged(kept, encode_cursor(*key(kept[-1])))
    return Paged(list(rows))
