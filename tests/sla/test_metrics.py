import asyncio
import math
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.conversations.records import ConversationRecord
from service.conversations.rollups import FRT_BIN_SQL, bin_upper, frt_bin_sql
from service.kit.time import INTERVAL
from service.sla.figures import Metric, SlaMetrics, SlaTargets, Verdict
from service.sla.metrics import FrtHistograms, bucket_start, judge, metrics_of_merged_sets
from tests.factories import random_frt, within_tolerance
from tests.sla.reference import (
    COUNTERS,
    IntervalRollup,
    bin_lower,
    bucketed_metrics,
    count_within,
    frt_bin,
    in_assessed_window,
    interval_start_of,
    merge,
    metrics_from_merged,
    metrics_from_rollups,
    percentile_from_histogram,
    reference_metrics,
    rollup_of,
    rounds_of,
)

SHOPS = [uuid.UUID(int=1), uuid.UUID(int=2)]
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "UTC"]
# Data ranges (UTC) spanning month boundaries and DST changes: NY springs forward on 2024-03-10,
# Berlin falls back on 2024-10-27 and NY on 2024-11-03; 2024 is a leap year.
RANGES = [
    (datetime(2024, 2, 27, tzinfo=UTC), datetime(2024, 3, 12, tzinfo=UTC)),
    (datetime(2024, 10, 25, tzinfo=UTC), datetime(2024, 11, 5, tzinfo=UTC)),
    (datetime(2023, 12, 30, 12, tzinfo=UTC), datetime(2024, 1, 2, 12, tzinfo=UTC)),
]
WINDOWS = [None, (time(8), time(23)), (time(9), time(23)), (time(22), time(2, 15)), (time(0), time(0))]
OFFSETS = [timezone(timedelta(hours=h, minutes=m)) for h, m in [(8, 0), (0, 0), (-5, 0), (5, 45), (-3, -30)]]


def random_records(seed: int, n: int, start: datetime, end: datetime) -> list[ConversationRecord]:
    rng = np.random.default_rng(seed)
    span_us = int((end - start) / timedelta(microseconds=1))
    out = []
    for i in range(n):
        started = start + timedelta(microseconds=int(rng.integers(span_us)))
        if rng.random() < 0.3:
            started = started.replace(second=0, microsecond=0)
        started = started.astimezone(OFFSETS[rng.integers(len(OFFSETS))])
        answered = rng.random() < 0.85
        first = started + timedelta(microseconds=round(random_frt(rng) * 1e6)) if answered else None
        times = None
        if answered and rng.random() < 0.5:
            times = [random_frt(rng) for _ in range(rng.integers(1, 5))]
        ended = None
        if rng.random() < 0.8:
            ended = (first or started) + timedelta(seconds=float(rng.exponential(300)))
        kind = "presale" if rng.random() < 0.6 else "aftersale"
        converted = bool(rng.random() < (0.3 if kind == "presale" else 0.05))
        amount = None
        if rng.random() < (0.9 if converted else 0.1):
            amount = Decimal(int(rng.integers(0, 500_000))) / 100
        out.append(
            ConversationRecord(
                external_id=f"c{seed}-{i}",
                shop_id=SHOPS[rng.integers(len(SHOPS))],
                started_at=started,
                kind=kind,
                first_response_at=first,
                ended_at=ended,
                response_times_s=times,
                agent_code=None,
                converted=converted,
                order_amount=amount,
                csat=int(rng.integers(1, 6)) if rng.random() < 0.4 else None,
            )
        )
    return out


