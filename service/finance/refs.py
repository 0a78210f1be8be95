"""Identifiers as finance sees them: opaque references to the database's rows.

Public:

- ``Ref``: an id of a shop, brand, site, agent or contract (a UUID in the database; str or int in tests).
- ``ref_order(ref: Ref | None) -> tuple[int, str]``: a sort key that orders None (brand level) first,
  then by the id's text, so every output of finance comes in one reproducible order.
"""

from __future__ import annotations

from typing import TypeAlias
from uuid import UUID

Ref: TypeAlias = UUID | str | int


def ref_order(ref: Ref | None) -> tuple[int, str]:
    """Sort key: None first, then ids by their text (UUIDs, strings and ints alike)."""
    return (0, "") if ref is None else (1, str(ref))
