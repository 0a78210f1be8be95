"""A real `seatwise serve` on the suite's database (issue 11), started once for this module:

- fuzzing: schemathesis over the OpenAPI document and the GraphQL schema, with admin, ops and client
  tokens, bounded to fit the suite's time budget (a few examples per operation, no shrinking): 0 server
  errors and 0 response-schema violations;
- graceful shutdown, last: a SIGTERM while a batch is being ingested loses nothing. The server stops
  accepting, lets the in-flight request finish and answers it, so the batch is wholly applied and the client
  is told so; then it exits. (A batch cut off by a kill is wholly absent: one batch, one transaction.)"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import UTC

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import text

from graphql import IntValueNode, StringValueNode
from tests.conftest import auth
from tests.factories import in_flight, serving


def _string_scalar(values):
    return values.map(lambda v: StringValueNode(value=str(v)))


# The schema's own scalars, as the strings GraphQL clients send (hypothesis-graphql knows only the built-in
# ones; invalid strings are tried too, since the server must refuse them cleanly).
for _name, _values in {
    "Decimal": st.one_of(st.decimals(allow_nan=False, allow_infinity=False, places=2), st.text(max_size=5)),
    "UUID": st.one_of(st.uuids(), st.text(max_size=5)),
    "Date": st.one_of(st.dates(), st.text(max_size=5)),
    "DateTime": st.one_of(st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
                          st.text(max_size=5)),
}.items():
    schemathesis.graphql.scalar(_name, _string_scalar(_values))
schemathesis.graphql.scalar("JSON", st.just(IntValueNode(value="1")))

EXAMPLES = int(os.environ.get("SEATWISE_FUZZ_EXAMPLES", "2"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def live(database, world, tmp_path_factory):
    """`seatwise serve` on the suite's database (its own process: the fuzzer's case generation keeps this
    one busy)."""
    with serving(database, tmp_path_factory.mktemp("live")) as (url, process):
        yield url, world, process


def _tokens(world) -> list[dict[str, str]]:
    return [auth("admin"), auth("ops"), world.client_of("a")]


def _no_internal_error(response) -> None:
    """GraphQL answers refusals and bad input as errors with a status; none may be a server fault."""
    assert response.status_code < 500, response.text
    kind = response.headers.get("content-type") or [""]
    if (kind[0] if isinstance(kind, list) else kind).startswith("application/json"):
        for error in response.json().get("errors") or []:
            assert (error.get("extensions") or {}).get("status", 400) < 500, error


def _fuzz(schema, tokens, checks, own=None) -> int:
    """Every operation of SCHEMA with a few generated cases, each sent with every token; returns the number
    of calls. A failed check raises (hypothesis reports the case)."""
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case):
            nonlocal calls
            for headers in tokens:
                response = case.call(headers=headers, timeout=30)
                calls += 1
                if checks:
                    case.validate_response(response, checks=checks)
                if own:
                    own(response)

        run()
    return calls


def test_rest_fuzz(live):
    url, world, _ = live
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    calls = _fuzz(schema, _tokens(world), [not_a_server_error, response_schema_conformance])
    assert calls > 100


def test_graphql_fuzz(live):
    url, world, _ = live
    schema = schemathesis.graphql.from_url(f"{url}/graphql", headers=auth("admin"))
    assert _fuzz(schema, _tokens(world), [], _no_internal_error) > 50


RECORDS, CHUNKS = 6_000, 12


async def test_sigterm_during_an_ingest_drains_it(live, db):
    """Last in this module: it stops the module's server."""
    url, world, server = live
    shop = str(world.shops_a[0].id)
    lines = [json.dumps({"external_id": f"drain-{i}", "shop_id": shop, "kind": "presale",
                         "started_at": f"2026-11-2{i % 5}T10:{i % 60:02d}:00+08:00"}) + "\n"
             for i in range(RECORDS)]
    half, signalled = threading.Event(), threading.Event()

    def body():
        per = RECORDS // CHUNKS
        for c in range(CHUNKS):
            yield "".join(lines[c * per:(c + 1) * per]).encode()
            if c == CHUNKS // 2:
                half.set()
                signalled.wait(60)  # the rest only once the SIGTERM is sent: it lands mid-request
            time.sleep(0.1)

    answer: dict = {}

    def send():
        try:
            r = httpx.post(f"{url}/v1/conversations", content=body(), timeout=60,
                           headers={**auth("ops"), "Content-Type": "application/x-ndjson"})
            answer["status"], answer["body"] = r.status_code, r.json()
        except httpx.TransportError as exc:
            answer["error"] = exc

    sender = threading.Thread(target=send)
    sender.start()
    assert half.wait(30)
    in_flight(url)  # the server is in the request (on a loaded machine it may not have read it yet)
    server.send_signal(signal.SIGTERM)  # mid-request: half the body is still to come
    signalled.set()
    sender.join(60)
    # Stopped by the signal once drained (uvicorn re-raises it after its graceful shutdown).
    assert server.wait(60) in (0, -signal.SIGTERM)
    assert answer.get("status") == 200, answer
    assert answer["body"]["inserted"] == RECORDS
    async with db.engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
        stored = (await conn.execute(text("SELECT count(*) FROM conversations "
                                          "WHERE external_id LIKE 'drain-%'"))).scalar_one()
    assert stored == RECORDS  # wholly applied, as the client was told
