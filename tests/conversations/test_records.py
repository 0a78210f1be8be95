import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from service.conversations import records as r
from service.conversations.records import (
    ConversationRecord,
    RecordError,
    Rejection,
    parse_csv_row,
    parse_ndjson_line,
    validate_record,
)

SHOP = "6f1c2b1e-8a4e-4c1e-9a55-0d7d3c1f2a10"
CST = timezone(timedelta(hours=8))


def good(**overrides):
    raw = {
        "external_id": "tb-1001",
        "shop_id": SHOP,
        "started_at": "2024-11-11T00:00:05+08:00",
        "first_response_at": "2024-11-11T00:00:17.250000+08:00",
        "ended_at": "2024-11-11T00:05:00+08:00",
        "kind": "presale",
        "response_times_s": [12.25, 30, 0],
        "agent_code": "A007",
        "converted": True,
        "order_amount": "199.90",
        "csat": 5,
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not ...}


def test_valid_ndjson_line():
    rec = parse_ndjson_line(json.dumps(good()))
    assert isinstance(rec, ConversationRecord)
    assert rec.external_id == "tb-1001"
    assert rec.shop_id == uuid.UUID(SHOP)
    assert rec.started_at == datetime(2024, 11, 10, 16, 0, 5, tzinfo=UTC)
    assert rec.frt_s == 12.25
    assert rec.handle_s == 300 - 17.25
    assert rec.kind == "presale"
    assert rec.response_times_s == (12.25, 30.0, 0.0)
    assert rec.converted is True
    assert rec.order_amount == Decimal("199.90")
    assert rec.csat == 5


def test_minimal_record_defaults():
    rec = validate_record(
        {"external_id": 42, "shop_id": SHOP, "started_at": "2024-01-01T00:00:00Z", "kind": "AfterSale "}
    )
    assert isinstance(rec, ConversationRecord)
    assert rec.external_id == "42"
    assert rec.kind == "aftersale"
    assert rec.first_response_at is None and rec.frt_s is None and rec.handle_s is None
    assert rec.response_times_s is None and rec.agent_code is None
    assert rec.converted is False and rec.order_amount is None and rec.csat is None


def test_csv_rows_all_strings():
    text = (
        "external_id,shop_id,started_at,first_response_at,ended_at,kind,response_times_s,agent_code,"
        "converted,order_amount,csat\n"
        f"c1,{SHOP},2024-03-01 10:00:00+08:00,2024-03-01 10:00:20+08:00,"
        ",presale,12;30.5; 7 ,A1,yes,10.005,4\n"
        f'c2,{SHOP},2024-03-01T10:00:00Z,2024-03-01T10:00:01Z,,aftersale,"[1, 2.5]",,false,,\n'
        f"c3,{SHOP},2024-03-01T10:00:00Z,,,aftersale,,,0,,\n"
        f"c4,{SHOP},2024-03-01T10:00:00Z,2024-03-01T10:00:01Z,,aftersale,[],,,,\n"
    )
    got = [parse_csv_row(row) for row in csv.DictReader(io.StringIO(text))]
    assert all(isinstance(g, ConversationRecord) for g in got), got
    c1, c2, c3, c4 = got
    assert c1.response_times_s == (12.0, 30.5, 7.0)
    assert c1.order_amount == Decimal("10.01")  # numeric(14,2) rounds half away from zero
    assert c1.converted and c1.csat == 4 and c1.agent_code == "A1" and c1.ended_at is None
    assert c2.response_times_s == (1.0, 2.5) and not c2.converted and c2.agent_code is None
    assert c3.first_response_at is None and not c3.converted
    assert c4.response_times_s is None  # an empty list is the same as absent


def test_csv_row_with_extra_cells_is_malformed_and_short_row_leaves_fields_absent():
    text = f"external_id,shop_id,started_at,kind\nx,{SHOP},2024-01-01T00:00:00Z,presale,surplus\ny,{SHOP}\n"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert parse_csv_row(rows[0]) == Rejection(None, r.REASON_MALFORMED)
    assert parse_csv_row(rows[1]) == Rejection("started_at", r.REASON_MISSING, "y")


