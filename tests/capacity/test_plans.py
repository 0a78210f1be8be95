"""Capacity plans over real PostgreSQL, from synthetic rollups written straight into shop_interval_stats:
the forecast recovers a known baseline x a known uplift learned from last year, per-shop intensity, the
SLA policy's targets reach the staffing, the stored allocation keeps its invariants, lines page and
export as CSV, a client sees only its own shops' lines, bad input is refused, the CLI plans."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from service.capacity import service
from service.capacity.erlang import required_agents
from service.capacity.forecast import local_slots
from service.kit.db import Database
from service.kit.identity import Principal, Role
from service.kit.time import local_day_start
from tests.conftest import auth
from tests.factories import assert_problem, cli_env, gql, plan_for_world, rls_count, rls_execute, run_cli

OPS = auth("ops")
STAFF = Principal(subject="test-ops", role=Role.ops, tenant_id=None, jti="")
TZ = "Asia/Shanghai"
WEEK_SLOTS = 672


def weekly_shape() -> np.ndarray:
    """Contacts per interval by local interval-of-week: multiples of 10, never 0, busier evenings and
    weekends."""
    slot = np.arange(WEEK_SLOTS)
    hour = (slot % 96) // 4
    level = np.select([hour < 8, hour < 12, hour < 18], [10, 40, 30], 60)
    return level * np.where(slot // 96 >= 5, 2, 1)


def promo_uplift(days: int = 3) -> np.ndarray:
    """A known uplift per interval: rising by day, a 5x midnight kick-off on the last day. Times a multiple
    of 10 it is a whole number, so the synthetic rollups (integers) carry it exactly."""
    u = np.repeat([1.5, 2.0, 3.0][:days], 96).astype(float)
    u[(days - 1) * 96:(days - 1) * 96 + 8] = 5.0
    return u


async def make_brand(db: Database, tier: str, weight: float = 1.0, platforms=("tmall",), tz: str = TZ):
    from service.shops.schemas import ShopCreate
    from service.shops.service import create_shop
    from tenants.schemas import TenantCreate
    from tenants.service import create_tenant

    tag = uuid.uuid4().hex[:8]
    async with db.system_transaction() as session:
        tenant = await create_tenant(session, TenantCreate(slug=f"cap-{tag}", name=f"Cap {tag}", tier=tier,
                                                           priority_weight=weight))
        shops = [await create_shop(session, ShopCreate(tenant_id=tenant.id, platform=p, name=f"cap {p} {tag}",
                                                       timezone=tz)) for p in platforms]
    return tenant, shops


async def put_rollups(db: Database, shop, start: datetime, offered: np.ndarray, aht_s: float) -> None:
    """Rollup rows of consecutive intervals from START (none where offered is 0, like the real ones)."""
    async with db.system_transaction() as session:
        await session.execute(text("""
            INSERT INTO shop_interval_stats (tenant_id, shop_id, interval_start, offered, answered,
              presale_offered, presale_converted, converted, gmv, frt_sum_s, frt_bins, frt_counts, rounds,
              rounds_within_180, response_capped_sum_s, handled, handle_sum_s, csat_count, csat_good,
              csat_bad)
            SELECT :tenant, :shop, CAST(:start AS timestamptz) + (x.i - 1) * interval '15 minutes', x.offered,
                   x.offered, 0, 0, 0, 0, 0, '{}', '{}', 0, 0, 0, x.offered, x.offered * CAST(:aht AS float8),
                   0, 0, 0
            FROM unnest(CAST(:offered AS int[])) WITH ORDINALITY AS x(offered, i) WHERE x.offered > 0"""),
            {"tenant": shop.tenant_id, "shop": shop.id, "start": start, "offered": [int(v) for v in offered],
             "aht": aht_s})


def local_series(weekly: np.ndarray, start: datetime, n: int, tz: str = TZ) -> np.ndarray:
    return weekly[local_slots(tz, start, n)]


async def history(db, shop, start: datetime, weekly: np.ndarray, aht_s: float, weeks: int = 4,
                  spike_week: int | None = None) -> None:
    """WEEKS weeks of rollups ending at START following WEEKLY (one week x5 when SPIKE_WEEK is given)."""
    first = start - timedelta(weeks=weeks)
    values = local_series(weekly, first, weeks * WEEK_SLOTS)
    if spike_week is not None:
        values[spike_week * WEEK_SLOTS:(spike_week + 1) * WEEK_SLOTS] *= 5
    await put_rollups(db, shop, first, values, aht_s)


async def promotion(client, name: str, start: date, end: date, **extra) -> dict:
    r = await client.post("/v1/promotions", headers=OPS, json={"name": name, "start_date": str(start),
                                                                 "end_date": str(end)} | extra)
    assert r.status_code == 201, r.text
    return r.json()


async def all_lines(client, plan_id: str, headers: dict, shop=None, limit: int = 500) -> list[dict]:
    items, cursor = [], None
    while True:
        params = ({"limit": limit} | ({"cursor": cursor} if cursor else {})
                  | ({"shop": str(shop)} if shop else {}))
        r = await client.get(f"/v1/capacity-plans/{plan_id}/lines", headers=headers, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def midnight(day: date) -> datetime:
    return local_day_start(day, TZ)


# --- forecast -----------------------------------------------------------------------------------------


async def test_forecast_recovers_baseline_times_learned_uplift(client, db):
    """Last year: baseline B (one spike week, which the median ignores) and actual B x u over the promotion.
    This year: baseline 1.2 B. The plan's forecast is 1.2 B x u exactly, and AHT and targets flow in."""
    from service.sla.schemas import SlaPolicyCreate
    from service.sla.service import create_policy

    name = f"Fest {uuid.uuid4().hex[:6]}"
    tenant, shops = await make_brand(db, "KA", 2.0, platforms=("tmall", "jd"))
    scales, ahts = [1, 3], [240.0, 360.0]
    u = promo_uplift()
    weekly = weekly_shape()
    prev_start, this_start = midnight(date(2025, 11, 9)), midnight(date(2026, 11, 9))
    for shop, k, aht in zip(shops, scales, ahts, strict=True):
        await history(db, shop, prev_start, weekly * k, aht, spike_week=1)
        await put_rollups(db, shop, prev_start, local_series(weekly * k, prev_start, 288) * u, aht)
        await history(db, shop, this_start, weekly * k * 6 // 5, aht)
    prev = await promotion(client, name, date(2025, 11, 9), date(2025, 11, 11), uplift=[9, 9, 9])
    await promotion(client, name, date(2026, 11, 9), date(2026, 11, 11), uplift=[7, 7, 7])  # learned wins
    async with db.system_transaction() as session:
        await create_policy(session, STAFF, shops[0].id, SlaPolicyCreate(
            effective_from=date(2026, 1, 1), answer_target_s=20, service_level_target=0.9))

    r = await client.post("/v1/capacity-plans", headers=OPS, json={"name": "fest", "promotion": name,
                                                                     "seats": 100_000})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["summary"]["uplift_source"] == "learned" and plan["summary"]["learned_from"] == prev["id"]
    assert plan["starts_at"].startswith("2026-11-08T16:00:00") and plan["summary"]["intervals"] == 288
    assert plan["summary"]["seats_missing"] == 0 and plan["created_by"] == "test-ops"

    for shop, k, aht in zip(shops, scales, ahts, strict=True):
        lines = await all_lines(client, plan["id"], OPS, shop=shop.id)
        assert len(lines) == 288 and lines[0]["interval_start"].startswith("2026-11-08T16:00:00")
        got = np.array([x["forecast_volume"] for x in lines])
        expected = local_series(weekly * k * 6 // 5, this_start, 288) * u
        assert np.allclose(got, expected, rtol=1e-9), shop.name
        assert {x["aht_s"] for x in lines} == {aht}
        assert all(x["allocated"] == x["required"] for x in lines)

    # Shop 0's policy (T = 20 s, 90%) and the defaults (concurrency 3, occupancy cap 0.85) reach the maths.
    lines = await all_lines(client, plan["id"], OPS, shop=shops[0].id)
    volume = np.array([x["forecast_volume"] for x in lines])
    want = required_agents("erlang_c", volume, 240.0, 900, 0.9, 20, 3, 0.85)
    assert [x["required"] for x in lines] == want.agents.tolist()
    assert [x["scheduled"] for x in lines] == np.ceil(np.round(want.agents / 0.7, 9)).astype(int).tolist()
    lines1 = await all_lines(client, plan["id"], OPS, shop=shops[1].id)
    want1 = required_agents("erlang_c", np.array([x["forecast_volume"] for x in lines1]),
                            360.0, 900, 0.8, 30, 3, 0.85)
    assert [x["required"] for x in lines1] == want1.agents.tolist()


async def test_a_brand_that_promoted_harder_keeps_its_share(client, db):
    name = f"Spring {uuid.uuid4().hex[:6]}"
    _, (hard,) = await make_brand(db, "standard")
    _, calm = await make_brand(db, "standard", platforms=("tmall", "jd"))
    u = promo_uplift()
    weekly = weekly_shape() * 3
    prev_start, this_start = midnight(date(2025, 3, 6)), midnight(date(2026, 3, 6))
    for shop, factor in ((hard, 2), (calm[0], 1), (calm[1], 1)):
        await history(db, shop, prev_start, weekly, 300.0)
        await put_rollups(db, shop, prev_start, local_series(weekly, prev_start, 288) * u * factor, 300.0)
        await history(db, shop, this_start, weekly, 300.0)
    await promotion(client, name, date(2025, 3, 6), date(2025, 3, 8))
    await promotion(client, name, date(2026, 3, 6), date(2026, 3, 8))
    plan = (await client.post("/v1/capacity-plans", headers=OPS,
                              json={"name": "spring", "promotion": name, "seats": 100_000})).json()
    hard_fc = np.array([x["forecast_volume"] for x in await all_lines(client, plan["id"], OPS, shop=hard.id)])
    calm_fc = np.array([x["forecast_volume"]
                        for x in await all_lines(client, plan["id"], OPS, shop=calm[0].id)])
    assert np.allclose(hard_fc / calm_fc, 2.0, rtol=0.01)  # same baseline, twice the promotion
    pooled = (hard_fc + 2 * calm_fc) / (4 * local_series(weekly, this_start, 288))
    assert np.allclose(pooled, u, rtol=0.01)  # and the three shops together rise as they did


# --- a plan short of seats: invariants on what is stored ------------------------------------------------

SCARCE_DAYS = (date(2026, 6, 16), date(2026, 6, 18))
GIVEN = [2.0, 3.0, 6.0]


@pytest.fixture(scope="module")
async def scarce(client, db):
    """Six brands over three tiers with history, a promotion with a given uplift and no last year, and
    a plan whose seats per interval cover 35%, 65%, 90% or 110% of the requirement."""
    name = f"Mid {uuid.uuid4().hex[:6]}"
    brands = []
    for tier, weight, k in (("KA", 3.0, 2), ("KA", 2.0, 1), ("standard", 1.5, 2), ("standard", 1.0, 1),
                            ("longtail", 1.0, 1), ("longtail", 0.8, 1)):
        tenant, shops = await make_brand(db, tier, weight, platforms=("tmall", "jd"))
        for i, shop in enumerate(shops):
            await history(db, shop, midnight(SCARCE_DAYS[0]), weekly_shape() * (k + i), 200.0 + 40 * i)
        brands.append((tenant, shops))
    promo = await promotion(client, name, *SCARCE_DAYS, uplift=GIVEN)
    full = (await client.post("/v1/capacity-plans", headers=OPS,
                              json={"name": "full", "promotion": name, "seats": 1_000_000})).json()
    detail = (await client.get(f"/v1/capacity-plans/{full['id']}", headers=OPS)).json()
    need = [i["seats_required"] for i in detail["intervals"]]
    series = [int(n * (0.35, 0.65, 0.9, 1.1)[t % 4]) for t, n in enumerate(need)]
    r = await client.post("/v1/capacity-plans", headers=OPS, json={
        "name": "scarce", "promotion": name, "seats": {"series": series}})
    assert r.status_code == 201, r.text
    return {"plan": r.json(), "full": full, "brands": brands, "series": series, "promotion": promo}


async def test_given_uplift_is_applied(client, scarce):
    assert scarce["full"]["summary"]["uplift_source"] == "given"
    _, shops = scarce["brands"][0]
    lines = await all_lines(client, scarce["full"]["id"], OPS, shop=shops[0].id)
    base = local_series(weekly_shape() * 2, midnight(SCARCE_DAYS[0]), 288)
    expected = base * np.repeat(GIVEN, 96)
    assert np.allclose([x["forecast_volume"] for x in lines], expected)


async def test_stored_plan_keeps_the_allocation_invariants(db, scarce):
    plan_id = scarce["plan"]["id"]
    async with db.system_transaction() as session:
        lines = (await session.execute(text("""
            SELECT l.interval_start, t.tier, l.shop_id, l.forecast_volume, l.required, l.allocated,
                   l.expected_service_level, l.expected_asa_s
            FROM capacity_plan_lines l JOIN tenants t ON t.id = l.tenant_id WHERE l.plan_id = :p"""),
            {"p": plan_id})).all()
        intervals = (await session.execute(text(
            "SELECT interval_start, seats_available, seats_required, allocated, shortfall, shops_short "
            "FROM capacity_plan_intervals WHERE plan_id = :p ORDER BY interval_start"), {"p": plan_id})).all()
    assert len(intervals) == 288 and [i.seats_available for i in intervals] == scarce["series"]
    by_interval: dict = {}
    for x in lines:
        assert 0 <= x.allocated <= x.required  # never above the requirement
        by_interval.setdefault(x.interval_start, []).append(x)
    rank = {"KA": 0, "standard": 1, "longtail": 2}
    regimes = set()
    for i in intervals:
        rows = by_interval[i.interval_start]
        allocated, required = sum(x.allocated for x in rows), sum(x.required for x in rows)
        assert allocated <= i.seats_available  # never above the seats
        assert allocated == min(i.seats_available, required)  # and no seat left idle while someone is short
        assert (i.seats_required, i.allocated, i.shortfall) == (required, allocated, required - allocated)
        assert i.shops_short == sum(x.allocated < x.required for x in rows)
        short_tiers = {rank[x.tier] for x in rows if x.allocated < x.required}
        if short_tiers:
            top = min(short_tiers)
            regimes.add(top)
            # A lower tier gets nothing while a higher tier is short.
            assert all(x.allocated == 0 for x in rows if rank[x.tier] > top), i.interval_start
        for x in rows:
            if x.allocated == x.required and x.forecast_volume > 0:
                assert x.expected_service_level >= 0.8 - 1e-9
            if x.allocated == 0 and x.forecast_volume > 0:
                assert x.expected_service_level == 0 and x.expected_asa_s is None  # unbounded: stored NULL
    assert regimes == {0, 1, 2}, "the series should make each tier the short one somewhere"
    s = scarce["plan"]["summary"]
    assert s["seats_missing"] == sum(i.shortfall for i in intervals) > 0
    assert s["intervals_short"] == sum(i.shortfall > 0 for i in intervals)
    assert [t["tier"] for t in s["tiers"]] == ["KA", "standard", "longtail"]
    assert sum(t["missing"] for t in s["tiers"]) == s["seats_missing"]


async def test_plan_detail_and_list(client, scarce):
    plan = scarce["plan"]
    r = await client.get(f"/v1/capacity-plans/{plan['id']}", headers=auth("finance"))
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["summary"] == plan["summary"] and len(detail["intervals"]) == 288
    assert detail["seats"] == {"series": scarce["series"]} and detail["params"]["shrinkage"] == 0.3
    tiers = [s["tier"] for s in detail["shops"]]
    assert tiers == sorted(tiers, key=["KA", "standard", "longtail"].index)  # KA first
    assert len(detail["shops"]) == plan["summary"]["shops"]
    units = detail["summary"]["units"]  # every figure says what it counts
    assert (units["peak_required"], units["seats_missing"], units["shops.missing"]) == \
        ("seats", "seat-intervals", "seat-intervals")
    assert detail["seats"] == {"series": plan["seats"]["series"]} or "total" in detail["seats"] or \
        "per_site" in detail["seats"]
    assert sum(s["missing"] for s in detail["shops"]) == plan["summary"]["seats_missing"]
    first = next(s for s in detail["shops"] if s["shop_id"] == str(scarce["brands"][0][1][1].id))
    assert (first["tier"], first["priority_weight"], first["aht_s"],
            first["concurrency"]) == ("KA", 3.0, 240.0, 3)
    assert (first["target_service_level"], first["target_answer_s"], first["patience_s"]) == (0.8, 30, None)
    mine = {str(s.id) for s in scarce["brands"][4][1]}
    assert all(s["intervals_short"] > 0 for s in detail["shops"] if s["shop_id"] in mine)  # long-tail waits
    listed = (await client.get("/v1/capacity-plans", headers=OPS,
                               params={"promotion": scarce["promotion"]["id"]}))
    assert {p["id"] for p in listed.json()["items"]} == {plan["id"], scarce["full"]["id"]}
    promos = (await client.get("/v1/promotions", headers=OPS,
                               params={"name": scarce["promotion"]["name"]})).json()
    assert [p["uplift"] for p in promos["items"]] == [GIVEN]
    assert (await client.get(f"/v1/capacity-plans/{uuid.uuid4()}", headers=OPS)).status_code == 404


async def test_lines_page_by_cursor(client, scarce):
    plan = scarce["plan"]
    lines = await all_lines(client, plan["id"], OPS, limit=317)
    assert len(lines) == plan["summary"]["shops"] * 288
    keys = [(x["tenant_id"], x["shop_id"], x["interval_start"]) for x in lines]
    assert len(set(keys)) == len(keys)
    assert sum(x["shortfall"] for x in lines) == plan["summary"]["seats_missing"]
    assert_problem(await client.get(f"/v1/capacity-plans/{plan['id']}/lines", headers=OPS,
                                    params={"cursor": "bogus"}), 422, "query.cursor")


async def test_a_client_reads_only_its_own_lines(client, scarce):
    plan = scarce["plan"]
    tenant, shops = scarce["brands"][0]
    other = scarce["brands"][2][1][0]
    me = auth("client", tenant.id)
    lines = await all_lines(client, plan["id"], me)
    assert len(lines) == 2 * 288 and {x["tenant_id"] for x in lines} == {str(tenant.id)}
    assert len(await all_lines(client, plan["id"], me, shop=shops[1].id)) == 288
    r = await client.get(f"/v1/capacity-plans/{plan['id']}/lines", headers=me, params={"shop": str(other.id)})
    assert r.status_code == 404 and str(other.id) not in r.text
    assert (await client.get(f"/v1/capacity-plans/{plan['id']}", headers=me)).status_code == 403
    # The list of plans shows a client the plans with its shops, with its share, never the plan's totals.
    listed = (await client.get("/v1/capacity-plans", headers=me, params={"limit": 500})).json()["items"]
    mine = next(p for p in listed if p["id"] == plan["id"])
    assert mine["summary"] is None and mine["seats"] is None and mine["created_by"] is None
    detail = (await client.get(f"/v1/capacity-plans/{plan['id']}", headers=OPS)).json()
    shares = [s for s in detail["shops"] if s["tenant_id"] == str(tenant.id)]
    assert mine["share"]["shops"] == len(shares) == 2
    assert mine["share"]["missing"] == sum(s["missing"] for s in shares)
    assert mine["share"]["required"] == sum(s["required"] for s in shares)
    staff = (await client.get("/v1/capacity-plans", headers=OPS, params={"limit": 500})).json()["items"]
    assert next(p for p in staff if p["id"] == plan["id"])["share"] is None
    csv_text = (await client.get(f"/v1/capacity-plans/{plan['id']}/lines.csv", headers=me)).text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(rows) == 2 * 288 and {r["shop_id"] for r in rows} == {str(s.id) for s in shops}
    assert (await client.get(f"/v1/capacity-plans/{uuid.uuid4()}/lines", headers=me)).status_code == 404


async def test_csv_export(client, scarce):
    plan = scarce["plan"]
    r = await client.get(f"/v1/capacity-plans/{plan['id']}/lines.csv", headers=auth("finance"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == list(service.CSV_COLUMNS)
    assert len(rows) == plan["summary"]["shops"] * 288
    assert sum(int(x["shortfall"]) for x in rows) == plan["summary"]["seats_missing"]
    assert rows[0]["interval_start"] == "2026-06-15T16:00:00Z"
    unserved = [x for x in rows if x["allocated"] == "0" and float(x["forecast_volume"]) > 0]
    assert {x["expected_asa_s"] for x in unserved} == {""}
    _, shops = scarce["brands"][3]
    one = await client.get(f"/v1/capacity-plans/{plan['id']}/lines.csv", headers=OPS,
                           params={"shop": str(shops[0].id)})
    assert len(one.text.strip().splitlines()) == 289
    assert (await client.get(f"/v1/capacity-plans/{uuid.uuid4()}/lines.csv", headers=OPS)).status_code == 404


async def test_graphql_plan_is_batched(client, db, scarce):
    from sqlalchemy import event

    query = """query($n: Int!, $p: UUID) { capacityPlans(first: $n, promotionId: $p) { items { id
      summary { seatsMissing tiers { tier missing } } intervals { shortfall } shops { tier missing } } } }"""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        counts = {}
        for n in (1, 2):
            statements.clear()
            result = await gql(client, query, {"n": n, "p": scarce["promotion"]["id"]}, OPS)
            assert "errors" not in result, result
            items = result["data"]["capacityPlans"]["items"]
            assert len(items) == n and all(len(p["intervals"]) == 288 for p in items)
            counts[n] = len(statements)
        assert counts[1] == counts[2], counts
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


# --- bad input ----------------------------------------------------------------------------------------


DAY = {"from": "2026-12-12T00:00:00+08:00", "to": "2026-12-13T00:00:00+08:00"}


@pytest.mark.parametrize(("body", "field"), [
    ({"promotion": "No Such Fest", "seats": 10}, "body.promotion"),  # a use case's field at its REST location
    ({"seats": 10}, "body"),  # neither a promotion nor from/to
    ({"promotion": "x", "seats": 1} | DAY, "body"),
    (DAY | {"from": "2026-12-12T00:00:00", "seats": 1}, "body.from"),
    (DAY | {"from": "2026-12-12T00:10:00+08:00", "seats": 1}, "body.from"),
    (DAY | {"to": "2027-03-13T00:00:00+08:00", "seats": 1}, "body"),
    (DAY | {"seats": {"series": [1, 2]}}, "body.seats.series"),
    (DAY | {"seats": {"per_site": {"Mars": 3}}}, "body.seats.per_site.Mars"),
    (DAY | {"seats": -1}, "body.seats.number"),
    (DAY | {"seats": 5, "model": "erlang_a"}, "body.patience_s"),
    (DAY | {"seats": 5, "params": {str(uuid.UUID(int=7)): {"aht_s": 100}}},
     f"body.params.{uuid.UUID(int=7)}"),
    (DAY | {"seats": 5, "shrinkage": 1}, "body.shrinkage"),
    (DAY | {"seats": 5, "colour": 1}, "body.colour"),
])
async def test_bad_plan_input(client, world, body, field):
    r = await client.post("/v1/capacity-plans", headers=OPS, json={"name": "bad"} | body)
    assert_problem(r, 422, field)


async def test_promotion_rules(client):
    name = f"Rule {uuid.uuid4().hex[:6]}"
    await promotion(client, name, date(2027, 6, 1), date(2027, 6, 18), platform="jd")
    dup = await client.post("/v1/promotions", headers=OPS, json={"name": name, "start_date": "2027-05-01",
                                                                 "end_date": "2027-05-02"})
    assert_problem(dup, 409)
    for extra, field in (({"end_date": "2027-05-31"}, "body.end_date"),
                         ({"platform": "ebay"}, "body.platform"),
                         ({"uplift": [1, 2]}, "body.uplift"), ({"timezone": "Mars/Base"}, "body.timezone")):
        r = await client.post("/v1/promotions", headers=OPS, json={"name": "x", "start_date": "2027-06-01",
                                                                   "end_date": "2027-06-03"} | extra)
        assert_problem(r, 422, field)
    assert (await client.post("/v1/promotions", headers=auth("finance"), json={})).status_code == 403


async def test_erlang_a_plan_over_a_range_with_per_site_seats(client, db, world):
    from service.workforce.schemas import SiteCreate
    from service.workforce.service import create_site

    _, (shop,) = await make_brand(db, "KA", platforms=("douyin",))
    start = midnight(date(2026, 9, 7))
    await history(db, shop, start, weekly_shape() * 2, 300.0)
    async with db.system_transaction() as session:
        site = await create_site(session, SiteCreate(name=f"Cap site {uuid.uuid4().hex[:6]}", city="Hefei",
                                                     seat_capacity=12))
    r = await client.post("/v1/capacity-plans", headers=OPS, json={
        "name": "range", "from": "2026-09-07T00:00:00+08:00", "to": "2026-09-07T06:00:00+08:00",
        "seats": {"per_site": {site.name: None, str(world.site.id): 3}}, "model": "erlang_a",
        "patience_s": 90, "params": {str(shop.id): {"concurrency": 2, "target_service_level": 0.7}}})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["summary"]["uplift_source"] == "none" and plan["summary"]["intervals"] == 24
    assert plan["model"] == "erlang_a" and plan["summary"]["seats_available"] == 15 * 24
    lines = await all_lines(client, plan["id"], OPS, shop=shop.id)
    assert [x["forecast_volume"] for x in lines] == list(local_series(weekly_shape() * 2, start, 24))


async def test_cli_plan_prints_the_shortfall(database, client, scarce, tmp_path):
    env = cli_env(database, tmp_path, COLUMNS="200")
    name = scarce["promotion"]["name"]
    result = await asyncio.to_thread(run_cli, ["plan", "--promotion", name, "--seats", "40", "--name", "cli"],
                                     env)
    assert result.exit_code == 0, result.output
    assert all(words in result.output for words in ("intervals short", "longtail", "Shops short"))
    listed = (await client.get("/v1/capacity-plans", headers=OPS,
                               params={"promotion": scarce["promotion"]["id"]}))
    assert "cli" in {p["name"] for p in listed.json()["items"]}
    missing = await asyncio.to_thread(run_cli, ["plan", "--promotion", "Nope", "--seats", "1"], env)
    assert missing.exit_code == 2 and "no promotion" in missing.output


# --- a helper for the isolation and role-matrix tests ----------------------------------------------------


# --- the database itself keeps plan lines per tenant ------------------------------------------------------


async def test_raw_sql_rls_on_plan_lines(database, db, world):
    from sqlalchemy.exc import DBAPIError

    from service.kit.db import make_engine

    plan = await plan_for_world(db)
    engine = make_engine(database.app_url, 1)
    a, b = str(world.tenant_a.id), str(world.tenant_b.id)
    sql = "SELECT count(*) FROM capacity_plan_lines WHERE plan_id = :p"
    try:
        # 2 shops x 8 intervals each; a client sees its own, even when asking for the other's by tenant id.
        assert await rls_count(engine, sql + " AND tenant_id = :b", "", a, p=plan, b=b) == 0
        assert await rls_count(engine, sql + " AND tenant_id = :a", "", a, p=plan, a=a) == 16
        assert await rls_count(engine, sql, "", a, p=plan) == 16
        assert await rls_count(engine, sql, "", "", p=plan) == 0  # unset: no rows
        assert await rls_count(engine, sql + " AND tenant_id IN (:a, :b)", "on", "", p=plan, a=a, b=b) == 32
        shops_sql = "SELECT count(*) FROM capacity_plan_shops WHERE plan_id = :p"
        assert await rls_count(engine, shops_sql, "", a, p=plan) == 2  # the plan's shops: the same rule
        assert await rls_count(engine, shops_sql, "", "", p=plan) == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            await rls_execute(engine, "INSERT INTO capacity_plan_lines (tenant_id, plan_id, shop_id, "
                              "interval_start, forecast_volume, required, scheduled, allocated, "
                              "expected_service_level) VALUES (:b, :p, :s, '2030-01-01', 1, 1, 1, 1, 1)",
                              "", a, b=b, p=plan, s=str(world.shops_b[0].id))
        changed = await rls_execute(engine, "UPDATE capacity_plan_lines SET allocated = 0 "
                                    "WHERE tenant_id = :b", "", a, b=b)
        assert changed.rowcount == 0
    finally:
        await engine.dispose()


async def test_graphql_client_lines_of_another_brand_are_not_found(client, db, world):
    plan = await plan_for_world(db)
    q = "query($p: UUID!, $s: UUID) { capacityPlanLines(planId: $p, shopId: $s) { items { shopId } } }"
    mine = await gql(client, q, {"p": str(plan), "s": str(world.shops_a[0].id)}, world.client_of("a"))
    assert len(mine["data"]["capacityPlanLines"]["items"]) == 8
    theirs = await gql(client, q, {"p": str(plan), "s": str(world.shops_b[0].id)}, world.client_of("a"))
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert str(world.shops_b[0].id) not in str(theirs)
    bad = await gql(client, "mutation { createCapacityPlan(input: {name: \"x\", promotion: \"nope\", "
                            "seats: {total: 1, series: [1]}}) { id } }", headers=OPS)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- the demo: Double 11 behind us, Double 12 ahead, learning from Double 11 --------------------------------


async def test_demo_double_12_learns_from_double_11(server_url, template_db):
    from service.demo import SITES, load_capacity_demo
    from service.kit.db import make_engine
    from service.workforce.schemas import SiteCreate
    from service.workforce.service import create_site
    from tests.conftest import _admin, fresh_database

    target = await fresh_database(server_url, template_db)
    demo_db = Database(make_engine(target.app_url, 2))
    try:
        async with demo_db.system_transaction() as session:
            for name, city, seats in SITES:
                await create_site(session, SiteCreate(name=name, city=city, seat_capacity=seats))
        shops = [(await make_brand(demo_db, tier))[1][0] for tier in ("KA", "longtail")]
        # History: ordinary weeks from 2026-10-04, Double 11 (11-01..11-11) three times busier.
        first, today = midnight(date(2026, 10, 4)), datetime.fromisoformat("2026-11-23T00:00:00+00:00")
        n = int((today - first) / timedelta(minutes=15))
        values = local_series(weekly_shape(), first, n)
        d11 = slice(int((midnight(date(2026, 11, 1)) - first) / timedelta(minutes=15)),
                    int((midnight(date(2026, 11, 12)) - first) / timedelta(minutes=15)))
        values[d11] *= 3
        for shop in shops:
            await put_rollups(demo_db, shop, first, values, 300.0)
        await load_capacity_demo(demo_db, today=date(2026, 11, 23))
        async with demo_db.system_transaction() as session:
            promos = {p.name: p for p in (await session.execute(text("SELECT * FROM promotions"))).all()}
            plans = (await session.execute(text("SELECT * FROM capacity_plans ORDER BY id"))).all()
            plan, short = plans
            got = (await session.execute(text(
                "SELECT forecast_volume FROM capacity_plan_lines WHERE plan_id = :p AND shop_id = :s "
                "ORDER BY interval_start"), {"p": plan.id, "s": shops[0].id})).scalars().all()
        assert promos["Double 12"].uplift_from_id == promos["Double 11"].id
        assert plan.summary["uplift_source"] == "learned"
        assert plan.summary["learned_from"] == str(promos["Double 11"].id)
        # A future plan's baseline ends on the day the demo is loaded (its UTC midnight).
        assert plan.summary["history_to"].startswith("2026-11-22")
        assert plan.summary["seats_available"] == sum(seats for _, _, seats in SITES) * 288
        assert plan.name == "Double 12, every site" and plan.summary["seats_missing"] == 0
        # The second demo plan has 65% of the peak: short, so the allocation shows.
        assert short.seats == int(plan.summary["peak_required"] * 0.65) and short.summary["seats_missing"] > 0
        # The baseline leaves Double 11 out (ordinary days only); the learned uplift is 3 everywhere.
        expected = local_series(weekly_shape(), midnight(date(2026, 12, 10)), 288) * 3
        assert np.allclose(got, expected)
    finally:
        await demo_db.dispose()
        await _admin(server_url, f"DROP DATABASE IF EXISTS {target.name} WITH (FORCE)")


async def test_seats_read_the_same_in_both_doors(client, world):
    """REST takes a number or {"total": n}; both doors answer {"total": n}, as GraphQL's input spells it."""
    window = {"from": "2026-12-12T00:00:00+08:00", "to": "2026-12-12T01:00:00+08:00"}
    for seats in (3, {"total": 3}):
        r = await client.post("/v1/capacity-plans", headers=OPS, json={"name": f"seats {seats}", **window,
                                                                        "seats": seats})
        assert r.status_code == 201, r.text
        assert r.json()["seats"] == {"total": 3} and r.json()["summary"]["seats_available"] == 3 * 4
        q = "query($id: UUID!) { capacityPlan(id: $id) { seats } }"
        got = await gql(client, q, {"id": r.json()["id"]}, OPS)
        assert got["data"]["capacityPlan"]["seats"] == {"total": 3}
