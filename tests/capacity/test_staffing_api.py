"""POST /v1/staffing/erlang: the published reference, given agents, Erlang A, infinity as null, bad input."""

from __future__ import annotations

import math

import pytest

from tests.conftest import auth
from tests.factories import assert_problem

URL = "/v1/staffing/erlang"
OPS = auth("ops")
# The textbook case: 100 contacts per 30 minutes, AHT 180 s, 80% answered within 20 s.
REFERENCE = {"model": "erlang_c", "interval_s": 1800, "aht_s": 180, "target_service_level": 0.8,
             "target_answer_s": 20, "shrinkage": 0.3}


async def test_published_reference(client):
    r = await client.post(URL, headers=OPS, json=REFERENCE | {"intervals": [{"volume": 100}]})
    assert r.status_code == 200, r.text
    row = r.json()["intervals"][0]
    assert row["agents"] == 14 and row["scheduled"] == 20
    assert row["load"] == pytest.approx(10.0)
    assert row["service_level"] == pytest.approx(0.8884, abs=1e-4)
    assert row["asa_s"] == pytest.approx(row["wait_probability"] * 180 / 4)  # C x AHT / (N - A), ~7.8 s
    assert row["wait_probability"] == pytest.approx(0.1741, abs=1e-3)
    assert row["occupancy"] == pytest.approx(10 / 14)
    assert row["abandon_rate"] == 0
    assert set(row) == {"volume", "load", "agents", "scheduled", "service_level", "asa_s", "wait_probability",
                        "abandon_rate", "occupancy"}


async def test_given_agents_and_required_mix(client):
    body = REFERENCE | {"intervals": [{"volume": 100, "agents": 13}, {"volume": 100},
                                      {"volume": 100, "agents": 10}, {"volume": 0},
                                      {"volume": 100, "agents": 0}]}
    r = await client.post(URL, headers=auth("finance"), json=body)
    assert r.status_code == 200, r.text
    given13, required, at_load, idle, nobody = r.json()["intervals"]
    assert given13["agents"] == 13 and given13["service_level"] < 0.8  # one short of the requirement
    assert required["agents"] == 14
    # At the load an Erlang C queue is unstable: SL 0, ASA unbounded -> null (JSON has no infinity).
    assert at_load["service_level"] == 0 and at_load["asa_s"] is None and at_load["wait_probability"] == 1
    assert idle == {"volume": 0, "load": 0, "agents": 0, "scheduled": 0, "service_level": 1, "asa_s": 0,
                    "wait_probability": 0, "abandon_rate": 0, "occupancy": 0}
    assert nobody["asa_s"] is None and nobody["occupancy"] == 1


async def test_erlang_a_staffs_below_the_load_and_reports_abandonment(client):
    body = REFERENCE | {"model": "erlang_a", "patience_s": 60, "max_abandon_rate": 0.05,
                        "intervals": [{"volume": 100}, {"volume": 100, "agents": 9}]}
    r = await client.post(URL, headers=OPS, json=body)
    assert r.status_code == 200, r.text
    req, below = r.json()["intervals"]
    assert req["agents"] <= 14 and req["service_level"] >= 0.8 and req["abandon_rate"] <= 0.05
    # Nine agents under a load of ten: Erlang A still answers most contacts and reports real figures.
    assert 0 < below["service_level"] < 0.8 and 0 < below["abandon_rate"] < 1 and below["asa_s"] is not None
    assert below["occupancy"] <= 1


async def test_concurrency_and_occupancy_cap(client):
    body = REFERENCE | {"concurrency": 3, "max_occupancy": 0.8, "intervals": [{"volume": 300}]}
    row = (await client.post(URL, headers=OPS, json=body)).json()["intervals"][0]
    assert row["load"] == pytest.approx(30.0)
    assert row["occupancy"] <= 0.8 and row["agents"] * 3 * 0.8 >= 30


async def test_many_intervals_one_call(client):
    volumes = [(i * 37) % 500 for i in range(10_000)]
    r = await client.post(URL, headers=OPS, json=REFERENCE | {"intervals": [{"volume": v} for v in volumes]})
    assert r.status_code == 200
    rows = r.json()["intervals"]
    assert len(rows) == 10_000
    same = [row["agents"] for row, v in zip(rows, volumes, strict=True) if v == 100]
    assert same and set(same) == {14}
    assert all(math.isfinite(row["asa_s"]) for row in rows)


@pytest.mark.parametrize(("change", "field"), [
    ({"model": "erlang_a"}, "body.patience_s"),
    ({"patience_s": 60}, "body.patience_s"),  # erlang_c takes none
    ({"max_abandon_rate": 0.1}, "body.max_abandon_rate"),
    ({"target_service_level": 1}, "body.target_service_level"),
    ({"shrinkage": 1}, "body.shrinkage"),
    ({"concurrency": 0}, "body.concurrency"),
    ({"aht_s": 0}, "body.aht_s"),
    ({"model": "erlang_b"}, "body.model"),
    ({"colour": "red"}, "body.colour"),
    ({"intervals": []}, "body.intervals"),
    ({"intervals": [{"volume": -1}]}, "body.intervals.0.volume"),
    ({"intervals": [{"volume": 10, "agents": 2.5}]}, "body.intervals.0.agents"),
    ({"intervals": [{"volume": 10, "queue": 1}]}, "body.intervals.0.queue"),
])
async def test_bad_input_names_the_field(client, change, field):
    body = REFERENCE | {"intervals": [{"volume": 100}]} | change
    assert_problem(await client.post(URL, headers=OPS, json=body), 422, field)


async def test_too_many_intervals_and_roles(client, world):
    body = REFERENCE | {"intervals": [{"volume": 1}] * 100_001}
    assert_problem(await client.post(URL, headers=OPS, json=body), 422, "body.intervals")
    small = REFERENCE | {"intervals": [{"volume": 1}]}
    assert (await client.post(URL, headers=world.client_of("a"), json=small)).status_code == 403
    assert (await client.post(URL, json=small)).status_code == 401
