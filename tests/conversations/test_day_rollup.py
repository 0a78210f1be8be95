"""Per-shop-day FRT histograms (shop_day_frt): after ingests that replace records across local days, months
and DST changes they equal the interval histograms regrouped by local day (and the records' own bins);
a timezone change rebuilds them; reports read through them equal reports read through the intervals;
RLS keeps them to their tenant."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from service.conversations.day_rollup import apply_day_frt_delta, rebuild_day_frt
from service.kit.db import make_engine
from service.sla import queries as sla_queries
from service.sla import service as sla
from service.sla.periods import period_of
from service.sla.policies import ShopRef
from service.sla.queries import shop_ref
from tests.conftest import auth
from tests.factories import make_shop, rls_count, rls_execute
from tests.sla.reference import frt_bin, interval_start_of

OPS = auth("ops")
NDJSON = {"content-type": "application/x-ndjson"}
# Berlin leaves DST on 2025-10-26, New York on 2025-11-02; the data crosses October into November.
ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York")
DATA_FROM = datetime(2025, 10, 23, tzinfo=UTC)
DATA_DAYS = 13
FRTS = (0, 0.0004, 0.4, 1, 2.5, 7, 29.9995, 30, 30.001, 59, 180, 600, 600.0004, 601, 900, 4000)

Histograms = dict[tuple[uuid.UUID, date], dict[int, int]]


def records_for(rng: np.random.Generator, shop_id: uuid.UUID, n: int, prefix: str) -> list[dict]:
    out = []
    for i in range(n):
        started = DATA_FROM + timedelta(milliseconds=int(rng.integers(0, DATA_DAYS * 86_400_000)))
        rec = {"external_id": f"{prefix}-{i}", "shop_id": str(shop_id), "started_at": started.isoformat(),
               "kind": "presale" if rng.random() < 0.6 else "aftersale"}
        if rng.random() < 0.85:
            answered(rec, float(rng.choice(FRTS)) * (1 if rng.random() < 0.5 else float(rng.uniform(0.5, 2))))
        out.append(rec)
    return out


def answered(rec: dict, frt: float) -> dict:
    started = datetime.fromisoformat(rec["started_at"])
    rec["first_response_at"] = (started + timedelta(milliseconds=round(frt * 1000))).isoformat()
    return rec


def moved(rec: dict, delta: timedelta) -> dict:
    out = dict(rec)
    out["started_at"] = (datetime.fromisoformat(rec["started_at"]) + delta).isoformat()
    if "first_response_at" in rec:
        out["first_response_at"] = (datetime.fromisoformat(rec["first_response_at"]) + delta).isoformat()
    return out


def local_day(rec: dict, tz: str) -> date:
    """The shop-local day a record counts on: that of its 15-minute interval's start."""
    return interval_start_of(datetime.fromisoformat(rec["started_at"])).astimezone(ZoneInfo(tz)).date()


def from_records(records: list[dict], zones: dict[uuid.UUID, str]) -> Histograms:
    """Each answered record's FRT bin, counted on the local day of its 15-minute interval."""
    out: Histograms = defaultdict(Counter)
    for rec in records:
        if "first_response_at" not in rec:
            continue
        shop = uuid.UUID(rec["shop_id"])
        started, first = (datetime.fromisoformat(rec[k]) for k in ("started_at", "first_response_at"))
        out[(shop, local_day(rec, zones[shop]))][frt_bin((first - started).total_seconds())] += 1
    return {k: dict(v) for k, v in out.items()}


async def stored_days(db, shop_ids) -> Histograms:
    async with db.system_transaction() as session:
        rows = (await session.execute(text(
            "SELECT shop_id, day, frt_bins, frt_counts FROM shop_day_frt WHERE shop_id = ANY(:ids)"),
            {"ids": list(shop_ids)})).all()
    for _, _, bins, counts in rows:  # the stored form: sorted bins, no zero counts
        assert bins == sorted(set(bins)) and len(bins) == len(counts), (bins, counts)
        assert all(c > 0 for c in counts), (bins, counts)
    return {(shop, day): dict(zip(bins, counts, strict=True)) for shop, day, bins, counts in rows}


