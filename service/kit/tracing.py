"""Optional OpenTelemetry tracing, off by default: with SEATWISE_OTEL_ENDPOINT set, every request and every
SQL statement is a span exported over OTLP/HTTP. The packages are an optional extra (`uv sync --extra
otel`), imported only when tracing is on."""

from __future__ import annotations

from typing import Any

from service.settings import ConfigurationError


def install(app: Any, endpoint: str) -> None:
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigurationError("SEATWISE_OTEL_ENDPOINT is set but OpenTelemetry is not installed: "
                                 "run `uv sync --extra otel` (or unset it)") from None
    provider = TracerProvider(resource=Resource.create({"service.name": "seatwise"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
