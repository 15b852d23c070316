"""The ONE composition root: `create_app(settings)` builds the clients of access and
billing-view, the change publisher, the document store and the use cases, hands them to the
routes through `deps.providers`, and maps every typed error in one place (`errors`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from litestar import Litestar, Request, get
from litestar.config.csrf import CSRFConfig
from litestar.di import NamedDependency
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from portal_gateway.admin_edge.routes import admin_edge
from portal_gateway.admin_edge.service import AdminEdge
from portal_gateway.api_docs.documents import portal_openapi_config
from portal_gateway.api_docs.routes import api_docs_routes
from portal_gateway.clients.access import AccessClient
from portal_gateway.clients.billing import BillingViewClient
from portal_gateway.clients.changes import ChangePublisher
from portal_gateway.clients.documents import DocumentStore
from portal_gateway.clients.http import internal_http
from portal_gateway.clients.sessions import SessionCache
from portal_gateway.deps import Services, providers
from portal_gateway.dev_mailbox.routes import dev_mailbox
from portal_gateway.errors import CrossSiteError, error_handlers, log_unexpected
from portal_gateway.portal.domain.change_ids import ChangeIds
from portal_gateway.portal.domain.change_ids import derive_key as change_id_key
from portal_gateway.portal.domain.vault import PaymentVault, SandboxVault
from portal_gateway.portal.routes.api import PortalApi
from portal_gateway.portal.routes.pages import PortalPages
from portal_gateway.portal.service import PortalService
from portal_gateway.security import cross_site_guard, security_headers_hook
from portal_gateway.settings import Settings, StaffSettings
from portal_gateway.signin.routes import SigninController
from portal_gateway.signin.service import SigninService
from portal_gateway.staff.domain import derive_key
from portal_gateway.staff.routes import StaffCookies, StaffPages
from portal_gateway.staff.service import StaffConsole
from portal_gateway.web import page
from portal_kit.access_log import AccessLog
from portal_kit.metrics import Metrics
from portal_kit.ops import ops_routes

HERE = Path(__file__).parent
R = Request[Any, Any, Any]


@get("/", include_in_schema=False)
async def home(request: R, settings: NamedDependency[Settings]) -> Template:
    return page(request, settings, "home.html")


@get("/signed-out", include_in_schema=False)
async def signed_out(request: R, settings: NamedDependency[Settings]) -> Template:
    return page(request, settings, "home.html", signed_out=True)


def templates() -> Environment:
    """Litestar's own Jinja setup (autoescape on), without checking every template file's
    modification time on each render: templates change only with a deploy."""
    loader = FileSystemLoader(HERE / "templates")
    return Environment(loader=loader, autoescape=True, auto_reload=False)


def create_app(
    settings: NamedDependency[Settings] | None = None, vault: PaymentVault | None = None
) -> Litestar:
    settings = settings or Settings()
    timeout = settings.upstream_timeout_seconds
    token = settings.internal_api_token
    access_http = internal_http(settings.access_url, token, timeout, upstream="access")
    # No credentials: admin API calls carry exactly the caller's own (edge, dev sign-in).
    plain_http = internal_http(settings.access_url, None, timeout, upstream="access")
    billing_http = internal_http(settings.billing_view_url, token, timeout, upstream="billing-view")
    access = AccessClient(access_http, plain_http)
    sessions = SessionCache(access, settings.session_cache_seconds)
    billing = BillingViewClient(billing_http)
    publisher = ChangePublisher(settings)
    staff_settings = StaffSettings()
    services = Services(
        settings=settings,
        access=access,
        sessions=sessions,
        signin=SigninService(
            access, billing, sessions, recent_seconds=settings.session_cache_seconds
        ),
        portal=PortalService(
            billing,
            publisher,
            vault or SandboxVault(),
            DocumentStore(settings),
            settings.change_visible_wait_seconds,
            keys=billing,
            change_ids=ChangeIds(change_id_key(settings.csrf_secret)),
        ),
        staff_console=StaffConsole(access),
        staff_cookies=StaffCookies(
            key=derive_key(settings.csrf_secret),
            idle_seconds=staff_settings.staff_session_idle_minutes * 60,
            max_seconds=staff_settings.staff_session_max_hours * 3600,
            secure=settings.cookie_secure,
            sign_in_page_enabled=settings.environment == "local",
        ),
        admin=AdminEdge(access),
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        # Connects in the background (bounded wait for the first attempt): pages serve with
        # Kafka away, changes are refused until it answers.
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()
            for client in (access_http, plain_http, billing_http):
                await client.aclose()

    route_handlers: list[Any] = [
        home,
        signed_out,
        SigninController,
        PortalPages,
        PortalApi,
        admin_edge,
        *api_docs_routes,
        StaffPages,
        create_static_files_router(path="/static", directories=[HERE / "static"]),
        # Ready = this process serves its pages: a dependency away is reported ("degraded")
        # but never takes every gateway out of the ingress (its errors are branded pages).
        *ops_routes(
            {"access": access.healthy, "billing_view": billing.healthy, "kafka": publisher.ping},
            required=(),
        ),
    ]
    if settings.dev_mailbox_enabled:
        route_handlers.append(dev_mailbox)

    return Litestar(
        plugins=[AccessLog(), Metrics("gateway", "portal-gateway")],
        route_handlers=route_handlers,
        lifespan=[lifespan],
        dependencies=providers(services),
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(templates())),
        csrf_config=CSRFConfig(
            secret=settings.csrf_secret,
            cookie_name="csrftoken",
            header_name="x-csrftoken",
            cookie_secure=settings.cookie_secure,
            cookie_samesite="lax",
        ),
        openapi_config=portal_openapi_config(),
        exception_handlers=error_handlers(settings),
        middleware=[cross_site_guard(CrossSiteError)],
        before_send=[security_headers_hook(settings.environment)],
        # Logs are configured once by the CLI (JSON lines), not by Litestar.
        logging_config=None,
        after_exception=[log_unexpected],
        debug=False,
    )
