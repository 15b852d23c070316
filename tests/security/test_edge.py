"""The public edge over the real services (issue 14, item 8): malformed cursors, headers on
every answer, cross-site state changes, no-store on what carries customer data, change pages
of unknown ids, and sign-in links of a rotated portal."""

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.portal import api_headers, csrf_field, request_link, sign_in
from tests.support.portal import wait_for_verify_link as verify_link
from tests.support.services import DevPortal, active_bill_group

pytestmark = pytest.mark.integration

SECURITY_HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "permissions-policy",
)


def bill_group(portal: DevPortal, bill_group_id: str) -> dict[str, Any]:
    links = {bg["bill_group_id"]: bg for bg in portal.ready["bill_groups"]}
    seeded = {bg["bill_group_id"]: bg for bg in portal.ready["seeded"]["bill_groups"]}
    return {**seeded[bill_group_id], **links[bill_group_id]}


def customer_of(portal: DevPortal, bg: dict[str, Any]) -> httpx.Client:
    address = f"edge-{uuid.uuid4().hex[:8]}@{bg['customer_domain']}"
    aws = portal.ready["endpoints"]["AWS_ENDPOINT_URL"]
    return sign_in(portal.ready["gateway_url"], bg["portal_url"], address, aws)


@pytest.fixture(scope="module")
def customer(portal: DevPortal) -> Iterator[httpx.Client]:
    client = customer_of(portal, bill_group(portal, "bg_hooli"))
    yield client
    client.close()


def test_a_malformed_invoice_cursor_is_a_400_not_a_busy_portal(customer: httpx.Client) -> None:
    page = customer.get("/portal/invoices", params={"cursor": "not-a-cursor"})
    assert page.status_code == 400, page.text
    assert "Start again from the first page" in page.text
    api = customer.get("/api/portal/v1/invoices", params={"cursor": "not-a-cursor"})
    assert api.status_code == 400, api.text
    assert api.json()["error"] == "invalid"
    assert set(api.json()["fields"]) == {"cursor"}
    # A cursor the service issued still pages on.
    first = customer.get("/api/portal/v1/invoices", params={"limit": 1}).json()
    assert first["next_cursor"]
    following = customer.get(
        "/api/portal/v1/invoices", params={"limit": 1, "cursor": first["next_cursor"]}
    )
    assert following.status_code == 200


def test_error_answers_carry_the_security_headers(customer: httpx.Client) -> None:
    answers = {
        "404 page": customer.get("/no-such-page"),
        "404 api": customer.get("/api/portal/v1/no-such-thing"),
        "405": customer.put("/portal/billing-details"),
        "403 csrf page": customer.post("/portal/billing-details", data={"po_number": "X"}),
        "403 csrf api": customer.post("/api/portal/v1/billing-profile", json={"po_number": "X"}),
        "200": customer.get("/portal"),
    }
    for name, answer in answers.items():
        missing = [h for h in SECURITY_HEADERS if h not in answer.headers]
        assert not missing, f"{name} ({answer.status_code}) lacks {missing}"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_signed_in_pages_and_api_answers_are_not_stored(
    portal: DevPortal, customer: httpx.Client
) -> None:
    for path in (
        "/portal",
        "/portal/invoices",
        "/api/portal/v1/overview",
        "/api/portal/v1/session",
    ):
        answer = customer.get(path)
        assert answer.status_code == 200, path
        assert "no-store" in answer.headers.get("cache-control", ""), path
    bg = bill_group(portal, "bg_hooli")
    with httpx.Client(base_url=portal.ready["gateway_url"], timeout=30) as anonymous:
        # The sign-in form carries a CSRF token; the verify page the link's token.
        signin = anonymous.get(urlsplit(bg["portal_url"]).path)
        verify = anonymous.get(urlsplit(bg["portal_url"]).path + "/verify/some-token")
        static = anonymous.get("/static/portal.css")
    assert "no-store" in signin.headers.get("cache-control", "")
    assert "no-store" in verify.headers.get("cache-control", "")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("cache-control", "")


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null", "sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
    ids=["foreign-origin", "fetch-site-cross", "fetch-site-same-site"],
)
def test_cross_site_state_changes_are_refused(
    customer: httpx.Client, headers: dict[str, str]
) -> None:
    """Even with a valid CSRF token (defence in depth: a leaked token is not enough)."""
    before = customer.get("/api/portal/v1/overview").json()["bill_group"]["billing_profile"]
    po = f"XS-{uuid.uuid4().hex[:6]}"
    api = customer.post(
        "/api/portal/v1/billing-profile",
        json={"po_number": po},
        headers={**api_headers(customer), **headers},
    )
    assert api.status_code == 403, api.text
    assert api.json()["error"] == "cross_site"
    form = customer.get("/portal/billing-details")
    page = customer.post(
        "/portal/billing-details",
        data={"_csrf_token": csrf_field(form.text), "po_number": po},
        headers=headers,
    )
    assert page.status_code == 403
    assert "another website" in page.text
    after = customer.get("/api/portal/v1/overview").json()["bill_group"]["billing_profile"]
    assert after == before
    assert po not in str(customer.get("/api/portal/v1/activity").json())


