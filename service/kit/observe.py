"""What an operator watches: a request id on every request (X-Request-ID accepted or generated, returned,
carried into the logs and the audit log), one log line per request (JSON in production, readable text in
the embedded mode), and Prometheus metrics (latency by route template and status, the database pool,
ingest rows, operation durations), served at /metrics to an admin or to the metrics token.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event

from service.kit.audit import current_request_id
from service.kit.errors import plain_refusal

_log = logging.getLogger("seatwise.http")
F = TypeVar("F", bound=Callable[..., Any])
_ids = random.Random()
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")

REQUEST_SECONDS = Histogram(
    "seatwise_http_request_duration_seconds", "Request latency by route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
# With several server processes (`serve --workers N`) each one writes its figures where the others read them
# (prometheus-client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR, set by the CLI), and /metrics answers for
# all of them, whichever one is asked; the pool gauges are then the sum over the live processes.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
POOL_IN_USE = Gauge("seatwise_db_pool_in_use", "Pooled database connections checked out",
                    multiprocess_mode="livesum")
POOL_WAITING = Gauge("seatwise_db_pool_waiting", "Transactions waiting for a pooled connection",
                     multiprocess_mode="livesum")
INGEST_ROWS = Counter("seatwise_ingest_rows_total", "Conversation records ingested, by outcome", ["outcome"])
OPERATION_SECONDS = Histogram(
    "seatwise_operation_duration_seconds", "Duration of long operations (ingest batches, plans, rosters)",
    ["operation"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120))


@contextmanager
def timed(operation: str) -> Iterator[None]:
    """Observe the duration of OPERATION (`ingest`, `plan`, `roster`, ...)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        OPERATION_SECONDS.labels(operation).observe(time.perf_counter() - started)


def timing(operation: str) -> Callable[[F], F]:
    """Decorate an async use case: its duration observed as OPERATION."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def timed_call(*args: Any, **kwargs: Any) -> Any:
            with timed(operation):
                return await fn(*args, **kwargs)

        return timed_call  # type: ignore[return-value]

    return decorate


def watch_pool(db: Any) -> None:
    """Keep the pool gauges of this process current from DB's pool events (a server's own Database)."""
    event.listen(db.engine.sync_engine, "checkout", lambda *_: POOL_IN_USE.inc())
    event.listen(db.engine.sync_engine, "checkin", lambda *_: POOL_IN_USE.dec())
    db.on_wait = POOL_WAITING.inc
    db.watched = True


def metrics_body(db: Any) -> tuple[bytes, str]:
    """The exposition of the metrics: of every server process in the multiprocess mode, else of this one
    (the pool gauges read now when the pool is not watched)."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    if db is not None and not getattr(db, "watched", False):
        POOL_IN_USE.set(db.in_use)
        POOL_WAITING.set(db.waiting)
    return generate_latest(), CONTENT_TYPE_LATEST


def process_ended() -> None:
    """Drop this process's live gauges from the multiprocess figures (a worker shutting down)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def request_id_of(headers: dict[bytes, bytes]) -> str:
    given = headers.get(b"x-request-id", b"").decode("latin-1").strip()
    # A new id needs to be unique, not secret: 128 bits of the process's generator (uuid4 reads the OS's).
    return given if _REQUEST_ID.match(given) else f"{_ids.getrandbits(128):032x}"


class Observe:
    """ASGI middleware, the outermost: the request id, the latency histogram and the one log line of each
    request, and the framework's own refusals answered as problem+json (errors.plain_refusal)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(dict(scope.get("headers", [])))
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        replaced = False

        async def sending(message: Any) -> None:
            nonlocal status, replaced
            if replaced:
                return  # the body of a refusal already answered as problem+json
            problem = plain_refusal(message, scope.get("path"))
            if problem is not None:
                replaced = True
                message = {"type": "http.response.start", "status": problem.status_code,
                           "headers": problem.raw_headers}
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)
            if problem is not None:
                await send({"type": "http.response.body", "body": problem.body})

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(seconds)
            principal = (scope.get("state") or {}).get("principal")
            _log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, seconds * 1000, extra={
                "event": "request", "method": scope["method"], "route": route, "path": scope["path"],
                "status": status, "duration_ms": round(seconds * 1000, 2),
                "tenant": str(principal.tenant_id) if principal and principal.tenant_id else None,
                "subject": principal.subject if principal else None,
                "role": principal.role.value if principal else None})
            current_request_id.reset(token)


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, the request id, and any structured
    fields."""

    converter = time.gmtime  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}"
        event: dict[str, Any] = {"ts": stamp, "level": record.levelname.lower(), "logger": record.name,
                                 "message": record.getMessage(), "request_id": current_request_id.get()}
        event.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The embedded mode's readable lines, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s:     %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = current_request_id.get()
        return f"{line} [{request_id}]" if request_id else line


def configure_logging(json_lines: bool) -> None:
    """Our loggers at INFO (requests, stage timings), everything else at WARNING; JSON lines or text."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("seatwise").setLevel(logging.INFO)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
