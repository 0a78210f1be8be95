"""Identifiers as finance sees them: opaque references to the database's rows.

Public:

- ``Ref``: an id of a shop, brand, site, agent or contract (a UUID in the database; str or int in tests).
- ``ref_order(ref: Ref | None) -> tuple[int, str]``: a sort key that orders None (brand level) first,
  then by the id's text, so every output of finance comes in one reproducible order.
- ``find(items, key, value) -> item | None``: the first item whose `key` attribute equals `value`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias, TypeVar
from uuid import UUID

Ref: TypeAlias = UUID | str | int
T = TypeVar("T")


def find(items: Iterable[T], key: str, value: object) -> T | None:
    """The first of `items` whose attribute `key` equals `value` (None when there is none)."""
    return next((item for item in items if getattr(item, key) == value), None)


def ref_order(ref: Ref | None) -> tuple[int, str]:
    """Sort key: None first, then ids by their text (UUIDs, strings and ints alike)."""
    return (0, "") if ref is None else (1, str(ref))
