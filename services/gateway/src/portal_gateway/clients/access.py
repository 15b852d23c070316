"""The ONE HTTP client of access: portals, sign-in and sessions for customers; staff links,
account overviews and the admin API for the staff console; the raw relay of the admin edge.

`internal` carries the gateway's internal token; `plain` carries no credentials: with it a
call holds exactly the caller's own (an admin API key), nothing of the gateway's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import httpx
from pydantic import BaseModel

from portal_gateway.clients.http import RefusedError, call, decode, quote_segment, refused
from portal_gateway.clients.models import (
    AccountPortals,
    AdminPortal,
    AdminSessions,
    AuditLog,
    Forwarded,
    Grant,
    PortalInfo,
    PreviewLink,
    Session,
    SigninPending,
    ValidatedSession,
)
from portal_gateway.errors import NotFoundError, StaffNotSignedInError, UpstreamError
from portal_kit.errors import UnavailableError

NOT_FOUND = "We could not find that."
SERVICE = "access"


class _SigninRequest(BaseModel):
    portal_key: str
    email: str
    client_ip: str


class _Token(BaseModel):
    token: str


class _Code(BaseModel):
    pending_id: str
    code: str


class _Preview(BaseModel):
    preview_token: str


class _SessionToken(BaseModel):
    session_token: str


class _StaffLink(BaseModel):
    params: dict[str, str]
    consume: bool


class Enabled(BaseModel):
    enabled: bool


class NewRule(BaseModel):
    kind: str
    value: str


class StaffCredentials(Protocol):
    """Who calls the admin API: the staff member's own admin API key (local dev sign-in), or
    the gateway's internal token on behalf of `actor` in `tenant_id` (a `StaffSession`)."""

    @property
    def tenant_id(self) -> str | None: ...
    @property
    def actor(self) -> str: ...
    @property
    def api_key(self) -> str | None: ...
    @property
    def idempotency_key(self) -> str | None:
        """The submitted form's key: access runs a change once per key (None for reads)."""