def test_same_origin_and_header_less_state_changes_pass(
    portal: DevPortal, customer: httpx.Client
) -> None:
    origin = portal.ready["gateway_url"].rstrip("/")
    for headers in (
        {"origin": origin, "sec-fetch-site": "same-origin"},
        # What a browser sends on the portal's own forms under `Referrer-Policy: no-referrer`.
        {"origin": "null", "sec-fetch-site": "same-origin"},
        {},  # a non-browser client: the CSRF header is its protection
    ):
        answer = customer.post(
            "/api/portal/v1/billing-profile",
            json={"po_number": f"OK-{uuid.uuid4().hex[:6]}"},
            headers={**api_headers(customer), **headers},
        )
        assert answer.status_code == 202, answer.text
    # A bearer-authenticated API client is never refused for its Origin (no ambient cookie).
    admin = {
        "Authorization": f"Bearer {portal.ready['admin_api_key']}",
        "origin": "https://tools.example",
    }
    preview = httpx.post(
        f"{origin}/api/admin/v1/bill-groups/bg_hooli/portal/preview", headers=admin, timeout=30
    )
    assert preview.status_code == 201, preview.text


def test_change_pages_of_unknown_or_foreign_ids_are_404(
    portal: DevPortal, customer: httpx.Client
) -> None:
    own = customer.post(
        "/api/portal/v1/billing-profile",
        json={"po_number": f"OWN-{uuid.uuid4().hex[:6]}"},
        headers=api_headers(customer),
    )
    assert own.status_code == 202, own.text
    assert customer.get(f"/portal/changes/{own.json()['change_id']}").status_code == 200
    assert customer.get(f"/portal/changes/chg_{uuid.uuid4().hex}").status_code == 404
    assert customer.get("/portal/changes/anything-at-all").status_code == 404
    other = customer_of(portal, active_bill_group(portal, 0))
    try:
        foreign = other.post(
            "/api/portal/v1/billing-profile",
            json={"po_number": f"FOR-{uuid.uuid4().hex[:6]}"},
            headers=api_headers(other),
        )
        assert foreign.status_code == 202, foreign.text
        foreign_id = foreign.json()["change_id"]
        assert other.get(f"/portal/changes/{foreign_id}").status_code == 200
    finally:
        other.close()
    answer = customer.get(f"/portal/changes/{foreign_id}")
    assert answer.status_code == 404
    assert foreign_id not in answer.text


def test_a_link_mailed_before_a_rotation_is_refused_on_get_and_post(portal: DevPortal) -> None:
    bg = active_bill_group(portal, 1)
    gateway = portal.ready["gateway_url"]
    address = f"rot-{uuid.uuid4().hex[:8]}@{bg['customer_domain']}"
    with httpx.Client(base_url=gateway, timeout=30) as browser:
        assert request_link(browser, bg["portal_url"], address).status_code == 200
        link = urlsplit(verify_link(portal.ready["endpoints"]["AWS_ENDPOINT_URL"], address)).path
        shown = browser.get(link)
        assert shown.status_code == 200
        token = csrf_field(shown.text)
        admin = {"Authorization": f"Bearer {portal.ready['admin_api_key']}"}
        rotated = httpx.post(
            f"{gateway}/api/admin/v1/bill-groups/{bg['bill_group_id']}/portal/link/rotate",
            headers=admin,
            timeout=30,
        )
        assert rotated.status_code == 200, rotated.text
        again = browser.get(link)
        used = browser.post(link, data={"_csrf_token": token})
        assert (again.status_code, used.status_code) == (404, 404), used.text
        assert "This portal link is not valid" in used.text
        assert "portal_session" not in browser.cookies
        assert browser.get("/api/portal/v1/session").status_code == 401


def test_admin_calls_through_the_edge_honour_idempotency_keys(portal: DevPortal) -> None:
    bg = active_bill_group(portal, 1)
    gateway = portal.ready["gateway_url"]
    headers = {
        "Authorization": f"Bearer {portal.ready['admin_api_key']}",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    path = f"{gateway}/api/admin/v1/bill-groups/{bg['bill_group_id']}/portal/link/rotate"
    first = httpx.post(path, headers=headers, timeout=30)
    again = httpx.post(path, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    assert (again.status_code, again.json()) == (200, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    # One rotation: the link in force is the one both answers name.
    assert active_bill_group(portal, 1)["portal_url"] == first.json()["portal_url"]
