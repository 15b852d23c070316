"""The two OpenAPI documents: the portal API's, built from the gateway's own routes, and the
admin API's, access's document (checked in as `admin_openapi.json`, see
`portal_access.openapi`) with what the edge itself may answer."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme

from portal_kit.errors import ErrorBody, with_retry_after

PORTAL_API = "/api/portal/v1"
ADMIN_API = "/api/admin/v1"
ADMIN_DOCUMENT = Path(__file__).parent / "admin_openapi.json"
SESSION_SCHEME = "portal_session"
CSRF_SCHEME = "csrf_header"
READ_SECURITY: list[SecurityRequirement] = [{SESSION_SCHEME: []}]
WRITE_SECURITY: list[SecurityRequirement] = [{SESSION_SCHEME: [], CSRF_SCHEME: []}]

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
# What the edge answers on its own, before or instead of access (admin_edge.service).
_EDGE_ERRORS = {
    "503": "access did not answer (`unavailable`); nothing was done, try again.",
}
_EDGE_WRITE_ERRORS = {"413": "The request body is over 1 MiB (`too_large`)."}


def portal_openapi_config() -> OpenAPIConfig:
    """Litestar's document of the portal API's routes. Its own routes answer at
    `/api/portal/v1/schema/openapi.json|yaml`; `routes.py` serves the canonical
    `/api/portal/v1/openapi.json` (with `Retry-After` documented) and the docs page."""
    return OpenAPIConfig(
        title="Customer portal API",
        version="1.0.0",
        path=f"{PORTAL_API}/schema",
        render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
        description="The signed-in customer's bill group: reads and changes. "
        "Session cookie `portal_session` from the portal sign-in; mutating calls need the "
        "`x-csrftoken` header set to the `csrftoken` cookie and take an optional "
        "`Idempotency-Key`. Errors answer `{error, message, fields?}` (`ErrorBody`).",
        components=Components(
            security_schemes={
                SESSION_SCHEME: SecurityScheme(
                    type="apiKey",
                    name="portal_session",
                    security_scheme_in="cookie",
                    description="The session cookie set by the portal's sign-in.",
                ),
                CSRF_SCHEME: SecurityScheme(
                    type="apiKey",
                    name="x-csrftoken",
                    security_scheme_in="header",
                    description="The value of the `csrftoken` cookie, on every mutating call.",
                ),
            }
        ),
        security=READ_SECURITY,
    )


def portal_document(schema: dict[str, Any]) -> dict[str, Any]:
    """Litestar's document of the app with only the portal API, `Retry-After` documented."""
    document = copy.deepcopy(schema)
    document["paths"] = {
        p: item for p, item in document["paths"].items() if p.startswith(PORTAL_API)
    }
    for item in document["paths"].values():
        for operation in item.values():
            # Litestar documents a `Response[None]` as a JSON null; a 204 has no body at all.
            operation["responses"].get("204", {}).pop("content", None)
            _type_downloads(operation["responses"].get("200", {}))
    return with_retry_after(document)


def _type_downloads(answer: dict[str, Any]) -> None:
    """Litestar documents a streamed file as any schema: it is the document's bytes, named
    by `Content-Disposition` (what a client saves it as)."""
    pdf = answer.get("content", {}).get("application/pdf")
    if pdf is None:
        return
    pdf["schema"] = {"type": "string", "format": "binary"}
    answer["description"] = "The invoice document (PDF), as upstream stored it."
    answer.setdefault("headers", {})["Content-Disposition"] = {
        "description": '`attachment; filename="<invoice number>.pdf"`',
        "schema": {"type": "string"},
    }


def _edge_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_REF}


@cache
def admin_document() -> dict[str, Any]:
    """access's admin API document with the edge's own answers (413, 503) added."""
    document: dict[str, Any] = json.loads(ADMIN_DOCUMENT.read_text())
    for item in document["paths"].values():
        for method, operation in item.items():
            errors = {**_EDGE_ERRORS, **(_EDGE_WRITE_ERRORS if method != "get" else {})}
            for status, description in errors.items():
                operation["responses"].setdefault(status, _edge_error(description))
    document["components"]["schemas"].setdefault("ErrorBody", ErrorBody.model_json_schema())
    return with_retry_after(document)
