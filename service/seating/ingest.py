"""Work session ingest on the shared batch machinery (service.kit.batches): each line checked in Python by
the reference rules (service.seating.sessions, on its fast path), shops and agent codes resolved per
chunk, the typed rows binary-COPYed into a staging table, then one INSERT ... ON CONFLICT DO UPDATE WHERE
changed: idempotent by (tenant, shop, external_id), a re-send changes nothing, all in the caller's
transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.kit import batches as kit
from service.kit.batches import IngestAnswer
from service.kit.collector import paused
from service.kit.records import EARLIEST, latest_timestamp
from service.kit.timing import StageClock
from service.seating import sessions as ws

log = logging.getLogger("seatwise.seating")

_STAGING = """
CREATE TEMP TABLE ws_valid (
  line_no integer, tenant_id uuid, shop_id uuid, external_id text COLLATE "C", agent_id uuid,
  login timestamptz, logout timestamptz, break_starts timestamptz[], break_ends timestamptz[]
) ON COMMIT DROP
"""
_COLUMNS = ["line_no", "tenant_id", "shop_id", "external_id", "agent_id", "login", "logout", "break_starts",
            "break_ends"]
_VISIBLE_SHOPS = ("SELECT id, tenant_id FROM shops "
                  "WHERE id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR tenant_id = $2)")
_AGENTS = "SELECT code, id FROM agents WHERE code = ANY($1::text[])"

# One statement: new keys inserted, changed ones updated, unchanged ones left as they are (the WHERE).
_UPSERT = """
INSERT INTO work_sessions AS w (tenant_id, shop_id, external_id, agent_id, during, breaks)
SELECT v.tenant_id, v.shop_id, v.external_id, v.agent_id, tstzrange(v.login, v.logout),
       CASE WHEN v.break_starts IS NULL THEN '{}'::tstzmultirange
            WHEN cardinality(v.break_starts) = 1  -- the common case, without a subquery per row
              THEN tstzmultirange(tstzrange(v.break_starts[1], v.break_ends[1]))
            ELSE (SELECT range_agg(tstzrange(b.s, b.e)) FROM unnest(v.break_starts, v.break_ends) AS b(s, e))
       END
FROM ws_valid v
ON CONFLICT (tenant_id, shop_id, external_id) DO UPDATE
  SET agent_id = EXCLUDED.agent_id, during = EXCLUDED.during, breaks = EXCLUDED.breaks, ingested_at = now()
  WHERE (w.agent_id, w.during, w.breaks)
        IS DISTINCT FROM (EXCLUDED.agent_id, EXCLUDED.during, EXCLUDED.breaks)
RETURNING (xmax = 0) AS inserted
"""


class _Sessions(kit.Batch):
    """Checked sessions on their way to the staging table: shops resolved to their tenant (RLS and a
    client's tenant limit what is found) and agent codes to agents, one query each per chunk for what is
    new; the last line of each (shop, external_id) kept."""

    def __init__(self, conn: Any, tenant_id: uuid.UUID | None, result: IngestAnswer, earliest: datetime,
                 latest: datetime | None = None):
        super().__init__(result)
        self.conn = conn
        self.tenant_id = tenant_id
        self.owners: dict[uuid.UUID, uuid.UUID | None] = {}
        self.agents: dict[str, uuid.UUID | None] = {}
        self.last_line: dict[tuple[int, str], int] = {}
        self.superseded: list[int] = []
        latest, check = latest or latest_timestamp(), ws.session_row
        shops: dict[str, uuid.UUID] = {}
        self.check: kit.Check = lambda doc: check(doc, latest, shops, earliest)

    async def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        shops = {row[2] for _, row in pending} - self.owners.keys()
        if shops:
            self.owners.update(dict.fromkeys(shops))
            for shop_id, tenant_id in await self.conn.fetch(_VISIBLE_SHOPS, list(shops), self.tenant_id):
                self.owners[shop_id] = tenant_id
        codes = {row[1] for _, row in pending} - self.agents.keys()
        if codes:
            self.agents.update(dict.fromkeys(codes))
            self.agents.update(await self.conn.fetch(_AGENTS, list(codes)))
        owners, agents, last_line, rejected = self.owners, self.agents, self.last_line, self.result.rejected
        staged = []
        for line_no, (ext, code, shop, login, logout, starts, ends) in pending:
            tenant = owners[shop]
            if tenant is None:
                rejected.append(kit.rejection(line_no, "shop_id", ws.REASON_UNKNOWN_SHOP))
                continue
            agent = agents[code]
            if agent is None:
                rejected.append(kit.rejection(line_no, "agent_code", ws.REASON_UNKNOWN_AGENT))
                continue
            key = (shop.int, ext)
            earlier = last_line.get(key)
            if earlier is not None:
                self.superseded.append(earlier)
            last_line[key] = line_no
            staged.append((line_no, tenant, shop, ext, agent, login, logout, starts, ends))
        if staged:
            await self.conn.copy_records_to_table("ws_valid", records=staged, columns=_COLUMNS)

    async def finish(self) -> None:
        """The lines a later line with the same key replaced: out of the staging table, into the report."""
        if self.superseded:
            await self.conn.execute("DELETE FROM ws_valid WHERE line_no = ANY($1::int[])", self.superseded)
            self.result.rejected += [kit.rejection(line, "external_id", ws.REASON_SUPERSEDED)
                                     for line in self.superseded]


async def ingest(session: AsyncSession, body: AsyncIterator[bytes] | Iterable[Mapping[str, Any]], kind: str,
                 tenant_id: uuid.UUID | None, earliest: datetime = EARLIEST, charset: str | None = None,
                 latest: datetime | None = None) -> IngestAnswer:
    """One batch of work sessions in the session's transaction (KIND: kit.batches.NDJSON or CSV; BODY bytes,
    or records as NDJSON's lines parse: kit.batches.stage_records). TENANT_ID limits the shops (None: staff);
    EARLIEST and LATEST bound the timestamps (LATEST: default now plus the slack). Raises TooLarge past
    kit.batches.MAX_RECORDS (all rolls back)."""
    result = kit.empty_answer()
    clock = StageClock()
    conn = await session.connection()
    raw: Any = (await conn.get_raw_connection()).driver_connection
    await raw.execute("SET LOCAL work_mem = '128MB';" + _STAGING)
    batch = _Sessions(raw, tenant_id, result, earliest, latest)
    with paused():
        await kit.stage_body(body, kind, charset, batch, batch.check, ws.FIELDS, ws.REQUIRED_FIELDS)
        await batch.finish()
    result.received = batch.records
    clock.lap("parse+stage")
    if batch.last_line:
        result.inserted, result.updated, result.unchanged = await kit.upsert_counts(
            raw, _UPSERT, len(batch.last_line))
        clock.lap("store")
    result.rejected.sort(key=lambda x: x.line)
    log.info("work sessions: %d received, %d inserted, %d updated, %d unchanged, %d rejected; %s",
             result.received, result.inserted, result.updated, result.unchanged, len(result.rejected), clock)
    return result
