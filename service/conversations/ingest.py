"""Set-based conversation ingest: stream lines into a staging table with COPY, validate and type them
in one SQL statement, upsert idempotently by (shop, external_id), and recompute the 15-minute rollups
of every interval the batch touched, all in the caller's transaction.

Why SQL and not Python per record: a batch of 100,000 records validated in PostgreSQL's C code costs
a fraction of what 100,000 Python dict walks do, and the rows never become Python objects, which is
what keeps the server's memory flat through a million-record load.

The rules and their wording are those of service.sla.records (the reference validator).
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.errors import Invalid, TooLarge
from service.sla import records as r
from service.sla.metrics import FRT_SQL, INTERVAL_START_SQL, RESPONSE_CAP_S, ROUND_TARGET_S, frt_bin_sql

MAX_RECORDS = 100_000
MAX_LINE_BYTES = 64 * 1024
COPY_CHUNK = 10_000
REASON_UNKNOWN_SHOP = "unknown shop"
REASON_TOO_LONG = "too long"
REASON_OUT_OF_RANGE = "timestamp out of range"
REASON_SUPERSEDED = "superseded by a later line with the same shop_id and external_id"
REASON_BAD_ENCODING = "not UTF-8 text"

NDJSON = "application/x-ndjson"
CSV = "text/csv"


@dataclass
class IngestResult:
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.received += other.received
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected

    def as_dict(self) -> dict:
        return {"received": self.received, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected}


# --- reading lines ------------------------------------------------------------------------------------


async def lines_of(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Physical lines of a streamed body, without holding the body."""
    rest = b""
    async for chunk in chunks:
        if not chunk:
            continue
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part
    if rest:
        yield rest


class _Stager:
    """Feeds (line_no, raw JSON text) rows to the staging table in COPY-sized chunks."""

    def __init__(self, conn, result: IngestResult):
        self.conn = conn
        self.result = result
        self.pending: list[tuple[int, str]] = []
        self.records = 0

    async def add(self, line_no: int, raw: str) -> None:
        self.records += 1
        if self.records > MAX_RECORDS:
            raise TooLarge(f"a batch holds at most {MAX_RECORDS:,} records; split the file")
        self.pending.append((line_no, raw))
        if len(self.pending) >= COPY_CHUNK:
            await self.flush()

    def reject(self, line_no: int, field_: str | None, reason: str) -> None:
        self.records += 1
        if self.records > MAX_RECORDS:
            raise TooLarge(f"a batch holds at most {MAX_RECORDS:,} records; split the file")
        self.result.rejected.append({"line": line_no, "field": field_, "reason": reason})

    async def flush(self) -> None:
        if self.pending:
            await self.conn.copy_records_to_table("ingest_raw", records=self.pending, columns=["line_no", "raw"])
            self.pending = []


def _decode(line: bytes) -> str | None:
    line = line.rstrip(b"\r")
    if b"\x00" in line:
        return None
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return None


async def stage_ndjson(lines: AsyncIterator[bytes], stager: _Stager) -> None:
    line_no = 0
    async for line in lines:
        line_no += 1
        if not line.strip():
            continue  # blank lines are not records
        if len(line) > MAX_LINE_BYTES:
            stager.reject(line_no, None, r.REASON_MALFORMED)
            continue
        decoded = _decode(line)
        if decoded is None:
            stager.reject(line_no, None, REASON_BAD_ENCODING)
            continue
        await stager.add(line_no, decoded)


