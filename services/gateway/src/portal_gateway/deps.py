"""Dependency injection, one style: every collaborator is a Litestar `Provide` built once by
the composition root (`app.py`); handlers name what they need (`portal: PortalService`,
`session: Session`, ...) and nothing is read from `request.app.state`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from portal_gateway.admin_edge.service import AdminEdge
from portal_gateway.clients.access import AccessClient
from portal_gateway.clients.models import Session
from portal_gateway.clients.sessions import SessionCache
from portal_gateway.errors import NotSignedInError
from portal_gateway.portal.service import PortalService
from portal_gateway.security import SESSION_COOKIE, portal_key_cookie
from portal_gateway.settings import Settings
from portal_gateway.signin.service import SigninService
from portal_gateway.staff.routes import StaffCookies, provide_staff
from portal_gateway.staff.service import StaffConsole


@dataclass(frozen=True)
class Services:
    """What the composition root made, handed to `providers` once."""

    settings: Settings
    access: AccessClient
    sessions: SessionCache
    signin: SigninService
    portal: PortalService
    staff_console: StaffConsole
    staff_cookies: StaffCookies
    admin: AdminEdge


async def current_session(
    request: Request[Any, Any, Any], sessions: NamedDependency[SessionCache]
) -> Session:
    """The signed-in customer, validated at access (idle + absolute expiry, server-side
    revocation) at most `SESSION_CACHE_SECONDS` ago by this process; NotSignedInError
    otherwise."""
    cookies: Mapping[str, str] = request.cookies
    portal_key = portal_key_cookie(cookies)
    token = cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedInError(portal_key, "signed_out")
    session = await sessions.validate(token)
    if session is None:
        raise NotSignedInError(portal_key, "expired")
    return session


def _value(value: object) -> Provide:
    """A collaborator made once: every request gets the same instance."""
    return Provide(lambda: value, use_cache=True, sync_to_thread=False)


def providers(services: Services) -> dict[str, Provide]:
    return {
        "settings": _value(services.settings),
        "access": _value(services.access),
        "sessions": _value(services.sessions),
        "signin": _value(services.signin),
        "portal": _value(services.portal),
        "console": _value(services.staff_console),
        "staff_cookies": _value(services.staff_cookies),
        "admin": _value(services.admin),
        "session": Provide(current_session),
        "staff": Provide(provide_staff, sync_to_thread=False),
    }