async def regrouped_intervals(db, shop_ids) -> Histograms:
    """The interval histograms summed per local day of each shop's current timezone."""
    async with db.system_transaction() as session:
        rows = (await session.execute(text(
            "SELECT r.shop_id, r.interval_start, s.timezone, r.frt_bins, r.frt_counts "
            "FROM shop_interval_stats r "
            "JOIN shops s ON s.tenant_id = r.tenant_id AND s.id = r.shop_id WHERE r.shop_id = ANY(:ids)"),
            {"ids": list(shop_ids)})).all()
    out: Histograms = defaultdict(Counter)
    for shop, start, tz, bins, counts in rows:
        for b, c in zip(bins, counts, strict=True):
            out[(shop, start.astimezone(ZoneInfo(tz)).date())][b] += c
    return {k: dict(v) for k, v in out.items() if v}


async def send(client, records: list[dict]) -> dict:
    body = ("\n".join(json.dumps(r) for r in records) + "\n").encode()
    r = await client.post("/v1/conversations", headers=OPS | NDJSON, content=body)
    assert r.status_code == 200, r.text
    assert not r.json()["rejected"], r.json()["rejected"][:3]
    return r.json()


@pytest.fixture(scope="module")
async def shops(db):
    """A shop per zone, two in one brand (the third in another), with no data yet."""
    tenant, first = await make_shop(db, ZONES[0])
    _, second = await make_shop(db, ZONES[1], platform="jd", tenant=tenant)
    other, third = await make_shop(db, ZONES[2], platform="douyin")
    return {"tenants": (tenant, other), "shops": (first, second, third)}


@pytest.fixture(scope="module")
async def history(client, db, shops):
    """Records ingested in three batches: the originals, then replacements that move records across local
    days, the October/November boundary and the DST changes, lose or gain an answer or change their FRT,
    and empty one local day; then the replacements again (unchanged) with one new record."""
    rng = np.random.default_rng(7)
    zones = {s.id: s.timezone for s in shops["shops"]}
    current: dict[tuple[str, str], dict] = {}
    originals = [r for s in shops["shops"] for r in records_for(rng, s.id, 700, f"d{s.timezone}")]
    await send(client, originals)
    current |= {(r["shop_id"], r["external_id"]): r for r in originals}
    assert await stored_days(db, zones) == from_records(list(current.values()), zones)

    berlin = shops["shops"][1]
    emptied = date(2025, 10, 30)  # every Berlin record of this local day moves to the next one
    in_berlin = [r for r in current.values() if r["shop_id"] == str(berlin.id)]
    changes = [moved(r, timedelta(days=1)) for r in in_berlin if local_day(r, berlin.timezone) == emptied]
    assert changes
    taken = {r["external_id"] for r in changes}
    for i, rec in enumerate(r for r in current.values() if r["external_id"] not in taken):
        if i % 7 == 0:
            new = moved(rec, timedelta(days=int(rng.integers(-3, 4)), hours=int(rng.integers(-12, 13))))
            if not (rec["shop_id"] == str(berlin.id) and local_day(new, berlin.timezone) == emptied):
                changes.append(new)
        elif i % 7 == 1:
            changes.append({k: v for k, v in rec.items() if k != "first_response_at"})
        elif i % 7 == 2:
            changes.append(answered({k: v for k, v in rec.items() if k != "first_response_at"},
                                    float(rng.choice(FRTS))))
    # Moves crossing the month boundary in each shop's local time.
    for s in shops["shops"]:
        late = datetime(2025, 10, 31, 23, 50, tzinfo=ZoneInfo(s.timezone)).astimezone(UTC)
        changes.append(answered({"external_id": f"edge-{s.timezone}", "shop_id": str(s.id),
                                 "started_at": late.isoformat(), "kind": "presale"}, 12.5))
    await send(client, changes)
    edges = [moved(r, timedelta(minutes=15)) for r in changes[-3:]]  # into November 1st, local time
    result = await send(client, edges)
    assert result["updated"] == 3
    for r in changes + edges:
        current[(r["shop_id"], r["external_id"])] = r
    assert (berlin.id, emptied) not in from_records(list(current.values()), zones)
    extra = answered({"external_id": "late-extra", "shop_id": str(berlin.id),
                      "started_at": "2025-10-26T01:30:00Z",
                      "kind": "aftersale"}, 44.0)  # in the hour Berlin repeats
    again = await send(client, changes[:-3] + edges + [extra])  # only the extra line is new
    assert (again["unchanged"], again["inserted"]) == (len(changes), 1)
    current[(extra["shop_id"], extra["external_id"])] = extra
    return list(current.values())