def _csv_cell(name: str, value: str):
    """CSV cells are strings; response_times_s becomes a JSON array when it parses as one
    (a JSON array string or ';'-separated numbers), so the SQL path sees one shape."""
    if name != "response_times_s" or not value.strip():
        return value
    value = value.strip()
    if value.startswith("["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    parts = [p.strip() for p in value.split(";")]
    if all(r.NUMBER_RE.fullmatch(p) for p in parts):
        return [float(p) for p in parts]
    return value


async def stage_csv(lines: AsyncIterator[bytes], stager: _Stager) -> None:
    header: list[str] | None = None
    line_no = 0
    async for line in lines:
        line_no += 1
        decoded = _decode(line)
        if header is None:
            if decoded is None or not decoded.strip():
                raise Invalid("body", "the CSV must start with a header row naming the fields")
            header = [h.strip().lstrip("\ufeff") for h in next(csv.reader([decoded]))]
            missing = sorted(set(r.REQUIRED_FIELDS) - set(header))
            if missing:
                raise Invalid("body", f"the CSV header lacks required columns: {', '.join(missing)}")
            continue
        if decoded is None:
            stager.reject(line_no, None, REASON_BAD_ENCODING)
            continue
        if not decoded.strip():
            continue
        try:
            cells = next(csv.reader([decoded]))
        except (csv.Error, StopIteration):
            stager.reject(line_no, None, r.REASON_MALFORMED)
            continue
        if len(cells) != len(header):
            stager.reject(line_no, None, r.REASON_MALFORMED)
            continue
        row = {name: _csv_cell(name, value) for name, value in zip(header, cells, strict=True) if name in r.FIELDS}
        await stager.add(line_no, json.dumps(row, ensure_ascii=False))
    if header is None:
        raise Invalid("body", "the CSV must start with a header row naming the fields")


# --- the SQL pipeline -------------------------------------------------------------------------------

_ISO_BASE = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
_ISO_FULL = _ISO_BASE + r"([Zz]|[+-]\d{2}(:?\d{2})?)$"
_NUMBER = "^" + r.NUMBER_RE.pattern + "$"
_INTEGER = "^" + r.INTEGER_RE.pattern + "$"
_BOOLEANS = "('true','t','yes','y','1','false','f','no','n','0')"
_TRUE = "('true','t','yes','y','1')"


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _err(field_: str | None, reason: str) -> str:
    return f"ARRAY[{_q(field_) if field_ else 'NULL'}, {_q(reason)}]"


def _timestamp_checks(col: str, name: str, required: bool) -> str:
    checks = [f"WHEN {col} IS NULL THEN {_err(name, r.REASON_MISSING)}"] if required else []
    guard = f"{col} IS NOT NULL AND " if not required else ""
    checks += [
        f"WHEN {guard}{col} !~ {_q(_ISO_BASE)} THEN {_err(name, r.REASON_BAD_TIMESTAMP)}",
        f"WHEN {guard}{col} !~ {_q(_ISO_FULL)} THEN {_err(name, r.REASON_NO_TIMEZONE)}",
        f"WHEN {guard}NOT pg_input_is_valid({col}, 'timestamptz') THEN {_err(name, r.REASON_BAD_TIMESTAMP)}",
        f"WHEN {guard}({col}::timestamptz < TIMESTAMPTZ '2000-01-01Z' OR {col}::timestamptz > now() + interval '2 days')"
        f" THEN {_err(name, REASON_OUT_OF_RANGE)}",
    ]
    return "\n".join(checks)


# The first failing rule names the field and the reason, in the order of records.FIELDS, then the
# rules between fields, then the shop (unknown, or another tenant's: the same answer).
_CHECKED = f"""
CREATE TEMP TABLE ingest_checked ON COMMIT DROP AS
WITH parsed AS (
  SELECT line_no, CASE WHEN pg_input_is_valid(raw, 'jsonb') THEN raw::jsonb END AS doc FROM ingest_raw
), fields AS (
  SELECT line_no, doc, jsonb_typeof(doc) AS doc_type,
         NULLIF(btrim(doc->>'external_id'), '') AS ext, jsonb_typeof(doc->'external_id') AS ext_type,
         NULLIF(btrim(doc->>'shop_id'), '') AS shop,
         NULLIF(btrim(doc->>'started_at'), '') AS s_at,
         NULLIF(btrim(doc->>'first_response_at'), '') AS f_at,
         NULLIF(btrim(doc->>'ended_at'), '') AS e_at,
         lower(NULLIF(btrim(doc->>'kind'), '')) AS kind,
         CASE WHEN jsonb_typeof(doc->'response_times_s') = 'array'
                   AND jsonb_array_length(doc->'response_times_s') > 0 THEN doc->'response_times_s'
              WHEN jsonb_typeof(doc->'response_times_s') = 'string'
                   AND btrim(doc->>'response_times_s') <> '' THEN doc->'response_times_s' END AS rts,
         NULLIF(btrim(doc->>'agent_code'), '') AS agent,
         lower(NULLIF(btrim(doc->>'converted'), '')) AS conv,
         NULLIF(btrim(doc->>'order_amount'), '') AS amount, jsonb_typeof(doc->'order_amount') AS amount_type,
         NULLIF(btrim(doc->>'csat'), '') AS csat
  FROM parsed
), judged AS (
  SELECT f.*, CASE
    WHEN doc IS NULL OR doc_type <> 'object' THEN {_err(None, r.REASON_MALFORMED)}
    WHEN ext IS NULL THEN {_err('external_id', r.REASON_MISSING)}
    WHEN ext_type NOT IN ('string', 'number') THEN {_err('external_id', r.REASON_NOT_TEXT)}
    WHEN length(ext) > 128 THEN {_err('external_id', REASON_TOO_LONG + ' (at most 128 characters)')}
    WHEN shop IS NULL THEN {_err('shop_id', r.REASON_MISSING)}
    WHEN NOT pg_input_is_valid(shop, 'uuid') THEN {_err('shop_id', r.REASON_BAD_UUID)}
    {_timestamp_checks('s_at', 'started_at', True)}
    {_timestamp_checks('f_at', 'first_response_at', False)}
    {_timestamp_checks('e_at', 'ended_at', False)}
    WHEN kind IS NULL THEN {_err('kind', r.REASON_MISSING)}
    WHEN kind NOT IN ('presale', 'aftersale') THEN {_err('kind', r.REASON_BAD_KIND)}
    WHEN rts IS NOT NULL AND (jsonb_typeof(rts) <> 'array' OR EXISTS (
           SELECT 1 FROM jsonb_array_elements(rts) e
           WHERE CASE WHEN jsonb_typeof(e) <> 'number' THEN true ELSE e::text::float8 < 0 END))
      THEN {_err('response_times_s', r.REASON_BAD_RESPONSE_TIMES)}
    WHEN agent IS NOT NULL AND length(agent) > 64 THEN {_err('agent_code', REASON_TOO_LONG + ' (at most 64 characters)')}
    WHEN conv IS NOT NULL AND conv NOT IN {_BOOLEANS} THEN {_err('converted', r.REASON_BAD_BOOLEAN)}
    WHEN amount IS NOT NULL AND (amount_type NOT IN ('string', 'number') OR amount !~ {_q(_NUMBER)})
      THEN {_err('order_amount', r.REASON_BAD_AMOUNT)}
    WHEN amount IS NOT NULL AND NOT pg_input_is_valid(amount, 'numeric')
      THEN {_err('order_amount', r.REASON_AMOUNT_TOO_LARGE)}
    WHEN amount IS NOT NULL AND round(amount::numeric, 2) < 0 THEN {_err('order_amount', r.REASON_NEGATIVE_AMOUNT)}
    WHEN amount IS NOT NULL AND round(amount::numeric, 2) > {r.MAX_AMOUNT}
      THEN {_err('order_amount', r.REASON_AMOUNT_TOO_LARGE)}
    WHEN csat IS NOT NULL AND csat !~ {_q(_INTEGER)} THEN {_err('csat', r.REASON_NOT_INTEGER)}
    WHEN csat IS NOT NULL AND CASE WHEN length(csat) > 3 THEN true ELSE csat::int NOT BETWEEN 1 AND 5 END
      THEN {_err('csat', r.REASON_CSAT_RANGE)}
    WHEN f_at IS NOT NULL AND f_at::timestamptz < s_at::timestamptz
      THEN {_err('first_response_at', r.REASON_RESPONSE_BEFORE_START)}
    WHEN e_at IS NOT NULL AND e_at::timestamptz < s_at::timestamptz THEN {_err('ended_at', r.REASON_END_BEFORE_START)}
    WHEN e_at IS NOT NULL AND f_at IS NOT NULL AND e_at::timestamptz < f_at::timestamptz
      THEN {_err('ended_at', r.REASON_END_BEFORE_RESPONSE)}
    WHEN rts IS NOT NULL AND f_at IS NULL THEN {_err('response_times_s', r.REASON_TIMES_WITHOUT_RESPONSE)}
  END AS err
  FROM fields f
)
SELECT j.line_no, j.err, s.tenant_id, s.id AS shop_id, j.ext AS external_id, t.*
FROM judged j
-- Casts only where the row passed every check: SQL does not promise to short-circuit AND/OR.
CROSS JOIN LATERAL (SELECT
  CASE WHEN j.err IS NULL THEN j.shop::uuid END AS shop_uuid,
  CASE WHEN j.err IS NULL THEN j.s_at::timestamptz END AS started_at,
  CASE WHEN j.err IS NULL THEN j.f_at::timestamptz END AS first_response_at,
  CASE WHEN j.err IS NULL THEN j.e_at::timestamptz END AS ended_at,
  j.kind,
  CASE WHEN j.err IS NULL AND j.rts IS NOT NULL
       THEN ARRAY(SELECT e::text::float8 FROM jsonb_array_elements(j.rts) e) END AS response_times_s,
  j.agent AS agent_code,
  COALESCE(j.conv IN {_TRUE}, false) AS converted,
  CASE WHEN j.err IS NULL THEN round(j.amount::numeric, 2) END AS order_amount,
  CASE WHEN j.err IS NULL THEN j.csat::smallint END AS csat) t
LEFT JOIN shops s ON s.id = t.shop_uuid
  AND (CAST(:tenant_id AS uuid) IS NULL OR s.tenant_id = CAST(:tenant_id AS uuid))
"""

# The last line wins among lines with the same (shop, external_id): a batch is applied in order.
_VALID = """
CREATE TEMP TABLE ingest_valid ON COMMIT DROP AS
SELECT * FROM (
  SELECT c.*, row_number() OVER (PARTITION BY tenant_id, shop_id, external_id ORDER BY line_no DESC) AS rank
  FROM ingest_checked c WHERE err IS NULL AND tenant_id IS NOT NULL
) ranked WHERE rank = 1
"""

_REJECTED = f"""
SELECT line_no, err[1] AS field, err[2] AS reason FROM ingest_checked WHERE err IS NOT NULL
UNION ALL
SELECT line_no, 'shop_id', {_q(REASON_UNKNOWN_SHOP)} FROM ingest_checked WHERE err IS NULL AND tenant_id IS NULL
UNION ALL
SELECT c.line_no, 'external_id', {_q(REASON_SUPERSEDED)} FROM ingest_checked c
WHERE c.err IS NULL AND c.tenant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ingest_valid v WHERE v.line_no = c.line_no)
ORDER BY 1
"""

# Earlier versions, found by (tenant, shop, external_id) whatever month they started in.
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
JOIN conversations c ON c.tenant_id = v.tenant_id AND c.shop_id = v.shop_id AND c.external_id = v.external_id
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

_AFFECTED = f"""
CREATE TEMP TABLE ingest_affected ON COMMIT DROP AS
SELECT DISTINCT tenant_id, shop_id, {INTERVAL_START_SQL} AS interval_start FROM (
  SELECT v.tenant_id, v.shop_id, v.started_at FROM ingest_valid v LEFT JOIN ingest_matched m ON m.line_no = v.line_no
  WHERE m.line_no IS NULL OR NOT m.same
  UNION ALL
  SELECT v.tenant_id, v.shop_id, m.old_started_at FROM ingest_matched m JOIN ingest_valid v ON v.line_no = m.line_no
  WHERE NOT m.same
) touched
"""

_ROLLUP_COLUMNS = """offered, answered, presale_offered, presale_converted, converted, gmv, frt_sum_s,
  frt_bins, frt_counts, rounds, rounds_within_180, response_capped_sum_s, handled, handle_sum_s,
  csat_count, csat_good, csat_bad"""

# Rebuilding a touched interval from its raw rows (rather than adding and subtracting deltas) keeps
# every rollup exactly the sum of the current versions, whatever was replaced or moved.
_CLEAR_AFFECTED = """
DELETE FROM shop_interval_stats s USING ingest_affected a
WHERE s.tenant_id = a.tenant_id AND s.shop_id = a.shop_id AND s.interval_start = a.interval_start
"""

_RECOMPUTE = f"""
WITH rows AS (
  SELECT a.tenant_id, a.shop_id, a.interval_start, c.kind, c.converted, c.order_amount, c.csat,
         c.first_response_at IS NOT NULL AS answered,
         {FRT_SQL.replace('first_response_at', 'c.first_response_at').replace('started_at', 'c.started_at')} AS frt,
         EXTRACT(EPOCH FROM (c.ended_at - c.first_response_at))::float8 AS handle,
         rt.rounds, rt.within, rt.capped
  FROM ingest_affected a
  JOIN conversations c ON c.tenant_id = a.tenant_id AND c.shop_id = a.shop_id
   AND c.started_at >= a.interval_start AND c.started_at < a.interval_start + interval '15 minutes'
  CROSS JOIN LATERAL (
    SELECT CASE WHEN c.response_times_s IS NOT NULL THEN cardinality(c.response_times_s) ELSE 1 END AS rounds,
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
  ) rt
), hist AS (
  SELECT tenant_id, shop_id, interval_start, array_agg(bin ORDER BY bin) AS bins, array_agg(n ORDER BY bin) AS counts
  FROM (SELECT tenant_id, shop_id, interval_start, {frt_bin_sql('frt')} AS bin, count(*)::int AS n
        FROM rows WHERE answered GROUP BY 1, 2, 3, 4) b
  GROUP BY 1, 2, 3
), totals AS (
  SELECT tenant_id, shop_id, interval_start,
         count(*) AS offered, count(*) FILTER (WHERE answered) AS answered,
         count(*) FILTER (WHERE kind = 'presale') AS presale_offered,
         count(*) FILTER (WHERE kind = 'presale' AND converted) AS presale_converted,
         count(*) FILTER (WHERE converted) AS converted,
         COALESCE(sum(order_amount) FILTER (WHERE converted), 0) AS gmv,
         COALESCE(sum(frt) FILTER (WHERE answered), 0) AS frt_sum_s,
         sum(rounds) AS rounds, sum(within) AS rounds_within_180, sum(capped) AS response_capped_sum_s,
         count(handle) AS handled, COALESCE(sum(handle), 0) AS handle_sum_s,
         count(csat) AS csat_count, count(*) FILTER (WHERE csat >= 4) AS csat_good,
         count(*) FILTER (WHERE csat <= 2) AS csat_bad
  FROM rows GROUP BY 1, 2, 3
)
INSERT INTO shop_interval_stats (tenant_id, shop_id, interval_start, {_ROLLUP_COLUMNS})
SELECT t.tenant_id, t.shop_id, t.interval_start, t.offered, t.answered, t.presale_offered, t.presale_converted,
       t.converted, t.gmv, t.frt_sum_s, COALESCE(h.bins, '{{}}'), COALESCE(h.counts, '{{}}'), t.rounds,
       t.rounds_within_180, t.response_capped_sum_s, t.handled, t.handle_sum_s, t.csat_count, t.csat_good,
       t.csat_bad
FROM totals t LEFT JOIN hist h USING (tenant_id, shop_id, interval_start)
"""


async def ingest(session: AsyncSession, body: AsyncIterator[bytes], content_type: str,
                 tenant_id: uuid.UUID | None) -> IngestResult:
    """Ingest one batch in the session's transaction. TENANT_ID limits the shops (a client's own);
    None for staff. Raises TooLarge past MAX_RECORDS (the transaction then rolls back whole)."""
    result = IngestResult()
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    await session.execute(text("CREATE TEMP TABLE ingest_raw (line_no integer, raw text) ON COMMIT DROP"))
    stager = _Stager(raw, result)
    if content_type == CSV:
        await stage_csv(lines_of(body), stager)
    else:
        await stage_ndjson(lines_of(body), stager)
    await stager.flush()
    result.received = stager.records
    if stager.records == len(result.rejected):
        result.rejected.sort(key=lambda x: x["line"])
        return result

    params = {"tenant_id": str(tenant_id) if tenant_id else None}
    await session.execute(text(_CHECKED), params)
    await session.execute(text(_VALID))
    # Serialize ingests per shop: the rollup rebuild must see every committed version of its intervals.
    await session.execute(text(
        "SELECT pg_advisory_xact_lock(hashtext('seatwise_ingest'), hashtext(shop_id::text)) "
        "FROM (SELECT DISTINCT shop_id FROM ingest_valid ORDER BY shop_id) shops"))
    span = (await session.execute(text("SELECT min(started_at), max(started_at) FROM ingest_valid"))).one()
    if span[0] is not None:
        await session.execute(text("SELECT seatwise_ensure_conversation_partitions(:a, :b)"),
                              {"a": span[0], "b": span[1]})
    await session.execute(text(_MATCHED))
    counts = (await session.execute(text(
        "SELECT (SELECT count(*) FROM ingest_valid), count(*) FILTER (WHERE same), count(*) FILTER (WHERE NOT same) "
        "FROM ingest_matched"))).one()
    valid, result.unchanged, result.updated = counts
    result.inserted = valid - result.unchanged - result.updated
    if result.inserted or result.updated:
        await session.execute(text(_DELETE_OLD))
        await session.execute(text(_INSERT_NEW))
        await session.execute(text(_AFFECTED))
        await session.execute(text(_CLEAR_AFFECTED))
        await session.execute(text(_RECOMPUTE))
    rejected = (await session.execute(text(_REJECTED))).all()
    result.rejected += [{"line": line, "field": field_, "reason": reason} for line, field_, reason in rejected]
    result.rejected.sort(key=lambda x: x["line"])
    return result
