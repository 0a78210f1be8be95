"""Answers kept between requests: a bounded, least-recently-used memo per Database (so per process and per
database), for use cases whose answer is a pure function of what they read, when the database keeps a
version of what they read.

The SLA reports are the case (service.sla.service): their key holds the shop (its tenant, name, platform and
timezone), the shop's report version (a random uuid the database's triggers replace in every statement that
writes the shop's rollups, day histograms or policy versions: migration 0012) and every parameter; the
version is read in the caller's own transaction before anything else is, and only once the caller has been
shown to see the shop. So a hit is what the use case would compute now, in every process, and no caller
ever finds an answer about a shop it may not see. Values are never mutated once kept.

SEATWISE_REPORT_CACHE_SIZE sets the number of answers kept (0: none).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from prometheus_client import Counter

CACHE_LOOKUPS = Counter("seatwise_cache_lookups_total", "Answers looked up in the memo, by outcome",
                        ["outcome"])
_HIT, _MISS = CACHE_LOOKUPS.labels("hit"), CACHE_LOOKUPS.labels("miss")


class Memo:
    """SIZE answers at most, the least recently used dropped first."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        found = self._items.get(key)
        if found is None:
            _MISS.inc()
            return None
        self._items.move_to_end(key)
        _HIT.inc()
        return found

    def put(self, key: Hashable, value: Any) -> None:
        if self.size <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()


def memo_of(session: Any) -> Memo | None:
    """The memo of the session's Database (None when it keeps nothing)."""
    memo: Memo | None = session.info.get("memo")
    return memo if memo is not None and memo.size > 0 else None
