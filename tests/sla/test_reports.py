"""SLA reports over real PostgreSQL: per-bucket metrics equal the straightforward computation over the raw
records (reference_metrics), in several timezones, across month and DST boundaries, with the policy in
force on each bucket's first day; bad query parameters answer 422 problem+json naming the field.

Rollups are written directly (rollup_of over random records), independent of the ingest path."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from service.sla.figures import SlaReport, SlaTargets
from service.sla.metrics import bucket_end, bucket_start, judge
from tests.conftest import auth
from tests.factories import add_policy, assert_bucket_matches, gql, insert_rollups, make_shop, random_records
from tests.sla.reference import interval_start_of, reference_metrics

# --- helpers shared by the SLA API tests ------------------------------------------------------------


def reference_buckets(records, granularity: str, tz: str, lo: datetime, hi: datetime) -> dict[datetime, list]:
    """Records of [lo, hi) grouped by the UTC start of their local bucket."""
    groups: dict[datetime, list] = defaultdict(list)
    for r in records:
        start = interval_start_of(r.started_at)
        if lo <= start < hi:
            groups[bucket_start(start, granularity, tz).astimezone(UTC)].append(r)
    return groups


# --- fixtures ---------------------------------------------------------------------------------------

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/Berlin"]
# NY springs forward on 2024-03-10, Berlin on 2024-03-31; the data crosses Feb/Mar/Apr.
DATA_FROM, DATA_TO = datetime(2024, 2, 24, tzinfo=UTC), datetime(2024, 4, 3, tzinfo=UTC)
N_RECORDS = 2500


@pytest.fixture(scope="module")
async def shops(db):
    """One shop per zone, each with random records and their rollups; a policy change on 2024-03-05
    (other T, assessed hours and targets) for the Berlin and New York shops."""
    out = {}
    for i, tz in enumerate(ZONES):
        tenant, shop = await make_shop(db, tz, platform=("tmall", "jd", "douyin")[i])
        records = random_records(np.random.default_rng(100 + i), shop.id, N_RECORDS, DATA_FROM, DATA_TO)
        await insert_rollups(db, tenant.id, records)
        out[tz] = (tenant, shop, records)
    return out


@pytest.fixture(scope="module")
async def policies(client, shops):
    for tz in ("Europe/Berlin", "America/New_York"):
        shop = shops[tz][1]
        await add_policy(client, shop.id, effective_from="2024-01-01", answer_target_s=30,
                         service_level_target=0.7, csat_target=0.5)
        await add_policy(client, shop.id, effective_from="2024-03-05", answer_target_s=60,
                         service_level_target=0.75, response_rate_3min_target=0.6, frt_mean_target_s=5000,
                         max_abandon_rate=0.1, conversion_rate_target=0.2,
                         assessed_start="22:00", assessed_end="02:15")
    return {
        "Europe/Berlin": [(date(2024, 1, 1), 30, (time(8), time(23))),
                          (date(2024, 3, 5), 60, (time(22), time(2, 15)))],
        "America/New_York": [(date(2024, 1, 1), 30, (time(9), time(23))),
                             (date(2024, 3, 5), 60, (time(22), time(2, 15)))],
        "Asia/Shanghai": [(date(1, 1, 1), 30, (time(8), time(23)))],  # tmall platform default
    }


def terms_on(policies, tz: str, day: date):
    return [p for p in policies[tz] if p[0] <= day][-1]


# --- correctness ------------------------------------------------------------------------------------

CASES = [
    ("day", "2024-02-26", "2024-04-02"),
    ("week", "2024-02-26", "2024-04-01"),
    ("month", "2024-02-25", "2024-04-02T12:00"),
    ("hour", "2024-03-09", "2024-03-12"),
    ("interval", "2024-03-30T18:00", "2024-04-01T06:00"),
]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(("granularity", "start", "end"), CASES, ids=[c[0] for c in CASES])
async def test_report_matches_reference(client, shops, policies, tz, granularity, start, end):
    tenant, shop, records = shops[tz]
    r = await client.get(f"/v1/shops/{shop.id}/sla",
                         params={"from": start, "to": end, "granularity": granularity},
                         headers=auth("finance"))
    assert r.status_code == 200, r.text
    # The answer is serialized without building the read model: it must be what the model would answer.
    assert SlaReport.model_validate_json(r.content).model_dump_json(by_alias=True).encode() == r.content
    report = r.json()
    zone = ZoneInfo(tz)
    lo = datetime.fromisoformat(start).replace(tzinfo=zone) if "T" in start else \
        datetime.combine(date.fromisoformat(start), time(), zone)
    hi = datetime.fromisoformat(end).replace(tzinfo=zone) if "T" in end else \
        datetime.combine(date.fromisoformat(end), time(), zone)
    assert datetime.fromisoformat(report["from"]) == lo and datetime.fromisoformat(report["to"]) == hi
    assert report["timezone"] == tz and report["granularity"] == granularity
    whole = reference_buckets(records, granularity, tz, lo.astimezone(UTC), hi.astimezone(UTC))
    # Buckets are clipped to the range: a week or month that began before `from` starts at `from`.
    groups = {max(start, lo.astimezone(UTC)): members for start, members in whole.items()}
    got_starts = [datetime.fromisoformat(b["start"]).astimezone(UTC) for b in report["buckets"]]
    assert got_starts == sorted(groups), "bucket starts"
    for bucket, whole_start in zip(report["buckets"], sorted(whole), strict=True):
        end = datetime.fromisoformat(bucket["end"])
        assert end == min(bucket_end(whole_start, granularity, tz), hi), "bucket end"
    for bucket in report["buckets"]:
        start_utc = datetime.fromisoformat(bucket["start"]).astimezone(UTC)
        day = start_utc.astimezone(zone).date()
        eff, t_s, window = terms_on(policies, tz, day)
        ref = reference_metrics(groups[start_utc], t_s, window, tz)
        assert_bucket_matches(bucket, ref, f"{tz} {granularity} {bucket['start']}")
        assert bucket["answer_target_s"] == t_s
        assert bucket["policy_effective_from"] == (None if eff.year == 1 else eff.isoformat())
    # The total: every record of the range, judged by the policy in force at its start.
    eff, t_s, window = terms_on(policies, tz, lo.date())
    in_range = [rec for g in groups.values() for rec in g]
    assert_bucket_matches(report["total"], reference_metrics(in_range, t_s, window, tz), "total")
    assert report["total"]["answer_target_s"] == t_s


async def test_verdicts_follow_the_policy_of_each_day(client, shops, policies):
    tenant, shop, records = shops["Europe/Berlin"]
    report = (await client.get(f"/v1/shops/{shop.id}/sla", params={"from": "2024-03-03", "to": "2024-03-07"},
                               headers=auth("ops"))).json()
    by_day = {b["start"][:10]: b for b in report["buckets"]}
    assert {v["metric"] for v in by_day["2024-03-04"]["verdicts"]} == {"service_level", "csat"}
    assert {v["metric"] for v in by_day["2024-03-05"]["verdicts"]} == {
        "service_level", "response_rate_3min", "frt_mean_s", "conversion_rate", "abandon_rate"}
    zone = ZoneInfo("Europe/Berlin")
    for day, targets in (("2024-03-04", SlaTargets(answer_target_s=30, service_level=0.7, csat=0.5)),
                         ("2024-03-05", SlaTargets(answer_target_s=60, service_level=0.75,
                                                   response_rate_3min=0.6, frt_mean_s=5000,
                                                   max_abandon_rate=0.1, conversion_rate=0.2))):
        d = date.fromisoformat(day)
        recs = [r for r in records if r.started_at.astimezone(zone).date() == d]
        window = (time(8), time(23)) if day == "2024-03-04" else (time(22), time(2, 15))
        expected = judge(reference_metrics(recs, targets.answer_target_s, window, zone), targets)
        got = by_day[day]["verdicts"]
        assert [(v["metric"], v["target"], v["met"]) for v in got] == [(v.metric, v.target, v.met)
                                                                       for v in expected]
        for g, e in zip(got, expected, strict=True):
            assert g["actual"] == pytest.approx(e.actual, rel=1e-9)


async def test_platform_default_policy(client, shops):
    tenant, shop, _ = shops["Asia/Shanghai"]  # tmall, no versions
    r = (await client.get(f"/v1/shops/{shop.id}/sla-policy", headers=auth("ops"))).json()
    assert r["is_default"] and r["id"] is None and r["effective_from"] is None
    assert (r["assessed_start"], r["assessed_end"], r["answer_target_s"]) == ("08:00", "23:00", 30)
    report = (await client.get(f"/v1/shops/{shop.id}/sla", params={"from": "2024-03-01", "to": "2024-03-02"},
                               headers=auth("ops"))).json()
    assert report["buckets"][0]["verdicts"] == [] and report["buckets"][0]["policy_effective_from"] is None


async def test_empty_range_has_a_zero_total(client, shops):
    shop = shops["Asia/Shanghai"][1]
    report = (await client.get(f"/v1/shops/{shop.id}/sla", params={"from": "2023-01-01", "to": "2023-02-01"},
                               headers=auth("ops"))).json()
    assert report["buckets"] == []
    assert report["total"]["offered"] == 0 and report["total"]["service_level"] is None
    assert report["total"]["gmv"] == "0.00" and report["total"]["aov"] is None


async def test_offsets_and_defaults(client, shops):
    tenant, shop, records = shops["Asia/Shanghai"]
    # A datetime with an offset is the same instant as the shop-local one.
    a = (await client.get(f"/v1/shops/{shop.id}/sla", params={"from": "2024-03-01T00:00+08:00",
                                                              "to": "2024-03-01T08:00Z"},
                          headers=auth("ops"))).json()
    b = (await client.get(f"/v1/shops/{shop.id}/sla", params={"from": "2024-03-01", "to": "2024-03-01T16:00"},
                          headers=auth("ops"))).json()
    assert a["total"] == b["total"] and a["from"] == b["from"] and a["to"] == b["to"]
    # No range: the month to date (nothing there in this data set, but well-formed).
    r = await client.get(f"/v1/shops/{shop.id}/sla", headers=auth("ops"))
    assert r.status_code == 200
    d = r.json()
    start = datetime.fromisoformat(d["from"])
    assert start.day == 1 and start.hour == 0 and datetime.fromisoformat(d["to"]) > datetime.now(UTC)


BAD = [
    ({"from": "2024-03-05", "to": "2024-03-01"}, "query.to"),
    ({"from": "2024-03-05", "to": "2024-03-05"}, "query.to"),
    ({"from": "yesterday", "to": "2024-03-05"}, "query.from"),
    ({"from": "2024-03-01", "to": "2024-03-05T10:07"}, "query.to"),
    ({"from": "2024-02-30", "to": "2024-03-05"}, "query.from"),
    ({"from": "1900-01-01", "to": "2024-03-05"}, "query.from"),
    ({"from": "2024-03-01", "to": "2024-03-05", "granularity": "fortnight"}, "query.granularity"),
    ({"from": "2024-03-01", "to": "2024-03-09", "granularity": "interval"}, "query.to"),
    ({"from": "2024-01-01", "to": "2024-03-09", "granularity": "hour"}, "query.to"),
    ({"from": "2023-01-01", "to": "2024-03-09", "granularity": "day"}, "query.to"),
]


@pytest.mark.parametrize(("params", "field"), BAD, ids=[f"{p}" for p, _ in BAD])
async def test_bad_parameters_are_422_naming_the_field(client, shops, params, field):
    shop = shops["Asia/Shanghai"][1]
    r = await client.get(f"/v1/shops/{shop.id}/sla", params=params, headers=auth("client", shop.tenant_id))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and [e["field"] for e in body["errors"]] == [field], body


async def test_client_reads_own_shop_and_not_anothers(client, shops):
    (ta, sa, _), (_, sb, _) = shops["Asia/Shanghai"], shops["Europe/Berlin"]
    own = await client.get(f"/v1/shops/{sa.id}/sla", params={"from": "2024-03-01", "to": "2024-03-02"},
                           headers=auth("client", ta.id))
    assert own.status_code == 200 and own.json()["total"]["offered"] > 0
    for params in ({"from": "2024-03-01", "to": "2024-03-02"}, {"from": "nonsense"}):
        other = await client.get(f"/v1/shops/{sb.id}/sla", params=params, headers=auth("client", ta.id))
        assert other.status_code == 404, other.text  # not found before any parameter is judged
        body = other.json()
        body.pop("instance")  # echoes the caller's own request path
        assert str(sb.id) not in str(body)


async def test_graphql_report_matches_rest(client, shops, policies):
    tenant, shop, _ = shops["America/New_York"]
    params = {"from": "2024-03-01", "to": "2024-03-15", "granularity": "day"}
    rest = (await client.get(f"/v1/shops/{shop.id}/sla", params=params, headers=auth("ops"))).json()
    query = """query($id: UUID!, $from: String, $to: String) {
      shop(id: $id) { sla(from: $from, to: $to, granularity: day) {
        from to timezone granularity
        buckets { start offered serviceLevel frtP90S gmv aov responseRate3min policyEffectiveFrom
                  answerTargetS verdicts { metric target actual met } }
        total { offered serviceLevel gmv verdicts { metric met } } } } }"""
    result = await gql(client, query, {"id": str(shop.id), "from": params["from"], "to": params["to"]},
                       auth("client", tenant.id))
    assert "errors" not in result, result
    sla = result["data"]["shop"]["sla"]
    assert len(sla["buckets"]) == len(rest["buckets"])
    for g, r in zip(sla["buckets"], rest["buckets"], strict=True):
        assert datetime.fromisoformat(g["start"]) == datetime.fromisoformat(r["start"])
        assert (g["offered"], g["serviceLevel"], g["frtP90S"], g["responseRate3min"]) == \
            (r["offered"], r["service_level"], r["frt_p90_s"], r["response_rate_3min"])
        assert Decimal(g["gmv"]) == Decimal(r["gmv"]) and g["answerTargetS"] == r["answer_target_s"]
        assert [v["met"] for v in g["verdicts"]] == [v["met"] for v in r["verdicts"]]
    assert sla["total"]["offered"] == rest["total"]["offered"]
    bad = await gql(client, query,
                    {"id": str(shop.id), "from": "2024-03-15", "to": "2024-03-01"}, auth("ops"))
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graphql_sla_of_many_shops_is_one_batch(client, db, shops):
    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    query = """query { shops(first: 100) { items { id sla(from: "2024-03-01", to: "2024-03-08") {
                 total { offered } } } } }"""
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        result = await gql(client, query, {}, auth("ops"))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert "errors" not in result, result
    items = result["data"]["shops"]["items"]
    assert sum(1 for i in items if i["sla"]["total"]["offered"] > 0) == len(ZONES)
    aggregates = [s for s in statements if "shop_interval_stats" in s]
    assert len(aggregates) == 1, len(aggregates)


def test_reference_helpers_agree_with_themselves():
    # The bucket grouping of the tests is bucket_start's: a day in New York across the DST change has
    # 23 hours.
    recs = random_records(np.random.default_rng(1), uuid.uuid4(), 200, datetime(2024, 3, 9, 12, tzinfo=UTC),
                          datetime(2024, 3, 11, 12, tzinfo=UTC))
    groups = reference_buckets(recs, "day", "America/New_York", datetime(2024, 3, 10, 5, tzinfo=UTC),
                               datetime(2024, 3, 11, 4, tzinfo=UTC))
    assert list(groups) == [datetime(2024, 3, 10, 5, tzinfo=UTC)]
    assert math.isclose(sum(len(g) for g in groups.values()), sum(
        1 for r in recs if datetime(2024, 3, 10, 5, tzinfo=UTC) <= interval_start_of(r.started_at)
        < datetime(2024, 3, 11, 4, tzinfo=UTC)))


def test_rollup_accepts_merged_numpy_histograms_with_the_same_checks():
    from tests.sla.reference import IntervalRollup

    r = IntervalRollup(offered=3, answered=3, frt_bins=np.array([2, 30, 700]), frt_counts=np.array([1, 1, 1]))
    assert r.frt_bins == (2, 30, 700) and all(type(b) is int for b in r.frt_bins)
    assert r == IntervalRollup(offered=3, answered=3, frt_bins=[2, 30, 700], frt_counts=[1, 1, 1])
    for bins, counts in (([2, 2], [1, 2]), ([5, 3], [1, 2]), ([-1, 3], [1, 2]),
                         ([1, 2], [3, 0]), ([1, 2, 3], [1, 2]), ([1, 2], [1, 1])):
        with pytest.raises(ValueError):
            IntervalRollup(offered=3, answered=3, frt_bins=np.array(bins), frt_counts=np.array(counts))
