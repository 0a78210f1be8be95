"""The few moves every create/read/update/list use case makes, written once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.errors import Conflict, Invalid, NotFound, Problem
from service.kit.pagination import Paged, PageRequest, keyset, page_of

M = TypeVar("M")

_CONSTRAINT = re.compile(r'constraint "([^"]+)"')


def apply_changes(obj: Any, changes: BaseModel) -> Any:
    """Copy the fields the caller actually sent (PATCH semantics: an explicit null clears a field)."""
    for key, value in changes.model_dump(exclude_unset=True).items():
        setattr(obj, key, value)
    return obj


async def flush(session: AsyncSession, what: str,
                known: Mapping[str, Callable[[], Problem]] | None = None) -> None:
    """Flush, turning constraint violations into clear problems instead of 500s. KNOWN: for a constraint of
    the use case (by name), the problem it answers instead, e.g. a duplicate naming the fields at fault."""
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        cause = getattr(exc.orig, "__cause__", None)
        sqlstate = getattr(cause, "sqlstate", None) or getattr(exc.orig, "sqlstate", None)
        match = _CONSTRAINT.search(str(exc.orig))
        constraint = match.group(1) if match else ""
        if constraint in (known or {}):
            raise (known or {})[constraint]() from None
        if sqlstate == "23505":  # say what collided, in words: never the constraint's name
            columns = _columns_of_constraint(constraint)
            same = f" (the same {_words(columns)})" if columns else ""
            raise Conflict(f"{what} already exists{same}") from None
        if sqlstate == "23503":
            raise Invalid(_field_of_constraint(constraint),
                          "refers to something that does not exist") from None
        if sqlstate == "23502":  # an explicit null for a required field (PATCH {"name": null})
            raise Invalid(getattr(cause, "column_name", None) or "body", "may not be null") from None
        rule = _field_of_constraint(constraint) if constraint else "body"
        raise Invalid(rule, f"breaks the rule that {rule.replace('_', ' ')}") from None


def _columns_of_constraint(name: str) -> list[str]:
    """The columns of the unique constraint or index NAME, from the models' metadata."""
    from sqlmodel import SQLModel

    for table in SQLModel.metadata.tables.values():
        for item in (*table.constraints, *table.indexes):
            if getattr(item, "name", None) == name:
                return [c.name for c in getattr(item, "columns", ())]
    return []


def _words(columns: list[str]) -> str:
    names = [c.removesuffix("_id").replace("_", " ") for c in columns]
    names = ["brand" if n == "tenant" else n for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _field_of_constraint(constraint: str) -> str:
    # Our naming convention: fk_<table>_<column>_<referred>, ck_<table>_<name>.
    parts = constraint.split("_", 2)
    return parts[2] if len(parts) == 3 else constraint


async def one_or_404(session: AsyncSession, stmt: Select[Any], what: str,
                     params: dict[str, Any] | None = None) -> Any:
    """The first row of STMT (executed with PARAMS, for a statement built once with bindparams), else a 404
    naming WHAT."""
    row = (await session.execute(stmt, params)).scalars().first()
    if row is None:
        raise NotFound(f"{what} not found")
    return row


async def list_page(session: AsyncSession, stmt: Select[Any], id_column: Any, page: PageRequest
                    ) -> Paged[Any]:
    """A page of STMT's rows (one entity each) in the order of their uuid7 ids."""
    return await keyed_page(session, stmt, [id_column], [uuid.UUID], page)


async def keyed_page(session: AsyncSession, stmt: Select[Any], columns: Sequence[Any], types: Sequence[type],
                     page: PageRequest) -> Paged[Any]:
    """A page of STMT's rows (one entity each) in the order of COLUMNS, the list's key (their Python TYPES),
    e.g. (day, id); the cursor holds the last row's values of them."""
    rows = list((await session.execute(keyset(stmt, columns, page, types))).scalars().all())
    return page_of(rows, page, key=lambda row: tuple(getattr(row, c.key) for c in columns))


async def by_ids(session: AsyncSession, model: type[M], ids: Sequence[Any]) -> list[M | None]:
    """Rows for IDS in the same order (None where missing or not visible): the DataLoader batch."""
    if not ids:
        return []
    column: Any = model.id  # type: ignore[attr-defined]
    rows = (await session.execute(select(model).where(column.in_(set(ids))))).scalars().all()
    found = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [found.get(i) for i in ids]