def test_amounts_and_booleans():
    for value, expected in [
        ("0", Decimal("0.00")),
        (19.9, Decimal("19.90")),
        (7, Decimal("7.00")),
        ("1e3", Decimal("1000.00")),
        (" 2.345 ", Decimal("2.35")),
        ("999999999999.994", Decimal("999999999999.99")),
    ]:
        rec = validate_record(good(order_amount=value))
        assert isinstance(rec, ConversationRecord), (value, rec)
        assert rec.order_amount == expected
    for value, expected in [("T", True), ("no", False), (1, True), (0, False), (False, False), ("Y", True)]:
        rec = validate_record(good(converted=value))
        assert isinstance(rec, ConversationRecord) and rec.converted is expected


def test_blank_strings_and_nulls_mean_absent():
    rec = validate_record(
        good(first_response_at=None, ended_at="  ", response_times_s="", agent_code="", csat=None)
    )
    assert isinstance(rec, ConversationRecord)
    assert rec.first_response_at is None and rec.ended_at is None and rec.response_times_s is None


# Every rejection reason, with the field it is reported on.
REJECTIONS = [
    ("not json", None, r.REASON_MALFORMED),
    ("[1, 2]", None, r.REASON_MALFORMED),
    ("", None, r.REASON_MALFORMED),
    (good(external_id=...), "external_id", r.REASON_MISSING),
    (good(external_id="   "), "external_id", r.REASON_MISSING),
    (good(shop_id=None), "shop_id", r.REASON_MISSING),
    (good(started_at=""), "started_at", r.REASON_MISSING),
    (good(kind=...), "kind", r.REASON_MISSING),
    (good(external_id=1.5), "external_id", r.REASON_NOT_TEXT),
    (good(agent_code=["a"]), "agent_code", r.REASON_NOT_TEXT),
    (good(shop_id="shop-1"), "shop_id", r.REASON_BAD_UUID),
    (good(shop_id=12), "shop_id", r.REASON_BAD_UUID),
    (good(started_at="yesterday"), "started_at", r.REASON_BAD_TIMESTAMP),
    (good(started_at=1700000000), "started_at", r.REASON_BAD_TIMESTAMP),
    (good(ended_at="2024-13-01T00:00:00+08:00"), "ended_at", r.REASON_BAD_TIMESTAMP),
    (good(started_at="2024-11-11T00:00:05"), "started_at", r.REASON_NO_TIMEZONE),
    (good(first_response_at="2024-11-11"), "first_response_at", r.REASON_NO_TIMEZONE),
    (
        good(first_response_at="2024-11-11T00:00:04+08:00"),
        "first_response_at",
        r.REASON_RESPONSE_BEFORE_START,
    ),
    (
        good(first_response_at=None, ended_at="2024-11-10T16:00:04Z", response_times_s=None),
        "ended_at",
        r.REASON_END_BEFORE_START,
    ),
    (good(ended_at="2024-11-11T00:00:10+08:00"), "ended_at", r.REASON_END_BEFORE_RESPONSE),
    (good(kind="refund"), "kind", r.REASON_BAD_KIND),
    (good(kind=1), "kind", r.REASON_BAD_KIND),
    (good(response_times_s=[1, -2]), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s=[1, "2"]), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s=[True]), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s=12), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s={"a": 1}), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s="1;;2"), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s="1;nan"), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s="1;-3"), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s="[1, 2"), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(response_times_s="[1e400]"), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
    (good(first_response_at=None), "response_times_s", r.REASON_TIMES_WITHOUT_RESPONSE),
    (good(converted="maybe"), "converted", r.REASON_BAD_BOOLEAN),
    (good(converted=2), "converted", r.REASON_BAD_BOOLEAN),
    (good(order_amount="12,50"), "order_amount", r.REASON_BAD_AMOUNT),
    (good(order_amount="NaN"), "order_amount", r.REASON_BAD_AMOUNT),
    (good(order_amount=True), "order_amount", r.REASON_BAD_AMOUNT),
    (good(order_amount=[1]), "order_amount", r.REASON_BAD_AMOUNT),
    (good(order_amount="-0.01"), "order_amount", r.REASON_NEGATIVE_AMOUNT),
    (good(order_amount=-3), "order_amount", r.REASON_NEGATIVE_AMOUNT),
    (good(order_amount="1e12"), "order_amount", r.REASON_AMOUNT_TOO_LARGE),
    (good(order_amount="999999999999.995"), "order_amount", r.REASON_AMOUNT_TOO_LARGE),
    (good(csat="four"), "csat", r.REASON_NOT_INTEGER),
    (good(csat=4.5), "csat", r.REASON_NOT_INTEGER),
    (good(csat=True), "csat", r.REASON_NOT_INTEGER),
    (good(csat=0), "csat", r.REASON_CSAT_RANGE),
    (good(csat="6"), "csat", r.REASON_CSAT_RANGE),
    (good(external_id="x" * 129), "external_id", r.REASON_EXTERNAL_ID_TOO_LONG),
    (good(agent_code="a" * 65), "agent_code", r.REASON_AGENT_CODE_TOO_LONG),
    (good(started_at="1999-12-31T23:59:59Z"), "started_at", r.REASON_OUT_OF_RANGE),
    (good(ended_at="2999-01-01T00:00:00+08:00"), "ended_at", r.REASON_OUT_OF_RANGE),
    ('{"external_id": "\\u0000"}', None, r.REASON_MALFORMED),
    ('{"external_id": "\\ud800"}', None, r.REASON_MALFORMED),
]