async def test_day_histograms_follow_ingest(db, shops, history):
    ids = [s.id for s in shops["shops"]]
    zones = {s.id: s.timezone for s in shops["shops"]}
    days = await stored_days(db, ids)
    assert days == await regrouped_intervals(db, ids)
    assert days == from_records(history, zones)
    assert (shops["shops"][1].id, date(2025, 10, 30)) not in days  # the emptied day has no row
    for s in shops["shops"]:
        assert days[(s.id, date(2025, 11, 1))].get(frt_bin(12.5), 0) >= 1


async def test_delta_from_contributions(db, shops):
    """The contract with ingest: one row per changed version in ingest_contrib, +1 new, -1 replaced."""
    tenant, _ = shops["tenants"]
    shop = shops["shops"][0]  # Asia/Shanghai: 2025-12-01 16:00Z is already 12-02 locally

    def at(hour: int, minute: int) -> datetime:
        return datetime(2025, 12, 1, hour, minute, tzinfo=UTC)

    rows = [(at(15, 45), 1, True, 3.2), (at(16, 0), 1, True, 700.0), (at(16, 0), 1, False, None),
            (at(16, 15), 1, True, 3.9)]
    replaced = [(at(16, 15), -1, True, 3.9), (at(15, 45), -1, True, 3.2), (at(15, 30), 1, True, 0.0)]
    removed = [(at(16, 0), -1, True, 700.0), (at(15, 30), -1, True, 0.0)]

    async def apply(batch) -> None:
        async with db.system_transaction() as session:
            await session.execute(text(
                "CREATE TEMP TABLE ingest_contrib (tenant_id uuid, shop_id uuid, interval_start timestamptz, "
                "sign int, answered bool, frt float8) ON COMMIT DROP"))
            await session.execute(text("INSERT INTO ingest_contrib VALUES (:t, :s, :i, :sign, :a, :f)"),
                                  [{"t": tenant.id, "s": shop.id, "i": i, "sign": sign, "a": a, "f": f}
                                   for i, sign, a, f in batch])
            await apply_day_frt_delta(session)

    def december(days: Histograms) -> Histograms:
        return {k: v for k, v in days.items() if k[0] == shop.id and k[1] >= date(2025, 12, 1)}

    await apply(rows)
    assert december(await stored_days(db, [shop.id])) == {
        (shop.id, date(2025, 12, 1)): {4: 1}, (shop.id, date(2025, 12, 2)): {frt_bin(700.0): 1, 4: 1}}
    await apply(replaced)
    assert december(await stored_days(db, [shop.id])) == {(shop.id, date(2025, 12, 1)): {0: 1},
                                                         (shop.id, date(2025, 12, 2)): {frt_bin(700.0): 1}}
    await apply(removed)
    assert december(await stored_days(db, [shop.id])) == {}


def _range(shop, start: str, end: str):
    lo, hi = period_of(shop.timezone, "day", start, end)
    return shop_ref(shop), lo, hi


def _same(a, b) -> None:
    """Two reports (or totals) with equal buckets and metrics, histogram-derived ones included."""
    assert [x.start for x in a.buckets] == [x.start for x in b.buckets]
    for x, y in zip([*a.buckets, a.total], [*b.buckets, b.total], strict=True):
        assert x == y  # every metric, histogram-derived ones included, and the verdicts


async def traced(db, call) -> tuple[object, list[str]]:
    """CALL(session) in a staff transaction, and the SQL statements it ran."""
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.system_transaction() as session:
            return await call(session), statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)


