"""The API documents the gateway serves, their docs pages and the 405 `Allow` header, in
process with every dependency unreachable (tests/gateway/test_openapi_contract.py runs them
against the live portal)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from portal_access.app import create_app as create_access_app
from portal_access.openapi import admin_openapi
from portal_access.settings import Settings as AccessSettings
from portal_gateway.api_docs.documents import ADMIN_DOCUMENT
from portal_gateway.api_docs.routes import REDOC_JS
from portal_gateway.app import HERE, create_app
from tests.gateway.fakes import offline_settings

ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:  # type: ignore[type-arg]
    settings = offline_settings()
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _document(client: TestClient, api: str) -> dict[str, Any]:  # type: ignore[type-arg]
    answer = client.get(f"/api/{api}/v1/openapi.json")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_checked_in_admin_document_is_what_access_generates() -> None:
    """Drift: `portal-access admin-openapi > services/gateway/.../admin_openapi.json` after
    changing an admin route or schema."""
    import json

    generated = admin_openapi(create_access_app(AccessSettings()))
    assert json.loads(Path(ADMIN_DOCUMENT).read_text()) == generated


@pytest.mark.parametrize("api", ["portal", "admin"])
def test_documents_are_served_under_their_api(client: TestClient, api: str) -> None:  # type: ignore[type-arg]
    document = _document(client, api)
    assert document["paths"]
    assert all(path.startswith(f"/api/{api}/v1/") for path in document["paths"])


def test_security_schemes(client: TestClient) -> None:  # type: ignore[type-arg]
    portal = _document(client, "portal")
    schemes = portal["components"]["securitySchemes"]
    assert schemes["portal_session"] == {
        "type": "apiKey",
        "name": "portal_session",
        "in": "cookie",
        "description": schemes["portal_session"]["description"],
    }
    assert schemes["csrf_header"]["in"] == "header"
    assert schemes["csrf_header"]["name"] == "x-csrftoken"
    for _, method, operation in _operations(portal):
        expected = ["portal_session", "csrf_header"] if method == "post" else ["portal_session"]
        security = operation.get("security", portal["security"])
        assert [sorted(s) for s in security] == [sorted(expected)]
    admin = _document(client, "admin")
    assert admin["components"]["securitySchemes"]["admin_api_key"]["scheme"] == "bearer"
    assert admin["security"] == [{"admin_api_key": []}]


@pytest.mark.parametrize("api", ["portal", "admin"])
def test_every_operation_documents_its_errors(client: TestClient, api: str) -> None:  # type: ignore[type-arg]
    document = _document(client, api)
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "content" not in responses.get("204", {}), (method, path)  # no body, no type
        assert "401" in responses, (method, path)
        assert "503" in responses, (method, path)
        if method != "get":
            assert "403" in responses or api == "admin", (method, path)
            assert "422" in responses or path.endswith("/signout"), (method, path)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (method, path, status)
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], (method, path, status)
    assert set(document["components"]["schemas"]["ErrorBody"]["properties"]) == {
        "error",
        "message",
        "fields",
    }


def test_the_invoice_document_is_typed_as_a_named_binary(client: TestClient) -> None:  # type: ignore[type-arg]
    document = _document(client, "portal")
    answer = document["paths"]["/api/portal/v1/invoices/{invoice_id}/pdf"]["get"]["responses"]
    assert answer["200"]["content"]["application/pdf"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    assert "Content-Disposition" in answer["200"]["headers"]


def test_admin_mutations_document_the_idempotency_key(client: TestClient) -> None:  # type: ignore[type-arg]
    for _, method, operation in _operations(_document(client, "admin")):
        names = {p["name"] for p in operation.get("parameters", [])}
        assert ("Idempotency-Key" in names) is (method != "get")


@pytest.mark.parametrize("api", ["portal", "admin"])
def test_docs_page_is_self_hosted_redoc(client: TestClient, api: str) -> None:  # type: ignore[type-arg]
    page = client.get(f"/api/{api}/v1/docs")
    assert page.status_code == 200
    assert f'<redoc spec-url="/api/{api}/v1/openapi.json">' in page.text
    assert f'<script src="{REDOC_JS}">' in page.text
    assert "http" not in page.text.replace('"http-equiv"', "")  # no CDN, no remote font
    csp = dict(d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'"
    assert csp["worker-src"] == "blob:"
    assert csp["frame-ancestors"] == "'none'"
    # Only the CSP is the page's own: every other security header is still added.
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    bundle = client.get(REDOC_JS)
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert (HERE / "static" / "docs" / "redoc.LICENSE").exists()


def test_other_pages_keep_the_strict_csp(client: TestClient) -> None:  # type: ignore[type-arg]
    csp = client.get("/").headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "worker-src" not in csp


@pytest.mark.parametrize(
    "path", ["/", "/api/portal/v1/session", "/api/admin/v1/bill-groups/x/portal"]
)
@pytest.mark.parametrize("method", ["TRACE", "CONNECT"])
def test_unsupported_method_is_405_with_allow(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    method: str,
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == 405
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert "GET" in allowed
    assert method not in allowed


def test_admin_edge_relays_an_encoded_control_character_as_sent(client: TestClient) -> None:  # type: ignore[type-arg]
    """Found by the contract test: the edge rebuilt the URL from the decoded path, and httpx
    refuses a control character in a URL (500). The path is relayed as it arrived, so access
    (here away: 503) decides."""
    answer = client.get("/api/admin/v1/bill-groups/a%07%C3%9D/portal")
    assert answer.status_code == 503
    assert answer.json()["error"] == "unavailable"


@pytest.mark.parametrize("api", ["portal", "admin"])
def test_every_documented_path_answers_trace_with_405_and_allow(
    client: TestClient,  # type: ignore[type-arg]
    api: str,
) -> None:
    for path, item in _document(client, api)["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        answer = client.request("TRACE", concrete)
        assert answer.status_code == 405, path
        allowed = {m.strip().lower() for m in answer.headers["allow"].split(",")}
        assert set(item) <= allowed, path
