"""Demo conversations for every demo shop: 90 days of history ending the day before the demo is loaded,
reproducible from a seed and that day. Pure (numpy): columns in, typed rows out; no I/O.

The history tells the outsourcer's story on whatever day it is loaded:
- daily and weekly seasonality (quiet nights, an evening peak, busier weekends);
- the peaks of the e-commerce calendar that fall inside it (`CALENDAR`): each promotion's days run 1.5x,
  its last day spikes 6x and an aftersale wave follows. The story's peak is the last Double 11 inside the
  history when there is one, else the latest other peak, which carries the same spike (`story_peak`); the
  next peak after the day is the one to plan (`next_peak`). Any 90 days hold at least one spike: no two
  spikes of the calendar are more than 83 days apart;
- a few shops staffed thin: slow first responses, more abandons, unhappier buyers, worst at the peaks.

Every conversation is generated as columns (numpy, one pass per shop) and travels to PostgreSQL as one binary
COPY stream (`copy_records`) into the ingest's staging table, so loading it costs the ingest's SQL, not
Python per record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

DEMO_DAYS = 90

# Share of a day's conversations per local hour: quiet nights, a morning rise, evening peak.
HOURLY = np.array([0.6, 0.3, 0.15, 0.1, 0.1, 0.15, 0.4, 1.2, 2.6, 4.2, 5.4, 5.6,
                   4.6, 4.8, 5.6, 5.8, 5.4, 4.8, 4.6, 5.6, 7.0, 8.2, 8.4, 5.0])
# Conversations a day of a KA brand's shop per platform, and each tier's share of that: some 100,000 in all.
BASE_DAILY = {"tmall": 130, "jd": 85, "douyin": 75, "taobao": 45, "pdd": 45, "other": 20}
TIER_SCALE = {"KA": 1.0, "standard": 0.5, "longtail": 0.25}
AMOUNTS = {"beauty": (89, 420), "outdoor": (199, 1600), "home": (59, 680), "appliances": (299, 3200),
           "pets": (29, 260), "stationery": (9, 120)}
WEEKEND = 1.15
# A promotion's days, its last day (the spike) and the aftersale wave after it, over ordinary days.
RUN_UP, SPIKE, AFTERSALE = 1.5, 6.0, (2.4, 1.8, 1.4)

# The peaks of the Chinese e-commerce year: name, first day and last day (month, day); the last is the spike.
CALENDAR: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = (
    ("New Year Festival", (1, 5), (1, 15)),
    ("38 Festival", (3, 1), (3, 8)),
    ("520 Festival", (5, 13), (5, 20)),
    ("618", (6, 1), (6, 18)),
    ("99 Festival", (9, 1), (9, 9)),
    ("Double 11", (11, 1), (11, 11)),
    ("Double 12", (12, 10), (12, 12)),
)
STORY_PEAK = "Double 11"


@dataclass(frozen=True)
class Peak:
    name: str
    start: date
    end: date  # the spike

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class DemoShop:
    id: str
    platform: str
    tier: str
    category: str | None
    timezone: str
    thin: bool  # staffed thin: slow first responses, breaches at peaks
    grumpy: bool = False  # answered in time, but its buyers are often unhappy (a calm shop with low CSAT)


def history(today: date, days: int = DEMO_DAYS) -> tuple[date, date]:
    """The first and last day of the demo's history: DAYS days ending the day before TODAY."""
    return today - timedelta(days=days), today - timedelta(days=1)


def peaks(first_year: int, last_year: int) -> list[Peak]:
    """Every calendar peak of the years, in date order."""
    return sorted((Peak(name, date(y, *start), date(y, *end)) for y in range(first_year, last_year + 1)
                   for name, start, end in CALENDAR), key=lambda p: p.start)


def peaks_touching(first: date, last: date) -> list[Peak]:
    """The peaks whose days or aftersale wave fall on a day of [first, last]."""
    return [p for p in peaks(first.year - 1, last.year + 1)
            if p.start <= last and p.end + timedelta(days=len(AFTERSALE)) >= first]


def story_peak(today: date, days: int = DEMO_DAYS) -> Peak:
    """The past peak the demo's story turns on: the last Double 11 whose spike lies in the history, else
    the latest other spike there."""
    first, last = history(today, days)
    inside = [p for p in peaks_touching(first, last) if first <= p.end <= last]
    if not inside:
        raise ValueError(f"no peak's spike lies in {first}..{last}")  # the calendar rules this out at 90 days
    doubles = [p for p in inside if p.name == STORY_PEAK]
    return (doubles or inside)[-1]


