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
    """The line as text; None when it is not UTF-8. A raw NUL (no JSON has one, and PostgreSQL text
    cannot hold it) is left to the caller to reject as malformed."""
    try:
        return line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        return None


async def stage_ndjson(lines: AsyncIterator[bytes], stager: _Stager) -> None:
    line_no = 0
    async for line in lines:
        line_no += 1
        if not line.strip():
            continue  # blank lines are not records
        if len(line) > MAX_LINE_BYTES or b"\x00" in line:
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
        if "\x00" in decoded:
            stager.reject(line_no, None, r.REASON_MALFORMED)
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


def _typed_timestamp(col: str) -> str:
    """The column as timestamptz when it is an ISO 8601 timestamp with an offset, else NULL: parsed once.
    Character checks instead of a regex on the hot path (a regex costs ~1.5 us a value here); the full
    regexes only classify the rejects."""
    shape = (f"substr({col}, 5, 1) = '-' AND substr({col}, 8, 1) = '-' AND substr({col}, 11, 1) IN ('T', 't', ' ')"
             f" AND substr({col}, 14, 1) = ':'")
    offset = (f"(right({col}, 1) IN ('Z', 'z') OR substr({col}, length({col}) - 5, 1) IN ('+', '-')"
              f" OR substr({col}, length({col}) - 4, 1) IN ('+', '-') OR substr({col}, length({col}) - 2, 1) IN ('+', '-'))")
    return f"CASE WHEN {shape} AND {offset} AND pg_input_is_valid({col}, 'timestamptz') THEN {col}::timestamptz END"


def _timestamp_checks(col: str, typed: str, name: str, required: bool) -> str:
    checks = [f"WHEN {col} IS NULL THEN {_err(name, r.REASON_MISSING)}"] if required else []
    checks += [
        f"WHEN {col} IS NOT NULL AND {typed} IS NULL THEN CASE"
        f" WHEN {col} !~ {_q(_ISO_BASE)} THEN {_err(name, r.REASON_BAD_TIMESTAMP)}"
        f" WHEN {col} !~ {_q(_ISO_FULL)} THEN {_err(name, r.REASON_NO_TIMEZONE)}"
        f" ELSE {_err(name, r.REASON_BAD_TIMESTAMP)} END",
        f"WHEN {typed} < TIMESTAMPTZ '2000-01-01Z' OR {typed} > now() + interval '2 days'"
        f" THEN {_err(name, REASON_OUT_OF_RANGE)}",
    ]
    return "\n".join(checks)


