"""`seatwise plan --roster`: build the plan's draft roster (fast path), print its coverage (rich tables)."""

from __future__ import annotations

import uuid

from rich.console import Console
from rich.table import Table

from service.kit.db import Database
from service.kit.identity import OPERATOR
from service.seating import service
from service.seating.schemas import RosterCreate, RosterRead


async def roster_and_report(db: Database, plan_id: uuid.UUID, out: Console, top: int = 10) -> RosterRead:
    async with db.system_transaction() as session:
        roster = RosterRead.model_validate(
            await service.create_roster(session, OPERATOR, plan_id, RosterCreate())
        )
    print_coverage(roster, out, top)
    return roster


def print_coverage(roster: RosterRead, out: Console, top: int = 10) -> None:
    s = roster.summary
    out.print(
        f"[bold]Roster {roster.id}[/bold] ({roster.status}, {s.solver.status} in {s.solver.seconds:.2f} s): "
        f"{s.shifts:,} shifts of {s.agents_used:,} agents, {s.hours:,.0f} h, overtime "
        f"{s.overtime_hours.workday:,.0f} / {s.overtime_hours.rest_day:,.0f} / "
        f"{s.overtime_hours.holiday:,.0f} h "
        f"(150 / 200 / 300 %), labour cost {s.labour_cost:,} CNY"
    )
    table = Table(title="Coverage by tier (seat-intervals)")
    for col in ("tier", "required", "allocated", "rostered", "covered", "coverage"):
        table.add_column(col, justify="left" if col == "tier" else "right")
    for t in [*s.tiers, s.total]:
        name = getattr(t, "tier", "all")
        table.add_row(
            name,
            f"{t.required:,}",
            f"{t.allocated:,}",
            f"{t.rostered:,}",
            f"{t.covered:,}",
            f"{t.coverage:.1%}",
        )
    out.print(table)
    out.print(
        f"bound {s.bound.value:,} ({s.bound.kind}): coverage vs bound {s.bound.coverage_vs_bound:.1%}, "
        f"gap {s.bound.gap:,} seat-intervals"
    )
    short = sorted(
        (x for x in s.shops_coverage if x.covered < x.allocated),
        key=lambda x: (x.covered - x.allocated, x.shop_name),
    )
    if short:
        shops = Table(title=f"Shops short (top {min(top, len(short))} of {len(short)})")
        for col in ("tier", "shop", "allocated", "covered", "missing", "coverage"):
            shops.add_column(col, justify="left" if col in ("tier", "shop") else "right")
        for x in short[:top]:
            shops.add_row(
                x.tier,
                x.shop_name,
                f"{x.allocated:,}",
                f"{x.covered:,}",
                f"{x.allocated - x.covered:,}",
                f"{x.coverage:.1%}",
            )
        out.print(shops)
