"""The Prometheus metrics every service exports the same way (docs/CONVENTIONS.md, Metrics).

Every name starts with `portal_`. What the kit measures for every service carries a `service`
label (consumer-side metrics carry the consumer `group` instead); what one service alone
measures is named `portal_<service>_…`. Labelled counters whose label values are known are
created at 0 at start (`precreate`): `rate()` of a series that appears with its first event
never fires on that event.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Protocol

from litestar.enums import ScopeType
from litestar.plugins import InitPlugin
from prometheus_client import Counter, Gauge, Histogram

from portal_kit.access_log import route_template

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.config.app import AppConfig
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

BUILD_INFO = Gauge(
    "portal_build_info", "Always 1: the running build", ["service", "version", "python"]
)
HTTP_REQUESTS = Counter(
    "portal_http_requests_total",
    "HTTP requests answered, by route template (never the raw path)",
    ["service", "method", "route", "status_code"],
)
HTTP_SECONDS = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
KAFKA_PUBLISHED = Counter(
    "portal_kafka_published_total",
    "Kafka publishes of a service's producers (outcome: ok | error)",
    ["service", "topic", "outcome"],
)
PUBLISH_OUTCOMES = ("ok", "error")
# Requests no route matched (404, 405): one series, whatever path was asked for.
UNMATCHED = "(unmatched)"


def precreate(counter: Counter, *label_sets: Iterable[str]) -> None:
    """Create the series of every combination given (each a tuple of label values) at 0."""
    for values in label_sets:
        counter.labels(*values)


def precreate_publishes(service: str, topics: Iterable[str]) -> None:
    precreate(KAFKA_PUBLISHED, *((service, t, o) for t in topics for o in PUBLISH_OUTCOMES))


def count_publish(service: str, topic: str, ok: bool) -> None:
    KAFKA_PUBLISHED.labels(service, topic, PUBLISH_OUTCOMES[0] if ok else PUBLISH_OUTCOMES[1]).inc()


def distribution_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


class HttpMetricsMiddleware:
    """Plain ASGI around the whole application (like the access log), so that 404s, 405s
    and errors raised by routing are counted too; the route is the template Litestar's
    router put in the scope, never the path: paths carry portal keys and sign-in tokens."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the application raises
        started = time.perf_counter()

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = route_template(scope) or UNMATCHED
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_SECONDS.labels(self.service, method, route).observe(time.perf_counter() - started)


class Sampler(Protocol):
    """A background task that keeps gauges current (consumer lag, outbox backlog)."""

    def start(self) -> None: ...
    async def stop(self) -> None: ...


class Metrics(InitPlugin):
    """`Litestar(plugins=[Metrics("access", "portal-access", samplers)])`: HTTP metrics,
    `build_info`, and the `samplers` started and stopped with the application."""

    def __init__(self, service: str, distribution: str, samplers: Sequence[Sampler] = ()) -> None:
        self.service = service
        self.samplers = tuple(samplers)
        python = platform.python_version()
        BUILD_INFO.labels(service, distribution_version(distribution), python).set(1)

    def _wrap(self, app: Litestar) -> None:
        if not isinstance(app.asgi_handler, HttpMetricsMiddleware):
            app.asgi_handler = HttpMetricsMiddleware(app.asgi_handler, self.service)

    async def _start(self, _: Litestar) -> None:
        for sampler in self.samplers:
            sampler.start()

    async def _stop(self, _: Litestar) -> None:
        for sampler in self.samplers:
            await sampler.stop()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.on_startup.extend([self._wrap, self._start])
        app_config.on_shutdown.append(self._stop)
        return app_config
