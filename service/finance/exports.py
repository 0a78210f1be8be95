"""Streamed exports, CSV and XLSX, with bounded memory: rows are written as they come, never held.

Input: columns (:class:`Column`: key, header, kind, width, whether the totals row sums it) and an iterable
of rows, each a mapping by column key or a sequence in column order. A generator of 10^6 rows is written
in constant memory: CSV through the csv module row by row; XLSX through xlsxwriter in constant_memory mode
(each row is flushed to a temporary file when the next begins; strings are written inline, not into a
shared table), zipped into `out` on close. Totals are summed in Decimal while streaming.

Cell values: Decimal, int, str, date, Month, UUID or None. Money columns are Decimal in, and in CSV
stay exact text ("1234.50", no separators, a dot); in XLSX a number is an IEEE double (the file format
has no decimal type): exact to the fen for amounts under 10^13 when shown with two places, which is the
numeric(14,2) range. The totals row is a SUM formula per summed column, its cached value the exact
Decimal total, so a reader that does not recalculate still sees the right figure.

XLSX layout: a bold header with a fill, column widths, number formats per kind (money #,##0.00), the
header frozen (panes below row 1), an autofilter over the header, and a totals row. A sheet holds at most
1,048,576 rows; longer exports continue on "<sheet> (2)", "<sheet> (3)", each with its header, and the
totals row on the last sheet sums every sheet.

CSV text cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) are prefixed
with an apostrophe (OWASP CSV injection advice); numbers are not touched.

Public:

- ``ColumnKind = Literal["text", "integer", "decimal", "money", "percent", "date"]``
- ``Column(key: str, header: str, kind: ColumnKind = "text", width: float | None = None,
  total: bool | None = None)`` (total defaults to True for money columns)
- ``write_csv(out: TextIO, columns, rows, *, totals: bool = False, totals_label: str = "Total") -> int``
- ``write_xlsx(out: BinaryIO | str, columns, rows, *, sheet_name: str = "Lines", totals: bool = True,
  totals_label: str = "Total") -> int``; both return the number of data rows written.
- ``LINE_COLUMNS``; ``statement_line_rows(statements: Iterable[Statement]) -> Iterator[dict[str, object]]``:
  the long format accountants ask for, one row per statement line. "Amount (CNY)" holds the lines that
  count (its total is the statements' total); pending and forgiven credits are in "Shown, not counted".
- ``MARGIN_COLUMNS``; ``margin_rows(margins: Iterable[Margin]) -> Iterator[dict[str, object]]``
- ``COST_COLUMNS``; ``cost_rows(lines: Iterable[CostLine]) -> Iterator[dict[str, object]]``: one row per
  (shop, site, month) with the hours behind the amounts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, Any, Literal, TextIO
from uuid import UUID

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from service.finance.costing import CostLine
from service.finance.periods import Month
from service.finance.statements import Margin, Statement

ColumnKind = Literal["text", "integer", "decimal", "money", "percent", "date"]
Row = Mapping[str, object] | Sequence[object]

#: Rows of one XLSX sheet, the format's limit.
XLSX_MAX_ROWS = 1_048_576
_NUMBER_FORMATS: dict[str, str] = {
    "integer": "#,##0",
    "decimal": "#,##0.0000",
    "money": "#,##0.00",
    "percent": "0.00",  # percent points (23.45 means 23.45 %), as margins carry them
    "date": "yyyy-mm-dd",
}
_DEFAULT_WIDTHS: dict[str, float] = {
    "text": 18,
    "integer": 12,
    "decimal": 14,
    "money": 16,
    "percent": 10,
    "date": 12,
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    kind: ColumnKind = "text"
    width: float | None = None
    total: bool | None = None  # None: money columns are summed, others are not

    @property
    def summed(self) -> bool:
        return self.kind == "money" if self.total is None else self.total

    @property
    def numeric(self) -> bool:
        return self.kind in ("integer", "decimal", "money", "percent")


def _cells(columns: Sequence[Column], row: Row) -> list[object]:
    if isinstance(row, Mapping):
        return [row.get(c.key) for c in columns]
    values = list(row)
    if len(values) != len(columns):
        raise ValueError(f"a row has {len(values)} cells for {len(columns)} columns")
    return values


def _number(value: object, column: Column) -> Decimal | int:
    kind = type(value)
    if kind is Decimal or kind is int:
        return value  # type: ignore[return-value]
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return value
    if isinstance(value, float | bool):
        raise TypeError(f"column {column.key}: numbers are Decimal or int, never float")
    raise TypeError(f"column {column.key}: {type(value).__name__} is not a number")


def _number_text(value: Decimal | int) -> str:
    return str(value) if type(value) is int else f"{value:f}"


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | UUID | Month):
        return str(value)
    raise TypeError(f"cannot export a {type(value).__name__}")


class _Totals:
    """Decimal sums of the summed columns, kept while rows stream past."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = columns
        self.summed = [i for i, c in enumerate(columns) if c.summed]
        self.sums: list[Decimal] = [Decimal(0) for _ in columns]

    def add(self, cells: Sequence[object]) -> None:
        for i in self.summed:
            value = cells[i]
            if value is not None:
                self.sums[i] += _number(value, self.columns[i])