@pytest.mark.parametrize(("raw", "field", "reason"), REJECTIONS)
def test_rejections(raw, field, reason):
    got = parse_ndjson_line(raw) if isinstance(raw, str) else validate_record(raw)
    assert isinstance(got, Rejection)
    assert (got.field, got.reason) == (field, reason)
    assert got.reason in r.REASONS
    if isinstance(raw, dict) and isinstance(raw.get("external_id"), str) and raw["external_id"].strip():
        assert got.external_id == raw["external_id"]
    assert got.message == (f"{field}: {reason}" if field else reason)


def test_every_reason_is_exercised_and_distinct():
    assert {reason for _, _, reason in REJECTIONS} == set(r.REASONS)
    assert len(set(r.REASONS)) == len(r.REASONS)
    constants = {v for k, v in vars(r).items() if k.startswith("REASON_")}
    assert constants == set(r.REASONS)


def test_non_mapping_and_non_string_keys_are_malformed():
    assert validate_record(["x"]) == Rejection(None, r.REASON_MALFORMED)
    assert validate_record({1: "x"}) == Rejection(None, r.REASON_MALFORMED)
    assert parse_ndjson_line(b"\xff\xfe") == Rejection(None, r.REASON_MALFORMED)


def test_integral_float_csat_and_unknown_keys():
    rec = validate_record(good(csat=3.0, extra_column="ignored"))
    assert isinstance(rec, ConversationRecord) and rec.csat == 3


def test_record_constructor_validates():
    base = dict(
        external_id="x",
        shop_id=uuid.UUID(SHOP),
        started_at=datetime(2024, 1, 1, 8, tzinfo=CST),
        kind="presale",
    )
    assert ConversationRecord(**base).answered is False
    cases = [
        (dict(started_at=datetime(2024, 1, 1)), "started_at", r.REASON_NO_TIMEZONE),
        (
            dict(first_response_at=datetime(2024, 1, 1, 7, 59, tzinfo=CST)),
            "first_response_at",
            r.REASON_RESPONSE_BEFORE_START,
        ),
        (dict(kind="other"), "kind", r.REASON_BAD_KIND),
        (dict(shop_id=SHOP), "shop_id", r.REASON_BAD_UUID),
        (dict(csat=9), "csat", r.REASON_CSAT_RANGE),
        (dict(order_amount=Decimal("-1")), "order_amount", r.REASON_NEGATIVE_AMOUNT),
        (dict(order_amount=1.5), "order_amount", r.REASON_BAD_AMOUNT),
        (dict(converted="yes"), "converted", r.REASON_BAD_BOOLEAN),
        (dict(response_times_s=[1.0]), "response_times_s", r.REASON_TIMES_WITHOUT_RESPONSE),
        (dict(response_times_s="1;2"), "response_times_s", r.REASON_BAD_RESPONSE_TIMES),
        (dict(external_id=""), "external_id", r.REASON_MISSING),
        (dict(external_id=5), "external_id", r.REASON_NOT_TEXT),
    ]
    for override, field, reason in cases:
        with pytest.raises(RecordError) as err:
            ConversationRecord(**{**base, **override})
        assert (err.value.field, err.value.reason) == (field, reason), override
    rec = ConversationRecord(
        **base,
        first_response_at=datetime(2024, 1, 1, 0, 0, 3, tzinfo=UTC),
        response_times_s=[3, 4.5],
        order_amount=Decimal("1.005"),
    )
    assert rec.response_times_s == (3.0, 4.5) and rec.order_amount == Decimal("1.01") and rec.frt_s == 3.0


