"""Field types the pydantic models of every domain share, each declared once."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import Path
from pydantic import AfterValidator

_ZONES = frozenset(available_timezones())
_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_TEXT = "holds a NUL character or a lone surrogate: send UTF-8 text"


def storable_text(value: str) -> bool:
    """VALUE is text PostgreSQL can hold: no NUL, no lone surrogate (JSON escapes and URLs spell both)."""
    if "\x00" in value:
        return False
    return value.isascii() or _SURROGATE.search(value) is None


def check_text(value: str | None) -> str | None:
    if value is not None and not storable_text(value):
        raise ValueError(NOT_TEXT)
    return value


Text = Annotated[str, AfterValidator(check_text)]
"""Every text parameter and field of both doors: a str that refuses NUL and lone surrogates (422)."""


def _zone(value: str | None) -> str | None:
    # None passes: in an update model it is "clear", which a NOT NULL column then refuses by name.
    if value is not None and value not in _ZONES:
        raise ValueError("not an IANA timezone (e.g. Asia/Shanghai)")
    return value


TimeZone = Annotated[str, AfterValidator(check_text), AfterValidator(_zone)]

TenantKey = Annotated[Text, Path(max_length=100, description="The brand's id or slug")]
"""A tenant named in a path: its id or its slug."""
