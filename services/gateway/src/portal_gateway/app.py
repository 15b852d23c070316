"""Composition root: the gateway's Litestar app with its clients, publisher and protections."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import Scope

from portal_gateway.changes import ChangePublisher, PublishError
from portal_gateway.clients import (
    AccessClient,
    BillingViewClient,
    NotFoundError,
    UpstreamError,
    internal_http,
)
from portal_gateway.deps import Gateway, provide_gateway, provide_session
from portal_gateway.documents import DocumentStore
from portal_gateway.domain.vault import PaymentVault, SandboxVault
from portal_gateway.portal import FormInvalidError, PortalService
from portal_gateway.routes.admin import admin_edge
from portal_gateway.routes.api import PortalApi
from portal_gateway.routes.dev import dev_mailbox
from portal_gateway.routes.pages import PortalPages
from portal_gateway.routes.signin import SigninController
from portal_gateway.security import (
    NotSignedInError,
    ReadOnlySessionError,
    security_headers_middleware,
)
from portal_gateway.settings import Settings
from portal_gateway.staff.routes import StaffPages
from portal_gateway.web import page
from portal_kit.ops import ops_routes

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
OPENAPI_PATH = "/api/portal/v1/docs"  # serves openapi.json and openapi.yaml
R = Request[Any, Any, Any]


def _wants_json(request: R) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: R, status: int, code: str, message: str) -> Response[Any]:
    if _wants_json(request):
        return Response({"error": code, "message": message}, status_code=status)
    settings: Settings = request.app.state.gateway.settings
    template = page(request, settings, "error.html", status, status=status, message=message)
    return template


def _not_signed_in(request: R, exc: NotSignedInError) -> Response[Any]:
    if _wants_json(request):
        return Response(
            {"error": "not_signed_in", "message": "Sign in through your portal link."},
            status_code=401,
        )
    reason = "expired" if exc.reason == "expired" else "signed_out"
    target = f"/p/{exc.portal_key}?reason={reason}" if exc.portal_key else "/signed-out"
    return Redirect(target, status_code=303)


def _upstream_failed(request: R, exc: UpstreamError) -> Response[Any]:
    log.warning("dependency failed", extra={"detail": str(exc), "route": request.url.path})
    return _error(
        request, 503, "unavailable", "The portal is busy right now. Please try again shortly."
    )


def _exception_handlers() -> dict[int | type[Exception], Any]:
    return {
        NotSignedInError: _not_signed_in,
        ReadOnlySessionError: lambda r, _: _error(
            r, 403, "read_only", "This is a preview: changes are not possible."
        ),
        NotFoundError: lambda r, _: _error(r, 404, "not_found", "We could not find that."),
        FormInvalidError: lambda r, e: Response(
            {"error": "invalid", "message": "Check the highlighted fields.", "fields": e.errors},
            status_code=422,
        ),
        PublishError: lambda r, _: _error(
            r,
            503,
            "not_saved",
            "We could not save your change, and nothing was changed. Please try again.",
        ),
        UpstreamError: _upstream_failed,
    }


def _html_http_error(request: R, exc: HTTPException) -> Response[Any]:
    message = {
        403: "This form has expired. Go back, reload the page and try again.",
        404: "We could not find that page.",
        405: "That is not possible here.",
    }.get(exc.status_code, "Something went wrong.")
    if _wants_json(request):
        return Response(
            {"error": "http_error", "message": str(exc.detail)}, status_code=exc.status_code
        )
    return _error(request, exc.status_code, "http_error", message)


_EXPECTED = (
    HTTPException,
    NotSignedInError,
    ReadOnlySessionError,
    NotFoundError,
    FormInvalidError,
    PublishError,
    UpstreamError,
)


async def _log_unexpected(exc: Exception, scope: Scope) -> None:
    # Litestar's own logging is off (JSON logs come from configure_logging): 500s are
    # recorded here, with the route but never the query string or body.
    if not isinstance(exc, _EXPECTED):
        log.error("unhandled error", exc_info=exc, extra={"route": scope.get("path", "")})


@get("/", include_in_schema=False)
async def home(request: R, gateway: Gateway) -> Template:
    return page(request, gateway.settings, "home.html")


@get("/signed-out", include_in_schema=False)
async def signed_out(request: R, gateway: Gateway) -> Template:
    return page(request, gateway.settings, "home.html", signed_out=True)


def create_app(settings: Settings | None = None, vault: PaymentVault | None = None) -> Litestar:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        timeout = settings.upstream_timeout_seconds
        token = settings.internal_api_token
        access_http = internal_http(settings.access_url, token, timeout)
        billing_http = internal_http(settings.billing_view_url, token, timeout)
        admin_http = httpx.AsyncClient(base_url=settings.access_url, timeout=timeout)
        publisher = ChangePublisher(settings)
        billing = BillingViewClient(billing_http)
        app.state.gateway = Gateway(
            settings=settings,
            access=AccessClient(access_http),
            billing=billing,
            portal=PortalService(settings, billing, publisher, vault or SandboxVault()),
            documents=DocumentStore(settings),
            publisher=publisher,
            admin_http=admin_http,
        )
        try:
            await publisher.start()
        except Exception as exc:  # noqa: BLE001 - pages still serve; /readyz reports Kafka
            log.warning("kafka not reachable at start", extra={"error_type": type(exc).__name__})
        try:
            yield
        finally:
            await publisher.stop()
            for client in (access_http, billing_http, admin_http):
                await client.aclose()

    async def access_ready() -> bool:
        gateway: Gateway = app.state.gateway
        return await gateway.access.healthy()

    async def billing_ready() -> bool:
        gateway: Gateway = app.state.gateway
        return await gateway.billing.healthy()

    async def kafka_ready() -> bool:
        gateway: Gateway = app.state.gateway
        return await gateway.publisher.ping()

    route_handlers: list[Any] = [
        home,
        signed_out,
        SigninController,
        PortalPages,
        PortalApi,
        admin_edge,
        StaffPages,
        create_static_files_router(path="/static", directories=[HERE / "static"]),
        *ops_routes({"access": access_ready, "billing_view": billing_ready, "kafka": kafka_ready}),
    ]
    if settings.dev_mailbox_enabled:
        route_handlers.append(dev_mailbox)

    prometheus = PrometheusConfig(
        app_name="portal_gateway",
        group_path=True,
        exclude=["/metrics", "/healthz", "/readyz", "/static"],
    )
    app = Litestar(
        route_handlers=route_handlers,
        lifespan=[lifespan],
        dependencies={
            "gateway": Provide(provide_gateway, sync_to_thread=False),
            "session": Provide(provide_session),
        },
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        csrf_config=CSRFConfig(
            secret=settings.csrf_secret,
            cookie_name="csrftoken",
            header_name="x-csrftoken",
            cookie_secure=settings.cookie_secure,
            cookie_samesite="lax",
        ),
        openapi_config=OpenAPIConfig(
            title="Customer portal API",
            version="1.0.0",
            path=OPENAPI_PATH,
            description="The signed-in customer's bill group: reads and changes. "
            "Session cookie from the portal sign-in; mutating calls need the `x-csrftoken` "
            "header set to the `csrftoken` cookie.",
        ),
        exception_handlers={**_exception_handlers(), HTTPException: _html_http_error},
        middleware=[security_headers_middleware(settings.environment), prometheus.middleware],
        # Logs are configured once by the CLI (JSON lines), not by Litestar.
        logging_config=None,
        after_exception=[_log_unexpected],
        debug=False,
    )
    return app