class AccessClient:
    def __init__(self, internal: httpx.AsyncClient, plain: httpx.AsyncClient) -> None:
        self.internal = internal
        self.plain = plain

    # --- customers ---------------------------------------------------------------------

    async def portal(self, portal_key: str) -> PortalInfo:
        path = f"/internal/v1/portals/{quote_segment(portal_key)}"
        response = await call(self.internal, SERVICE, "GET", path)
        if response.status_code == 404:
            raise NotFoundError(NOT_FOUND)
        return decode(response, PortalInfo, SERVICE)

    async def request_signin(self, portal_key: str, email: str, client_ip: str) -> SigninPending:
        """Raises RefusedError (400/422/429, 429 with `retry_after_seconds`)."""
        body = _SigninRequest(portal_key=portal_key, email=email, client_ip=client_ip)
        response = await self._internal("POST", "/internal/v1/signin/request", body)
        if response.status_code == 404:
            raise NotFoundError(NOT_FOUND)
        if response.status_code in (400, 422, 429):
            raise refused(response)
        return decode(response, SigninPending, SERVICE)

    async def verify_link(self, token: str) -> Session:
        return await self._redeem("/internal/v1/signin/verify", _Token(token=token))

    async def verify_code(self, pending_id: str, code: str) -> Session:
        body = _Code(pending_id=pending_id, code=code)
        return await self._redeem("/internal/v1/signin/verify", body)

    async def redeem_preview(self, preview_token: str) -> Session:
        body = _Preview(preview_token=preview_token)
        return await self._redeem("/internal/v1/preview/redeem", body)

    async def validate(self, session_token: str) -> Session | None:
        body = _SessionToken(session_token=session_token)
        response = await self._internal("POST", "/internal/v1/sessions/validate", body)
        if response.status_code == 401:
            return None
        return decode(response, ValidatedSession, SERVICE).with_token(session_token)

    async def signout(self, session_token: str) -> None:
        body = _SessionToken(session_token=session_token)
        response = await self._internal("POST", "/internal/v1/sessions/signout", body)
        if response.status_code not in (204, 200, 401):
            raise UpstreamError(f"signout answered {response.status_code}")

    async def healthy(self) -> bool:
        return (await self.internal.get("/healthz")).status_code == 200

    async def _redeem(self, path: str, body: BaseModel) -> Session:
        response = await self._internal("POST", path, body)
        if response.status_code in (400, 404, 410, 422, 429):
            raise refused(response)
        return decode(response, Session, SERVICE)

    async def _internal(
        self, method: str, path: str, body: BaseModel | None = None
    ) -> httpx.Response:
        return await call(self.internal, SERVICE, method, path, json=body)

    # --- staff console -----------------------------------------------------------------

    async def redeem_staff_link(self, params: dict[str, str], *, consume: bool) -> Grant:
        """Verifies a staff link; with consume=False only checks it (the confirmation page),
        so a link previewer fetching the GET cannot use up the single-use link."""
        body = _StaffLink(params=params, consume=consume)
        response = await self._internal("POST", "/internal/v1/staff-links/redeem", body)
        if response.status_code in (400, 403, 404, 410, 422):
            raise refused(response)
        return decode(response, Grant, SERVICE)

    async def account_portals(self, tenant_id: str, account_id: str) -> AccountPortals:
        tenant, account = quote_segment(tenant_id), quote_segment(account_id)
        path = f"/internal/v1/tenants/{tenant}/accounts/{account}/portals"
        response = await self._internal("GET", path)
        if response.status_code == 404:
            raise NotFoundError(NOT_FOUND)
        return decode(response, AccountPortals, SERVICE)

    async def admin_portal(self, staff: StaffCredentials, bill_group_id: str) -> AdminPortal:
        response = await self._admin(staff, "GET", bill_group_id)
        return decode(response, AdminPortal, SERVICE)

    async def admin_switch(
        self, staff: StaffCredentials, bill_group_id: str, enabled: bool
    ) -> AdminPortal:
        response = await self._admin(staff, "PUT", bill_group_id, body=Enabled(enabled=enabled))
        return decode(response, AdminPortal, SERVICE)

    async def admin_add_rule(
        self, staff: StaffCredentials, bill_group_id: str, rule: NewRule
    ) -> None:
        await self._admin(staff, "POST", bill_group_id, "/rules", rule)

    async def admin_remove_rule(
        self, staff: StaffCredentials, bill_group_id: str, rule_id: str
    ) -> None:
        await self._admin(staff, "DELETE", bill_group_id, f"/rules/{quote_segment(rule_id)}")

    async def admin_rotate_link(self, staff: StaffCredentials, bill_group_id: str) -> None:
        await self._admin(staff, "POST", bill_group_id, "/link/rotate")

    async def admin_preview(self, staff: StaffCredentials, bill_group_id: str) -> PreviewLink:
        response = await self._admin(staff, "POST", bill_group_id, "/preview")
        return decode(response, PreviewLink, SERVICE)

    async def admin_sessions(self, staff: StaffCredentials, bill_group_id: str) -> AdminSessions:
        response = await self._admin(staff, "GET", bill_group_id, "/sessions")
        return decode(response, AdminSessions, SERVICE)

    async def admin_revoke_sessions(
        self, staff: StaffCredentials, bill_group_id: str, session_id: str | None = None
    ) -> None:
        suffix = "/sessions" if session_id is None else f"/sessions/{quote_segment(session_id)}"
        await self._admin(staff, "DELETE", bill_group_id, suffix)

    async def admin_audit(self, staff: StaffCredentials, bill_group_id: str) -> AuditLog:
        response = await self._admin(staff, "GET", bill_group_id, "/audit")
        return decode(response, AuditLog, SERVICE)

    async def _admin(
        self,
        staff: StaffCredentials,
        method: str,
        bill_group_id: str,
        suffix: str = "",
        body: BaseModel | None = None,
    ) -> httpx.Response:
        """One admin API call as the staff member; access audits it under `staff.actor`."""
        path = f"/api/admin/v1/bill-groups/{quote_segment(bill_group_id)}/portal{suffix}"
        if staff.api_key is not None:
            client = self.plain
            headers = {"Authorization": f"Bearer {staff.api_key}"}
        else:
            client = self.internal
            headers = {"X-Tenant-Id": staff.tenant_id or "", "X-Actor": staff.actor}
        if staff.idempotency_key is not None:
            headers["Idempotency-Key"] = staff.idempotency_key
        response = await call(client, SERVICE, method, path, json=body, headers=headers)
        if response.status_code == 404:
            raise NotFoundError(NOT_FOUND)
        if response.status_code == 401:
            raise StaffNotSignedInError
        if response.status_code in (400, 403, 409, 410, 422, 429):
            raise refused(response)
        if response.status_code >= 300:
            raise UpstreamError(f"access {path} -> {response.status_code}")
        return response

    # --- the admin edge ----------------------------------------------------------------

    async def forward_admin(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]],
        content: bytes,
        headers: dict[str, str],
    ) -> Forwarded:
        """Relays one admin API request with the caller's credentials only (`plain`)."""
        try:
            response = await self.plain.request(
                method, path, params=list(params), content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise UnavailableError("The admin API is unavailable, try again.") from exc
        return Forwarded(response.status_code, dict(response.headers.items()), response.content)


__all__ = ["AccessClient", "NewRule", "RefusedError", "StaffCredentials"]
