"""Streamed CSV and XLSX: the long format, formatting, and bounded memory over 50,000 rows."""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from service.finance import exports
from service.finance.exports import LINE_COLUMNS, MARGIN_COLUMNS, Column, write_csv, write_xlsx
from service.finance.lines import Line, LineKey
from service.finance.money import line_amount
from service.finance.periods import Month
from service.finance.statements import Margin, Statement

D = Decimal
NOV, OCT = Month(2026, 11), Month(2026, 10)

COLUMNS = [
    Column("shop", "Shop"),
    Column("quantity", "Quantity", "decimal"),
    Column("amount", "Amount (CNY)", "money"),
    Column("n", "Row", "integer"),
]


class TrackedRow(dict):  # type: ignore[type-arg]
    """A row that counts how many of its kind are alive: a writer that held rows would keep them alive."""

    live = 0
    peak = 0

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        TrackedRow.live += 1
        TrackedRow.peak = max(TrackedRow.peak, TrackedRow.live)

    def __del__(self) -> None:
        TrackedRow.live -= 1


def rows(n: int) -> Iterator[TrackedRow]:
    for i in range(n):
        q = D(i % 1000)
        yield TrackedRow({"shop": f"shop-{i % 50}", "quantity": q, "amount": q * D("38.5"), "n": i})


def expected_total(n: int) -> Decimal:
    return sum((D(i % 1000) * D("38.5") for i in range(n)), D(0))


def statement() -> Statement:
    charge = Line(
        "seat_hours", "X", D("2340"), "seat-hour", D("38.50"), line_amount(D("2340"), D("38.50")), "w"
    )
    pending = Line(
        "sla_credit.csat",
        "X",
        D("0.3"),
        "share of 2026-11 pool",
        D("1000.00"),
        D("-300.00"),
        "held",
        kind="credit_pending",
    )
    credit = Line(
        "sla_credit.service_level",
        "X",
        D("0.4"),
        "share of 2026-11 pool",
        D("1000.00"),
        D("-400.00"),
        '=HYPERLINK("x")',
        kind="credit",
    )
    fix = Line(
        "seat_hours",
        "X",
        D("60"),
        "seat-hour",
        D("38.50"),
        D("2310.00"),
        "late",
        kind="adjustment",
        corrects=LineKey("seat_hours", "X", "seat-hour"),
        corrects_month=OCT,
        reason="late_data",
    )
    return Statement("acme", NOV, (charge, pending, credit, fix), "SW-2026-000123")


def test_csv_long_format_one_row_per_line_with_totals():
    st = statement()
    out = io.StringIO()
    assert write_csv(out, LINE_COLUMNS, exports.statement_line_rows([st]), totals=True) == 4
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table[0] == [c.header for c in LINE_COLUMNS]
    body = [dict(zip(table[0], r, strict=True)) for r in table[1:-1]]
    assert [r["Kind"] for r in body] == ["charge", "credit_pending", "credit", "adjustment"]
    assert body[0]["Amount (CNY)"] == "90090.00" and body[0]["Statement"] == "SW-2026-000123"
    assert body[1]["Amount (CNY)"] == "" and body[1]["Shown, not counted (CNY)"] == "-300.00"
    assert body[3]["Corrects line"] == "seat_hours/X/seat-hour" and body[3]["Corrected month"] == "2026-10"
    assert body[2]["Source"] == '\'=HYPERLINK("x")'  # a formula in text is defused
    totals = dict(zip(table[0], table[-1], strict=True))
    assert totals["Statement"] == "Total"
    assert D(totals["Amount (CNY)"]) == st.total == D("92000.00")  # 90,090 - 400 + 2,310
    assert D(totals["Shown, not counted (CNY)"]) == st.pending_credits


def test_rows_may_be_tuples_and_floats_are_refused():
    out = io.StringIO()
    write_csv(out, COLUMNS, [("s", D("1.5"), D("2.00"), 3)])
    assert out.getvalue().splitlines()[1] == "s,1.5,2.00,3"
    with pytest.raises(ValueError):
        write_csv(io.StringIO(), COLUMNS, [("s", D(1))])
    with pytest.raises(TypeError):
        write_csv(io.StringIO(), COLUMNS, [("s", 1.5, D("2"), 3)])


