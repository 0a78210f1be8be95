"""Breaches and the tenant summary: daily and monthly breaches equal judging reference_metrics over the
raw records with the policy in force that day (a month: on its first day); clients see their own shops
only; pagination walks the whole list; the summary is the month to date."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from service.sla.figures import SlaTargets
from service.sla.metrics import judge
from tests.conftest import auth
from tests.factories import add_policy, assert_bucket_matches, gql, insert_rollups, make_shop, random_records
from tests.sla.reference import interval_start_of, reference_metrics

DATA_FROM, DATA_TO = datetime(2024, 1, 20, tzinfo=UTC), datetime(2024, 3, 12, tzinfo=UTC)
FROM, TO = date(2024, 1, 25), date(2024, 3, 5)  # days Jan 25 .. Mar 4; months Feb and Mar (whole)
DEFAULT_WINDOW = {"tmall": (time(8), time(23)), "jd": (time(9), time(23)), "douyin": (time(8), time(23))}


@pytest.fixture(scope="module")
async def data(db, client):
    """Brand A: a Shanghai tmall shop whose policy changes on Feb 10 (a service level target nobody meets
    becomes one everybody meets), a New York jd shop with targets from the start, and a shop without any
    policy. Brand B: a shop with targets (and breaches) that A must never see."""
    ta, sh = await make_shop(db, "Asia/Shanghai", "tmall")
    _, ny = await make_shop(db, "America/New_York", "jd", tenant=ta)
    _, quiet = await make_shop(db, "Europe/Berlin", "douyin", tenant=ta)
    tb, b_shop = await make_shop(db, "Europe/Berlin", "douyin")
    records = {}
    for i, (tenant, shop) in enumerate(((ta, sh), (ta, ny), (ta, quiet), (tb, b_shop))):
        records[shop.id] = random_records(np.random.default_rng(7 + i), shop.id, 1400, DATA_FROM, DATA_TO,
                                          answered_share=0.9)
        await insert_rollups(db, tenant.id, records[shop.id])
    policies = {
        sh.id: [dict(effective_from="2024-01-01", service_level_target=0.99, csat_target=0.55),
                dict(effective_from="2024-02-10", answer_target_s=120, service_level_target=0.0,
                     response_rate_3min_target=0.7, assessed_start="22:00", assessed_end="02:00")],
        ny.id: [dict(effective_from="2023-12-01", max_abandon_rate=0.08, conversion_rate_target=0.18,
                     frt_mean_target_s=3000)],
        b_shop.id: [dict(effective_from="2024-01-01", service_level_target=0.99)],
    }
    for shop_id, versions in policies.items():
        for v in versions:
            await add_policy(client, shop_id, **v)
    return dict(ta=ta, tb=tb, sh=sh, ny=ny, quiet=quiet, b_shop=b_shop, records=records, policies=policies)


def _terms(data, shop, day: date) -> tuple[SlaTargets, tuple[time, time]]:
    versions = [v for v in data["policies"].get(shop.id, [])
                if date.fromisoformat(v["effective_from"]) <= day]
    if not versions:
        return SlaTargets(), DEFAULT_WINDOW[shop.platform]
    v = versions[-1]
    targets = SlaTargets(answer_target_s=v.get("answer_target_s", 30),
                         service_level=v.get("service_level_target"),
                         response_rate_3min=v.get("response_rate_3min_target"),
                         frt_mean_s=v.get("frt_mean_target_s"), csat=v.get("csat_target"),
                         conversion_rate=v.get("conversion_rate_target"),
                         max_abandon_rate=v.get("max_abandon_rate"))
    window = (time.fromisoformat(v["assessed_start"]), time.fromisoformat(v["assessed_end"])) \
        if "assessed_start" in v else DEFAULT_WINDOW[shop.platform]
    return targets, window


def expected_breaches(data, shops, start: date = FROM, end: date = TO) -> list[tuple]:
    out = []
    for shop in shops:
        zone = ZoneInfo(shop.timezone)
        by_day = defaultdict(list)
        for r in data["records"][shop.id]:
            by_day[interval_start_of(r.started_at).astimezone(zone).date()].append(r)
        periods = [("day", d, by_day[d]) for d in sorted(by_day) if start <= d < end]
        months = sorted({d.replace(day=1) for d in by_day if start <= d.replace(day=1) < end})
        periods += [("month", m, [r for d, recs in by_day.items() if d.replace(day=1) == m for r in recs])
                    for m in months]
        for kind, first, recs in periods:
            targets, window = _terms(data, shop, first)
            for v in judge(reference_metrics(recs, targets.answer_target_s, window, zone), targets):
                if not v.met:
                    out.append((str(shop.id), first.isoformat(), kind, v.metric, v.target, v.actual))
    return sorted(out, key=lambda b: b[:4])


async def all_pages(client, headers, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        r = await client.get("/v1/sla/breaches", params={**params, **({"cursor": cursor} if cursor else {})},
                             headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return items


def as_tuples(items: list[dict]) -> list[tuple]:
    return [(b["shop_id"], b["period_start"], b["period"], b["metric"], b["target"], b["actual"])
            for b in items]


def assert_same(got: list[tuple], expected: list[tuple]) -> None:
    assert [g[:5] for g in got] == [e[:5] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[5] == pytest.approx(e[5], rel=1e-9, abs=1e-12), g


async def test_breaches_match_the_reference(client, data):
    got = await all_pages(client, auth("client", data["ta"].id),
                          **{"from": FROM.isoformat(), "to": TO.isoformat()}, limit=500)
    expected = expected_breaches(data, [data["sh"], data["ny"], data["quiet"]])
    assert expected and {e[2] for e in expected} == {"day", "month"}
    assert_same(as_tuples(got), expected)
    assert {b["shop_id"] for b in got} <= {str(data["sh"].id), str(data["ny"].id)}  # no policy: not judged
    assert all(b["tenant_id"] == str(data["ta"].id) for b in got)


async def test_a_breach_is_judged_by_the_policy_of_its_day(client, data):
    items = await all_pages(client, auth("ops"), **{"from": FROM.isoformat(), "to": TO.isoformat()},
                            shop=str(data["sh"].id), metric="service_level")
    days = [date.fromisoformat(b["period_start"]) for b in items if b["period"] == "day"]
    # 0.99 until Feb 9 (breached every day with data), 0.0 from Feb 10 (never breached).
    assert days and max(days) < date(2024, 2, 10) and min(days) == FROM
    assert {b["policy_effective_from"] for b in items if b["period"] == "day"} == {"2024-01-01"}
    # February is judged by the policy in force on Feb 1 (0.99): breached; March by Feb 10's: met.
    months = [(b["period_start"], b["target"]) for b in items if b["period"] == "month"]
    assert months == [("2024-02-01", 0.99)]
    rr = await all_pages(client, auth("ops"), **{"from": FROM.isoformat(), "to": TO.isoformat()},
                         shop=str(data["sh"].id), metric="response_rate_3min", period="day")
    assert rr and all(b["period_start"] >= "2024-02-10" and b["period"] == "day" for b in rr)


async def test_pages_walk_the_whole_list(client, data):
    headers = auth("finance")
    params = {"from": FROM.isoformat(), "to": TO.isoformat(), "tenant": data["ta"].slug}
    everything = await all_pages(client, headers, **params, limit=500)
    paged = await all_pages(client, headers, **params, limit=7)
    assert paged == everything and len(everything) > 14


async def test_clients_see_only_their_own(client, data):
    a = auth("client", data["ta"].id)
    params = {"from": FROM.isoformat(), "to": TO.isoformat()}
    mine = await all_pages(client, a, **params)
    assert str(data["b_shop"].id) not in {b["shop_id"] for b in mine}
    for extra in ({"tenant": data["tb"].slug}, {"tenant": str(data["tb"].id)},
                  {"shop": str(data["b_shop"].id)}):
        r = await client.get("/v1/sla/breaches", params={**params, **extra}, headers=a)
        assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}, extra
    # Staff see brand B's breaches.
    theirs = await all_pages(client, auth("ops"), **params, shop=str(data["b_shop"].id))
    assert_same(as_tuples(theirs), expected_breaches(data, [data["b_shop"]]))


BAD = [({"from": "2024-03-05", "to": "2024-03-01"}, "query.to"),
       ({"from": "2023-01-01", "to": "2024-03-01"}, "query.to"),
       ({"from": "2024-02-30"}, "query.from"),
       ({"metric": "happiness"}, "query.metric"),
       ({"period": "year"}, "query.period"),
       ({"cursor": "bm9wZQ"}, "query.cursor"),
       ({"limit": 0}, "query.limit"),
       ({"shop": "not-a-uuid"}, "query.shop")]


@pytest.mark.parametrize(("params", "field"), BAD, ids=[f for _, f in BAD])
async def test_bad_breach_parameters(client, data, params, field):
    r = await client.get("/v1/sla/breaches", params=params, headers=auth("ops"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_graphql_breaches(client, data):
    query = """query($from: String, $to: String, $after: String) {
        breaches(from: $from, to: $to, first: 500, after: $after) {
          items { shopId periodStart period metric target actual } nextCursor } }"""
    r = await gql(client, query, {"from": FROM.isoformat(), "to": TO.isoformat()},
                  auth("client", data["ta"].id))
    assert "errors" not in r, r
    items = r["data"]["breaches"]["items"]
    got = [(b["shopId"], b["periodStart"], b["period"], b["metric"], b["target"], b["actual"]) for b in items]
    assert_same(got, expected_breaches(data, [data["sh"], data["ny"]]))
    per_shop = await gql(client, """query($a: UUID!, $b: UUID!) {
        a: shop(id: $a) { breaches(from: "2024-01-25", to: "2024-03-05", period: month) {
          periodStart metric } }
        b: shop(id: $b) { breaches(from: "2024-01-25", to: "2024-03-05") { periodStart } } }""",
                         {"a": str(data["sh"].id), "b": str(data["quiet"].id)}, auth("client", data["ta"].id))
    assert "errors" not in per_shop, per_shop
    assert per_shop["data"]["b"]["breaches"] == []
    expected_months = [(e[1], e[3]) for e in expected_breaches(data, [data["sh"]]) if e[2] == "month"]
    assert [(b["periodStart"], b["metric"]) for b in per_shop["data"]["a"]["breaches"]] == expected_months
    hidden = await gql(client, query.replace("first: 500", f"tenant: \"{data['tb'].slug}\", first: 500"),
                       {}, auth("client", data["ta"].id))
    assert hidden["data"]["breaches"] == {"items": [], "nextCursor": None}


async def test_tenant_summary_is_the_month_to_date(client, data):
    ta = data["ta"]
    r = await client.get(f"/v1/tenants/{ta.slug}/sla-summary", params={"as_of": "2024-02-20"},
                         headers=auth("client", ta.id))
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["tenant_id"] == str(ta.id) and summary["as_of"] == "2024-02-20"
    assert {s["shop_id"] for s in summary["shops"]} == {str(data["sh"].id), str(data["ny"].id),
                                                        str(data["quiet"].id)}
    for s in summary["shops"]:
        shop = next(x for x in (data["sh"], data["ny"], data["quiet"]) if str(x.id) == s["shop_id"])
        zone = ZoneInfo(shop.timezone)
        assert (s["period_start"], s["period_end"]) == ("2024-02-01", "2024-02-21")
        recs = [x for x in data["records"][shop.id]
                if date(2024, 2, 1) <= interval_start_of(x.started_at).astimezone(zone).date()
                <= date(2024, 2, 20)]
        targets, window = _terms(data, shop, date(2024, 2, 1))
        ref = reference_metrics(recs, targets.answer_target_s, window, zone)
        assert_bucket_matches(s, ref, shop.timezone)
        expected = [(v.metric, v.met) for v in judge(ref, targets)]
        assert [(v["metric"], v["met"]) for v in s["verdicts"]] == expected
    # Another brand's summary does not exist for A; staff read any; unknown is 404 for everyone.
    assert (await client.get(f"/v1/tenants/{data['tb'].slug}/sla-summary", headers=auth("client", ta.id))
            ).status_code == 404
    assert (await client.get(f"/v1/tenants/{data['tb'].id}/sla-summary",
                             headers=auth("finance"))).status_code == 200
    assert (await client.get("/v1/tenants/nobody/sla-summary", headers=auth("ops"))).status_code == 404
    today = (await client.get(f"/v1/tenants/{ta.slug}/sla-summary", headers=auth("ops"))).json()
    assert today["as_of"] is None and all(s["offered"] == 0 for s in today["shops"])
    gq = await gql(client, """query($t: String!) { slaSummary(tenant: $t, asOf: "2024-02-20") {
        slug shops { name offered serviceLevel verdicts { metric met } } } }""",
                   {"t": ta.slug}, auth("client", ta.id))
    assert gq["data"]["slaSummary"]["slug"] == ta.slug
    assert sorted(s["offered"] for s in gq["data"]["slaSummary"]["shops"]) == \
        sorted(s["offered"] for s in summary["shops"])
    other = await gql(client, """query($t: String!) { slaSummary(tenant: $t) { slug } }""",
                      {"t": data["tb"].slug}, auth("client", ta.id))
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_month_bounds_helper():
    from service.kit.time import next_month as _month_after

    assert _month_after(date(2024, 1, 31)) == date(2024, 2, 1)
    assert _month_after(date(2024, 12, 1)) == date(2025, 1, 1)
    assert _month_after(date(2024, 2, 29)) == date(2024, 3, 1)
    assert (datetime(2024, 3, 1) - timedelta(days=1)).day == 29