def assert_metrics_match(got: SlaMetrics, ref: SlaMetrics) -> None:
    for name in (
        "offered",
        "answered",
        "abandon_rate",
        "service_level",
        "response_rate_3min",
        "csat",
        "dsat",
        "conversion_rate",
        "gmv",
        "aov",
    ):
        assert getattr(got, name) == getattr(ref, name), name
    for name in ("frt_mean_s", "avg_response_s", "handle_mean_s"):
        g, r = getattr(got, name), getattr(ref, name)
        assert (g is None) == (r is None), name
        if r is not None:
            assert g == pytest.approx(r, rel=1e-12, abs=1e-9), name
    for name in ("frt_p50_s", "frt_p90_s"):
        g, r = getattr(got, name), getattr(ref, name)
        assert (g is None) == (r is None), name
        if r is not None:
            assert within_tolerance(g, r), (name, g, r)


# --- FRT bins --------------------------------------------------------------------------------------

EDGES = [0, 0.001, 1, 1.0000001, 599.9, 600, 600.01, 601, 1e5]
EDGE_BINS = [0, 1, 1, 2, 600, 600, 601, 601, 859]


def test_frt_bin_edge_values_scalar_and_vectorised():
    assert [frt_bin(v) for v in EDGES] == EDGE_BINS
    vec = frt_bin(np.array(EDGES, dtype=float))
    assert vec.dtype == np.int64 and vec.tolist() == EDGE_BINS
    assert frt_bin(EDGES).tolist() == EDGE_BINS
    assert frt_bin(np.array([], dtype=float)).tolist() == []
    for v, k in zip(EDGES, EDGE_BINS, strict=True):
        assert bin_lower(k) <= v <= bin_upper(k)
        assert v > bin_lower(k) or k == 0
    assert (bin_lower(601), bin_upper(601)) == (600.0, pytest.approx(612.0))
    assert (bin_lower(0), bin_upper(0), bin_lower(1), bin_upper(1)) == (0, 0, 0, 1)
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            frt_bin(bad)
        with pytest.raises(ValueError):
            frt_bin(np.array([1.0, bad]))


def test_frt_bin_vectorised_matches_scalar_near_geometric_boundaries():
    values = [0.0, 5e-324, float(np.nextafter(600, 0)), float(np.nextafter(600, 700))]
    for j in range(1, 700):
        b = 600 * 1.02**j
        values += [float(np.nextafter(b, 0)), b, float(np.nextafter(b, np.inf))]
    rng = np.random.default_rng(5)
    values += list(rng.uniform(0, 1e6, 5000))
    assert frt_bin(np.array(values)).tolist() == [frt_bin(v) for v in values]
    ks = frt_bin(np.array(values))
    assert np.all(bin_lower(ks) <= np.array(values) * (1 + 1e-12))
    assert np.all(np.array(values) <= bin_upper(ks) * (1 + 1e-12))


def test_frt_bin_sql_template():
    assert "frt" in FRT_BIN_SQL and "double precision" in FRT_BIN_SQL
    assert frt_bin_sql("s.frt_s").count("(s.frt_s)") == FRT_BIN_SQL.count("frt")


def test_frt_bin_sql_matches_python_in_postgresql(server_url):
    """The SQL template gives the same bins as Python, edge values and geometric boundaries included
    (``server_url`` is the suite's PostgreSQL server, embedded unless TEST_DATABASE_URL is set)."""
    asyncpg = pytest.importorskip("asyncpg")
    values = [float(v) for v in EDGES] + [5e-324, float(np.nextafter(600, 700))]
    for j in range(1, 400):
        b = 600 * 1.02**j
        values += [float(np.nextafter(b, 0)), b, float(np.nextafter(b, np.inf))]
    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")

    async def run() -> list[int]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                f"SELECT {FRT_BIN_SQL} AS bin, {frt_bin_sql('s.x * 1')} AS bin2"
                " FROM unnest($1::double precision[]) WITH ORDINALITY AS t(frt, i),"
                " LATERAL (SELECT t.frt AS x) s"
                " ORDER BY i",
                values,
            )
        finally:
            await conn.close()
        assert all(row["bin"] == row["bin2"] for row in rows)
        return [row["bin"] for row in rows]

    assert asyncio.run(run()) == [frt_bin(v) for v in values]


# --- service level and percentiles from the histogram ----------------------------------------------

frt_values = st.one_of(
    st.integers(0, 700).map(float),
    st.floats(0, 1e5, allow_nan=False, allow_infinity=False),
    st.integers(0, 600).map(lambda k: float(np.nextafter(k, np.inf))),
    st.integers(1, 600).map(lambda k: float(np.nextafter(k, 0))),
    st.sampled_from([0.0, 599.9, 600.0, 600.01, 612.0, 1e5]),
)


def histogram(values) -> tuple[np.ndarray, np.ndarray]:
    bins, counts = np.unique(frt_bin(np.asarray(values, dtype=float)), return_counts=True)
    return bins, counts


@settings(max_examples=150, deadline=None)
@given(st.lists(frt_values, min_size=0, max_size=200), st.integers(0, 600))
def test_service_level_is_exact_for_integer_targets(values, t):
    bins, counts = histogram(values)
    assert count_within(bins, counts, t) == sum(1 for v in values if v <= t)


@settings(max_examples=100, deadline=None)
@given(st.lists(frt_values, min_size=1, max_size=200), st.floats(600, 2e5))
def test_service_level_above_600_is_a_close_lower_bound(values, t):
    bins, counts = histogram(values)
    got = count_within(bins, counts, t)
    assert sum(1 for v in values if v <= t / 1.02) <= got <= sum(1 for v in values if v <= t)


@settings(max_examples=300, deadline=None)
@given(st.lists(frt_values, min_size=1, max_size=300), st.floats(0, 100))
def test_percentile_within_one_second_or_two_percent(values, p):
    bins, counts = histogram(values)
    exact = float(np.percentile(values, p))
    for q, ex in ((p, exact), (50, float(np.percentile(values, 50))), (90, float(np.percentile(values, 90)))):
        got = percentile_from_histogram(bins, counts, q)
        assert within_tolerance(got, ex), (q, got, ex)


def test_percentile_edge_cases():
    assert percentile_from_histogram([], [], 50) is None
    assert percentile_from_histogram([0], [5], 90) == 0.0
    assert percentile_from_histogram([12], [1], 50) == 12.0  # whole seconds come out exact
    assert percentile_from_histogram([1, 2, 3], [1, 1, 1], 50) == 2.0
    with pytest.raises(ValueError):
        percentile_from_histogram([1], [1], 101)


# --- rounds, rollups, merge ------------------------------------------------------------------------


def _rec(**kw) -> ConversationRecord:
    base = dict(
        external_id="x",
        shop_id=SHOPS[0],
        started_at=datetime(2024, 5, 1, 10, 7, 30, tzinfo=UTC),
        kind="presale",
    )
    return ConversationRecord(**{**base, **kw})


def test_rounds_convention():
    start = datetime(2024, 5, 1, 10, 7, 30, tzinfo=UTC)
    assert rounds_of(_rec()) == (1, 0, 600.0)  # unanswered: one missed round at the cap
    assert rounds_of(_rec(first_response_at=start + timedelta(seconds=180))) == (1, 1, 180.0)
    assert rounds_of(_rec(first_response_at=start + timedelta(seconds=181))) == (1, 0, 181.0)
    assert rounds_of(_rec(first_response_at=start, response_times_s=[0, 180, 900])) == (3, 2, 780.0)


def test_small_example_by_hand():
    t0 = datetime(2024, 5, 1, 10, 7, 30, tzinfo=UTC)
    recs = [
        _rec(
            first_response_at=t0 + timedelta(seconds=10),
            ended_at=t0 + timedelta(seconds=70),
            csat=5,
            converted=True,
            order_amount=Decimal("100.00"),
        ),
        _rec(
            first_response_at=t0 + timedelta(seconds=40),
            csat=2,
            kind="aftersale",
            converted=True,
            order_amount=Decimal("0.05"),
        ),
        _rec(first_response_at=t0 + timedelta(seconds=200), response_times_s=[200, 20], csat=3),
        _rec(started_at=t0 + timedelta(minutes=10)),  # unanswered, in the next interval
    ]
    rollups = rollup_of(recs)
    assert sorted(k[1].minute for k in rollups) == [0, 15]
    first = rollups[(SHOPS[0], datetime(2024, 5, 1, 10, 0, tzinfo=UTC))]
    assert (first.offered, first.answered, first.rounds, first.rounds_within_180) == (3, 3, 4, 3)
    assert (first.frt_bins, first.frt_counts) == ((10, 40, 200), (1, 1, 1))
    m = metrics_from_rollups(rollups.values(), answer_target_s=30)
    assert m == SlaMetrics(
        offered=4,
        answered=3,
        abandon_rate=0.25,
        service_level=0.25,
        frt_mean_s=250 / 3,
        frt_p50_s=40.0,
        frt_p90_s=m.frt_p90_s,
        response_rate_3min=3 / 5,
        avg_response_s=(10 + 40 + 200 + 20 + 600) / 5,
        handle_mean_s=60.0,
        csat=1 / 3,
        dsat=1 / 3,
        conversion_rate=1 / 3,
        gmv=Decimal("100.05"),
        aov=Decimal("50.03"),  # 50.025 rounds half up
    )
    assert within_tolerance(m.frt_p90_s, float(np.percentile([10, 40, 200], 90)))
    assert_metrics_match(m, reference_metrics(recs, answer_target_s=30))


def test_empty_metrics_are_none():
    m = metrics_from_rollups([])
    assert m.offered == 0 and m.gmv == Decimal("0.00")
    for name in (
        "abandon_rate",
        "service_level",
        "frt_mean_s",
        "frt_p50_s",
        "frt_p90_s",
        "response_rate_3min",
        "avg_response_s",
        "handle_mean_s",
        "csat",
        "dsat",
        "conversion_rate",
        "aov",
    ):
        assert getattr(m, name) is None, name
    assert reference_metrics([]) == m


def test_merge_sums_counters_and_keeps_common_keys():
    recs = random_records(7, 400, *RANGES[0])
    rows = list(rollup_of(recs).values())
    total = merge(rows)
    whole = merge(rollup_of([r for r in recs]).values())
    assert total == whole
    assert total.offered == 400 and total.shop_id is None and total.interval_start is None
    assert sum(total.frt_counts) == total.answered
    assert merge([rows[0]]) == rows[0]
    assert merge([]) == IntervalRollup()
    # two batches of the same interval merge into that interval's row
    key_recs = [
        r
        for r in recs
        if interval_start_of(r.started_at) == rows[0].interval_start and r.shop_id == rows[0].shop_id
    ]
    halves = [rollup_of(key_recs[:1]), rollup_of(key_recs[1:])]
    parts = [v for h in halves for v in h.values()]
    merged = merge(parts)
    assert merged.interval_start == rows[0].interval_start and merged.shop_id == rows[0].shop_id
    assert merged.offered == rows[0].offered and merged.frt_bins == rows[0].frt_bins


def test_interval_rollup_checks_its_histogram():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    IntervalRollup(interval_start=start, offered=2, answered=2, frt_bins=[3, 9], frt_counts=[1, 1])
    with pytest.raises(ValueError):
        IntervalRollup(offered=2, answered=2, frt_bins=[3], frt_counts=[1])
    with pytest.raises(ValueError):
        IntervalRollup(offered=2, answered=2, frt_bins=[9, 3], frt_counts=[1, 1])
    with pytest.raises(ValueError):
        IntervalRollup(interval_start=start + timedelta(minutes=5))
    with pytest.raises(ValueError):
        IntervalRollup(interval_start=datetime(2024, 1, 1))


