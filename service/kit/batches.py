"""Batch ingest, shared by every feed (conversations, work sessions): the body read line by line with its
limits, NDJSON and CSV checked row by row with a feed's own validator, every bad row reported by line, the
good rows staged in COPY-sized chunks as they are read, and the answer's counts.

The limits: at most MAX_RECORDS records a batch and MAX_BLANK_LINES blank lines (skipped, but counted),
lines of at most MAX_LINE_BYTES (a longer one is dropped unread), JSON nested at most MAX_DEPTH deep
(refused before it is parsed), a CSV header naming each column once and the required ones, UTF-8 text (a
CSV may declare one of CSV_CHARSETS and is transcoded as it is read). A feed gives a `Batch` subclass that
knows what to do with the pending rows (`flush`: resolve its references, COPY them) and a `check`: one
parsed mapping to its row or a `kit.records.Rejection`, the feed's reference rules with their fast path.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from typing import Any

import orjson
from pydantic import BaseModel, Field

from service.kit import records as kr
from service.kit.errors import Invalid, TooLarge, UnsupportedMediaType

MAX_RECORDS = 100_000
MAX_BLANK_LINES = 10_000  # blank lines are no records, but they cost a little: a batch holds this many
MAX_LINE_BYTES = 64 * 1024
MAX_DEPTH = 8  # a record is a flat object with a list or two: deeper nesting is refused before it is parsed
COPY_CHUNK = 10_000
REASON_BAD_ENCODING = "not UTF-8 text"
REASON_LINE_TOO_LONG = f"line too long (at most {MAX_LINE_BYTES:,} bytes)"
REASON_TOO_DEEP = f"nested too deeply (at most {MAX_DEPTH} levels)"

NDJSON = "application/x-ndjson"
CSV = "text/csv"
UTF8 = frozenset({"utf-8", "utf8"})
# What a CSV may declare besides UTF-8 (honoured by transcoding): the encodings spreadsheets export in.
CSV_CHARSETS = frozenset({"gb18030", "gbk", "gb2312", "big5", "utf-16", "utf-16le", "utf-16be", "iso-8859-1",
                          "latin-1", "windows-1252", "shift_jis"})
CONTENT_TYPES = {
    "application/x-ndjson": NDJSON, "application/ndjson": NDJSON, "application/jsonl": NDJSON,
    "application/json-lines": NDJSON, "text/csv": CSV,
}

Check = Callable[[Any], Any]  # a parsed mapping -> the feed's row (a tuple) or a kit.records.Rejection


class Rejection(BaseModel):
    """A line that was not kept, and why: `field` is null when the line as a whole is bad."""

    line: int = Field(description="1-based line of the body (GraphQL: position in the list)")
    field: str | None
    reason: str


class IngestAnswer(BaseModel):
    """What a batch did: every good row kept, every bad one reported."""

    received: int
    inserted: int
    updated: int
    unchanged: int
    rejected: list[Rejection]


def empty_answer() -> IngestAnswer:
    return IngestAnswer(received=0, inserted=0, updated=0, unchanged=0, rejected=[])


def rejection(line: int, field_: str | None, reason: str) -> Rejection:
    return Rejection.model_construct(line=line, field=field_, reason=reason)  # our own values: no validation


def add_up(total: IngestAnswer, one: IngestAnswer) -> None:
    """ONE's counts and rejections added to TOTAL's (a command's several batches)."""
    for name in ("received", "inserted", "updated", "unchanged"):
        setattr(total, name, getattr(total, name) + getattr(one, name))
    total.rejected += one.rejected


def media_and_charset(content_type: str | None, what: str = "records") -> tuple[str, str | None]:
    """The kind of a body and its declared charset when it is not UTF-8 (NDJSON is UTF-8 by definition; a
    CSV may be in one of CSV_CHARSETS, transcoded as it is read); anything else is a 415. WHAT: the feed's
    records, as the 415 names them."""
    kind_text, *params = (content_type or "").split(";")
    kind = CONTENT_TYPES.get(kind_text.strip().lower())
    if kind is None:
        raise UnsupportedMediaType(
            f"send {what} as application/x-ndjson or text/csv (got "
            f"{content_type or 'no Content-Type'})"[:300])
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset is None or charset in UTF8:
        return kind, None
    if kind == CSV and charset in CSV_CHARSETS:
        return kind, charset
    allowed = "UTF-8" if kind == NDJSON else f"UTF-8 or one of {', '.join(sorted(CSV_CHARSETS))}"
    raise UnsupportedMediaType(f"charset {charset[:40]!r} is not accepted here: send {allowed}")


# --- reading lines ------------------------------------------------------------------------------------


async def line_batches(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[bytes | None]]:
    """The physical lines of a streamed body, a chunk's worth at a time, without holding the body. A line
    is dropped as soon as it passes MAX_LINE_BYTES (None stands in for it): the rest of it is skipped up
    to its newline, never gathered."""
    rest, skipping = b"", False
    async for chunk in chunks:
        if not chunk:
            continue
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk, skipping = chunk[cut + 1:], False
        lines: list[bytes | None] = (rest + chunk).split(b"\n")  # type: ignore[assignment]
        rest = lines.pop()  # type: ignore[assignment]
        if len(rest) > MAX_LINE_BYTES:
            lines.append(None)
            rest, skipping = b"", True
        if lines:
            yield lines
    if rest:
        yield [rest]


async def lines_of(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes | None]:
    """Physical lines of a streamed body, one at a time (None: a line past MAX_LINE_BYTES)."""
    async for lines in line_batches(chunks):
        for line in lines:
            yield line


_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def too_deep(line: bytes) -> bool:
    """Whether LINE's JSON nests past MAX_DEPTH, decided without parsing it (brackets inside strings don't
    count); only a line with more brackets than MAX_DEPTH is scanned at all."""
    if line.count(b"[") + line.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(line):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def decode(line: bytes) -> str | None:
    """The line as text; None when it is not UTF-8."""
    try:
        return line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        return None


async def transcoded(chunks: AsyncIterator[bytes], charset: str) -> AsyncIterator[bytes]:
    """A body in CHARSET as UTF-8, chunk by chunk (a CSV exported by Excel in China is often GB18030);
    bytes that are not CHARSET become U+FFFD, which the CSV rules then refuse where it matters."""
    decoder = codecs.getincrementaldecoder(charset)(errors="replace")
    async for chunk in chunks:
        yield decoder.decode(chunk).encode()
    yield decoder.decode(b"", final=True).encode()


# --- a batch's rows on their way --------------------------------------------------------------------


class Batch:
    """The rows of one batch as they are checked: counts records and blank lines against the limits,
    reports rejections by line into RESULT, and holds the checked rows (line_no, row) until `flush`,
    which a feed's subclass defines (resolve references, COPY)."""

    def __init__(self, result: IngestAnswer):
        self.result = result
        self.blank_lines = 0
        self.records = 0
        self.pending: list[tuple[int, tuple[Any, ...]]] = []

    def _count(self) -> None:
        self.records += 1
        if self.records > MAX_RECORDS:
            raise TooLarge(f"a batch holds at most {MAX_RECORDS:,} records; split the file")

    def blank(self) -> None:
        self.blank_lines += 1
        if self.blank_lines > MAX_BLANK_LINES:
            raise TooLarge(f"a batch holds at most {MAX_BLANK_LINES:,} blank lines")

    def reject(self, line_no: int, field_: str | None, reason: str) -> None:
        self._count()
        self.result.rejected.append(rejection(line_no, field_, reason))

    def take(self, line_no: int, checked: Any) -> None:
        if isinstance(checked, kr.Rejection):
            self.reject(line_no, checked.field, checked.reason)
        else:
            self._count()
            self.pending.append((line_no, checked))

    @property
    def full(self) -> bool:
        return len(self.pending) >= COPY_CHUNK

    async def flush(self) -> None:
        raise NotImplementedError


def take_ndjson(lines: Iterable[bytes | None], line_no: int, batch: Batch, check: Check) -> int:
    """Check and take whole lines (a plain loop: this is the hot path); returns the last line number.
    orjson and the feed's fast path type the common line; the reference parser (stdlib json) decides any
    line they refuse, so every answer, accepted or rejected, is the reference's. Blank lines are skipped
    before any parsing (and counted against MAX_BLANK_LINES); a line too long or nested too deeply is
    refused unparsed."""
    take = batch.take
    for line in lines:
        line_no += 1
        if not line or line.isspace():
            if line is None:
                batch.reject(line_no, None, REASON_LINE_TOO_LONG)
            else:
                batch.blank()
            continue
        if len(line) > MAX_LINE_BYTES:
            batch.reject(line_no, None, REASON_LINE_TOO_LONG)
            continue
        if too_deep(line):
            batch.reject(line_no, None, REASON_TOO_DEEP)
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
        else:
            if b"\\u0000" not in line or kr.storable(doc):
                checked = check(doc)
                if not isinstance(checked, kr.Rejection):
                    take(line_no, checked)
                    continue
        if decode(line) is None:
            batch.reject(line_no, None, REASON_BAD_ENCODING)
            continue
        doc = kr.parse_json_line(line)
        take(line_no, doc if isinstance(doc, kr.Rejection) else check(doc))
    return line_no


async def stage_ndjson(body: AsyncIterator[bytes], batch: Batch, check: Check) -> None:
    """Whole lines of each body chunk at a time, staged in COPY-sized chunks as they fill."""
    line_no = 0
    async for lines in line_batches(body):
        line_no = take_ndjson(lines, line_no, batch, check)
        if batch.full:
            await batch.flush()


async def stage_csv(lines: AsyncIterator[bytes | None], batch: Batch, check: Check, fields: Collection[str],
                    required: Collection[str]) -> None:
    """A CSV body: a header row naming FIELDS (each once; REQUIRED ones present; others ignored), then one
    record a row, each CHECKed as a mapping of strings."""
    header: list[str] | None = None
    line_no = 0
    async for line in lines:
        line_no += 1
        if line is None or len(line) > MAX_LINE_BYTES:
            if header is None:
                raise Invalid("body", f"the CSV header is longer than {MAX_LINE_BYTES:,} bytes")
            batch.reject(line_no, None, REASON_LINE_TOO_LONG)
            continue
        decoded = decode(line)
        if header is None:
            if decoded is None or not decoded.strip():
                raise Invalid("body", "the CSV must start with a header row naming the fields")
            header = [h.strip().lstrip("\ufeff") for h in next(csv.reader([decoded]))]
            twice = sorted({h for h in header if header.count(h) > 1 and h})
            if twice:
                raise Invalid("body", f"the CSV header names a column more than once: {', '.join(twice)}")
            missing = sorted(set(required) - set(header))
            if missing:
                raise Invalid("body", f"the CSV header lacks required columns: {', '.join(missing)}")
            continue
        if decoded is None:
            batch.reject(line_no, None, REASON_BAD_ENCODING)
            continue
        if not decoded.strip():
            batch.blank()
            continue
        if "\x00" in decoded:
            batch.reject(line_no, None, kr.REASON_MALFORMED)
            continue
        try:
            cells = next(csv.reader([decoded]))
        except (csv.Error, StopIteration):
            batch.reject(line_no, None, kr.REASON_MALFORMED)
            continue
        if len(cells) != len(header):
            batch.reject(line_no, None, kr.REASON_MALFORMED)
            continue
        row = {name: value for name, value in zip(header, cells, strict=True) if name in fields}
        batch.take(line_no, check(row))
        if batch.full:
            await batch.flush()
    if header is None:
        raise Invalid("body", "the CSV must start with a header row naming the fields")


async def stage_records(records: Iterable[Mapping[str, Any]], batch: Batch, check: Check) -> None:
    """Records given in process as a JSON parser gives them (str, numbers, lists, dicts, None: the demo's),
    one a line, staged in COPY-sized chunks: each checked as stage_ndjson checks its parsed line, without the
    text written and parsed in between (a record holding text PostgreSQL can't store is malformed, as its
    line would be)."""
    line_no = 0
    take = batch.take
    for doc in records:
        line_no += 1
        take(line_no, check(doc) if kr.storable(doc) else kr.Rejection(None, kr.REASON_MALFORMED))
        if batch.full:
            await batch.flush()


async def stage_body(body: AsyncIterator[bytes] | Iterable[Mapping[str, Any]], kind: str, charset: str | None,
                     batch: Batch, check: Check, fields: Collection[str], required: Collection[str]) -> None:
    """A body of KIND (NDJSON or CSV, in CHARSET) staged into BATCH, its last chunk flushed; records given in
    process (not bytes: stage_records) as NDJSON's parsed lines."""
    if not isinstance(body, AsyncIterator):
        await stage_records(body, batch, check)
    elif kind == CSV:
        await stage_csv(lines_of(transcoded(body, charset) if charset else body), batch, check, fields,
                        required)
    else:
        await stage_ndjson(body, batch, check)
    await batch.flush()


def ndjson_of(records: Iterable[Mapping[str, Any]]) -> AsyncIterator[bytes]:
    """Small batches given as dicts (GraphQL) as an NDJSON body: the same path as any other."""
    import json

    async def lines() -> AsyncIterator[bytes]:
        yield "\n".join(json.dumps(rec, default=str, ensure_ascii=False) for rec in records).encode()

    return lines()


async def upsert_counts(raw: Any, sql: str, staged: int) -> tuple[int, int, int]:
    """(inserted, updated, unchanged) of an `INSERT ... ON CONFLICT DO UPDATE ... WHERE <changed>
    RETURNING (xmax = 0)` SQL over STAGED distinct keys: a row neither inserted nor updated was
    unchanged (the WHERE kept the stored version as it was)."""
    inserted, updated = await raw.fetchrow(
        f"WITH up AS ({sql}) SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) "
        "FROM up")
    return inserted, updated, staged - inserted - updated