def test_margin_rows_export():
    m = Margin("shop", "X", NOV, {"seat_hours": D("100.00")}, D("0.00"), D("0.00"), D("0"), D("0"), D("0"))
    zero = Margin("shop", "Y", NOV, {}, D("0.00"), D("0.00"), D("10.00"), D("0"), D("0"))
    out = io.StringIO()
    write_csv(out, MARGIN_COLUMNS, exports.margin_rows([m, zero]))
    lines = out.getvalue().splitlines()
    assert lines[1].endswith(",100.00,100.00") and lines[2].endswith(",-10.00,")  # margin % None is blank


def test_csv_of_50000_rows_streams(tmp_path: Path):
    TrackedRow.peak = TrackedRow.live = 0
    path = tmp_path / "lines.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        assert write_csv(f, COLUMNS, rows(50_000), totals=True) == 50_000
    assert TrackedRow.peak <= 2  # a row at a time
    with path.open(newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert len(table) == 50_002
    assert D(table[-1][2]) == expected_total(50_000)


def test_xlsx_of_50000_rows_streams_with_header_totals_and_frozen_pane(tmp_path: Path):
    TrackedRow.peak = TrackedRow.live = 0
    path = tmp_path / "lines.xlsx"
    with path.open("wb") as f:
        assert write_xlsx(f, COLUMNS, rows(50_000)) == 50_000
    assert TrackedRow.peak <= 2
    with zipfile.ZipFile(path) as z:
        assert "xl/sharedStrings.xml" not in z.namelist()  # constant_memory writes strings inline
        xml = z.read("xl/worksheets/sheet1.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    assert xml.count("<row ") == 50_002
    header = re.search(r'<row r="1"[^>]*>(.*?)</row>', xml)
    assert header is not None
    assert re.findall(r"<t>(.*?)</t>", header.group(1)) == [c.header for c in COLUMNS]
    assert '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>' in xml
    assert '<autoFilter ref="A1:D50001"/>' in xml
    totals = re.search(r'<row r="50002"[^>]*>(.*?)</row>', xml)
    assert totals is not None
    assert "<t>Total</t>" in totals.group(1)
    cached = re.search(r"<f>SUM\(C2:C50001\)</f><v>([^<]+)</v>", totals.group(1))
    assert cached is not None and D(cached.group(1)) == expected_total(50_000)
    assert 'formatCode="#,##0.00"' in styles and "<b/>" in styles and 'rgb="FFD9E1F2"' in styles
    assert '<col min="3" max="3" width="16.7109375" customWidth="1"/>' in xml


def _peak(kind: str, n: int, path: Path) -> int:
    tracemalloc.start()
    try:
        if kind == "xlsx":
            with path.open("wb") as f:
                write_xlsx(f, COLUMNS, rows(n))
        else:
            with path.open("w", newline="") as f:
                write_csv(f, COLUMNS, rows(n))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_memory_does_not_grow_with_the_rows(tmp_path: Path, kind: str):
    small = _peak(kind, 300, tmp_path / f"small.{kind}")
    large = _peak(kind, 3_000, tmp_path / f"large.{kind}")
    # Ten times the rows, the same memory (within 64 KB of allocator noise): nothing grows per row.
    assert large < small + 64 * 1024, (small, large)


def test_xlsx_continues_on_new_sheets_past_the_row_limit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)  # 3 data rows a sheet
    out = io.BytesIO()
    assert write_xlsx(out, COLUMNS, rows(7)) == 7
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        book = z.read("xl/workbook.xml").decode()
        last = z.read("xl/worksheets/sheet3.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', book) == ["Lines", "Lines (2)", "Lines (3)"]
    assert "<f>SUM('Lines'!C2:C4,'Lines (2)'!C2:C4,'Lines (3)'!C2:C2)</f>" in last
