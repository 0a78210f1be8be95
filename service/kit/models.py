"""What every table shares: the metadata naming convention, time-ordered ids and timestamps."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

import uuid6
from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, func
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """uuid7: time-ordered, so ids sort by creation (cursor pagination, index locality)."""
    return uuid.UUID(bytes=uuid6.uuid7().bytes)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Field() is typed Any: its FieldInfo stands in for the column's value in the class body, so these two are
# typed as the value they default.
def created_at_field() -> datetime:
    return cast(datetime, Field(default_factory=utcnow, sa_type=DateTime(timezone=True),
                                sa_column_kwargs={"server_default": func.now(), "nullable": False}))


def updated_at_field() -> datetime:
    return cast(datetime, Field(default_factory=utcnow, sa_type=DateTime(timezone=True),
                                sa_column_kwargs={"server_default": func.now(), "nullable": False,
                                                  "onupdate": utcnow}))


def check_in(column: str, values: Iterable[object]) -> str:
    """SQL for a CHECK constraint limiting COLUMN to VALUES."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def one_of(**columns: Iterable[object]) -> tuple[CheckConstraint, ...]:
    """A CHECK constraint per column limiting it to its values (an enum's, usually), named after it:
    `__table_args__ = (*one_of(level=AgentLevel, employment_type=EmploymentType), ...)`."""
    return tuple(CheckConstraint(check_in(column, values), name=column) for column, values in columns.items())


def ref(target: str, *, ondelete: str = "RESTRICT", nullable: bool = False, **column: Any) -> Any:
    """A column referring to TARGET (`table.column`) by a foreign key named by the convention."""
    return Field(default=None if nullable else ..., sa_column=Column(ForeignKey(target, ondelete=ondelete),
                                                                     nullable=nullable, **column))