# --- rollups against raw records -------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    data_range=st.sampled_from(RANGES),
    tz=st.sampled_from(ZONES),
    window=st.sampled_from(WINDOWS),
    target=st.integers(0, 600),
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_rollups_reproduce_reference_metrics_over_random_periods(seed, data_range, tz, window, target, cut):
    start, end = data_range
    recs = random_records(seed, 300, start, end)
    rollups = rollup_of(recs)
    quarters = int((end - start) / INTERVAL)
    a, b = sorted(int(c * quarters) for c in cut)
    lo, hi = start + a * INTERVAL, start + max(b, a + 1) * INTERVAL
    shop = SHOPS[seed % 2]
    rows = [v for (s, t), v in rollups.items() if s == shop and lo <= t < hi]
    period = [r for r in recs if r.shop_id == shop and lo <= r.started_at < hi]
    got = metrics_from_rollups(rows, answer_target_s=target, assessed_window=window, tz=tz)
    ref = reference_metrics(period, answer_target_s=target, assessed_window=window, tz=tz)
    assert_metrics_match(got, ref)
    whole = metrics_from_rollups(rollups.values(), target, window, tz)
    assert_metrics_match(whole, reference_metrics(recs, target, window, tz))


def test_large_targets_never_overstate_service_level():
    recs = random_records(11, 2000, *RANGES[1])
    rollups = rollup_of(recs).values()
    for t in (600.5, 700, 3600, 86400):
        got = metrics_from_rollups(rollups, answer_target_s=t).service_level
        ref = reference_metrics(recs, answer_target_s=t).service_level
        low = reference_metrics(recs, answer_target_s=t / 1.02).service_level
        assert low <= got <= ref


# --- many sets at once (a report's buckets and total) ----------------------------------------------


def _counters_of(rollup: IntervalRollup) -> dict:
    return {name: getattr(rollup, name) for name in COUNTERS}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sets=st.lists(st.tuples(st.lists(frt_values, max_size=60), st.integers(0, 5), st.integers(0, 50)),
                  min_size=1, max_size=8),
    targets=st.lists(st.one_of(st.integers(0, 600), st.floats(0, 2e5)), min_size=8, max_size=8),
    assessed=st.lists(st.one_of(st.none(), st.tuples(st.integers(0, 40), st.integers(0, 40))),
                      min_size=8, max_size=8),
)
def test_sets_at_once_read_each_histogram_like_one_set(sets, targets, assessed):
    rows, hists = [], []
    for values, unanswered, rounds in sets:
        bins, counts = histogram(values) if values else ([], [])
        rows.append(IntervalRollup(offered=len(values) + unanswered, answered=len(values),
                                   frt_sum_s=math.fsum(values), frt_bins=bins, frt_counts=counts,
                                   rounds=rounds, rounds_within_180=rounds // 2,
                                   response_capped_sum_s=float(rounds), csat_count=3, csat_good=2, csat_bad=1,
                                   converted=1, gmv=Decimal("10.05")))
        hists.append((bins, counts))
    n = len(rows)
    pairs = [None if a is None else (max(a), min(a)) for a in assessed[:n]]
    got = metrics_of_merged_sets([_counters_of(r) for r in rows], FrtHistograms.of(hists), targets[:n], pairs)
    for r, (bins, counts), t, pair, m in zip(rows, hists, targets, pairs, got, strict=False):
        # The histogram reads equal the one-set functions exactly, the rest metrics_from_merged's formulas.
        assert m.service_level == (count_within(bins, counts, t) / r.offered if r.offered else None)
        assert m.frt_p50_s == percentile_from_histogram(bins, counts, 50)
        assert m.frt_p90_s == percentile_from_histogram(bins, counts, 90)
        one = metrics_from_merged(r, t, *(pair if pair else (None, None)))
        assert m == one
        if pair:
            assert m.response_rate_3min == (pair[1] / pair[0] if pair[0] else None)


