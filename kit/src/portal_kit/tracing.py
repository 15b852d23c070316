"""OpenTelemetry traces, configured by the standard `OTEL_*` variables, and the correlation id
every event carries and every log line names.

Off unless `OTEL_TRACES_EXPORTER` names an exporter (`otlp` or `console`) or an OTLP endpoint
is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and always off
with `OTEL_SDK_DISABLED=true`. Off, nothing is instrumented and the helpers below return what
they were given (or nothing) after one flag test; only the request's own trace id is handed
to the services the gateway calls (`forwarded_traceparent`), one header per call.

On, one process-wide provider (resource from `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`,
else the service's name; sampler `OTEL_TRACES_SAMPLER`; batching `OTEL_BSP_*`; OTLP/HTTP
settings `OTEL_EXPORTER_OTLP_*`, all read by the SDK) and spans for: HTTP served (wrapped
around the access log by `portal_kit.access_log`), httpx calls, PyMongo commands (command
names only, never their documents), botocore calls, and Kafka publish/consume (FastStream's
middleware, W3C `traceparent` in the headers). URL paths and queries are not recorded: paths
carry portal keys and sign-in tokens; a served request's span is named after its route
template instead.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from portal_kit.observability import CORRELATION_ID, EVENT_ID, TRACE_ID

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

_EXPORTERS = frozenset({"otlp", "console"})
_NOT_RECORDED = "(not recorded)"
_PATH_KEYS = ("url.path", "http.target", "url.query")
_URL_KEYS = ("url.full", "http.url")
_UNTRACED_URLS = "/healthz$,/readyz$,/metrics$"


class _State:
    configured = False
    enabled = False
    provider: Any = None  # the SDK's TracerProvider once on (imported only then)


def enabled_by(environ: Mapping[str, str]) -> bool:
    """Whether the `OTEL_*` variables ask for traces (the SDK's own default exporter, `otlp`,
    would send to localhost on every laptop and test run: here it has to be asked for)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        if exporter == "none":
            return False
        if exporter not in _EXPORTERS:
            raise ValueError(f"OTEL_TRACES_EXPORTER={exporter!r}: only otlp or console")
        return True
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(service: str) -> bool:
    """Once per process, before brokers and clients are built; later calls change nothing.
    Returns whether tracing is on."""
    if _State.configured:
        return _State.enabled
    _State.configured = True
    env = os.environ
    if not enabled_by(env):
        return False
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    # OTEL_SERVICE_NAME, when set, names the service (Resource.create would let ours win).
    given = {} if env.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(given))
    provider.add_span_processor(_path_scrubber())
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    PymongoInstrumentor().instrument(tracer_provider=provider)
    BotocoreInstrumentor().instrument(  # type: ignore[no-untyped-call]
        tracer_provider=provider
    )
    _State.provider, _State.enabled = provider, True
    return True


def kafka_middlewares() -> tuple[Any, ...]:
    """`KafkaBroker(middlewares=kafka_middlewares())`: publish and consume spans, the W3C
    context in each record's headers. Empty when tracing is off."""
    if not _State.enabled:
        return ()
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return (
        KafkaTelemetryMiddleware(tracer_provider=_State.provider, include_messages_counters=False),
    )


def traced(app: ASGIApp) -> ASGIApp:
    """The served-request span around `app` (the whole ASGI application, so that the access
    log inside it sees the span); `app` itself when tracing is off."""
    return Traced(app) if _State.enabled else app


