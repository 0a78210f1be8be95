"""The demo's history: reproducible from a seed and a day, seasonal, with the calendar's peaks and thin
shops, told on whatever day it is loaded; and its COPY path stores exactly what was generated."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import text

from service.conversations import demo
from service.conversations.demo import DemoShop, generate, history, next_peak, story_peak
from service.conversations.records import ConversationRecord, validate_record
from service.conversations.service import ingest_staged
from tests.factories import make_shop

SHOPS = [DemoShop("00000000-0000-0000-0000-000000000001", "tmall", "KA", "beauty", "Asia/Shanghai", False),
         DemoShop("00000000-0000-0000-0000-000000000002", "pdd", "longtail", "pets", "Asia/Shanghai", True)]
DAY = date(2026, 11, 16)


def _same(a, b) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in a.__dataclass_fields__)


def test_reproducible_from_seed_and_day():
    first = list(generate(SHOPS, 3, DAY))
    again = list(generate(SHOPS, 3, DAY))
    assert all(_same(a, b) for (_, a), (_, b) in zip(first, again, strict=True))
    assert not _same(first[0][1], next(generate(SHOPS, 4, DAY))[1])
    assert not _same(first[0][1], next(generate(SHOPS, 3, DAY + timedelta(days=1)))[1])


def test_history_ends_yesterday_and_spans_90_days():
    _, columns = next(generate(SHOPS, 1, DAY))
    first, last = history(DAY)
    assert (first, last) == (DAY - timedelta(days=90), DAY - timedelta(days=1))
    shanghai = {(datetime.fromtimestamp(t, UTC) + timedelta(hours=8)).date() for t in columns.started}
    assert min(shanghai) == first and max(shanghai) == last


def test_seasonality_spike_and_thin_shops():
    (_, ka), (_, thin) = generate(SHOPS, 1, DAY)
    per_day = Counter((datetime.fromtimestamp(t, UTC) + timedelta(hours=8)).date() for t in ka.started)
    assert per_day[date(2026, 11, 11)] > 3 * per_day[date(2026, 10, 28)]  # Double 11 against an ordinary day
    by_hour = Counter((datetime.fromtimestamp(t, UTC) + timedelta(hours=8)).hour for t in ka.started)
    assert by_hour[21] > 5 * by_hour[4]
    frt = lambda c: np.nanmean(c.first_response - c.started)  # noqa: E731
    assert frt(thin) > 3 * frt(ka)
    assert np.mean(np.isnan(thin.first_response)) > 2 * np.mean(np.isnan(ka.first_response))


def test_every_day_of_the_year_has_a_story_and_a_next_peak():
    day = date(2026, 1, 1)
    while day < date(2028, 1, 1):
        first, last = history(day)
        peak, upcoming = story_peak(day), next_peak(day)
        assert first <= peak.end <= last, day
        assert upcoming.start > day and upcoming.start - day <= timedelta(days=100), day
        spikes = [p for p in demo.peaks_touching(first, last)
                  if first <= p.end <= last and p.name == "Double 11"]
        if spikes:
            assert peak == spikes[-1], day  # the last Double 11 when it is in the history
        day += timedelta(days=1)
    assert story_peak(date(2027, 7, 1)).name == "618" and next_peak(date(2027, 7, 1)).name == "99 Festival"


async def test_the_copy_path_stores_exactly_what_was_generated(db):
    """The binary COPY of the generated columns, then the ingest's own pipeline: every stored conversation is
    a record the validator accepts, equal to the generated one, and its shop's rollups count it."""
    tenant, shop = await make_shop(db)
    spec = DemoShop(str(shop.id), "pdd", "KA", "beauty", "Asia/Shanghai", True)
    _, columns = next(generate([spec], 7, DAY, days=10))
    data = demo.copy_records([(tenant.id.bytes, shop.id.bytes, columns)], 1)

    async def stage(raw) -> None:
        await raw.execute(demo.RAW_TABLE)
        await raw.copy_to_table("demo_raw", source=io.BytesIO(data), format="binary")
        await raw.execute(demo.RAW_SELECT)

    async with db.system_transaction() as session:
        answer = await ingest_staged(session, stage)
        assert answer.inserted == len(columns) and not answer.rejected
        rows = (await session.execute(text(
            "SELECT external_id, shop_id::text, started_at::text, first_response_at::text, ended_at::text,"
            " kind, response_times_s, agent_code, converted, order_amount::text, csat FROM conversations"
            " WHERE shop_id = :s ORDER BY external_id"), {"s": shop.id})).all()
        offered = (await session.execute(text(
            "SELECT sum(offered) FROM shop_interval_stats WHERE shop_id = :s"), {"s": shop.id})).scalar_one()
    assert offered == len(columns) == len(rows)
    names = ["external_id", "shop_id", "started_at", "first_response_at", "ended_at", "kind",
             "response_times_s", "agent_code", "converted", "order_amount", "csat"]
    for k, row in enumerate(rows):
        record = validate_record({n: v for n, v in zip(names, row, strict=True)},
                                 latest=datetime(2100, 1, 1, tzinfo=UTC))
        assert isinstance(record, ConversationRecord), (row, record)
        assert record.external_id == f"demo-{k + 1:07d}"
        assert record.started_at.timestamp() == columns.started[k]
        answered = not np.isnan(columns.first_response[k])
        assert record.answered == answered
        if answered:
            assert abs(record.frt_s - (columns.first_response[k] - columns.started[k])) < 1e-6
            rounds = [t for t in columns.rounds[k] if t == t]
            assert list(record.response_times_s) == rounds
        assert record.kind == ("presale" if columns.presale[k] else "aftersale")
        assert (record.order_amount is None) == (columns.cents[k] < 0)
        assert (record.csat or 0) == columns.csat[k]