def test_sets_at_once_edge_cases():
    empty = IntervalRollup()
    only_unanswered = IntervalRollup(offered=4, rounds=4)
    lone = IntervalRollup(offered=1, answered=1, frt_bins=[700], frt_counts=[1], rounds=1)
    rows = [empty, only_unanswered, lone, empty]
    got = metrics_of_merged_sets([_counters_of(r) for r in rows],
                                 FrtHistograms.of([(r.frt_bins, r.frt_counts) for r in rows]),
                                 [30, 30, 1e9, 0])
    assert got == [metrics_from_merged(r, t) for r, t in zip(rows, [30, 30, 1e9, 0], strict=True)]
    assert got[2].frt_p50_s == bin_upper(700) and got[2].service_level == 1.0
    assert metrics_of_merged_sets([], FrtHistograms.of([]), []) == []
    with pytest.raises(ValueError, match="answered"):  # the histogram must hold the answered conversations
        metrics_of_merged_sets([_counters_of(lone)], FrtHistograms.of([([1, 2], [1, 1])]), [30])
    with pytest.raises(ValueError, match="per set"):
        metrics_of_merged_sets([_counters_of(lone)], FrtHistograms.of([([700], [1])]), [30, 30])
    with pytest.raises(ValueError, match="answer target"):
        metrics_of_merged_sets([_counters_of(lone)], FrtHistograms.of([([700], [1])]), [-1])


def test_frt_histograms_check_every_set():
    h = FrtHistograms.of([([3, 9], [1, 2]), ([], []), ([1, 2], [5, 1])])  # bins fall where a set starts
    assert len(h) == 3 and h.offsets.tolist() == [0, 2, 2, 4]
    for bad in ([([3, 3], [1, 1])], [([9, 3], [1, 1])], [([1], [0])], [([-1], [1])], [([1, 2], [1])],
                [([1], [1, 2]), ([5], [])]):
        with pytest.raises(ValueError):
            FrtHistograms.of(bad)
    with pytest.raises(ValueError):
        FrtHistograms(np.array([1, 2]), np.array([1, 1]), np.array([0, 1]))  # offsets end at the last bin


# --- assessed hours --------------------------------------------------------------------------------


def test_in_assessed_window():
    assert in_assessed_window(time(8), time(8), time(23))
    assert in_assessed_window(time(22, 45), time(8), time(23))
    assert not in_assessed_window(time(23), time(8), time(23))
    assert not in_assessed_window(time(7, 45), time(8), time(23))
    # crossing midnight
    assert in_assessed_window(time(23, 30), time(22), time(2))
    assert in_assessed_window(time(0), time(22), time(2))
    assert in_assessed_window(time(1, 45), time(22), time(2))
    assert not in_assessed_window(time(2), time(22), time(2))
    assert not in_assessed_window(time(12), time(22), time(2))
    # equal bounds: the whole day
    assert in_assessed_window(time(3, 15), time(0), time(0))
    # an aware local time is read as wall-clock time
    assert in_assessed_window(time(9, tzinfo=UTC), time(8), time(23))
    with pytest.raises(ValueError):
        in_assessed_window(time(9), time(8, 10), time(23))
    with pytest.raises(ValueError):
        metrics_from_rollups([IntervalRollup(offered=1, rounds=1)], assessed_window=(time(8), time(23)))


def test_window_filters_on_local_time_of_the_shop():
    # 2024-07-01 23:30 UTC is 07:30 in Shanghai (outside 08:00-23:00) and 19:30 in New York (inside).
    start = datetime(2024, 7, 1, 23, 30, tzinfo=UTC)
    recs = [_rec(started_at=start, first_response_at=start + timedelta(seconds=5))]
    rows = rollup_of(recs).values()
    window = (time(8), time(23))
    assert metrics_from_rollups(rows, assessed_window=window, tz="Asia/Shanghai").response_rate_3min is None
    assert metrics_from_rollups(rows, assessed_window=window, tz="America/New_York").response_rate_3min == 1.0


