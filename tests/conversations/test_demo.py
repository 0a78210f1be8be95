"""The demo conversation generator: reproducible, seasonal, with a Double 11 spike and thin shops."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

from service.conversations.demo import DemoShop, conversations
from service.conversations.records import ConversationRecord, validate_record

SHOPS = [DemoShop("00000000-0000-0000-0000-000000000001", "tmall", "KA", "beauty", "Asia/Shanghai", False),
         DemoShop("00000000-0000-0000-0000-000000000002", "pdd", "longtail", "pets", "Asia/Shanghai", True)]


def test_reproducible_and_valid():
    first = list(conversations(SHOPS, seed=3, end=date(2026, 11, 15), days=20))
    assert first == list(conversations(SHOPS, seed=3, end=date(2026, 11, 15), days=20))
    assert first != list(conversations(SHOPS, seed=4, end=date(2026, 11, 15), days=20))
    records = [validate_record(json.loads(line)) for line in first]
    assert all(isinstance(r, ConversationRecord) for r in records)


def test_seasonality_spike_and_thin_shops():
    records = [validate_record(json.loads(line)) for line in conversations(SHOPS, 1, date(2026, 11, 15), 20)]
    per_day = Counter(r.started_at.astimezone().date() for r in records if r.shop_id.int == 1)
    assert per_day[date(2026, 11, 11)] > 3 * per_day[date(2026, 10, 28)]
    by_hour = Counter(r.started_at.hour for r in records)
    assert by_hour[21] > 5 * by_hour[4]
    slow = [r.frt_s for r in records if r.shop_id.int == 2 and r.frt_s is not None]
    fast = [r.frt_s for r in records if r.shop_id.int == 1 and r.frt_s is not None]
    assert sum(slow) / len(slow) > 2 * sum(fast) / len(fast)
