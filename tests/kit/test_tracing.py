"""portal_kit.tracing: on only when the OTEL_* variables ask for it, nothing done when off;
on, the served request's span carries the access log's trace id and no URL path, and a context
stored with work (an outbox entry, a Kafka record) is continued where the work is done."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from portal_kit import tracing
from portal_kit.access_log import TRACE_HEADER, AccessLog, trace_id_of
from portal_kit.observability import CORRELATION_ID, TRACE_ID, JsonFormatter
from portal_kit.tracing import (
    correlation_id,
    current_trace_id,
    enabled_by,
    forwarded_traceparent,
    handling_event,
    kafka_middlewares,
    processing,
    resumed,
    trace_headers,
    traced,
)

TOKEN = "Tq8Wm2Rn5Vb7Xc1Zl4Kp9Jh3Gf6Ds0Ay5Eu8Io2Pw"
ENDPOINT = "http://collector:4318"


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "gateway"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT + "/v1/traces"}, True),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, True),
    ],
)
def test_on_only_when_the_otel_variables_ask(environ: dict[str, str], on: bool) -> None:
    assert enabled_by(environ) is on


def test_an_exporter_that_is_not_installed_is_refused() -> None:
    with pytest.raises(ValueError, match="jaeger"):
        enabled_by({"OTEL_TRACES_EXPORTER": "jaeger"})


def test_off_nothing_is_wrapped_or_added() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        return None

    assert traced(app) is app
    assert kafka_middlewares() == ()
    assert trace_headers() == {}
    assert current_trace_id() is None
    with resumed({"traceparent": f"00-{'1' * 32}-{'2' * 16}-01"}):
        assert current_trace_id() is None


def test_correlation_id_is_the_causing_events_else_the_requests() -> None:
    token = TRACE_ID.set("a" * 32)
    try:
        assert correlation_id() == "a" * 32
        with handling_event("change-7"):
            assert correlation_id() == "change-7"
            assert CORRELATION_ID.get() == "change-7"
        assert CORRELATION_ID.get() is None
    finally:
        TRACE_ID.reset(token)


def test_consume_log_lines_name_the_event_and_an_uncorrelated_event_starts_its_own() -> None:
    formatter = JsonFormatter("test")

    def line() -> dict[str, str]:
        formatted: dict[str, str] = json.loads(
            formatter.format(logging.makeLogRecord({"msg": "applied"}))
        )
        return formatted

    with handling_event(None, "evt-1"):
        first = line()
        assert correlation_id() == "evt-1"
    with handling_event("chg-9", "evt-2"):
        second = line()
    assert (first["event_id"], first["correlation_id"]) == ("evt-1", "evt-1")
    assert (second["event_id"], second["correlation_id"]) == ("evt-2", "chg-9")
    assert "event_id" not in line()


def test_off_the_request_trace_id_still_reaches_the_next_service() -> None:
    assert forwarded_traceparent() is None
    token = TRACE_ID.set("b" * 32)
    try:
        traceparent = forwarded_traceparent()
        assert traceparent is not None
        # What the called service's access log takes as its trace id.
        assert trace_id_of(traceparent) == "b" * 32
    finally:
        TRACE_ID.reset(token)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on for one test, with a provider of its own (the process-wide one stays
    unset: other tests' apps run untraced)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(tracing._path_scrubber())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing._State, "enabled", True)
    monkeypatch.setattr(tracing._State, "provider", provider)
    yield exporter
    provider.shutdown()


@get("/p/{key:str}/verify/{token:str}", sync_to_thread=False)
def verify(key: FromPath[str], token: FromPath[str]) -> dict[str, str | None]:
    return {"trace_id": TRACE_ID.get()}


def test_served_span_is_the_access_logs_trace_named_by_route_without_path(
    spans: InMemorySpanExporter,
) -> None:
    caller = f"00-{'4' * 32}-{'5' * 16}-01"
    with TestClient(Litestar([verify], plugins=[AccessLog()])) as client:
        answer = client.get(f"/p/key_1/verify/{TOKEN}?x={TOKEN}", headers={"traceparent": caller})
    assert answer.status_code == 200
    (served,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    trace_id = format(served.context.trace_id, "032x")
    # The caller's trace continues; the log lines and the answer name it.
    assert trace_id == "4" * 32
    assert answer.headers[TRACE_HEADER] == trace_id
    assert answer.json() == {"trace_id": trace_id}
    assert served.name == "GET /p/{key}/verify/{token}"
    recorded = " ".join(str(v) for v in (served.attributes or {}).values())
    assert TOKEN not in recorded
    assert "key_1" not in recorded


def test_a_stored_context_is_continued_by_the_publish_and_the_processing(
    spans: InMemorySpanExporter,
) -> None:
    tracer = trace.get_tracer("test", tracer_provider=tracing._State.provider)
    with tracer.start_as_current_span("POST /p/{key}/signin") as request:
        stored = trace_headers()
        request_trace = request.get_span_context().trace_id
    assert set(stored) >= {"traceparent"}
    # On, the httpx instrumentation sends the span's context instead.
    assert forwarded_traceparent() is None
    # Later, in the relay's task: the publish is part of the request's trace.
    with resumed(stored), tracer.start_as_current_span("portal.signin publish") as publish:
        assert publish.get_span_context().trace_id == request_trace
        record_headers = [(k, v.encode()) for k, v in trace_headers().items()]
    # Later still, in the notifier: the attempt joins it too, its log lines name it.
    with processing("portal.signin", record_headers, message_id="ev-1"):
        assert current_trace_id() == format(request_trace, "032x")
        assert TRACE_ID.get() == format(request_trace, "032x")
    (attempt,) = [s for s in spans.get_finished_spans() if s.name == "portal.signin process"]
    assert attempt.kind == trace.SpanKind.CONSUMER
    assert attempt.parent is not None
    assert attempt.parent.span_id == publish.get_span_context().span_id
