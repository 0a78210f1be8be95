"""`seatwise plan`: run a plan with staff scope, then print where the seats fall short (rich tables), in the
promotion's local time, with every figure's unit: seats (one agent position through one 15-minute interval)
or seat-intervals (seats summed over intervals)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from service.capacity import service
from service.capacity.schemas import PlanCreate, PlanDetail
from service.kit.db import SYSTEM_SCOPE, Database
from service.kit.identity import OPERATOR


async def make_plan(db: Database, body: PlanCreate, step: service.Progress
                    ) -> tuple[PlanDetail, str, list[str]]:
    """Plan and store; answer the plan, the timezone to show it in (the promotion's) and warnings."""
    async with db.system_transaction() as session:
        plan = await service.create_plan(session, db.sessions(SYSTEM_SCOPE), OPERATOR, body, step)
    async with db.system_transaction() as session:
        detail = await service.plan_detail(session, plan.id)
        promotion = (await service.find_promotion(session, str(plan.promotion_id))
                     if plan.promotion_id else None)
    tz = promotion.timezone if promotion else "UTC"
    warnings = []
    s = detail.summary
    if promotion is not None and s.uplift_source != "learned":
        source = "the promotion's given uplift curve" if s.uplift_source == "given" else \
            "no uplift at all: a flat forecast of ordinary days"
        warnings.append(f"no uplift history for {promotion.name} {promotion.year} (no earlier edition with "
                        f"rollups to learn from): the forecast uses {source}")
    return detail, tz, warnings


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def print_report(detail: PlanDetail, tz: str, out: Console, top: int = 10) -> None:
    plan = detail
    s = detail.summary
    zone = ZoneInfo(tz)
    out.print(f"[bold]{plan.name}[/bold]  plan {plan.id}")
    out.print(f"{_local(plan.starts_at, zone)} .. {_local(plan.ends_at, zone)} {tz}, {s.intervals} "
              f"intervals of 15 minutes x {s.shops} shops of {s.tenants} brands; uplift {s.uplift_source}; "
              f"forecast {s.forecast_volume:,.0f} contacts")
    if not s.intervals_short:
        out.print(f"[green]no shortfall[/green]: peak requirement {s.peak_required} seats at once")
        return
    out.print(f"[red]{s.intervals_short} of {s.intervals} intervals short[/red], {s.seats_missing:,} "
              f"seat-intervals missing ({s.seats_missing / 4:,.0f} seat-hours); peak requirement "
              f"{s.peak_required} seats at once, worst interval {s.peak_shortfall} seats short")

    tiers = Table(title="By tier (seat-intervals: seats summed over the plan's intervals)")
    for col in ("tier", "shops", "required", "allocated", "missing", "shops short", "intervals short"):
        tiers.add_column(col, justify="left" if col == "tier" else "right")
    for t in s.tiers:
        tiers.add_row(t.tier, str(t.shops), f"{t.required:,}", f"{t.allocated:,}", f"{t.missing:,}",
                      str(t.shops_short), str(t.intervals_short))
    out.print(tiers)

    worst = sorted((i for i in detail.intervals if i.shortfall > 0),
                   key=lambda i: (-i.shortfall, i.interval_start))
    intervals = Table(title=f"Shortest intervals (top {min(top, len(worst))}; seats at once)")
    for col in (f"interval ({tz})", "seats", "required", "allocated", "missing", "shops short"):
        intervals.add_column(col, justify="left" if col.startswith("interval") else "right")
    for i in worst[:top]:
        intervals.add_row(_local(i.interval_start, zone), str(i.seats_available), str(i.seats_required),
                          str(i.allocated), str(i.shortfall), str(i.shops_short))
    out.print(intervals)

    short = sorted((x for x in detail.shops if x.missing > 0), key=lambda x: (-x.missing, x.shop_name))
    shops = Table(title=f"Shops short (top {min(top, len(short))} of {len(short)}; seat-intervals)")
    for col in ("brand", "tier", "shop", "missing", "intervals short", "min SL"):
        shops.add_column(col, justify="right" if col in ("missing", "intervals short", "min SL") else "left")
    for x in short[:top]:
        shops.add_row(x.tenant_slug, x.tier, x.shop_name, f"{x.missing:,}", str(x.intervals_short),
                      f"{x.min_service_level:.2f}")
    out.print(shops)
