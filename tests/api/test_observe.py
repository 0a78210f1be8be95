"""What an operator watches (issue 11): X-Request-ID accepted or generated, returned and carried into the
logs; one structured line per request; Prometheus metrics behind an admin token or the metrics token;
tracing off by default."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from service.app import create_app
from service.kit import tracing
from service.kit.observe import JsonFormatter
from service.settings import ConfigurationError, Settings
from tests.conftest import JWT_SECRET, auth
from tests.factories import assert_problem


async def test_a_request_id_is_accepted_or_generated_and_logged(client, world, caplog):
    with caplog.at_level(logging.INFO, logger="seatwise.http"):
        r = await client.get(f"/v1/shops/{world.shops_a[0].id}", headers={**world.client_of("a"),
                                                                            "X-Request-ID": "abc-123"})
        generated = await client.get("/v1/shops", headers={**auth("ops"), "X-Request-ID": "bad id {}"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32
    line = next(rec for rec in caplog.records if getattr(rec, "route", None) == "/v1/shops/{shop_id}")
    assert (line.status, line.tenant, line.role) == (200, str(world.tenant_a.id), "client")
    event = json.loads(JsonFormatter().format(line))
    assert event["route"] == "/v1/shops/{shop_id}" and event["duration_ms"] >= 0
    assert event["event"] == "request"


async def test_metrics_are_protected_and_name_routes_by_template(client, world, db, tmp_path):
    await client.get(f"/v1/shops/{world.shops_a[0].id}", headers=auth("ops"))
    assert_problem(await client.get("/metrics"), 401)
    assert_problem(await client.get("/metrics", headers=auth("ops")), 403)
    r = await client.get("/metrics", headers=auth("admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    body = r.text
    assert 'route="/v1/shops/{shop_id}",status="200"' in body
    for name in ("seatwise_db_pool_in_use", "seatwise_db_pool_waiting", "seatwise_ingest_rows_total",
                 "seatwise_operation_duration_seconds"):
        assert name in body
    app = create_app(Settings(jwt_secret=JWT_SECRET, data_dir=tmp_path, metrics_token="scrape-me"), db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).status_code == 200
        assert_problem(await c.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)


def test_logs_are_json_in_production_and_text_when_embedded(tmp_path):
    assert Settings(DATABASE_URL="postgresql://x/y", data_dir=tmp_path).json_logs
    assert not Settings(data_dir=tmp_path).json_logs
    assert not Settings(DATABASE_URL="postgresql://x/y", data_dir=tmp_path, log_format="text").json_logs


def test_tracing_is_off_by_default_and_asks_for_its_packages(tmp_path):
    assert Settings(data_dir=tmp_path).otel_endpoint is None
    app = create_app(Settings(jwt_secret=JWT_SECRET, data_dir=tmp_path))
    assert not any("opentelemetry" in type(m.cls).__module__ + str(m.cls) for m in app.user_middleware)
    try:
        import opentelemetry.instrumentation.fastapi  # noqa: F401
    except ImportError:  # the optional extra is not installed: a clear refusal
        with pytest.raises(ConfigurationError, match="otel"):
            tracing.install(object(), "http://127.0.0.1:4318")
    else:  # installed (uv sync --extra otel): the app is instrumented, nothing is sent until spans end
        traced = create_app(Settings(jwt_secret=JWT_SECRET, data_dir=tmp_path,
                                     otel_endpoint="http://127.0.0.1:9"))
        assert traced._is_instrumented_by_opentelemetry