def write_csv(
    out: TextIO,
    columns: Sequence[Column],
    rows: Iterable[Row],
    *,
    totals: bool = False,
    totals_label: str = "Total",
) -> int:
    """Header, one line per row as it comes, and optionally a totals line; returns the rows written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    sums = _Totals(columns)
    numeric = [c.numeric for c in columns]
    count = 0
    for row in rows:
        cells = _cells(columns, row)
        sums.add(cells)
        out_cells = []
        for col, is_number, value in zip(columns, numeric, cells, strict=True):
            if value is None:
                out_cells.append("")
            elif is_number:
                out_cells.append(_number_text(_number(value, col)))
            else:
                text = _text(value)
                out_cells.append("'" + text if text.startswith(_FORMULA_START) else text)
        writer.writerow(out_cells)
        count += 1
    if totals:
        writer.writerow(
            [
                totals_label if i == 0 else (f"{sums.sums[i]:f}" if col.summed else "")
                for i, col in enumerate(columns)
            ]
        )
    return count


def write_xlsx(
    out: IO[bytes] | str,
    columns: Sequence[Column],
    rows: Iterable[Row],
    *,
    sheet_name: str = "Lines",
    totals: bool = True,
    totals_label: str = "Total",
) -> int:
    """A formatted workbook streamed in constant memory; returns the data rows written."""
    if not columns:
        raise ValueError("at least one column")
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            # Text stays text: no formula, number or link is made of a source's words.
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    try:
        header = book.add_format({"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "text_wrap": True})
        formats: list[Any] = [
            book.add_format({"num_format": _NUMBER_FORMATS[c.kind]}) if c.kind in _NUMBER_FORMATS else None
            for c in columns
        ]
        total_formats: list[Any] = [
            book.add_format(
                {
                    "bold": True,
                    "top": 1,
                    **({"num_format": _NUMBER_FORMATS[c.kind]} if c.kind in _NUMBER_FORMATS else {}),
                }
            )
            for c in columns
        ]
        kinds = ["number" if c.numeric else "date" if c.kind == "date" else "text" for c in columns]
        sums = _Totals(columns)
        per_sheet = XLSX_MAX_ROWS - 2  # room for the header, and the totals row on the last sheet
        sheets: list[tuple[str, int]] = []  # (name, data rows)

        def new_sheet() -> Any:
            name = sheet_name if not sheets else f"{sheet_name} ({len(sheets) + 1})"
            ws = book.add_worksheet(name)
            for i, c in enumerate(columns):
                ws.set_column(i, i, c.width or _DEFAULT_WIDTHS[c.kind])
            ws.freeze_panes(1, 0)
            for i, c in enumerate(columns):
                ws.write_string(0, i, c.header, header)
            sheets.append((name, 0))
            return ws

        sheet = new_sheet()
        row_index = 0
        count = 0
        for row in rows:
            if row_index == per_sheet:
                _finish(sheet, sheets, row_index, len(columns))
                sheet = new_sheet()
                row_index = 0
            cells = _cells(columns, row)
            sums.add(cells)
            r = row_index + 1
            for i, value in enumerate(cells):
                if value is None:
                    continue
                kind = kinds[i]
                if kind == "number":
                    sheet.write_number(r, i, float(_number(value, columns[i])), formats[i])
                elif kind == "date" and isinstance(value, date):
                    sheet.write_datetime(r, i, value, formats[i])
                else:
                    sheet.write_string(r, i, _text(value))
            row_index += 1
            count += 1
        _finish(sheet, sheets, row_index, len(columns))
        if totals:
            r = row_index + 1
            sheet.write_string(r, 0, totals_label, total_formats[0])
            for i, col in enumerate(columns):
                if i == 0:
                    continue
                if not col.summed:
                    sheet.write_blank(r, i, None, total_formats[i])
                    continue
                letter = xl_col_to_name(i)
                ranges = [
                    f"'{name}'!{letter}2:{letter}{last + 1}"
                    if len(sheets) > 1
                    else f"{letter}2:{letter}{last + 1}"
                    for name, last in sheets
                    if last > 0
                ]
                formula = f"=SUM({','.join(ranges)})" if ranges else "=0"
                sheet.write_formula(r, i, formula, total_formats[i], float(sums.sums[i]))
    finally:
        book.close()
    return count


def _finish(sheet: Any, sheets: list[tuple[str, int]], rows: int, width: int) -> None:
    name, _ = sheets[-1]
    sheets[-1] = (name, rows)
    sheet.autofilter(0, 0, max(rows, 1), width - 1)


# ---------------------------------------------------------------- long formats

LINE_COLUMNS: tuple[Column, ...] = (
    Column("statement", "Statement", width=16),
    Column("brand", "Brand", width=38),
    Column("month", "Month", width=9),
    Column("kind", "Kind", width=15),
    Column("component", "Component", width=26),
    Column("shop", "Shop", width=38),
    Column("quantity", "Quantity", "decimal"),
    Column("unit", "Unit", width=22),
    Column("rate", "Rate", "decimal"),
    Column("amount", "Amount (CNY)", "money"),
    Column("not_counted", "Shown, not counted (CNY)", "money"),
    Column("source", "Source", width=60),
    Column("corrects", "Corrects line", width=40),
    Column("corrects_month", "Corrected month", width=10),
    Column("reason", "Reason", width=16),
)


def statement_line_rows(statements: Iterable[Statement]) -> Iterator[dict[str, object]]:
    """One row per line of each statement, lazily (pending and forgiven credits included, flagged)."""
    for st in statements:
        for line in st.lines:
            yield {
                "statement": st.number,
                "brand": st.brand,
                "month": st.month,
                "kind": line.kind,
                "component": line.component,
                "shop": line.shop,
                "quantity": line.quantity,
                "unit": line.unit,
                "rate": line.rate,
                # Pending and forgiven credits have their own column, so "Amount" sums to the totals.
                "amount": line.amount if line.counts else None,
                "not_counted": None if line.counts else line.amount,
                "source": line.source,
                "corrects": None if line.corrects is None else str(line.corrects),
                "corrects_month": line.corrects_month,
                "reason": line.reason,
            }


MARGIN_COLUMNS: tuple[Column, ...] = (
    Column("by", "By", width=8),
    Column("key", "Key", width=38),
    Column("month", "Month", width=9),
    Column("revenue", "Revenue (CNY)", "money"),
    Column("credits", "Credits (CNY)", "money"),
    Column("adjustments", "Adjustments (CNY)", "money"),
    Column("labour", "Labour (CNY)", "money"),
    Column("seat", "Seat (CNY)", "money"),
    Column("overhead", "Overhead (CNY)", "money"),
    Column("margin", "Margin (CNY)", "money"),
    Column("margin_pct", "Margin %", "percent"),
)


def margin_rows(margins: Iterable[Margin]) -> Iterator[dict[str, object]]:
    for m in margins:
        yield {
            "by": m.by,
            "key": m.key,
            "month": m.month,
            "revenue": m.revenue,
            "credits": m.credits,
            "adjustments": m.adjustments,
            "labour": m.labour,
            "seat": m.seat,
            "overhead": m.overhead,
            "margin": m.margin,
            "margin_pct": m.margin_pct,
        }


COST_COLUMNS: tuple[Column, ...] = (
    Column("month", "Month", width=9),
    Column("shop", "Shop", width=38),
    Column("site", "Site", width=38),
    Column("hours", "Worked hours", "decimal"),
    Column("attendance_hours", "From attendance (h)", "decimal"),
    Column("roster_hours", "From roster (h)", "decimal"),
    Column("overtime_workday_hours", "Overtime workday (h)", "decimal"),
    Column("overtime_rest_day_hours", "Overtime rest day (h)", "decimal"),
    Column("overtime_holiday_hours", "Overtime holiday (h)", "decimal"),
    Column("labour_base", "Labour base (CNY)", "money"),
    Column("overtime_premium", "Overtime premium (CNY)", "money"),
    Column("seat", "Seat (CNY)", "money"),
    Column("overhead", "Overhead (CNY)", "money"),
    Column("total", "Total (CNY)", "money"),
)


def _h(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.0001"))


def cost_rows(lines: Iterable[CostLine]) -> Iterator[dict[str, object]]:
    for c in lines:
        yield {
            "month": c.month,
            "shop": c.shop,
            "site": c.site,
            "hours": c.hours,
            "attendance_hours": _h(c.minutes_by_source.get("attendance", 0)),
            "roster_hours": _h(c.minutes_by_source.get("roster", 0)),
            "overtime_workday_hours": _h(c.overtime_minutes.get("workday", 0)),
            "overtime_rest_day_hours": _h(c.overtime_minutes.get("rest_day", 0)),
            "overtime_holiday_hours": _h(c.overtime_minutes.get("statutory_holiday", 0)),
            "labour_base": c.labour_base,
            "overtime_premium": c.overtime_premium,
            "seat": c.seat,
            "overhead": c.overhead,
            "total": c.total,
        }