def next_peak(today: date) -> Peak:
    """The first peak starting after TODAY: the one ready to plan."""
    return next(p for p in peaks(today.year, today.year + 1) if p.start > today)


def day_factors(days: list[date]) -> np.ndarray:
    """Volume over an ordinary day, per day: the peaks' run-up, spike and aftersale wave."""
    factor = {}
    for p in peaks_touching(days[0], days[-1]):
        for k in range(p.days):
            factor[p.start + timedelta(days=k)] = RUN_UP
        factor[p.end] = SPIKE
        for k, f in enumerate(AFTERSALE, start=1):
            factor.setdefault(p.end + timedelta(days=k), f)
    return np.array([factor.get(d, 1.0) for d in days])


@dataclass
class Columns:
    """One shop's generated conversations, one entry per conversation (times in UTC epoch seconds; NaN
    where absent)."""

    started: np.ndarray
    first_response: np.ndarray
    ended: np.ndarray
    presale: np.ndarray  # bool
    rounds: np.ndarray  # (n, 4) response times of up to four rounds, NaN where none
    agent: np.ndarray  # 1..120
    converted: np.ndarray  # bool
    cents: np.ndarray  # order amount in cents, -1 where none
    csat: np.ndarray  # 1..5, 0 where none

    def __len__(self) -> int:
        return len(self.started)


def shop_columns(shop: DemoShop, rng: np.random.Generator, days: list[date], factors: np.ndarray,
                 scale: float = 1.0) -> Columns:
    """Every conversation of SHOP over DAYS, started in order, in one vectorised pass."""
    zone = ZoneInfo(shop.timezone)
    weekly = np.array([WEEKEND if d.weekday() >= 5 else 1.0 for d in days])
    daily = BASE_DAILY.get(shop.platform, 40) * TIER_SCALE.get(shop.tier, 0.3) * scale * weekly * factors
    expected = daily[:, None] * (HOURLY / HOURLY.sum())[None, :]  # (day, hour)
    counts = rng.poisson(expected).ravel()
    day_idx, hour = np.divmod(np.repeat(np.arange(counts.size), counts), 24)
    midnight = np.array([datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() for d in days])
    started = np.round(midnight[day_idx] + hour * 3600 + rng.uniform(0, 3600, day_idx.size))
    order = np.argsort(started, kind="stable")
    day_idx, hour, started = day_idx[order], hour[order], started[order]
    n = started.size
    peak = factors[day_idx]

    presale = rng.random(n) < np.where((peak > 1.2) & (peak < 2.4), 0.7, 0.55)
    # Thin shops answer slowly, and everyone slows down at the peak and at night.
    mean_frt = (40.0 if shop.thin else 7.0) * (1 + 0.6 * (peak - 1)) * np.where(hour < 8, 1.8, 1.0)
    abandon = np.minimum(0.35, (0.06 if shop.thin else 0.015) * peak)
    answered = rng.random(n) >= abandon
    frt = np.round(rng.exponential(mean_frt), 1)
    first_response = np.where(answered, started + frt, np.nan)
    extra = rng.integers(0, 4, n)  # rounds after the first
    later = np.round(rng.exponential(mean_frt[:, None] * 2.5, (n, 3)), 1)
    rounds = np.column_stack([frt, np.where(np.arange(3)[None, :] < extra[:, None], later, np.nan)])
    rounds[~answered] = np.nan
    ended = np.where(answered, first_response + rng.integers(90, 1201, n), np.nan)
    low, high = AMOUNTS.get(shop.category or "", (39, 499))
    converted = answered & presale & (rng.random(n) < (0.28 if shop.thin else 0.42))
    cents = np.where(converted, np.round(rng.uniform(low, high, n) * 100), -1).astype(np.int64)
    rated = answered & (rng.random(n) < 0.35)
    good = rng.random(n) < (0.72 if shop.thin or shop.grumpy else 0.9)
    csat = np.where(rated, np.where(good, rng.choice([4, 5, 5], n), rng.choice([1, 2, 2, 3], n)), 0)
    return Columns(started, first_response, ended, presale, rounds, rng.integers(1, 121, n), converted,
                   cents, csat)


def generate(shops: list[DemoShop], seed: int, today: date, days: int = DEMO_DAYS,
             scale: float = 1.0) -> Iterator[tuple[DemoShop, Columns]]:
    """Each shop's conversations over the history before TODAY: the same SEED and TODAY give the same
    data (each shop draws from its own stream, so one shop's data does not depend on the others')."""
    first, _ = history(today, days)
    day_list = [first + timedelta(days=k) for k in range(days)]
    factors = day_factors(day_list)
    streams = np.random.SeedSequence([seed, today.toordinal()]).spawn(len(shops))
    for shop, stream in zip(shops, streams, strict=True):
        yield shop, shop_columns(shop, np.random.default_rng(stream), day_list, factors, scale)


