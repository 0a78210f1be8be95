"""Rate limits per credential (a token's id or an API key), the same for REST and GraphQL: the `limits`
library's sliding-window counters, in-process by default, or in a shared store (e.g.
`SEATWISE_RATE_LIMIT_STORAGE=async+redis://host:6379`) when many replicas must count together."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from service.kit.errors import TooManyRequests


class RateLimiter:
    def __init__(self, spec: str, storage_uri: str = "async+memory://"):
        """SPEC: limits such as `100/second;3000/minute` (empty: no limit)."""
        self.limits: list[RateLimitItem] = parse_many(spec) if spec.strip() else []
        if not storage_uri.startswith("async+"):
            storage_uri = "async+" + storage_uri
        self.strategy = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))

    async def hit(self, key: str) -> None:
        """Count one call of KEY; TooManyRequests (429, Retry-After) past any limit."""
        for limit in self.limits:
            if not await self.strategy.hit(limit, key):
                stats = await self.strategy.get_window_stats(limit, key)
                retry = math.ceil(stats.reset_time - time.time())
                raise TooManyRequests(f"more than {limit} for this credential; retry in {max(1, retry)} s",
                                      retry)
