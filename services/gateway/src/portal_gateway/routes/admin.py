"""The admin API edge: /api/admin/v1/* forwarded to access unchanged.

Authentication is access's job (admin API key or internal token + tenant); the gateway only
relays, through a client WITHOUT the internal token, so a forwarded request carries exactly
the caller's credentials and nothing of the gateway's.
"""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Request, Response, route
from litestar.enums import HttpMethod

from portal_gateway.deps import Gateway

_FORWARDED_REQUEST_HEADERS = ("authorization", "content-type", "accept", "idempotency-key")
_FORWARDED_RESPONSE_HEADERS = ("content-type", "location", "retry-after", "etag")
MAX_BODY = 1024 * 1024


@route(
    ["/api/admin/v1", "/api/admin/v1/{rest:path}"],
    http_method=[
        HttpMethod.GET,
        HttpMethod.POST,
        HttpMethod.PUT,
        HttpMethod.PATCH,
        HttpMethod.DELETE,
    ],
    include_in_schema=False,
    opt={"exclude_from_csrf": True},
)
async def admin_edge(request: Request[Any, Any, Any], gateway: Gateway) -> Response[bytes]:
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(
            b'{"error":"too_large","message":"The request body is too large."}',
            status_code=413,
            media_type="application/json",
        )
    headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARDED_REQUEST_HEADERS}
    headers["x-forwarded-for"] = request.client.host if request.client else ""
    try:
        upstream = await gateway.admin_http.request(
            request.method,
            request.url.path,
            params=list(request.query_params.multi_items()),
            content=body,
            headers=headers,
        )
    except httpx.HTTPError:
        return Response(
            b'{"error":"unavailable","message":"The admin API is unavailable, try again."}',
            status_code=503,
            media_type="application/json",
        )
    out = {k: v for k, v in upstream.headers.items() if k.lower() in _FORWARDED_RESPONSE_HEADERS}
    return Response(upstream.content, status_code=upstream.status_code, headers=out)
