"""`seatwise export`: statements (one row per line), margins or costs of a period to a CSV or XLSX file,
streamed in bounded memory with a progress callback, in the operator's staff scope."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from service.finance import service
from service.finance.periods import Month
from service.kit.db import SYSTEM_SCOPE, Database
from service.kit.errors import Invalid

EXPORTS = ("statements", "margins", "costs")


def period_months(period: str) -> tuple[str, str]:
    """A month (2026-11), a year (2026) or a range (2026-01..2026-06) as (from, to) months."""
    if ".." in period:
        start, _, end = period.partition("..")
        return start, end
    if len(period) == 4 and period.isdigit():
        return f"{period}-01", f"{period}-12"
    return period, period


async def rows_expected(db: Database, what: str, period: str) -> int | None:
    """How many rows the export will have, for the progress bar (statement lines only; reports: None)."""
    if what != "statements":
        return None
    start, end = period_months(period)
    first, last = service.parse_month("period", start), service.parse_month("period", end)
    async with db.system_transaction() as session:
        count = (await session.execute(text(
            "SELECT count(*) FROM statement_lines WHERE month >= :a AND month < :b"),
            {"a": first.first_day, "b": last.after})).scalar_one()
    return int(count)


async def export_file(db: Database, what: str, period: str, fmt: str, out: Path, by: str = "brand",
                      progress: Callable[[int], Any] | None = None) -> int:
    """Write the export to OUT; returns the rows written. Problems name the option (`period`, `format`)."""
    if what not in EXPORTS:
        raise Invalid("what", f"one of {', '.join(EXPORTS)}")
    if fmt not in service.MEDIA:
        raise Invalid("format", "csv or xlsx")
    start, end = period_months(period)
    for value in (start, end):
        try:
            Month.parse(value)
        except ValueError:
            raise Invalid("period", "a month (2026-11), a year (2026) or 2026-01..2026-06") from None
    async with db.system_transaction() as session:
        filters = service.report_filter(start, end, by)
        columns, batches = await service.export_rows(session, db.sessions(SYSTEM_SCOPE), what, filters)
        with out.open("wb") as handle:
            return await service.write_export(columns, batches, fmt, handle, progress, sheet=what.title())
