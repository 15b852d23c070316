"""Browser-facing protections: security headers, the session cookie, who is signed in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from litestar import Response
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

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


def security_headers_middleware(environment: str) -> type:
    encoded = [(k.encode(), v.encode()) for k, v in security_headers(environment).items()]

    class SecurityHeaders:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await self.app(scope, receive, send)
                return

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    extra = [(k, v) for k, v in encoded if k not in present]
                    message["headers"] = [*message.get("headers", []), *extra]
                await send(message)

            await self.app(scope, receive, send_with_headers)

    return SecurityHeaders


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
