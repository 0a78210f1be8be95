"""Conversation ingest: parse and validate each line in Python with the reference rules
(service.conversations.records, on its fast path), binary-COPY the typed rows into a staging table, then
upsert idempotently by (shop, external_id) and move the 15-minute rollups by deltas, set-based, all in the
caller's transaction.

Why this split: orjson plus the fast path type a record in a few microseconds, where PostgreSQL's
json and timestamp input functions cost several times that, and typed binary COPY leaves PostgreSQL
only the work that needs the stored data (matching earlier versions, inserting, rollups). Rows are
staged in chunks as they are read, so a 100,000-record request never becomes 100,000 Python objects.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.conversations import records as r
from service.conversations.day_rollup import apply_day_frt_delta, lock_shops
from service.conversations.rollups import (
    COUNTERS,
    FRT_SQL,
    INTERVAL_START_SQL,
    RESPONSE_CAP_S,
    ROUND_TARGET_S,
    frt_bin_sql,
)
from service.conversations.schemas import IngestAnswer
from service.kit import batches as kit
from service.kit.batches import (  # the shared batch machinery (re-exported: this module's API)
    COPY_CHUNK,
    CSV,
    MAX_BLANK_LINES,
    MAX_DEPTH,
    MAX_LINE_BYTES,
    MAX_RECORDS,
    NDJSON,
    REASON_BAD_ENCODING,
    REASON_LINE_TOO_LONG,
    REASON_TOO_DEEP,
    empty_answer,
    line_batches,
    lines_of,
    too_deep,
    transcoded,
)
from service.kit.batches import rejection as _rejection
from service.kit.collector import paused as _no_cyclic_gc  # parsing and staging: see the kit
from service.kit.timing import StageClock

__all__ = ["COPY_CHUNK", "CSV", "MAX_BLANK_LINES", "MAX_DEPTH", "MAX_LINE_BYTES", "MAX_RECORDS", "NDJSON",
           "REASON_BAD_ENCODING", "REASON_LINE_TOO_LONG", "REASON_TOO_DEEP", "empty_answer", "ingest",
           "ingest_staged", "line_batches", "lines_of", "too_deep", "transcoded"]

log = logging.getLogger("seatwise.conversations")

REASON_UNKNOWN_SHOP = "unknown shop"
REASON_SUPERSEDED = "superseded by a later line with the same shop_id and external_id"


_STAGED_COLUMNS = ["line_no", "tenant_id", *r.FIELDS]
_STAGING = """
CREATE TEMP TABLE ingest_valid (
  line_no integer, tenant_id uuid, external_id text, shop_id uuid, started_at timestamptz,
  first_response_at timestamptz, ended_at timestamptz, kind text, response_times_s float8[], agent_code text,
  converted boolean, order_amount numeric(14, 2), csat smallint
) ON COMMIT DROP
"""
_VISIBLE_SHOPS = ("SELECT id, tenant_id FROM shops "
                  "WHERE id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR tenant_id = $2)")


class _Stager(kit.Batch):
    """Typed rows on their way to the staging table: resolves each shop to its tenant (one query per
    chunk, for shops not seen yet; RLS and the client's tenant limit what is found), keeps the last
    line of each (shop, external_id), and COPYs in chunks."""

    def __init__(self, conn, tenant_id: uuid.UUID | None, result: IngestAnswer,
                 earliest: datetime = r.EARLIEST):
        super().__init__(result)
        self.conn = conn
        self.tenant_id = tenant_id
        self.latest = r.latest_timestamp()
        self.earliest = earliest
        self.parsed_shops: dict[str, uuid.UUID] = {}
        self.owners: dict[uuid.UUID, uuid.UUID | None] = {}
        self.last_line: dict[tuple[uuid.UUID, str], int] = {}
        self.superseded: list[int] = []
        self.first_start: datetime | None = None
        self.last_start: datetime | None = None
        latest, shops, validate = self.latest, self.parsed_shops, r.validate_row
        # One parsed record, by the reference rules on their fast path (a closure: the hot path).
        self.check: kit.Check = lambda doc: validate(doc, latest, shops, earliest)

    @property
    def keys(self) -> int:
        """How many distinct (shop, external_id) the staging table holds."""
        return len(self.last_line)

    @property
    def shops(self) -> set[int]:
        """The staged rows' shops (as the ints of their uuids)."""
        return {shop for shop, _ in self.last_line}

    async def flush(self) -> None:
        if not self.pending:
            return
        unseen = {row[1] for _, row in self.pending} - self.owners.keys()
        if unseen:
            self.owners.update(dict.fromkeys(unseen))
            for shop_id, tenant_id in await self.conn.fetch(_VISIBLE_SHOPS, list(unseen), self.tenant_id):
                self.owners[shop_id] = tenant_id
        staged = self._staged()
        self.pending = []
        if staged:
            await self.conn.copy_records_to_table("ingest_valid", records=staged, columns=_STAGED_COLUMNS)

    def _staged(self) -> list[tuple]:
        """The pending rows of visible shops, as staging rows; the last line of each key is remembered."""
        staged = []
        owners, last_line, lo, hi = self.owners, self.last_line, self.first_start, self.last_start
        for line_no, row in self.pending:
            tenant_id = owners[row[1]]
            if tenant_id is None:
                self.result.rejected.append(_rejection(line_no, "shop_id", REASON_UNKNOWN_SHOP))
                continue
            key = (row[1].int, row[0])  # UUID.__hash__ is Python code; its int hashes in C
            earlier = last_line.get(key)
            if earlier is not None:
                self.superseded.append(earlier)
            last_line[key] = line_no
            staged.append((line_no, tenant_id, *row))
            started = row[2]
            if lo is None or started < lo:
                lo = started
            if hi is None or started > hi:
                hi = started
        self.first_start, self.last_start = lo, hi
        return staged

    async def finish(self) -> None:
        """The last chunk, then the lines a later line with the same key replaced (a batch applies in
        order)."""
        await self.flush()
        if self.superseded:
            await self.conn.execute("DELETE FROM ingest_valid WHERE line_no = ANY($1::int[])",
                                    self.superseded)
            self.result.rejected += [_rejection(line, "external_id", REASON_SUPERSEDED)
                                     for line in self.superseded]


def _take_ndjson(lines: list[bytes | None], line_no: int, stager: _Stager) -> int:
    """Check and take whole lines (kit.batches.take_ndjson with the conversation rules)."""
    return kit.take_ndjson(lines, line_no, stager, stager.check)


async def stage_ndjson(body: AsyncIterator[bytes], stager: _Stager) -> None:
    await kit.stage_ndjson(body, stager, stager.check)


async def stage_csv(lines: AsyncIterator[bytes | None], stager: _Stager) -> None:
    await kit.stage_csv(lines, stager, stager.check, r.FIELDS, r.REQUIRED_FIELDS)


# --- the SQL pipeline -------------------------------------------------------------------------------

# Earlier versions, found by (tenant, shop, external_id) whatever month they started in, among the
# partitions that can hold one: those between the batch's shops' first and last stored interval (pruned at
# plan time from the literal bounds). Each staged row probes the key's index, whatever the statistics say.
_MATCHED = """
CREATE TEMP TABLE ingest_matched ON COMMIT DROP AS
SELECT v.line_no, c.started_at AS old_started_at,
       (c.started_at = v.started_at
        AND c.first_response_at IS NOT DISTINCT FROM v.first_response_at
        AND c.ended_at IS NOT DISTINCT FROM v.ended_at
        AND c.kind = v.kind
        AND c.response_times_s IS NOT DISTINCT FROM v.response_times_s
        AND c.agent_code IS NOT DISTINCT FROM v.agent_code
        AND c.converted = v.converted
        AND c.order_amount IS NOT DISTINCT FROM v.order_amount
        AND c.csat IS NOT DISTINCT FROM v.csat) AS same
FROM ingest_valid v
CROSS JOIN LATERAL (
  SELECT c.started_at, c.first_response_at, c.ended_at, c.kind, c.response_times_s, c.agent_code, c.converted,
         c.order_amount, c.csat
  FROM conversations c
  WHERE c.tenant_id = v.tenant_id AND c.shop_id = v.shop_id AND c.external_id = v.external_id
    AND c.started_at >= '{lo}'::timestamptz AND c.started_at < '{hi}'::timestamptz
  OFFSET 0  -- a fence: never flattened into a join the planner could turn around
) c
"""
_NOTHING_MATCHED = ("CREATE TEMP TABLE ingest_matched (line_no integer, old_started_at timestamptz, "
                    "same boolean) ON COMMIT DROP")
# The stored range of each of the batch's shops, from its rollups (an index descent at each end).
_STORED_RANGE = """
SELECT min(b.lo), max(b.hi) + interval '15 minutes'
FROM unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, shop_id)
CROSS JOIN LATERAL (SELECT min(interval_start) AS lo, max(interval_start) AS hi FROM shop_interval_stats s
                    WHERE s.tenant_id = k.tenant_id AND s.shop_id = k.shop_id) b
"""

_DELETE_OLD = """
DELETE FROM conversations c USING ingest_matched m JOIN ingest_valid v ON v.line_no = m.line_no
WHERE NOT m.same AND c.tenant_id = v.tenant_id AND c.shop_id = v.shop_id AND c.external_id = v.external_id
  AND c.started_at = m.old_started_at
"""

_INSERT_NEW = """
INSERT INTO conversations (tenant_id, shop_id, external_id, started_at, first_response_at, ended_at, kind,
                           response_times_s, agent_code, converted, order_amount, csat)
SELECT v.tenant_id, v.shop_id, v.external_id, v.started_at, v.first_response_at, v.ended_at, v.kind,
       v.response_times_s, v.agent_code, v.converted, v.order_amount, v.csat
FROM ingest_valid v LEFT JOIN ingest_matched m ON m.line_no = v.line_no
WHERE m.line_no IS NULL OR NOT m.same
"""

def _contributions(source: str, sign: int) -> str:
    """What each conversation of SOURCE (aliased c, with a line_no) adds to its interval's rollup,
    times SIGN: +1 for a new version, -1 for the version it replaces. Rollups move by these deltas
    only, so a batch costs the size of the batch, not of the intervals it touches."""
    return f"""
SELECT c.line_no, c.tenant_id, c.shop_id, {INTERVAL_START_SQL} AS interval_start, {sign} AS sign, c.kind,
       c.converted, c.order_amount, c.csat, c.first_response_at IS NOT NULL AS answered,
       {FRT_SQL} AS frt,
       EXTRACT(EPOCH FROM (c.ended_at - c.first_response_at))::float8 AS handle,
       CASE WHEN c.response_times_s IS NOT NULL THEN cardinality(c.response_times_s) ELSE 1 END AS rounds,
       CASE WHEN c.response_times_s IS NOT NULL
              THEN (SELECT count(*) FROM unnest(c.response_times_s) t WHERE t <= {ROUND_TARGET_S})
            WHEN c.first_response_at IS NOT NULL
              THEN (EXTRACT(EPOCH FROM (c.first_response_at - c.started_at)) <= {ROUND_TARGET_S})::int
            ELSE 0 END AS within,
       CASE WHEN c.response_times_s IS NOT NULL
              THEN (SELECT sum(least(t, {RESPONSE_CAP_S})) FROM unnest(c.response_times_s) t)
            WHEN c.first_response_at IS NOT NULL
              THEN least(EXTRACT(EPOCH FROM (c.first_response_at - c.started_at))::float8, {RESPONSE_CAP_S})
            ELSE {RESPONSE_CAP_S} END AS capped
FROM {source}"""


# Every staged row's +1 is computed before the per-shop lock (it needs no stored data, so concurrent
# batches compute theirs in parallel); under the lock, unchanged rows drop out and each replaced
# version adds its -1 (read before it is deleted).
_NEW_CONTRIBUTIONS = ("CREATE TEMP TABLE ingest_contrib ON COMMIT DROP AS"
                      + _contributions("ingest_valid c", 1))
_REPLACED = """(
  SELECT m.line_no, o.* FROM ingest_matched m JOIN ingest_valid v ON v.line_no = m.line_no
  JOIN conversations o ON o.tenant_id = v.tenant_id AND o.shop_id = v.shop_id
   AND o.external_id = v.external_id AND o.started_at = m.old_started_at
  WHERE NOT m.same) c"""
_SETTLE_CONTRIBUTIONS = ("DELETE FROM ingest_contrib c USING ingest_matched m "
                         "WHERE m.line_no = c.line_no AND m.same;"
                         "INSERT INTO ingest_contrib" + _contributions(_REPLACED, -1))

_ROLLUP_COLUMNS = ", ".join(COUNTERS)

_DELTA = """
CREATE TEMP TABLE ingest_delta ON COMMIT DROP AS
SELECT tenant_id, shop_id, interval_start,
       sum(sign) AS offered, sum(sign) FILTER (WHERE answered) AS answered,
       sum(sign) FILTER (WHERE kind = 'presale') AS presale_offered,
       sum(sign) FILTER (WHERE kind = 'presale' AND converted) AS presale_converted,
       sum(sign) FILTER (WHERE converted) AS converted,
       sum(sign * order_amount) FILTER (WHERE converted) AS gmv,
       sum(sign * frt) FILTER (WHERE answered) AS frt_sum_s,
       sum(sign * rounds) AS rounds, sum(sign * within) AS rounds_within_180,
       sum(sign * capped) AS response_capped_sum_s,
       sum(sign) FILTER (WHERE handle IS NOT NULL) AS handled, sum(sign * handle) AS handle_sum_s,
       sum(sign) FILTER (WHERE csat IS NOT NULL) AS csat_count,
       sum(sign) FILTER (WHERE csat >= 4) AS csat_good, sum(sign) FILTER (WHERE csat <= 2) AS csat_bad
FROM ingest_contrib GROUP BY 1, 2, 3
"""

_APPLY_DELTA = f"""
WITH hist AS (
  SELECT tenant_id, shop_id, interval_start,
         COALESCE(array_agg(bin ORDER BY bin) FILTER (WHERE n <> 0), '{{}}') AS bins,
         COALESCE(array_agg(n ORDER BY bin) FILTER (WHERE n <> 0), '{{}}') AS counts
  FROM (
    SELECT tenant_id, shop_id, interval_start, bin, sum(n)::int AS n FROM (
      SELECT tenant_id, shop_id, interval_start, {frt_bin_sql('frt')} AS bin, sign AS n
      FROM ingest_contrib WHERE answered
      UNION ALL
      SELECT s.tenant_id, s.shop_id, s.interval_start, h.bin, h.n
      FROM shop_interval_stats s
      JOIN ingest_delta d
        ON d.tenant_id = s.tenant_id AND d.shop_id = s.shop_id AND d.interval_start = s.interval_start
      CROSS JOIN LATERAL unnest(s.frt_bins, s.frt_counts) AS h(bin, n)
    ) parts GROUP BY 1, 2, 3, 4
  ) summed GROUP BY 1, 2, 3
)
INSERT INTO shop_interval_stats (tenant_id, shop_id, interval_start, {_ROLLUP_COLUMNS}, frt_bins, frt_counts)
SELECT d.tenant_id, d.shop_id, d.interval_start,
       {', '.join(f'COALESCE(s.{c.strip()}, 0) + COALESCE(d.{c.strip()}, 0)'
                  for c in _ROLLUP_COLUMNS.split(','))},
       COALESCE(h.bins, '{{}}'), COALESCE(h.counts, '{{}}')
FROM ingest_delta d
LEFT JOIN shop_interval_stats s
  ON s.tenant_id = d.tenant_id AND s.shop_id = d.shop_id AND s.interval_start = d.interval_start
LEFT JOIN hist h
  ON h.tenant_id = d.tenant_id AND h.shop_id = d.shop_id AND h.interval_start = d.interval_start
ON CONFLICT (tenant_id, shop_id, interval_start) DO UPDATE SET
  {', '.join(f'{c.strip()} = EXCLUDED.{c.strip()}' for c in _ROLLUP_COLUMNS.split(','))},
  frt_bins = EXCLUDED.frt_bins, frt_counts = EXCLUDED.frt_counts
"""

# The batch's monthly partitions, made when one is missing. Only then is the database's function called: it
# takes a lock that one creator at a time holds to the end of its transaction, and every other ingest then
# waited for that one to commit, even with nothing to create (the demo's history in two batches did).
_ENSURE_PARTITIONS = """
SELECT CASE WHEN bool_and(to_regclass(format('conversations_p%s', to_char(m, 'YYYY_MM'))) IS NOT NULL)
            THEN 0 ELSE seatwise_ensure_conversation_partitions($1, $2) END
FROM generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'),
                     date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC'), interval '1 month') AS m
"""

# An interval whose every conversation moved elsewhere has no rollup row at all.
_DROP_EMPTY = """
DELETE FROM shop_interval_stats s USING ingest_delta d
WHERE s.tenant_id = d.tenant_id AND s.shop_id = d.shop_id AND s.interval_start = d.interval_start
  AND s.offered = 0
"""


async def _staging(session: AsyncSession, tenant_id: uuid.UUID | None, result: IngestAnswer,
                   earliest: datetime = r.EARLIEST, kind: type[_Stager] = _Stager):
    """The batch's raw connection and a stager (of KIND) over its staging table."""
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    # Room for a 100,000-line batch's intermediate results in memory rather than temp files.
    await raw.execute("SET LOCAL work_mem = '128MB';" + _STAGING)
    return raw, kind(raw, tenant_id, result, earliest)


async def ingest(session: AsyncSession, body: AsyncIterator[bytes], content_type: str,
                 tenant_id: uuid.UUID | None, earliest: datetime = r.EARLIEST,
                 charset: str | None = None) -> IngestAnswer:
    """Ingest one batch in the session's transaction. TENANT_ID limits the shops (a client's own);
    None for staff. EARLIEST: the earliest start a record may carry. CHARSET: a CSV's declared encoding
    when not UTF-8. Raises TooLarge past MAX_RECORDS (the transaction then rolls back whole)."""
    result = empty_answer()
    clock = StageClock()
    raw, stager = await _staging(session, tenant_id, result, earliest)
    with _no_cyclic_gc():
        await kit.stage_body(body, content_type, charset, stager, stager.check, r.FIELDS, r.REQUIRED_FIELDS)
        await stager.finish()
    return await _apply(session, raw, stager, clock)


async def ingest_staged(session: AsyncSession, stage: Callable[[Any], Awaitable[None]]) -> IngestAnswer:
    """A batch a trusted loader writes into the staging table itself: STAGE(raw connection) fills
    ingest_valid (the demo COPYs its generated columns there in one binary stream) with rows that keep
    the record rules, line numbers from 1 and one row per (shop, external_id). Then the same matching,
    storing and rollups as every batch, in the session's transaction."""
    result = empty_answer()
    clock = StageClock()
    raw, stager = await _staging(session, None, result, kind=_LoadedStager)
    await stage(raw)
    stager.records, stager.first_start, stager.last_start = await raw.fetchrow(
        "SELECT count(*), min(started_at), max(started_at) FROM ingest_valid")
    stager.loaded_keys = stager.records  # one row per (shop, external_id), as the loader promised
    # The shops' owners bound the matching to their stored range, as for parsed batches.
    stager.owners = {shop: tenant for shop, tenant in await raw.fetch(
        "SELECT DISTINCT shop_id, tenant_id FROM ingest_valid")}
    return await _apply(session, raw, stager, clock)


class _LoadedStager(_Stager):
    """What a trusted loader staged, known from the staging table itself (not a Python dict of its keys:
    the demo's 100,000 rows cost half a second to fetch and index)."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.loaded_keys = 0

    @property
    def keys(self) -> int:
        return self.loaded_keys

    @property
    def shops(self) -> set[int]:
        return {shop.int for shop in self.owners}


async def _apply(session: AsyncSession, raw, stager: _Stager, clock: StageClock) -> IngestAnswer:
    """Match the staged rows against earlier versions, store the new and changed ones and move the
    rollups: the set-based part of every ingest."""
    result = stager.result
    result.received = stager.records
    clock.lap("parse+stage")
    if not stager.keys:
        result.rejected.sort(key=lambda x: x.line)
        return result

    await raw.execute(_ENSURE_PARTITIONS, stager.first_start, stager.last_start)
    await raw.execute(_NEW_CONTRIBUTIONS)
    clock.lap("contributions")
    # Serialize ingests per shop from here to commit: matching must see every committed version of
    # the batch's keys, and no other batch may add a version in between.
    shops = sorted(uuid.UUID(int=shop) for shop in stager.shops)
    await lock_shops(session, shops)
    clock.lap("lock")
    # One index probe per staged row and partition: whatever the statistics say (a fresh month's
    # partition has none), never sort or hash a whole table of conversations to match a batch.
    keys = [(t, s) for s, t in stager.owners.items() if t is not None]
    lo, hi = await raw.fetchrow(_STORED_RANGE, [t for t, _ in keys], [s for _, s in keys])
    if lo is None:  # none of these shops has a stored conversation
        await raw.execute(_NOTHING_MATCHED)
    else:
        await raw.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;"
                          + _MATCHED.format(lo=lo.isoformat(), hi=hi.isoformat())
                          + "; RESET enable_hashjoin; RESET enable_mergejoin")
    unchanged, updated = await raw.fetchrow(
        "SELECT count(*) FILTER (WHERE same), count(*) FILTER (WHERE NOT same) FROM ingest_matched")
    result.unchanged, result.updated = unchanged, updated
    result.inserted = stager.keys - unchanged - updated
    clock.lap("match")
    if result.inserted or result.updated:
        await raw.execute(_SETTLE_CONTRIBUTIONS)  # before the old versions are deleted
        await raw.execute(_DELTA)
        clock.lap("delta")
        await raw.execute(_DELETE_OLD)
        await raw.execute(_INSERT_NEW)
        clock.lap("store")
        await raw.execute(_APPLY_DELTA)
        await raw.execute(_DROP_EMPTY)
        await apply_day_frt_delta(session)
        clock.lap("rollups")
    result.rejected.sort(key=lambda x: x.line)
    log.info("ingest: %d received, %d inserted, %d updated, %d unchanged, %d rejected; %s", result.received,
             result.inserted, result.updated, result.unchanged, len(result.rejected), clock)
    return result
