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
- ``write_csv(out: TextIO, columns, rows, *, totals: bool = False, totals_label: str = "Total",
  header: bool = True) -> int``
- ``write_xlsx(out: BinaryIO | str, columns, rows, *, sheet_name: str = "Lines", totals: bool = True,
  totals_label: str = "Total") -> int``; both return the number of data rows written.
- ``LINE_COLUMNS``; ``statement_line_rows(statements: Iterable[Statement]) -> Iterator[dict[str, object]]``:
  the long format accountants ask for, one row per statement line. "Amount (CNY)" holds the lines that
  count (its total is the statements' total); pending and forgiven credits are in "Shown, not counted".
- ``MARGIN_COLUMNS``; ``margin_rows(margins: Iterable[Margin]) -> Iterator[dict[str, object]]``
- ``line_row(number, brand, month, line) -> dict[str, object]``: one line of that long format (what a
  streamed export of stored lines writes).
- ``COST_COLUMNS``; ``cost_rows(lines: Iterable[CostLine]) -> Iterator[dict[str, object]]``: one row per
  (shop, site, month) with the hours behind the amounts.
- ``COST_TOTAL_COLUMNS``; ``cost_total_rows(totals: Iterable[CostTotals])``: rollups with unit costs.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, Any, Literal, TextIO
from uuid import UUID

from service.finance.costing import CostFigures, CostLine, CostTotals
from service.finance.lines import Line
from service.finance.periods import Month
from service.finance.statements import Margin, Statement
from service.seating.calendar import PayClass

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
    header: bool = True,
) -> int:
    """Header (unless a later part of one file), one line per row as it comes, and optionally a totals line;
    returns the rows written."""
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
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
    import xlsxwriter  # here: only an XLSX export needs it, not every start of the server
    from xlsxwriter.utility import xl_col_to_name

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


def line_row(number: str | None, brand: object, month: Month, line: Line) -> dict[str, object]:
    """One statement line in the long format (the brand as the caller names it: id, slug or name)."""
    return {
        "statement": number,
        "brand": brand,
        "month": month,
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


def statement_line_rows(statements: Iterable[Statement]) -> Iterator[dict[str, object]]:
    """One row per line of each statement, lazily (pending and forgiven credits included, flagged)."""
    for st in statements:
        for line in st.lines:
            yield line_row(st.number, st.brand, st.month, line)


def _money(*names: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(key, f"{header} (CNY)", "money") for key, header in names)


def _hours_of(*names: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(key, f"{header} (h)", "decimal") for key, header in names)


_KEYS = (Column("by", "By", width=8), Column("key", "Key", width=38), Column("month", "Month", width=9))
MARGIN_COLUMNS: tuple[Column, ...] = (
    *_KEYS,
    *_money(("revenue", "Revenue"), ("credits", "Credits"), ("adjustments", "Adjustments"),
            ("labour", "Labour"), ("seat", "Seat"), ("overhead", "Overhead"), ("margin", "Margin")),
    Column("margin_pct", "Margin %", "percent"),
)


def margin_rows(margins: Iterable[Margin]) -> Iterator[dict[str, object]]:
    for m in margins:
        yield {c.key: getattr(m, c.key) for c in MARGIN_COLUMNS}


#: (column key, minutes of) for the hours columns of the cost exports.
_MINUTES: tuple[tuple[str, Callable[[CostFigures], int]], ...] = (
    ("hours", lambda c: c.minutes),
    ("attendance_hours", lambda c: c.minutes_by_source.get("attendance", 0)),
    ("roster_hours", lambda c: c.minutes_by_source.get("roster", 0)),
    *((f"overtime_{pc.value}_hours", lambda c, pc=pc: c.overtime_minutes.get(pc, 0)) for pc in PayClass),
)
_COST_FIGURES: tuple[Column, ...] = (
    *_hours_of(("hours", "Worked"), ("attendance_hours", "From attendance"), ("roster_hours", "From roster")),
    *_hours_of(*((f"overtime_{pc.value}_hours", f"Overtime {pc.value.replace('_', ' ')}")
                 for pc in PayClass)),
    *_money(("labour_base", "Labour base"), ("overtime_premium", "Overtime premium"), ("seat", "Seat"),
            ("overhead", "Overhead"), ("total", "Total")),
)
COST_COLUMNS: tuple[Column, ...] = (
    Column("month", "Month", width=9),
    Column("shop", "Shop", width=38),
    Column("site", "Site", width=38),
    *_COST_FIGURES,
)
COST_TOTAL_COLUMNS: tuple[Column, ...] = (
    *_KEYS,
    *_COST_FIGURES,
    Column("conversations", "Conversations handled", "integer", total=True),
    Column("cost_per_conversation", "Cost per conversation (CNY)", "decimal"),
    Column("cost_per_seat_hour", "Cost per seat-hour (CNY)", "decimal"),
)


_AMOUNTS = ("labour_base", "overtime_premium", "seat", "overhead", "total")


def _figures(c: CostFigures) -> dict[str, object]:
    row: dict[str, object] = {key: _h(minutes(c)) for key, minutes in _MINUTES}
    row.update((key, getattr(c, key)) for key in _AMOUNTS)
    return row


def _h(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.0001"))


def cost_rows(lines: Iterable[CostLine]) -> Iterator[dict[str, object]]:
    """One row per (shop, site, month) with the hours behind the amounts."""
    for c in lines:
        yield {"month": c.month, "shop": c.shop, "site": c.site, **_figures(c)}


def cost_total_rows(totals: Iterable[CostTotals]) -> Iterator[dict[str, object]]:
    """One row per rollup (shop, brand or site, and month), with the unit costs."""
    for t in totals:
        yield {"by": t.by, "key": t.key, "month": t.month, **_figures(t), "conversations": t.conversations,
               "cost_per_conversation": t.cost_per_conversation, "cost_per_seat_hour": t.cost_per_seat_hour}
