"""The API documents and their docs pages: `/api/portal/v1/openapi.json`,
`/api/admin/v1/openapi.json`, and a Redoc page for each (`/api/.../docs`), Redoc served from
our own static files (vendored, pinned: static/docs/)."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request, Response, get
from litestar.enums import MediaType
from litestar.serialization import encode_json, get_serializer

from portal_gateway.api_docs.documents import ADMIN_API, PORTAL_API, admin_document, portal_document
from portal_gateway.security import DOCS_CSP

REDOC_JS = "/static/docs/redoc.standalone.js"


def _docs_page(title: str, spec_url: str) -> Response[str]:
    # Redoc initialises itself from the <redoc spec-url> element: no inline script.
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        f'<body><redoc spec-url="{escape(spec_url)}"></redoc>'
        f'<script src="{REDOC_JS}"></script></body></html>'
    )
    return Response(body, media_type=MediaType.HTML, headers={"content-security-policy": DOCS_CSP})


def _json(request: Request[Any, Any, Any], document: dict[str, Any]) -> Response[bytes]:
    # Free-form JSON by definition; defaults in it may be models (Litestar's own encoders).
    serializer = get_serializer(request.route_handler.resolve_type_encoders())
    return Response(encode_json(document, serializer=serializer), media_type=MediaType.JSON)


@get(f"{PORTAL_API}/openapi.json", include_in_schema=False, sync_to_thread=False)
def portal_openapi(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _json(request, portal_document(request.app.openapi_schema.to_schema()))


@get(f"{ADMIN_API}/openapi.json", include_in_schema=False, sync_to_thread=False)
def admin_openapi(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _json(request, admin_document())


@get(f"{PORTAL_API}/docs", include_in_schema=False, sync_to_thread=False)
def portal_docs() -> Response[str]:
    return _docs_page("Customer portal API", f"{PORTAL_API}/openapi.json")


@get(f"{ADMIN_API}/docs", include_in_schema=False, sync_to_thread=False)
def admin_docs() -> Response[str]:
    return _docs_page("Customer portal admin API", f"{ADMIN_API}/openapi.json")


api_docs_routes = [portal_openapi, admin_openapi, portal_docs, admin_docs]
