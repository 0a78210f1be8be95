"""`seatwise scorecard` (a month's table and flags, the stale shops' facts refreshed first) and
`seatwise import-pulses FILE` (a survey tool's CSV export), in the operator's staff scope."""

from __future__ import annotations

from pathlib import Path

from service.kit.db import Database
from service.kit.errors import Invalid
from service.scorecard import schemas as shapes
from service.scorecard import service


def _f(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table_lines(month: shapes.MonthScorecards) -> list[str]:
    """The scorecards as aligned text lines, then each flag with its evidence."""
    head = (f"{'scope':<6} {'name':<22} {'client':>6} {'employee':>8} {'process':>7} {'headline':>8} "
            f"{'quadrant':<13} flags")
    lines = [f"balanced scorecard {month.month:%Y-%m}" + (f", {month.scope}" if month.scope else ""), head]
    flagged = []
    for c in month.items:
        kinds = ",".join(f.kind for f in c.flags) or "-"
        lines.append(
            f"{c.scope:<6} {c.name[:22]:<22} {_f(c.client_index):>6} {_f(c.employee_index):>8} "
            f"{_f(c.process_index):>7} {_f(c.headline):>8} {c.quadrant or '-':<13} {kinds}"
        )
        flagged += [(c, f) for f in c.flags]
        flagged += [
            (c, shapes.FlagRead(kind=f"recovery {r.state}", evidence=r.evidence))
            for r in c.recoveries
            if r.state != "failed"
        ]
    if flagged:
        lines.append("")
        lines.append("flags and their evidence:")
    for c, f in flagged:
        lines.append(f"  {f.kind} {c.scope} {c.name}")
        for e in f.evidence:
            note = f" ({e.note})" if e.note else ""
            lines.append(
                f"    {e.metric} = {e.value:g} {e.comparison} {e.threshold:g} over "
                f"{e.period_start}..{e.period_end}{note}"
            )
    if month.stale_shops:
        lines.append(f"{month.stale_shops} shop(s) have SLA data newer than their facts")
    return lines


async def scorecard_table(db: Database, month: str, scope: str | None) -> list[str]:
    first = service.parse_month(month)
    async with db.system_transaction() as session:
        await service.refresh_facts(session, first)
    async with db.system_transaction() as session:
        return table_lines(await service.month_scorecards(session, month, scope))


async def import_pulse_file(db: Database, path: Path, survey: str, month: str) -> shapes.PulseImportRead:
    if not path.is_file():
        raise Invalid("file", f"no such file: {path}")
    answers, rejected = service.parse_pulse_csv(path.read_bytes())
    data = shapes.PulseImport.model_construct(survey=survey, month=month, answers=answers)
    async with db.system_transaction() as session:
        return await service.import_pulses(session, data, rejected)
