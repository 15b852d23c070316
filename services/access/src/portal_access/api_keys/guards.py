"""The HTTP edge of caller authentication, built by the composition root (`app.py`):
a `who` dependency for the admin API and a guard for the internal API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from portal_access.api_keys.models import Principal
from portal_access.api_keys.service import CallerService

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def admin_principal(callers: CallerService) -> Callable[..., Awaitable[Principal]]:
    async def who(request: Request[Any, Any, Any]) -> Principal:
        return await callers.admin_principal(
            request.headers.get("authorization"),
            request.headers.get("x-tenant-id"),
            request.headers.get("x-actor"),
        )

    return who


def internal_only(callers: CallerService) -> Guard:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        callers.require_internal(connection.headers.get("authorization"))

    return guard
