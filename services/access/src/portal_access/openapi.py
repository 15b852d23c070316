"""The admin API's OpenAPI document: this app's `/api/admin/v1` routes, the schemas they
reference and the bearer scheme of admin API keys.

The gateway serves the admin API to clients, so it serves this document: a copy checked in
with the gateway (`portal-access admin-openapi` writes it; tests/gateway/test_openapi_spec.py
fails when the copy and this document differ)."""

from __future__ import annotations

import json
import re
from typing import Any

from litestar import Litestar
from litestar.openapi import ResponseSpec

from portal_kit.errors import error_response, with_retry_after

ADMIN_PREFIX = "/api/admin/v1"
SECURITY_SCHEME = "admin_api_key"
_REF = re.compile(r'"#/components/schemas/([^"]+)"')

READ_ERRORS: dict[int, ResponseSpec] = {
    400: error_response("A parameter is not valid (`invalid_request`)."),
    401: error_response("No valid admin API key (`unauthorized`)."),
    404: error_response("No such bill group, rule or session in the key's tenant (`not_found`)."),
    422: error_response("A parameter is not valid (`invalid_request`, with `fields`)."),
}
WRITE_ERRORS: dict[int, ResponseSpec] = {
    **READ_ERRORS,
    400: error_response(
        "A parameter or the `Idempotency-Key` is not valid (`invalid_request`, "
        "`invalid_idempotency_key`)."
    ),
    409: error_response(
        "The portal changed meanwhile (`concurrent_update`), a rule overlaps another "
        "(`conflict`, with `conflicting_rule`), or a request with the same `Idempotency-Key` "
        "is still running (`idempotency_key_in_use`)."
    ),
    422: error_response(
        "A value is not valid (`invalid_request`, `invalid_value`, with `fields`), or the "
        "`Idempotency-Key` was used for a different request (`idempotency_key_reused`)."
    ),
}


MUTATING = ("post", "put", "patch", "delete")
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Optional: a repeat with the same key answers the first request's answer "
    "(`Idempotent-Replayed: true`) and changes nothing again. 1-128 printable characters.",
    "schema": {"type": "string", "pattern": "^[!-~]{1,128}$"},
}


def _referenced(document: Any, schemas: dict[str, Any]) -> set[str]:
    """Names of the component schemas `document` references, transitively."""
    seen: set[str] = set()
    todo = set(_REF.findall(json.dumps(document)))
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo |= set(_REF.findall(json.dumps(schemas[name])))
    return seen


def admin_openapi(app: Litestar) -> dict[str, Any]:
    """The admin API's document: internal routes and their schemas left out."""
    full = app.openapi_schema.to_schema()
    paths = {p: item for p, item in full["paths"].items() if p.startswith(ADMIN_PREFIX)}
    for item in paths.values():
        for method in MUTATING:
            if method in item:  # the idempotency middleware reads it, no handler does
                item[method]["parameters"] = [*item[method].get("parameters", []), _IDEMPOTENCY_KEY]
    schemas = full.get("components", {}).get("schemas", {})
    used = _referenced(paths, schemas)
    document = {
        "openapi": full["openapi"],
        "info": {
            "title": "Customer portal admin API",
            "version": full["info"]["version"],
            "description": "Portals of a tenant's bill groups: switch, access rules, links, "
            "previews, sessions, audit. Every call carries an admin API key of the tenant "
            "(`portal-access api-key create`) as `Authorization: Bearer <key>`. Mutating calls "
            "take an optional `Idempotency-Key`. Errors answer `{error, message, fields?}`.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {name: schemas[name] for name in sorted(used)},
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An admin API key of the tenant.",
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }
    return with_retry_after(document)