async def both_ways(db, monkeypatch, call):
    """CALL(session) through the day histograms, then with them switched off (interval histograms); both
    computed (no answer kept from an earlier call: kit.cache)."""
    with monkeypatch.context() as m:
        m.setattr(db.memo, "size", 0)
        fast, statements = await traced(db, call)
        assert any("shop_day_frt" in s for s in statements), "the day histograms were not read"
        m.setattr(sla_queries, "_DAY_BUCKETS", ())
        async with db.system_transaction() as session:
            slow = await call(session)
    return fast, slow


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
async def test_reports_through_days_equal_reports_through_intervals(db, shops, history,
                                                                    monkeypatch, granularity):
    ranges = [_range(s, "2025-10-20", "2025-11-10") for s in shops["shops"]] + \
        [_range(shops["shops"][1], "2025-10-26", "2025-10-27"),
         _range(shops["shops"][2], "2025-11-02", "2025-11-04")]
    fast, slow = await both_ways(db, monkeypatch, lambda session: sla.reports(session, ranges, granularity))
    assert sum(len(r.buckets) for r in fast) > len(ranges)
    for a, b in zip(fast, slow, strict=True):
        _same(a, b)
        assert a.total.frt_p90_s is not None


async def test_breaches_and_attainments_through_days(db, shops, history, monkeypatch, client):
    for s in shops["shops"]:
        r = await client.post(f"/v1/shops/{s.id}/sla-policies", headers=OPS, json={
            "effective_from": "2025-10-01", "service_level_target": 0.99, "response_rate_3min_target": 0.99})
        assert r.status_code == 201, r.text
    refs = [shop_ref(s) for s in shops["shops"]]
    fast, slow = await both_ways(db, monkeypatch,
                                 lambda session: sla.shop_breaches(session, refs, date(2025, 10, 20),
                                                                   date(2025, 11, 10)))
    assert fast == slow and any(fast)
    fast, slow = await both_ways(db, monkeypatch,
                                 lambda session: sla.attainments(session, refs, date(2025, 10, 29)))
    assert fast == slow


async def test_unaligned_ranges_read_intervals(db, shops, history):
    shop = shops["shops"][0]
    for granularity, start in (("day", "2025-10-25T06:00"), ("hour", "2025-10-25")):
        span = _range(shop, start, "2025-11-02")
        report, statements = await traced(db,
                                          lambda session, s=span, g=granularity: sla.reports(session, [s], g))
        assert not any("shop_day_frt" in s for s in statements)
        assert report[0].total.offered > 0 and report[0].total.frt_p50_s is not None


async def test_timezone_change_rebuilds_days(client, db, shops, history, monkeypatch):
    shop = shops["shops"][0]
    before = await stored_days(db, [shop.id])
    same = await client.patch(f"/v1/shops/{shop.id}", headers=OPS,
                              json={"timezone": shop.timezone, "name": "kept"})
    assert same.status_code == 200, same.text
    assert await stored_days(db, [shop.id]) == before
    changed = await client.patch(f"/v1/shops/{shop.id}", headers=OPS,
                                 json={"timezone": "America/Los_Angeles"})
    assert changed.status_code == 200, changed.text
    after = await stored_days(db, [shop.id])
    assert after != before and after == await regrouped_intervals(db, [shop.id])
    moved_shop = changed.json()
    ref = ShopRef(shop.tenant_id, shop.id, moved_shop["name"], moved_shop["platform"], "America/Los_Angeles")
    lo, hi = period_of(ref.timezone, "day", "2025-10-20", "2025-11-10")
    fast, slow = await both_ways(db, monkeypatch,
                                 lambda session: sla.reports(session, [(ref, lo, hi)], "day"))
    _same(fast[0], slow[0])
    # A rebuild of nothing, or of the same shops again, changes nothing.
    async with db.system_transaction() as session:
        await rebuild_day_frt(session, [])
        await rebuild_day_frt(session, [shop.id, shop.id])
    assert await stored_days(db, [shop.id]) == after


async def test_day_histograms_are_tenant_isolated(database, shops, history):
    (a, b), engine = shops["tenants"], make_engine(database.app_url, 1)
    sql = "SELECT count(*) FROM shop_day_frt"
    try:
        assert await rls_count(engine, sql + " WHERE tenant_id = :b", "", str(a.id), b=b.id) == 0
        assert await rls_count(engine, sql + " WHERE tenant_id = :a", "", str(a.id), a=a.id) > 0
        assert await rls_count(engine, sql, "", "") == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            await rls_execute(engine, "INSERT INTO shop_day_frt VALUES (:b, :s, DATE '2025-01-01', '{1}', "
                              "'{1}')", "", str(a.id), b=b.id, s=shops["shops"][2].id)
    finally:
        await engine.dispose()
