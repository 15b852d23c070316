"""HTTP clients of access and billing-view, exactly as docs/internal-apis.md specifies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx


class UpstreamError(RuntimeError):
    """A dependency answered in a way the contract does not allow, or not at all."""


class NotFoundError(LookupError):
    """The object does not exist for this tenant and bill group (or at all)."""


@dataclass(frozen=True)
class ApiError(Exception):
    """A contract-defined refusal: the status and `{error, ...}` body, for the caller to map."""

    status: int
    error: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Portal:
    tenant_id: str
    bill_group_id: str
    usable: bool
    reason: str | None


@dataclass(frozen=True)
class Session:
    session_token: str
    tenant_id: str
    bill_group_id: str
    email: str
    read_only: bool
    expires_at: str


def quote_segment(value: str) -> str:
    """Path segments from users or sessions are quoted so they cannot add path parts."""
    return quote(value, safe="")


def json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise UpstreamError(f"{response.request.url.path}: not JSON") from exc
    if not isinstance(body, dict):
        raise UpstreamError(f"{response.request.url.path}: not a JSON object")
    return body


def _refusal(response: httpx.Response) -> ApiError:
    body = json_object(response)
    return ApiError(response.status_code, str(body.get("error", "error")), body)


def _session(body: dict[str, Any], token: str) -> Session:
    try:
        return Session(
            session_token=token,
            tenant_id=str(body["tenant_id"]),
            bill_group_id=str(body["bill_group_id"]),
            email=str(body["email"]),
            read_only=bool(body["read_only"]),
            expires_at=str(body["expires_at"]),
        )
    except KeyError as exc:
        raise UpstreamError(f"session answer without {exc}") from exc


class AccessClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def portal(self, portal_key: str) -> Portal:
        response = await self._call("GET", f"/internal/v1/portals/{quote_segment(portal_key)}")
        if response.status_code == 404:
            raise NotFoundError("portal")
        body = self._ok(response)
        return Portal(
            str(body["tenant_id"]),
            str(body["bill_group_id"]),
            bool(body["usable"]),
            body.get("reason"),
        )

    async def request_signin(self, portal_key: str, email: str, client_ip: str) -> str:
        """Returns the pending id; raises ApiError(429) with `retry_after_seconds`."""
        response = await self._call(
            "POST",
            "/internal/v1/signin/request",
            {"portal_key": portal_key, "email": email, "client_ip": client_ip},
        )
        if response.status_code == 404:
            raise NotFoundError("portal")
        if response.status_code in (400, 422, 429):
            raise _refusal(response)
        return str(self._ok(response)["pending_id"])

    async def verify_link(self, token: str) -> Session:
        return await self._redeem("/internal/v1/signin/verify", {"token": token})

    async def verify_code(self, pending_id: str, code: str) -> Session:
        return await self._redeem(
            "/internal/v1/signin/verify", {"pending_id": pending_id, "code": code}
        )

    async def redeem_preview(self, preview_token: str) -> Session:
        return await self._redeem("/internal/v1/preview/redeem", {"preview_token": preview_token})

    async def validate(self, session_token: str) -> Session | None:
        response = await self._call(
            "POST", "/internal/v1/sessions/validate", {"session_token": session_token}
        )
        if response.status_code == 401:
            return None
        return _session(self._ok(response), session_token)

    async def signout(self, session_token: str) -> None:
        response = await self._call(
            "POST", "/internal/v1/sessions/signout", {"session_token": session_token}
        )
        if response.status_code not in (204, 200, 401):
            raise UpstreamError(f"signout answered {response.status_code}")

    async def healthy(self) -> bool:
        return (await self.http.get("/healthz")).status_code == 200

    async def _redeem(self, path: str, body: dict[str, str]) -> Session:
        response = await self._call("POST", path, body)
        if response.status_code in (400, 404, 410, 422, 429):
            raise _refusal(response)
        data = self._ok(response)
        return _session(data, str(data["session_token"]))

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        try:
            return await self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"access unreachable: {type(exc).__name__}") from exc

    @staticmethod
    def _ok(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 300:
            raise UpstreamError(f"access {response.request.url.path} -> {response.status_code}")
        return json_object(response)


class BillingViewClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    def _base(self, tenant_id: str, bill_group_id: str) -> str:
        tenant, bill_group = quote_segment(tenant_id), quote_segment(bill_group_id)
        return f"/internal/v1/tenants/{tenant}/bill-groups/{bill_group}"

    async def get(
        self,
        tenant_id: str,
        bill_group_id: str,
        path: str,
        params: dict[str, str | int] | None = None,
    ) -> dict[str, Any]:
        url = self._base(tenant_id, bill_group_id) + path
        try:
            response = await self.http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"billing-view unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            raise NotFoundError(path)
        if response.status_code >= 300:
            raise UpstreamError(f"billing-view {path} -> {response.status_code}")
        return json_object(response)

    async def overview(self, tenant_id: str, bill_group_id: str) -> dict[str, Any]:
        return await self.get(tenant_id, bill_group_id, "/overview")

    async def branding(self, tenant_id: str, bill_group_id: str) -> dict[str, Any]:
        return await self.get(tenant_id, bill_group_id, "/branding")

    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> list[dict[str, Any]]:
        return list((await self.get(tenant_id, bill_group_id, "/subscriptions"))["items"])

    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> list[dict[str, Any]]:
        return list((await self.get(tenant_id, bill_group_id, "/payment-methods"))["items"])

    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> dict[str, Any]:
        return await self.get(
            tenant_id, bill_group_id, f"/payment-methods/{quote_segment(payment_method_id)}"
        )

    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {"limit": limit}
        if status:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        return await self.get(tenant_id, bill_group_id, "/invoices", params)

    async def invoice(self, tenant_id: str, bill_group_id: str, invoice_id: str) -> dict[str, Any]:
        return await self.get(tenant_id, bill_group_id, f"/invoices/{quote_segment(invoice_id)}")

    async def activity(
        self, tenant_id: str, bill_group_id: str, limit: int = 50
    ) -> list[dict[str, Any]]:
        body = await self.get(tenant_id, bill_group_id, "/activity", {"limit": limit})
        return list(body["items"])

    async def change(self, tenant_id: str, bill_group_id: str, change_id: str) -> dict[str, Any]:
        return await self.get(tenant_id, bill_group_id, f"/changes/{quote_segment(change_id)}")

    async def healthy(self) -> bool:
        return (await self.http.get("/healthz")).status_code == 200


def internal_http(base_url: str, token: str, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )
