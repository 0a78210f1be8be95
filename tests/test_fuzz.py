"""Fuzzing (issue 11): schemathesis over the OpenAPI document and the GraphQL schema, against a real server
on the suite's database, with admin, ops and client tokens. Bounded to fit the suite's time budget (a few
examples per operation, no shrinking): 0 server errors and 0 response-schema violations."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from graphql import IntValueNode, StringValueNode
from tests.bench.server import free_port
from tests.conftest import JWT_SECRET, auth


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
def server(database, world, tmp_path_factory):
    """`seatwise serve` on the suite's database (its own process: the fuzzer's case generation keeps this
    one busy)."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": database.owner_url, "SEATWISE_APP_DATABASE_URL": database.app_url,
                        "SEATWISE_JWT_SECRET": JWT_SECRET, "SEATWISE_RATE_LIMIT": "",
                        "SEATWISE_DATA_DIR": str(tmp_path_factory.mktemp("fuzz"))}
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "the server did not become ready"
        time.sleep(0.1)
    yield url, world
    process.terminate()
    process.wait(30)


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


def test_rest_fuzz(server):
    url, world = server
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    calls = _fuzz(schema, _tokens(world), [not_a_server_error, response_schema_conformance])
    assert calls > 100


def test_graphql_fuzz(server):
    url, world = server
    schema = schemathesis.graphql.from_url(f"{url}/graphql", headers=auth("admin"))
    assert _fuzz(schema, _tokens(world), [], _no_internal_error) > 50
