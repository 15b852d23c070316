"""One access-log line per HTTP request, and a trace id on every line logged while it runs.

The line names the route template (`/p/{key}/verify/{token}`), never the raw path: paths
carry portal keys and sign-in tokens. The trace id is the W3C `traceparent` header's when a
caller sent one, else a fresh one; the response returns it as `x-request-id` so that a user's
report or a caller's log leads to the lines of its request.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.plugins import InitPlugin

from portal_kit.observability import TRACE_ID
from portal_kit.tracing import Traced, current_trace_id, traced

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.config.app import AppConfig
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("http.access")

TRACE_HEADER = "x-request-id"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# Probed every few seconds by the orchestrator and the scraper: at INFO they would drown the
# requests people make.
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def trace_id_of(traceparent: str | None) -> str:
    """The caller's trace id when `traceparent` is valid W3C (all-zero ids are invalid),
    otherwise a new random one."""
    value = (traceparent or "").strip().lower()
    match = _TRACEPARENT.match(value)
    if match and not value.startswith("ff") and match.group("trace") != "0" * 32:
        return match.group("trace")
    return secrets.token_hex(16)


def route_template(scope: Scope) -> str | None:
    """The matched route's template (`/p/{key}`); None when no route matched (404, 405).
    Litestar's router sets it in the scope once a route matched."""
    template = scope.get("path_template")
    return str(template) if template else None


class AccessLogMiddleware:
    """Plain ASGI: it wraps the whole application, so that requests no route matched (404,
    405) and errors raised by routing are logged too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        headers = dict(scope["headers"])
        # With tracing on, the served-request span's (itself continuing the caller's).
        trace_id = current_trace_id() or trace_id_of(
            headers.get(b"traceparent", b"").decode("latin-1") or None
        )
        token = TRACE_ID.set(trace_id)
        status = 500  # what the server answers when the application raises
        started = time.perf_counter()

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [(TRACE_HEADER.encode(), trace_id.encode())]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            route = route_template(scope)
            log.log(
                logging.DEBUG if route in _PROBES else logging.INFO,
                "%s %s %s",
                method,
                route or "(no route)",
                status,
                extra={
                    "http_method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            TRACE_ID.reset(token)


def _wrap(app: Litestar) -> None:
    if not isinstance(app.asgi_handler, AccessLogMiddleware | Traced):
        app.asgi_handler = traced(AccessLogMiddleware(app.asgi_handler))


class AccessLog(InitPlugin):
    """`Litestar(plugins=[AccessLog()])`. Litestar's `middleware=` runs only for matched
    routes, and no plugin hook reaches the application's ASGI handler, so the middleware is
    put around it at startup: before the first request, and only once."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.on_startup.append(_wrap)
        return app_config
