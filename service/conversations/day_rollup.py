"""Per-shop, per-local-day FRT histograms (shop_day_frt), kept beside the 15-minute rollups.

A day row is the bin-wise sum of the histograms of the shop's intervals whose start falls on that day of
the shop's local time (``interval_start AT TIME ZONE shops.timezone``), with the bins of
service.sla.metrics. Day, week and month reports read these (~30 rows a shop-month) instead of
concatenating ~3,000 interval histograms.

Two ways to keep them:
- ingest applies each batch's signed contributions (apply_day_frt_delta), in its transaction;
- a shop whose timezone changes (its days move) is recomputed from its interval histograms
  (rebuild_day_frt), as are rollups written by other means (benchmarks, test fixtures).
Both run under ingest's per-shop lock, so a day row never misses or double-counts a concurrent batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.conversations.rollups import frt_bin_sql

# The lock ingest takes per shop (service.conversations.ingest): one writer of a shop's rollups at a time.
_LOCK_SHOPS = """
SELECT pg_advisory_xact_lock(hashtext('seatwise_ingest'), hashtext(shop_id::text))
FROM (SELECT DISTINCT unnest(CAST(:shop_ids AS uuid[])) AS shop_id ORDER BY shop_id) shops
"""

# Each touched day's new histogram is its stored one plus the batch's signed counts per bin. A day left
# with no count is deleted in the same statement (the two parts touch different rows).
_APPLY = f"""
WITH delta AS (
  SELECT c.tenant_id, c.shop_id, (c.interval_start AT TIME ZONE s.timezone)::date AS day,
         {frt_bin_sql('c.frt')} AS bin, sum(c.sign) AS n
  FROM ingest_contrib c JOIN shops s ON s.tenant_id = c.tenant_id AND s.id = c.shop_id
  WHERE c.answered
  GROUP BY 1, 2, 3, 4
), merged AS (
  SELECT tenant_id, shop_id, day,
         COALESCE(array_agg(bin ORDER BY bin) FILTER (WHERE n <> 0), '{{}}') AS bins,
         COALESCE(array_agg(n ORDER BY bin) FILTER (WHERE n <> 0), '{{}}') AS counts
  FROM (
    SELECT tenant_id, shop_id, day, bin, sum(n)::int AS n FROM (
      SELECT tenant_id, shop_id, day, bin, n FROM delta
      UNION ALL
      SELECT d.tenant_id, d.shop_id, d.day, h.bin, h.n
      FROM shop_day_frt d
      JOIN (SELECT DISTINCT tenant_id, shop_id, day FROM delta) t
        ON t.tenant_id = d.tenant_id AND t.shop_id = d.shop_id AND t.day = d.day
      CROSS JOIN LATERAL unnest(d.frt_bins, d.frt_counts) AS h(bin, n)
    ) parts GROUP BY 1, 2, 3, 4
  ) summed GROUP BY 1, 2, 3
), emptied AS (
  DELETE FROM shop_day_frt d USING merged m
  WHERE cardinality(m.bins) = 0 AND d.tenant_id = m.tenant_id AND d.shop_id = m.shop_id AND d.day = m.day
)
INSERT INTO shop_day_frt (tenant_id, shop_id, day, frt_bins, frt_counts)
SELECT tenant_id, shop_id, day, bins, counts FROM merged WHERE cardinality(bins) > 0
ON CONFLICT (tenant_id, shop_id, day)
  DO UPDATE SET frt_bins = EXCLUDED.frt_bins, frt_counts = EXCLUDED.frt_counts
"""

_DELETE_SHOPS = """
DELETE FROM shop_day_frt d USING shops s
WHERE s.id = ANY(CAST(:shop_ids AS uuid[])) AND d.tenant_id = s.tenant_id AND d.shop_id = s.id
"""

_REBUILD_SHOPS = """
INSERT INTO shop_day_frt (tenant_id, shop_id, day, frt_bins, frt_counts)
SELECT tenant_id, shop_id, day, array_agg(bin ORDER BY bin), array_agg(n ORDER BY bin)
FROM (
  SELECT r.tenant_id, r.shop_id, (r.interval_start AT TIME ZONE s.timezone)::date AS day, h.bin,
         sum(h.n)::int AS n
  FROM shops s
  JOIN shop_interval_stats r ON r.tenant_id = s.tenant_id AND r.shop_id = s.id
  CROSS JOIN LATERAL unnest(r.frt_bins, r.frt_counts) AS h(bin, n)
  WHERE s.id = ANY(CAST(:shop_ids AS uuid[]))
  GROUP BY 1, 2, 3, 4
) summed
WHERE n <> 0
GROUP BY 1, 2, 3
"""


async def lock_shops(session: AsyncSession, shop_ids: Sequence[uuid.UUID]) -> None:
    """The per-shop ingest lock, to the end of the transaction: whoever writes a shop's conversations
    or rollups takes it first, in shop order (no deadlocks between batches)."""
    await session.execute(text(_LOCK_SHOPS), {"shop_ids": list(shop_ids)})


async def apply_day_frt_delta(session: AsyncSession) -> None:
    """Add an ingest batch's contributions (temp table ingest_contrib: +1 per new version, -1 per
    replaced one) to the day histograms. Call inside the ingest transaction, under its per-shop lock."""
    await session.execute(text(_APPLY))


async def rebuild_day_frt(session: AsyncSession, shop_ids: Sequence[uuid.UUID]) -> None:
    """Recompute the day histograms of SHOP_IDS from their interval histograms, in the shops' current
    timezones (the caller's transaction; rows the caller may not see are left alone by RLS)."""
    ids = sorted(set(shop_ids))
    if not ids:
        return
    params = {"shop_ids": ids}
    await lock_shops(session, ids)
    await session.execute(text(_DELETE_SHOPS), params)
    await session.execute(text(_REBUILD_SHOPS), params)