# Each line's JSON is parsed once and each value typed once (MATERIALIZED: an inlined CTE would
# repeat the parse for every reference). The first failing rule names the field and the reason, in
# the order of records.FIELDS, then the rules between fields, then the shop (unknown, or another
# tenant's: the same answer).
_CHECKED = f"""
CREATE TEMP TABLE ingest_checked ON COMMIT DROP AS
WITH parsed AS MATERIALIZED (
  -- json (not jsonb): validating and splitting a line into fields in one pass is what is cheap here.
  SELECT r.line_no, r.doc_type, x.*
  -- A line with \\u escapes is checked as jsonb too: json accepts lone surrogates and \\u0000 that
  -- json_to_record cannot decode.
  FROM (SELECT line_no, raw,
               CASE WHEN pg_input_is_valid(raw, 'json')
                         AND (strpos(raw, '\\u') = 0 OR pg_input_is_valid(raw, 'jsonb'))
                    THEN json_typeof(raw::json) END AS doc_type
        FROM ingest_raw) r
  CROSS JOIN LATERAL json_to_record(CASE WHEN r.doc_type = 'object' THEN r.raw::json ELSE '{{}}'::json END)
    AS x(external_id json, shop_id text, started_at text, first_response_at text, ended_at text, kind text,
         response_times_s json, agent_code text, converted text, order_amount json, csat text)
), fields AS MATERIALIZED (
  SELECT line_no, doc_type, ext, ext_type, shop, s_at, f_at, e_at, kind, rts, agent, conv, amount, amount_type, csat,
         CASE WHEN length(shop) = 36 AND translate(lower(shop), '0123456789abcdef', '') = '----'
                   AND substr(shop, 9, 1) = '-' AND substr(shop, 14, 1) = '-' AND substr(shop, 19, 1) = '-'
                   AND substr(shop, 24, 1) = '-' THEN shop::uuid  -- canonical form: cheap to check
              WHEN pg_input_is_valid(shop, 'uuid') THEN shop::uuid END AS shop_uuid,
         {_typed_timestamp('s_at')} AS s_ts,
         {_typed_timestamp('f_at')} AS f_ts,
         {_typed_timestamp('e_at')} AS e_ts,
         CASE WHEN amount ~ {_q(_NUMBER)} AND pg_input_is_valid(amount, 'numeric') THEN round(amount::numeric, 2)
         END AS amount_num,
         CASE WHEN csat ~ {_q(_INTEGER)} AND length(csat) <= 4 THEN csat::int END AS csat_int
  FROM (
    SELECT line_no, doc_type,
           NULLIF(btrim(external_id #>> '{{}}'), '') AS ext, json_typeof(external_id) AS ext_type,
           NULLIF(btrim(shop_id), '') AS shop,
           NULLIF(btrim(started_at), '') AS s_at,
           NULLIF(btrim(first_response_at), '') AS f_at,
           NULLIF(btrim(ended_at), '') AS e_at,
           lower(NULLIF(btrim(kind), '')) AS kind,
           CASE WHEN json_typeof(response_times_s) = 'array' AND json_array_length(response_times_s) > 0
                  THEN response_times_s::jsonb
                WHEN json_typeof(response_times_s) = 'string' AND btrim(response_times_s #>> '{{}}') <> ''
                  THEN response_times_s::jsonb END AS rts,
           NULLIF(btrim(agent_code), '') AS agent,
           lower(NULLIF(btrim(converted), '')) AS conv,
           NULLIF(btrim(order_amount #>> '{{}}'), '') AS amount, json_typeof(order_amount) AS amount_type,
           NULLIF(btrim(csat), '') AS csat
    FROM parsed
  ) raw_fields
), judged AS MATERIALIZED (
  SELECT f.*, CASE
    WHEN doc_type IS DISTINCT FROM 'object' THEN {_err(None, r.REASON_MALFORMED)}
    WHEN ext IS NULL THEN {_err('external_id', r.REASON_MISSING)}
    WHEN ext_type NOT IN ('string', 'number') THEN {_err('external_id', r.REASON_NOT_TEXT)}
    WHEN length(ext) > 128 THEN {_err('external_id', REASON_TOO_LONG + ' (at most 128 characters)')}
    WHEN shop IS NULL THEN {_err('shop_id', r.REASON_MISSING)}
    WHEN shop_uuid IS NULL THEN {_err('shop_id', r.REASON_BAD_UUID)}
    {_timestamp_checks('s_at', 's_ts', 'started_at', True)}
    {_timestamp_checks('f_at', 'f_ts', 'first_response_at', False)}
    {_timestamp_checks('e_at', 'e_ts', 'ended_at', False)}
    WHEN kind IS NULL THEN {_err('kind', r.REASON_MISSING)}
    WHEN kind NOT IN ('presale', 'aftersale') THEN {_err('kind', r.REASON_BAD_KIND)}
    WHEN rts IS NOT NULL AND (jsonb_typeof(rts) <> 'array' OR EXISTS (
           SELECT 1 FROM jsonb_array_elements(rts) e
           WHERE CASE WHEN jsonb_typeof(e) <> 'number' THEN true ELSE e::text::float8 < 0 END))
      THEN {_err('response_times_s', r.REASON_BAD_RESPONSE_TIMES)}
    WHEN length(agent) > 64 THEN {_err('agent_code', REASON_TOO_LONG + ' (at most 64 characters)')}
    WHEN conv IS NOT NULL AND conv NOT IN {_BOOLEANS} THEN {_err('converted', r.REASON_BAD_BOOLEAN)}
    WHEN amount IS NOT NULL AND (amount_type NOT IN ('string', 'number') OR amount !~ {_q(_NUMBER)})
      THEN {_err('order_amount', r.REASON_BAD_AMOUNT)}
    WHEN amount IS NOT NULL AND amount_num IS NULL THEN {_err('order_amount', r.REASON_AMOUNT_TOO_LARGE)}
    WHEN amount_num < 0 THEN {_err('order_amount', r.REASON_NEGATIVE_AMOUNT)}
    WHEN amount_num > {r.MAX_AMOUNT} THEN {_err('order_amount', r.REASON_AMOUNT_TOO_LARGE)}
    WHEN csat IS NOT NULL AND csat !~ {_q(_INTEGER)} THEN {_err('csat', r.REASON_NOT_INTEGER)}
    WHEN csat IS NOT NULL AND (csat_int IS NULL OR csat_int NOT BETWEEN 1 AND 5) THEN {_err('csat', r.REASON_CSAT_RANGE)}
    WHEN f_ts < s_ts THEN {_err('first_response_at', r.REASON_RESPONSE_BEFORE_START)}
    WHEN e_ts < s_ts THEN {_err('ended_at', r.REASON_END_BEFORE_START)}
    WHEN e_ts < f_ts THEN {_err('ended_at', r.REASON_END_BEFORE_RESPONSE)}
    WHEN rts IS NOT NULL AND f_at IS NULL THEN {_err('response_times_s', r.REASON_TIMES_WITHOUT_RESPONSE)}
  END AS err
  FROM fields f
)
SELECT j.line_no, j.err, s.tenant_id, s.id AS shop_id, j.ext AS external_id,
       j.s_ts AS started_at, j.f_ts AS first_response_at, j.e_ts AS ended_at, j.kind,
       CASE WHEN j.err IS NULL AND j.rts IS NOT NULL
            THEN ARRAY(SELECT e::text::float8 FROM jsonb_array_elements(j.rts) e) END AS response_times_s,
       j.agent AS agent_code, COALESCE(j.conv IN {_TRUE}, false) AS converted,
       j.amount_num AS order_amount, j.csat_int::smallint AS csat
FROM judged j
LEFT JOIN shops s ON j.err IS NULL AND s.id = j.shop_uuid
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

_CONVERSATION_COLUMNS = ("tenant_id, shop_id, started_at, first_response_at, ended_at, kind, response_times_s, "
                         "converted, order_amount, csat")

# What each changed conversation adds to its interval's rollup: +1 for a new version, -1 for the
# version it replaces (read before it is deleted). Rollups then move by these deltas only, so a
# batch costs the size of the batch, not of the intervals it touches.
_CONTRIBUTIONS = f"""
CREATE TEMP TABLE ingest_contrib ON COMMIT DROP AS
WITH changes AS (
  SELECT {', '.join('v.' + col.strip() for col in _CONVERSATION_COLUMNS.split(','))}, 1 AS sign
  FROM ingest_valid v LEFT JOIN ingest_matched m ON m.line_no = v.line_no
  WHERE m.line_no IS NULL OR NOT m.same
  UNION ALL
  SELECT {', '.join('c.' + col.strip() for col in _CONVERSATION_COLUMNS.split(','))}, -1
  FROM ingest_matched m JOIN ingest_valid v ON v.line_no = m.line_no
  JOIN conversations c ON c.tenant_id = v.tenant_id AND c.shop_id = v.shop_id AND c.external_id = v.external_id
   AND c.started_at = m.old_started_at
  WHERE NOT m.same
)
SELECT c.tenant_id, c.shop_id, {INTERVAL_START_SQL} AS interval_start, c.sign, c.kind, c.converted,
       c.order_amount, c.csat, c.first_response_at IS NOT NULL AS answered,
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
FROM changes c
"""

_ROLLUP_COLUMNS = ("offered, answered, presale_offered, presale_converted, converted, gmv, frt_sum_s, rounds, "
                   "rounds_within_180, response_capped_sum_s, handled, handle_sum_s, csat_count, csat_good, csat_bad")

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
       sum(sign) FILTER (WHERE csat IS NOT NULL) AS csat_count, sum(sign) FILTER (WHERE csat >= 4) AS csat_good,
       sum(sign) FILTER (WHERE csat <= 2) AS csat_bad
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
      JOIN ingest_delta d ON d.tenant_id = s.tenant_id AND d.shop_id = s.shop_id AND d.interval_start = s.interval_start
      CROSS JOIN LATERAL unnest(s.frt_bins, s.frt_counts) AS h(bin, n)
    ) parts GROUP BY 1, 2, 3, 4
  ) summed GROUP BY 1, 2, 3
)
INSERT INTO shop_interval_stats (tenant_id, shop_id, interval_start, {_ROLLUP_COLUMNS}, frt_bins, frt_counts)
SELECT d.tenant_id, d.shop_id, d.interval_start,
       {', '.join(f'COALESCE(s.{c.strip()}, 0) + COALESCE(d.{c.strip()}, 0)' for c in _ROLLUP_COLUMNS.split(','))},
       COALESCE(h.bins, '{{}}'), COALESCE(h.counts, '{{}}')
FROM ingest_delta d
LEFT JOIN shop_interval_stats s
  ON s.tenant_id = d.tenant_id AND s.shop_id = d.shop_id AND s.interval_start = d.interval_start
LEFT JOIN hist h ON h.tenant_id = d.tenant_id AND h.shop_id = d.shop_id AND h.interval_start = d.interval_start
ON CONFLICT (tenant_id, shop_id, interval_start) DO UPDATE SET
  {', '.join(f'{c.strip()} = EXCLUDED.{c.strip()}' for c in _ROLLUP_COLUMNS.split(','))},
  frt_bins = EXCLUDED.frt_bins, frt_counts = EXCLUDED.frt_counts
"""

