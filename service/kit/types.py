"""Field types the pydantic models of every domain share, each declared once."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator

_ZONES = frozenset(available_timezones())


def _zone(value: str | None) -> str | None:
    # None passes: in an update model it is "clear", which a NOT NULL column then refuses by name.
    if value is not None and value not in _ZONES:
        raise ValueError("not an IANA timezone (e.g. Asia/Shanghai)")
    return value


TimeZone = Annotated[str, AfterValidator(_zone)]