# --- buckets ---------------------------------------------------------------------------------------


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_key(ts: datetime, granularity: str, zone: ZoneInfo) -> datetime:
    """The obvious bucket start of a timestamp, as a UTC instant (for zones with midnight every day)."""
    loc = ts.astimezone(zone)
    if granularity == "interval":
        return interval_start_of(ts)
    if granularity == "hour":
        return datetime(loc.year, loc.month, loc.day, loc.hour, tzinfo=timezone(loc.utcoffset())).astimezone(
            UTC
        )
    d = loc.date()
    if granularity == "week":
        d = date.fromordinal(d.toordinal() - d.weekday())
    elif granularity == "month":
        d = date(d.year, d.month, 1)
    return datetime.combine(d, time(), tzinfo=zone).astimezone(UTC)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    data_range=st.sampled_from(RANGES),
    tz=st.sampled_from(ZONES),
    granularity=st.sampled_from(["interval", "hour", "day", "week", "month"]),
    window=st.sampled_from(WINDOWS),
)
def test_bucketed_metrics_match_records_grouped_by_local_time(seed, data_range, tz, granularity, window):
    zone = ZoneInfo(tz)
    recs = [r for r in random_records(seed, 300, *data_range) if r.shop_id == SHOPS[0]]
    rows = rollup_of(recs).values()
    got = bucketed_metrics(rows, granularity, tz, answer_target_s=20, assessed_window=window)
    groups = defaultdict(list)
    for r in recs:
        groups[local_key(r.started_at, granularity, zone)].append(r)
    assert [s.astimezone(UTC) for s, _ in got] == sorted(groups)
    for start, m in got:
        assert start.tzinfo is zone or start.tzinfo == zone
        assert_metrics_match(m, reference_metrics(groups[start.astimezone(UTC)], 20, window, zone))


def hour_buckets_of_day(day: date, tz: str) -> list[datetime]:
    zone = ZoneInfo(tz)
    first = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    last = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    n = int((last - first) / INTERVAL)
    starts = {bucket_start(first + i * INTERVAL, "hour", tz).astimezone(UTC) for i in range(n)}
    return sorted(starts)


def test_dst_days_have_23_and_25_local_hours():
    assert len(hour_buckets_of_day(date(2024, 3, 10), "America/New_York")) == 23
    assert len(hour_buckets_of_day(date(2024, 11, 3), "America/New_York")) == 25
    assert len(hour_buckets_of_day(date(2024, 3, 31), "Europe/Berlin")) == 23
    assert len(hour_buckets_of_day(date(2024, 10, 27), "Europe/Berlin")) == 25
    assert len(hour_buckets_of_day(date(2024, 10, 27), "Asia/Shanghai")) == 24


def test_repeated_fall_back_hour_is_two_buckets():
    ny = "America/New_York"
    first = bucket_start(utc(2024, 11, 3, 5, 45), "hour", ny)  # 01:45 EDT
    second = bucket_start(utc(2024, 11, 3, 6, 30), "hour", ny)  # 01:30 EST
    assert first.isoformat() == "2024-11-03T01:00:00-04:00"
    assert second.isoformat() == "2024-11-03T01:00:00-05:00" and second.fold == 1
    assert first.astimezone(UTC) != second.astimezone(UTC)
    assert bucket_start(utc(2024, 11, 3, 6, 30), "day", ny).isoformat() == "2024-11-03T00:00:00-04:00"
    # the spring-forward day starts at midnight EST and its day bucket holds the 03:00 EDT hour
    assert bucket_start(utc(2024, 3, 10, 7, 0), "day", ny).isoformat() == "2024-03-10T00:00:00-05:00"
    assert bucket_start(utc(2024, 3, 10, 7, 0), "hour", ny).isoformat() == "2024-03-10T03:00:00-04:00"


