"""What both internal HTTP clients share: the pooled client, one call, one decoder."""

from __future__ import annotations

import time
from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from portal_gateway.clients.models import Refusal
from portal_gateway.clients.pool import pooled_transport
from portal_gateway.errors import UpstreamError
from portal_gateway.metrics import UPSTREAM_REQUESTS, UPSTREAM_SECONDS, status_class
from portal_kit.tracing import forwarded_traceparent

M = TypeVar("M", bound=BaseModel)


class RefusedError(Exception):
    """A contract-defined refusal of access: the status and its typed `{error, ...}` body.
    Never leaves the gateway's services: they turn it into a typed error."""

    def __init__(self, status: int, refusal: Refusal) -> None:
        super().__init__(f"{status} {refusal.error}")
        self.status = status
        self.refusal = refusal


def quote_segment(value: str) -> str:
    """Path segments from users or sessions are quoted so they cannot add path parts."""
    return quote(value, safe="")


class MeteredTransport(httpx.AsyncBaseTransport):
    """Counts every call to `upstream` by status class (or "error": no answer) and times it
    to the answer's headers. Below the client, so that every call is measured, probes too."""

    def __init__(self, inner: httpx.AsyncBaseTransport, upstream: str) -> None:
        self._inner = inner
        self._upstream = upstream

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        outcome = "error"
        try:
            response = await self._inner.handle_async_request(request)
            outcome = status_class(response.status_code)
            return response
        finally:
            UPSTREAM_REQUESTS.labels(self._upstream, outcome).inc()
            UPSTREAM_SECONDS.labels(self._upstream).observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._inner.aclose()


def internal_http(
    base_url: str, token: str | None, timeout: float, *, upstream: str
) -> httpx.AsyncClient:
    """A pooled client of `upstream` ("access", "billing-view"); with `token` it carries the
    gateway's internal bearer token."""
    # Keep-alive: one pool per upstream, connections reused across requests.
    pool = pooled_transport(max_connections=200, max_keepalive=100, keepalive_expiry=30.0)
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"} if token else None,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        transport=MeteredTransport(pool, upstream),
        event_hooks={"request": [forward_trace]},
    )


async def forward_trace(request: httpx.Request) -> None:
    """Access and billing-view log the call under the gateway request's trace id."""
    traceparent = forwarded_traceparent()
    if traceparent is not None:
        request.headers["traceparent"] = traceparent


async def call(
    http: httpx.AsyncClient,
    service: str,
    method: str,
    path: str,
    *,
    json: BaseModel | None = None,
    params: dict[str, str | int] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    try:
        return await http.request(
            method,
            path,
            json=None if json is None else json.model_dump(mode="json"),
            params=params,
            headers=headers,
        )
    except httpx.HTTPError as exc:
        raise UpstreamError(f"{service} unreachable: {type(exc).__name__}") from exc


def decode(response: httpx.Response, model: type[M], service: str) -> M:
    """The body of a 2xx answer as `model`; anything else the contract does not allow."""
    path = response.request.url.path
    if response.status_code >= 300:
        raise UpstreamError(f"{service} {path} -> {response.status_code}")
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamError(f"{service} {path}: not a {model.__name__}") from exc


def refused(response: httpx.Response) -> RefusedError:
    try:
        refusal = Refusal.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamError(f"{response.request.url.path}: refusal not understood") from exc
    return RefusedError(response.status_code, refusal)
