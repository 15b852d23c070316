"""Typed errors map to HTTP in one place: JSON `{error, message, fields?}` under /api, pages
elsewhere. The app runs in-process with every dependency unreachable: no servers needed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from portal_gateway.app import create_app
from tests.gateway.fakes import offline_settings


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:  # type: ignore[type-arg]
    settings = offline_settings()
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_api_without_session_is_401_json_without_a_bearer_challenge(client: TestClient) -> None:  # type: ignore[type-arg]
    answer = client.get("/api/portal/v1/overview")
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "not_signed_in",
        "message": "Sign in through your portal link.",
    }
    assert "www-authenticate" not in answer.headers


def test_pages_without_session_redirect_to_the_remembered_sign_in_page(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    client.cookies.clear()
    answer = client.get("/portal/invoices", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/signed-out")
    client.cookies.set("portal_key", "key_1")
    answer = client.get("/portal/invoices", follow_redirects=False)
    assert answer.headers["location"] == "/p/key_1?reason=signed_out"
    client.cookies.set("portal_key", "../evil")
    answer = client.get("/portal/invoices", follow_redirects=False)
    assert answer.headers["location"] == "/signed-out"
    client.cookies.clear()


def test_unreachable_access_is_503_as_json_or_a_page(client: TestClient) -> None:  # type: ignore[type-arg]
    client.cookies.set("portal_session", "tok")
    api = client.get("/api/portal/v1/overview")
    assert api.status_code == 503
    assert api.json()["error"] == "unavailable"
    page = client.get("/portal")
    assert page.status_code == 503
    assert "The portal is busy right now" in page.text
    assert page.headers["content-type"].startswith("text/html")
    client.cookies.clear()


def test_unknown_page_and_missing_csrf(client: TestClient) -> None:  # type: ignore[type-arg]
    page = client.get("/nowhere")
    assert page.status_code == 404
    assert "We could not find that page." in page.text
    api = client.post("/api/portal/v1/billing-profile", json={"po_number": "X"})
    assert api.status_code == 403
    assert set(api.json()) == {"error", "message"}


def test_staff_pages_without_a_staff_session(client: TestClient) -> None:  # type: ignore[type-arg]
    answer = client.get("/staff/bill-groups/bg_1")
    assert answer.status_code == 401
    assert "You are not signed in to the staff console" in answer.text
    assert 'staff_session=""' in answer.headers["set-cookie"]


def test_admin_edge_errors_are_json(client: TestClient) -> None:  # type: ignore[type-arg]
    too_large = client.post("/api/admin/v1/bill-groups", content=b"x" * (1024 * 1024 + 1))
    assert too_large.status_code == 413
    assert too_large.json() == {"error": "too_large", "message": "The request body is too large."}
    down = client.get("/api/admin/v1/bill-groups/bg_1/portal")
    assert down.status_code == 503
    assert down.json() == {
        "error": "unavailable",
        "message": "The admin API is unavailable, try again.",
    }