def test_month_and_week_boundaries():
    sh = "Asia/Shanghai"
    # 2024-01-31 23:45 Shanghai is 15:45 UTC: still January; 16:00 UTC is 1 February
    assert bucket_start(utc(2024, 1, 31, 15, 45), "month", sh).isoformat() == "2024-01-01T00:00:00+08:00"
    assert bucket_start(utc(2024, 1, 31, 16, 0), "month", sh).isoformat() == "2024-02-01T00:00:00+08:00"
    assert bucket_start(utc(2024, 2, 29, 16, 0), "day", sh).isoformat() == "2024-03-01T00:00:00+08:00"
    # New York: 2024-03-01 04:59 UTC is still February locally
    assert bucket_start(utc(2024, 3, 1, 4, 45), "month", "America/New_York").month == 2
    # a month bucket starting before a DST change keeps its own offset
    assert bucket_start(utc(2024, 3, 31, 12, 0), "month", "Europe/Berlin").isoformat() == (
        "2024-03-01T00:00:00+01:00"
    )
    # weeks start on Monday: Sunday 2024-03-31 belongs to the week of Monday 2024-03-25
    assert bucket_start(utc(2024, 3, 31, 12, 0), "week", "Europe/Berlin").isoformat() == (
        "2024-03-25T00:00:00+01:00"
    )
    assert bucket_start(utc(2024, 1, 1, 0, 0), "week", "UTC").isoformat() == "2024-01-01T00:00:00+00:00"
    assert bucket_start(utc(2024, 1, 1, 0, 15), "interval", sh).isoformat() == "2024-01-01T08:15:00+08:00"


def test_quarter_hour_offsets_and_midnight_gaps():
    # Kathmandu is UTC+05:45: intervals still fall inside local hours
    assert bucket_start(utc(2024, 6, 1, 0, 15), "hour", "Asia/Kathmandu").isoformat() == (
        "2024-06-01T06:00:00+05:45"
    )
    # Santiago skips 00:00-01:00 on 2024-09-08: the day starts at 01:00
    assert bucket_start(utc(2024, 9, 8, 12, 0), "day", "America/Santiago").isoformat() == (
        "2024-09-08T01:00:00-03:00"
    )


def test_bucket_start_rejects_bad_input():
    with pytest.raises(ValueError):
        bucket_start(utc(2024, 1, 1, 0, 10), "day", "UTC")
    with pytest.raises(ValueError):
        bucket_start(datetime(2024, 1, 1), "day", "UTC")
    with pytest.raises(ValueError):
        bucket_start(utc(2024, 1, 1), "year", "UTC")
    with pytest.raises(ValueError):  # Shanghai's 1900 local mean time is +08:05:43
        bucket_start(utc(1900, 6, 1), "hour", "Asia/Shanghai")
    with pytest.raises(ValueError):
        bucketed_metrics([IntervalRollup(offered=1, rounds=1)], "day", "UTC")


# --- targets ---------------------------------------------------------------------------------------


def test_judge_directions_and_missing_data():
    m = SlaMetrics(offered=10, answered=9, abandon_rate=0.1, service_level=0.8, frt_mean_s=25.0,
                   frt_p50_s=20.0, frt_p90_s=40.0, response_rate_3min=None, avg_response_s=30.0,
                   handle_mean_s=300.0, csat=0.9, dsat=0.05, conversion_rate=0.2, gmv=Decimal("10.00"),
                   aov=Decimal("5.00"))
    targets = SlaTargets(service_level=0.8, response_rate_3min=0.95, frt_mean_s=20, csat=0.95,
                         conversion_rate=0.15, max_abandon_rate=0.1)
    assert judge(m, targets) == [
        Verdict(metric=Metric.service_level, target=0.8, actual=0.8, met=True),  # inclusive
        Verdict(metric=Metric.frt_mean_s, target=20, actual=25.0, met=False),  # lower is better
        Verdict(metric=Metric.csat, target=0.95, actual=0.9, met=False),
        Verdict(metric=Metric.conversion_rate, target=0.15, actual=0.2, met=True),
        Verdict(metric=Metric.abandon_rate, target=0.1, actual=0.1, met=True),
    ]  # response_rate_3min has no data: not judged
    assert judge(m, SlaTargets()) == []
    assert SlaTargets().answer_target_s == 30
    with pytest.raises(ValueError):
        SlaTargets(service_level=80)
    with pytest.raises(ValueError):
        SlaTargets(frt_mean_s=-1)
