"""90 days of demo conversations for every demo shop, reproducible from a seed.

Daily and weekly seasonality, the Double 11 peak (pre-sale days, a spike on 11-11, an aftersale wave),
and a few shops staffed thin enough to breach their SLA. Pure: yields NDJSON lines.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

DEMO_END = date(2026, 11, 22)  # last full day of demo history
DEMO_DAYS = 90

# Share of a day's conversations per local hour: quiet nights, a morning rise, evening peak.
HOURLY = [0.6, 0.3, 0.15, 0.1, 0.1, 0.15, 0.4, 1.2, 2.6, 4.2, 5.4, 5.6,
          4.6, 4.8, 5.6, 5.8, 5.4, 4.8, 4.6, 5.6, 7.0, 8.2, 8.4, 5.0]
# Double 11: pre-sale deposits (10-20..10-24), the run-up, the spike, the aftersale wave.
PROMOTION_DAYS = {date(2026, 10, d): 1.8 for d in range(20, 25)} | \
    {date(2026, 11, d): 1.5 for d in range(1, 11)} | \
    {date(2026, 11, 11): 6.0, date(2026, 11, 12): 2.4, date(2026, 11, 13): 1.8, date(2026, 11, 14): 1.4}
BASE_DAILY = {"tmall": 260, "jd": 170, "douyin": 150, "taobao": 90, "pdd": 90, "other": 40}
TIER_SCALE = {"KA": 1.0, "standard": 0.45, "longtail": 0.15}
AMOUNTS = {"beauty": (89, 420), "outdoor": (199, 1600), "home": (59, 680), "appliances": (299, 3200),
           "pets": (29, 260), "stationery": (9, 120)}


@dataclass(frozen=True)
class DemoShop:
    id: str
    platform: str
    tier: str
    category: str | None
    timezone: str
    thin: bool  # staffed thin: slow first responses, breaches at peaks


def daily_volume(shop: DemoShop, day: date) -> float:
    weekly = 1.15 if day.weekday() >= 5 else 1.0
    return (BASE_DAILY.get(shop.platform, 40) * TIER_SCALE.get(shop.tier, 0.3) * weekly
            * PROMOTION_DAYS.get(day, 1.0))


def conversations(shops: list[DemoShop], seed: int, end: date = DEMO_END,
                  days: int = DEMO_DAYS) -> Iterator[str]:
    rng = random.Random(seed)
    hour_total = sum(HOURLY)
    counter = 0
    for shop in shops:
        zone = ZoneInfo(shop.timezone)
        low, high = AMOUNTS.get(shop.category or "", (39, 499))
        for offset in range(days):
            day = end - timedelta(days=days - 1 - offset)
            peak = PROMOTION_DAYS.get(day, 1.0)
            for hour, weight in enumerate(HOURLY):
                expected = daily_volume(shop, day) * weight / hour_total
                for _ in range(_poisson(rng, expected)):
                    counter += 1
                    start = datetime(day.year, day.month, day.day, hour, tzinfo=zone) + \
                        timedelta(seconds=rng.uniform(0, 3600))
                    yield json.dumps(_record(rng, shop, f"demo-{counter:07d}", start, peak, hour, low, high))


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _record(rng, shop: DemoShop, external_id: str, start: datetime, peak: float, hour: int, low: int,
            high: int):
    kind = "presale" if rng.random() < (0.7 if peak > 1.2 and peak < 2.4 else 0.55) else "aftersale"
    # Thin shops answer slowly, and everyone slows down at the peak and at night.
    mean_frt = (28.0 if shop.thin else 7.0) * (1 + 0.6 * (peak - 1)) * (1.8 if hour < 8 else 1.0)
    abandon = min(0.35, (0.06 if shop.thin else 0.015) * peak)
    rec = {"external_id": external_id, "shop_id": shop.id, "started_at": start.isoformat(timespec="seconds"),
           "kind": kind, "agent_code": f"A{rng.randint(1, 120):04d}"}
    if rng.random() >= abandon:
        frt = rng.expovariate(1 / mean_frt)
        first = start + timedelta(seconds=round(frt, 1))
        rec["first_response_at"] = first.isoformat(timespec="milliseconds")
        rounds = [round(frt, 1)] + [round(rng.expovariate(1 / (mean_frt * 2.5)), 1)
                                    for _ in range(rng.randint(0, 3))]
        rec["response_times_s"] = rounds
        rec["ended_at"] = (first + timedelta(seconds=rng.randint(90, 1200))).isoformat(timespec="seconds")
        if kind == "presale" and rng.random() < (0.28 if shop.thin else 0.42):
            rec["converted"] = True
            rec["order_amount"] = f"{rng.uniform(low, high):.2f}"
        if rng.random() < 0.35:
            good = 0.72 if shop.thin else 0.9
            rec["csat"] = rng.choice([4, 5, 5]) if rng.random() < good else rng.choice([1, 2, 2, 3])
    return rec
