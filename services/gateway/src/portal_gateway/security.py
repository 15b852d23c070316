"""Browser-facing protections: security headers, the session cookie, who is signed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from litestar import Response
from litestar.datastructures import Cookie, Headers
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    BeforeMessageSendHookHandler,
    Message,
    Receive,
    Scope,
    Send,
)

from portal_gateway.clients.models import Session

SESSION_COOKIE = "portal_session"
# Which portal the browser last signed in to: lets an expired session land on that
# portal's sign-in page instead of a dead end. Not a credential (the portal link is shared).
PORTAL_COOKIE = "portal_key"


def security_headers(environment: str) -> dict[str, str]:
    """Headers on every response.

    Logos are third-party images on https (plain http only in local dev); everything else,
    scripts included, comes from our own origin, so no inline script can run.
    """
    img = "'self' https: data:" + (" http:" if environment == "local" else "")
    csp = "; ".join(
        (
            "default-src 'self'",
            f"img-src {img}",
            "style-src 'self'",
            "script-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )
    headers = {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        # Verification and preview links carry secrets in their path: never leak them.
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "cross-origin-opener-policy": "same-origin",
    }
    if environment != "local":
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return headers


# The API docs pages (api_docs.routes) run the vendored Redoc bundle, still from our own origin
# only. Redoc (styled-components) injects <style> elements at run time and runs its search
# index in a Web Worker built from a blob: URL; nothing else is relaxed, and those pages hold
# no form, no customer data and no inline script.
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self' 'unsafe-inline'",
        "script-src 'self'",
        "worker-src blob:",
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)

# Browsers keep what they may store: Back after sign-out must not show billing data, and
# sign-in pages carry tokens in their forms. Static assets are the only cacheable answers.
NO_STORE = (b"cache-control", b"no-store")
STATIC_PREFIX = "/static/"


def security_headers_hook(environment: str) -> BeforeMessageSendHookHandler:
    """A `before_send` hook: it sees every response the app sends, including the router's
    own 404/405, CSRF refusals and error pages, which no route middleware wraps."""
    encoded = [(k.encode(), v.encode()) for k, v in security_headers(environment).items()]

    async def add_headers(message: Message, scope: Scope) -> None:
        if scope["type"] != ScopeType.HTTP or message["type"] != "http.response.start":
            return
        headers = list(message.get("headers", []))
        present = {bytes(name).lower() for name, _ in headers}
        headers.extend((k, v) for k, v in encoded if k not in present)
        if NO_STORE[0] not in present and not scope["path"].startswith(STATIC_PREFIX):
            headers.append(NO_STORE)
        message["headers"] = headers

    return add_headers


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _host(scheme: str, netloc: str) -> str:
    host = netloc.strip().lower()
    port = _DEFAULT_PORTS.get(scheme)
    return host.removesuffix(f":{port}") if port else host


def cross_site(
    method: str, host: str | None, origin: str | None, fetch_site: str | None, bearer: bool
) -> bool:
    """True for a state-changing request a browser sent from another site.

    Cookie-authenticated requests only: a bearer credential (the admin edge's API clients) is
    never attached by a browser on its own. `Sec-Fetch-Site` (set by the browser, never by a
    page) decides when present: `cross-site` and `same-site` (a sibling subdomain is not the
    portal) are refused. `Origin` is compared with the `Host` the request was sent to; an
    `Origin: null` says nothing (our `Referrer-Policy: no-referrer` makes browsers send it on
    the portal's own forms). Without either header (curl, server-side clients, old browsers)
    the CSRF token remains the protection."""
    if method.upper() not in STATE_CHANGING or bearer:
        return False
    if fetch_site is not None and fetch_site.strip().lower() in ("cross-site", "same-site"):
        return True
    if origin is None or origin.strip().lower() == "null":
        return False
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc or host is None:
        return True
    return _host(parts.scheme, parts.netloc) != _host(parts.scheme, host)


def cross_site_guard(refusal: Callable[[], Exception]) -> type:
    """Middleware refusing `cross_site` requests before any handler (or CSRF check) runs:
    `refusal()` is raised, so the one error mapping answers it (page or JSON)."""

    class CrossSiteGuard:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP:
                headers = Headers.from_scope(scope)
                if cross_site(
                    scope["method"],
                    headers.get("host"),
                    headers.get("origin"),
                    headers.get("sec-fetch-site"),
                    bearer="authorization" in headers,
                ):
                    raise refusal()
            await self.app(scope, receive, send)

    return CrossSiteGuard


def session_cookies(session: Session, portal_key: str, secure: bool) -> list[Cookie]:
    max_age: int | None = None
    try:
        expires = datetime.fromisoformat(session.expires_at.replace("Z", "+00:00"))
        max_age = max(0, int((expires - datetime.now(UTC)).total_seconds()))
    except ValueError:
        max_age = None
    common = {"httponly": True, "secure": secure, "samesite": "lax", "path": "/"}
    return [
        Cookie(key=SESSION_COOKIE, value=session.session_token, max_age=max_age, **common),  # type: ignore[arg-type]
        Cookie(key=PORTAL_COOKIE, value=portal_key, max_age=400 * 86400, **common),  # type: ignore[arg-type]
    ]


def clear_session_cookie(response: Response[Any], secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


_PORTAL_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


def portal_key_cookie(cookies: Mapping[str, str]) -> str | None:
    """The remembered portal key, only if it looks like one: it is put into redirects."""
    key = cookies.get(PORTAL_COOKIE)
    return key if key and _PORTAL_KEY.fullmatch(key) else None
