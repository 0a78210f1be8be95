"""`seatwise plan`: run a plan with staff scope and print where the seats fall short (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from service.capacity import service
from service.capacity.schemas import PlanCreate, PlanDetail
from service.kit.db import SYSTEM_SCOPE, Database
from service.kit.identity import OPERATOR


async def plan_and_report(db: Database, body: PlanCreate, step: service.Progress, out: Console,
                          top: int = 10) -> PlanDetail:
    async with db.system_transaction() as session:
        plan = await service.create_plan(session, db.sessions(SYSTEM_SCOPE), OPERATOR, body, step)
    async with db.system_transaction() as session:
        detail = await service.plan_detail(session, plan.id)
    print_report(detail, out, top)
    return detail


def print_report(detail: PlanDetail, out: Console, top: int = 10) -> None:
    plan = detail
    s = detail.summary
    out.print(f"[bold]{plan.name}[/bold]  plan {plan.id}")
    out.print(f"{plan.starts_at:%Y-%m-%d %H:%M} .. {plan.ends_at:%Y-%m-%d %H:%M} UTC, {s.intervals} "
              f"intervals x {s.shops} shops of {s.tenants} brands; uplift {s.uplift_source}; forecast "
              f"{s.forecast_volume:,.0f} contacts")
    if not s.intervals_short:
        out.print(f"[green]no shortfall[/green]: peak requirement {s.peak_required} seats")
        return
    out.print(f"[red]{s.intervals_short} of {s.intervals} intervals short[/red], {s.seats_missing:,} "
              f"seat-intervals missing ({s.seats_missing / 4:,.0f} seat-hours), worst interval "
              f"{s.peak_shortfall} seats short")

    tiers = Table(title="By tier (seat-intervals)")
    for col in ("tier", "shops", "required", "allocated", "missing", "shops short", "intervals short"):
        tiers.add_column(col, justify="left" if col == "tier" else "right")
    for t in s.tiers:
        tiers.add_row(t.tier, str(t.shops), f"{t.required:,}", f"{t.allocated:,}", f"{t.missing:,}",
                      str(t.shops_short), str(t.intervals_short))
    out.print(tiers)

    worst = sorted((i for i in detail.intervals if i.shortfall > 0),
                   key=lambda i: (-i.shortfall, i.interval_start))
    intervals = Table(title=f"Shortest intervals (top {min(top, len(worst))})")
    for col in ("interval (UTC)", "seats", "required", "allocated", "missing", "shops short"):
        intervals.add_column(col, justify="left" if col.startswith("interval") else "right")
    for i in worst[:top]:
        intervals.add_row(f"{i.interval_start:%Y-%m-%d %H:%M}", str(i.seats_available), str(i.seats_required),
                          str(i.allocated), str(i.shortfall), str(i.shops_short))
    out.print(intervals)

    short = sorted((x for x in detail.shops if x.missing > 0), key=lambda x: (-x.missing, x.shop_name))
    shops = Table(title=f"Shops short (top {min(top, len(short))} of {len(short)})")
    for col in ("brand", "tier", "shop", "missing", "intervals short", "min SL"):
        shops.add_column(col, justify="right" if col in ("missing", "intervals short", "min SL") else "left")
    for x in short[:top]:
        shops.add_row(x.tenant_slug, x.tier, x.shop_name, f"{x.missing:,}", str(x.intervals_short),
                      f"{x.min_service_level:.2f}")
    out.print(shops)
