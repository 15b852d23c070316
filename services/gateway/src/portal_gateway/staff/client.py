"""Calls from the staff console to access: the admin API (on behalf of the staff member) and
the internal staff-link and account endpoints (docs/internal-apis.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from portal_gateway.clients import NotFoundError, UpstreamError, json_object, quote_segment
from portal_gateway.staff.session import Scope, StaffSession


@dataclass(frozen=True)
class RefusedError(Exception):
    """access said no to something the staff member asked; `message` is written for them."""

    status: int
    error: str
    message: str
    body: dict[str, Any]


class CredentialsRejectedError(Exception):
    """access no longer accepts this staff session's credentials (e.g. a revoked API key)."""


@dataclass(frozen=True)
class Grant:
    tenant_id: str
    scope: Scope
    scope_id: str
    staff_email: str


def _refused(response: httpx.Response) -> RefusedError:
    body = json_object(response)
    return RefusedError(
        response.status_code,
        str(body.get("error", "error")),
        str(body.get("message") or "That was refused."),
        body,
    )


class StaffAccessClient:
    """`internal` carries the gateway's internal token; `plain` carries no credentials and is
    used with the staff member's own admin API key (local-dev sign-in only)."""

    def __init__(self, internal: httpx.AsyncClient, plain: httpx.AsyncClient) -> None:
        self.internal = internal
        self.plain = plain

    async def redeem(self, params: dict[str, str], *, consume: bool) -> Grant:
        """Verifies a staff link; with consume=False only checks it (the confirmation page),
        so a link previewer fetching the GET cannot use up the single-use link."""
        response = await self._send(
            self.internal,
            "POST",
            "/internal/v1/staff-links/redeem",
            json={"params": params, "consume": consume},
        )
        if response.status_code in (400, 403, 404, 410, 422):
            raise _refused(response)
        body = self._ok(response)
        try:
            return Grant(
                str(body["tenant_id"]),
                Scope(body["scope"]),
                str(body["scope_id"]),
                str(body["staff_email"]),
            )
        except (KeyError, ValueError) as exc:
            raise UpstreamError("staff-link answer without its grant") from exc

    async def account_portals(self, tenant_id: str, account_id: str) -> dict[str, Any]:
        tenant, account = quote_segment(tenant_id), quote_segment(account_id)
        path = f"/internal/v1/tenants/{tenant}/accounts/{account}/portals"
        response = await self._send(self.internal, "GET", path)
        if response.status_code == 404:
            raise NotFoundError("account")
        return self._ok(response)

    async def admin(
        self,
        session: StaffSession,
        method: str,
        bill_group_id: str,
        suffix: str = "",
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One admin API call as the staff member; access audits it under `session.actor`."""
        path = f"/api/admin/v1/bill-groups/{quote_segment(bill_group_id)}/portal{suffix}"
        if session.api_key is not None:
            client = self.plain
            headers = {"Authorization": f"Bearer {session.api_key}"}
        else:
            client = self.internal
            headers = {"X-Tenant-Id": session.tenant_id or "", "X-Actor": session.actor}
        response = await self._send(client, method, path, json=json, headers=headers)
        if response.status_code == 404:
            raise NotFoundError("bill group")
        if response.status_code == 401:
            raise CredentialsRejectedError
        if response.status_code in (400, 403, 409, 410, 422, 429):
            raise _refused(response)
        if response.status_code == 204:
            return {}
        return self._ok(response)

    @staticmethod
    async def _send(
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await client.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"access unreachable: {type(exc).__name__}") from exc

    @staticmethod
    def _ok(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 300:
            raise UpstreamError(f"access {response.request.url.path} -> {response.status_code}")
        return json_object(response)