def test_length_limits_count_after_stripping():
    assert isinstance(validate_record(good(external_id=" " + "x" * 128 + " ")), ConversationRecord)
    assert isinstance(validate_record(good(agent_code="a" * 64)), ConversationRecord)


# --- the fast path (validate_row) answers exactly as the reference ------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_LATEST = datetime(2026, 11, 25, tzinfo=UTC)
_stamps = st.one_of(
    st.datetimes(min_value=datetime(1998, 1, 1), max_value=datetime(2030, 1, 1),
                 timezones=st.sampled_from([UTC, CST, timezone(timedelta(hours=-5))])
                 ).map(datetime.isoformat),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 1, 1)).map(datetime.isoformat),
    st.sampled_from(["", " ", "2024-11-11T00:00:05Z", " 2024-11-11T00:00:05+08:00", "2024-11-11",
                     "now", "2024-W46-1"]),
    st.integers(), st.none())
_texts = st.one_of(st.text(max_size=3), st.text(min_size=60, max_size=130),
                   st.sampled_from(["a", " a", "a\u3000", ""]),
                   st.integers(), st.floats(), st.none(), st.lists(st.integers(), max_size=1))
_numbers = st.one_of(st.integers(min_value=-3, max_value=2**70), st.floats(allow_nan=True), st.booleans(),
                     st.sampled_from(["1.005", " 2 ", "", "1e999", "-0", "12,5", "NaN"]), st.none())
_records = st.fixed_dictionaries({}, optional={
    "external_id": _texts,
    "shop_id": st.one_of(st.just(SHOP), st.just(" " + SHOP), st.just(SHOP.replace("-", "")),
                         st.just("{" + SHOP + "}"), st.just(SHOP.upper()), _texts),
    "started_at": _stamps, "first_response_at": _stamps, "ended_at": _stamps,
    "kind": st.sampled_from(["presale", "aftersale", "Presale", " presale", "refund", 1, None, ""]),
    "response_times_s": st.one_of(st.lists(_numbers, max_size=3), st.sampled_from(["1;2", "[1, 2]", "", "x"]),
                                  _numbers),
    "agent_code": _texts,
    "converted": st.one_of(st.booleans(), st.sampled_from(["yes", "0", "", "maybe", 1, 2, None])),
    "order_amount": _numbers,
    "csat": st.one_of(_numbers, st.sampled_from(["5", " 3 ", "4.0"])),
})


@settings(max_examples=1500, deadline=None)
@given(_records)
def test_fast_path_answers_as_the_reference(raw):
    reference = validate_record(raw, _LATEST)
    expected = reference if isinstance(reference, Rejection) else r.row_of(reference)
    assert r.validate_row(raw, _LATEST, {}) == expected
    assert r.validate_row(raw, _LATEST, {SHOP: uuid.UUID(SHOP)}) == expected


def test_fast_path_takes_the_common_record(monkeypatch):
    # The canonical shape a platform sends is typed without the reference (the speed of bulk ingest).
    raw = good(order_amount=199.9)
    expected = r.row_of(validate_record(raw, _LATEST))
    monkeypatch.setattr(r, "_slow_row", lambda *a: pytest.fail("took the reference path"))
    assert r.validate_row(raw, _LATEST, {}) == expected
    assert r.validate_row(good(first_response_at=None, ended_at=None, response_times_s=None, agent_code=None,
                               converted=None, order_amount=None, csat=None), _LATEST, {})[3] is None