# An interval whose every conversation moved elsewhere has no rollup row at all.
_DROP_EMPTY = """
DELETE FROM shop_interval_stats s USING ingest_delta d
WHERE s.tenant_id = d.tenant_id AND s.shop_id = d.shop_id AND s.interval_start = d.interval_start AND s.offered = 0
"""


async def ingest(session: AsyncSession, body: AsyncIterator[bytes], content_type: str,
                 tenant_id: uuid.UUID | None) -> IngestResult:
    """Ingest one batch in the session's transaction. TENANT_ID limits the shops (a client's own);
    None for staff. Raises TooLarge past MAX_RECORDS (the transaction then rolls back whole)."""
    result = IngestResult()
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    # Room for a 100,000-line batch's intermediate results in memory rather than temp files.
    await session.execute(text("SET LOCAL work_mem = '128MB'"))
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
        await session.execute(text(_CONTRIBUTIONS))  # before the old versions are deleted
        await session.execute(text(_DELTA))
        await session.execute(text(_DELETE_OLD))
        await session.execute(text(_INSERT_NEW))
        await session.execute(text(_APPLY_DELTA))
        await session.execute(text(_DROP_EMPTY))
    rejected = (await session.execute(text(_REJECTED))).all()
    result.rejected += [{"line": line, "field": field_, "reason": reason} for line, field_, reason in rejected]
    result.rejected.sort(key=lambda x: x["line"])
    return result