class Traced:
    """OpenTelemetry's ASGI middleware, its span named after the matched route template."""

    def __init__(self, app: ASGIApp) -> None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        self.app = app
        # Typed for plain mappings: it is given Litestar's typed scope and events.
        self._traced: Any = OpenTelemetryMiddleware(
            _RouteNamed(app),
            excluded_urls=_UNTRACED_URLS,
            default_span_details=_method_only,
            tracer_provider=_State.provider,
            exclude_spans=["receive", "send"],
            server_request_hook=_scrub_served,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._traced(scope, receive, send)


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), None when tracing is off or no span."""
    if not _State.enabled:
        return None
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


def correlation_id() -> str | None:
    """For an event about to be made: the causing event's correlation id, else the trace of
    the request or message being handled."""
    return CORRELATION_ID.get() or current_trace_id() or TRACE_ID.get()


def forwarded_traceparent() -> str | None:
    """With tracing off, a `traceparent` (not sampled) carrying the request's trace id to the
    service called next, so that its log lines and the events it makes share the id. None when
    tracing is on (the httpx instrumentation sends the span's) or outside a request."""
    if _State.enabled:
        return None
    trace_id = TRACE_ID.get()
    return None if trace_id is None else f"00-{trace_id}-{secrets.token_hex(8)}-00"


def trace_headers() -> dict[str, str]:
    """The current W3C context as headers (`traceparent`, `tracestate`), to store with work
    that another task or process carries on later (an outbox entry); empty when off."""
    if not _State.enabled:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextlib.contextmanager
def resumed(headers: Mapping[str, str]) -> Iterator[None]:
    """Run the block in the context stored by `trace_headers`: the spans it makes (a Kafka
    publish) continue the trace of the request that stored it."""
    if not _State.enabled or "traceparent" not in headers:
        yield
        return
    token = otel_context.attach(propagate.extract(headers))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextlib.contextmanager
def processing(
    topic: str, headers: Iterable[tuple[str, bytes]], *, message_id: str | None = None
) -> Iterator[None]:
    """A consumer-kind span for work done on one Kafka record away from its consume span (a
    batch's consume span starts a trace of its own; the email is sent by a task later, maybe
    by another replica): a child of the record's producer, so the work joins its trace."""
    if not _State.enabled:
        yield
        return
    carrier = {key: value.decode("latin-1") for key, value in headers}
    tracer = trace.get_tracer("portal_kit.tracing", tracer_provider=_State.provider)
    attributes = {"messaging.system": "kafka", "messaging.destination.name": topic}
    if message_id is not None:
        attributes["messaging.message.id"] = message_id
    with tracer.start_as_current_span(
        f"{topic} process",
        context=propagate.extract(carrier),
        kind=trace.SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        token = TRACE_ID.set(format(span.get_span_context().trace_id, "032x"))
        try:
            yield
        finally:
            TRACE_ID.reset(token)


@contextlib.contextmanager
def handling_event(correlation_id: str | None, event_id: str | None = None) -> Iterator[None]:
    """While a consumer handles one event: log lines name the event and its correlation id,
    with the event's trace (when tracing is on) as their trace id, and events it causes carry
    the correlation id on — an event that came without one starts one: its own id."""
    correlation = CORRELATION_ID.set(correlation_id or event_id)
    event = EVENT_ID.set(event_id)
    trace_id = TRACE_ID.set(current_trace_id() or TRACE_ID.get())
    try:
        yield
    finally:
        TRACE_ID.reset(trace_id)
        EVENT_ID.reset(event)
        CORRELATION_ID.reset(correlation)


def _method_only(scope: Scope) -> tuple[str, dict[str, str]]:
    return str(scope.get("method") or "HTTP"), {}


class _RouteNamed:
    """Names the served-request span after the route template, once routing matched one (at
    the response's start: the span ends with the response's last part)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def named(message: Message) -> None:
            route = scope.get("path_template")
            if message["type"] == "http.response.start" and route:
                span = trace.get_current_span()
                span.update_name(f"{scope.get('method', 'HTTP')} {route}")
                span.set_attribute("http.route", route)
            await send(message)

        await self.app(scope, receive, named)


def _scrub(span: Any) -> None:
    """Keep only the origin of the URL attributes an instrumentation recorded."""
    attributes = span.attributes or {}
    for key in _PATH_KEYS:
        if key in attributes:
            span.set_attribute(key, _NOT_RECORDED)
    for key in _URL_KEYS:
        if key in attributes:
            parts = urlsplit(str(attributes[key]))
            span.set_attribute(key, f"{parts.scheme}://{parts.netloc}")


def _scrub_served(span: trace.Span, scope: dict[str, Any]) -> None:
    # The ASGI middleware sets its attributes again after the span started.
    if span.is_recording():
        _scrub(span)


def _path_scrubber() -> SpanProcessor:
    from opentelemetry.sdk.trace import SpanProcessor

    class PathScrubber(SpanProcessor):
        """Instrumentations record URLs as start attributes (httpx, botocore)."""

        def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
            _scrub(span)

        def on_end(self, span: ReadableSpan) -> None:
            return None

    return PathScrubber()
