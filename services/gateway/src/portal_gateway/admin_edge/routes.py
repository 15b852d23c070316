"""The admin API edge route: every method under /api/admin/v1, relayed by `AdminEdge`.
Exempt from CSRF: it is authenticated by bearer credentials, not cookies."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod

from portal_gateway.admin_edge.service import AdminEdge, AdminRequest

URL_SAFE = "/%:@!$&'()*+,;=-._~"  # RFC 3986 path characters and existing escapes


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
async def admin_edge(
    request: Request[Any, Any, Any], admin: NamedDependency[AdminEdge]
) -> Response[bytes]:
    answer = await admin.forward(
        AdminRequest(
            method=request.method,
            # As it arrived (percent-encoded, anything else escaped): the decoded path may hold
            # control characters, which are not a valid URL to relay.
            path=quote(request.scope["raw_path"], safe=URL_SAFE),
            params=list(request.query_params.multi_items()),
            body=await request.body(),
            headers=dict(request.headers.items()),
            client_ip=request.client.host if request.client else "",
        )
    )
    return Response(answer.content, status_code=answer.status, headers=answer.headers)