# The generated columns as they travel to PostgreSQL: one fixed-width record per conversation in COPY's binary
# format (a field count, then each field's length and big-endian value), absent values as sentinels (NaN,
# -1, 0) that RAW_SELECT turns into NULLs while it fills ingest's staging table. One numpy buffer, one COPY:
# no Python object per conversation.
RAW_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("line_no", ">i4", "integer"), ("tenant_id", "V16", "uuid"), ("shop_id", "V16", "uuid"),
    ("number", ">i4", "integer"), ("started_us", ">i8", "bigint"), ("first_us", ">i8", "bigint"),
    ("ended_us", ">i8", "bigint"), ("presale", "?", "boolean"),
    *((f"r{k}", ">f8", "float8") for k in range(1, 5)),
    ("agent", ">i2", "smallint"), ("converted", "?", "boolean"), ("cents", ">i8", "bigint"),
    ("csat", ">i2", "smallint"),
)
RAW_TABLE = ("CREATE TEMP TABLE demo_raw ("
             + ", ".join(f"{name} {sql}" for name, _, sql in RAW_COLUMNS) + ") ON COMMIT DROP")
_PG_EPOCH = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
RAW_SELECT = f"""
INSERT INTO ingest_valid (line_no, tenant_id, external_id, shop_id, started_at, first_response_at, ended_at,
                          kind, response_times_s, agent_code, converted, order_amount, csat)
SELECT line_no, tenant_id, 'demo-' || lpad(number::text, 7, '0'), shop_id,
       {_PG_EPOCH} + started_us * INTERVAL '1 microsecond',
       CASE WHEN first_us >= 0 THEN {_PG_EPOCH} + first_us * INTERVAL '1 microsecond' END,
       CASE WHEN ended_us >= 0 THEN {_PG_EPOCH} + ended_us * INTERVAL '1 microsecond' END,
       CASE WHEN presale THEN 'presale' ELSE 'aftersale' END,
       NULLIF(array_remove(ARRAY[r1, r2, r3, r4], 'NaN'::float8), '{{}}'),
       'A' || lpad(agent::text, 4, '0'), converted, CASE WHEN cents >= 0 THEN cents / 100.0 END,
       NULLIF(csat, 0)
FROM demo_raw"""
_RECORD = np.dtype([("fields", ">i2")] + [x for name, kind, _ in RAW_COLUMNS
                                          for x in ((f"{name}_len", ">i4"), (name, kind))])
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
_UNIX_TO_PG_S = 946_684_800  # 2000-01-01 in Unix seconds


def _micros(seconds: np.ndarray) -> np.ndarray:
    """PostgreSQL timestamps (microseconds since 2000-01-01 UTC) of Unix seconds; -1 where NaN."""
    return np.where(np.isnan(seconds), -1, np.rint((np.nan_to_num(seconds) - _UNIX_TO_PG_S) * 1e6)
                    ).astype(np.int64)


def copy_records(parts: list[tuple[bytes, bytes, Columns]], first_number: int) -> bytes:
    """The conversations of PARTS ((tenant id, shop id, columns) of some shops, as 16 uuid bytes each) as one
    binary COPY stream into RAW_TABLE, numbered (line_no and external id demo-0000001, ...) from
    FIRST_NUMBER on."""
    n = sum(len(c) for _, _, c in parts)
    out = np.zeros(n, _RECORD)
    out["fields"] = len(RAW_COLUMNS)
    for name, kind, _ in RAW_COLUMNS:
        out[f"{name}_len"] = np.dtype(kind).itemsize
    at = 0
    for tenant, shop, c in parts:
        rec = out[at:at + len(c)]
        rec["tenant_id"], rec["shop_id"] = np.void(tenant), np.void(shop)
        rec["started_us"], rec["first_us"], rec["ended_us"] = (_micros(x) for x in
                                                               (c.started, c.first_response, c.ended))
        rec["presale"], rec["agent"], rec["converted"] = c.presale, c.agent, c.converted
        for k in range(4):
            rec[f"r{k + 1}"] = c.rounds[:, k]
        rec["cents"], rec["csat"] = c.cents, c.csat
        at += len(c)
    out["line_no"] = out["number"] = np.arange(first_number, first_number + n)
    return _COPY_HEADER + out.tobytes() + _COPY_TRAILER
