"""Gateway security over the real services: CSRF, tenant/bill-group scoping, escaping,
read-only previews, cookie flags, security headers, redirects, the admin edge."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from billing_simulator.publish import Publisher
from billing_simulator.settings import Settings as SimulatorSettings
from portal_contracts.billing import (
    BillingPeriod,
    SubscriptionItem,
    SubscriptionState,
    SubscriptionStatus,
)
from portal_contracts.codec import make_event
from tests.support.portal import api_headers, csrf_field, sign_in, wait_for_verify_link
from tests.support.services import DevPortal
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

XSS = "<script>alert(1)</script>"


def bill_group(portal: DevPortal, bill_group_id: str) -> dict[str, Any]:
    links = {bg["bill_group_id"]: bg for bg in portal.ready["bill_groups"]}
    seeded = {bg["bill_group_id"]: bg for bg in portal.ready["seeded"]["bill_groups"]}
    return {**seeded[bill_group_id], **links[bill_group_id]}


@pytest.fixture(scope="module")
def customer(portal: DevPortal) -> Iterator[httpx.Client]:
    """Signed in to Hooli's bill group; the foreign ids below belong to Initech's."""
    bg = bill_group(portal, "bg_hooli")
    address = f"sec-{uuid.uuid4().hex[:8]}@{bg['customer_domain']}"
    client = sign_in(
        portal.ready["gateway_url"],
        bg["portal_url"],
        address,
        portal.ready["endpoints"]["AWS_ENDPOINT_URL"],
    )
    yield client
    client.close()


def test_form_post_without_csrf_token_is_refused(customer: httpx.Client) -> None:
    answer = customer.post("/portal/billing-details", data={"po_number": "HACKED"})
    assert answer.status_code == 403
    overview = customer.get("/api/portal/v1/overview").json()
    assert overview["bill_group"]["billing_profile"]["po_number"] != "HACKED"


def test_json_api_post_without_csrf_header_is_refused(customer: httpx.Client) -> None:
    answer = customer.post("/api/portal/v1/billing-profile", json={"po_number": "HACKED"})
    assert answer.status_code == 403
    forged = customer.post(
        "/api/portal/v1/billing-profile",
        json={"po_number": "HACKED"},
        headers={"x-csrftoken": "forged-token"},
    )
    assert forged.status_code == 403


def test_signin_post_without_csrf_token_is_refused(portal: DevPortal) -> None:
    bg = bill_group(portal, "bg_hooli")
    with httpx.Client(base_url=portal.ready["gateway_url"]) as anonymous:
        path = urlsplit(bg["portal_url"]).path
        answer = anonymous.post(f"{path}/signin", data={"email": "x@hooli.example"})
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/portal/invoices/inv_initech_0001/pdf"),
        ("GET", "/api/portal/v1/invoices/inv_initech_0001"),
        ("GET", "/api/portal/v1/invoices/inv_initech_0001/pdf"),
        ("POST", "/portal/payment-methods/pm_initech_visa/default"),
    ],
)
def test_ids_of_another_bill_group_answer_404(
    customer: httpx.Client, method: str, path: str
) -> None:
    if method == "GET":
        answer = customer.get(path)
    else:
        page = customer.get("/portal/payment-methods")
        answer = customer.post(path, data={"_csrf_token": csrf_field(page.text)})
    assert answer.status_code == 404
    assert "%PDF" not in answer.text


def test_foreign_payment_method_via_api_answers_404(customer: httpx.Client) -> None:
    answer = customer.post(
        "/api/portal/v1/default-payment-method",
        json={"payment_method_id": "pm_initech_visa"},
        headers=api_headers(customer),
    )
    assert answer.status_code == 404


def test_own_invoice_is_readable(customer: httpx.Client) -> None:
    """The control for the 404s above: the same call with an own id succeeds."""
    answer = customer.get("/api/portal/v1/invoices/inv_hooli_0001")
    assert answer.status_code == 200
    assert answer.json()["bill_group_id"] == "bg_hooli"


def test_product_name_with_script_renders_as_text(
    portal: DevPortal, customer: httpx.Client
) -> None:
    subscription = SubscriptionState(
        subscription_id=f"sub_xss_{uuid.uuid4().hex[:6]}",
        bill_group_id="bg_hooli",
        name="Escaping check",
        status=SubscriptionStatus.ACTIVE,
        start_date=date(2026, 1, 1),
        items=(
            SubscriptionItem(
                product_name=XSS,
                quantity=1,
                unit_price_minor=100,
                currency="USD",
                period=BillingPeriod.MONTH,
            ),
        ),
    )
    event = make_event(
        subscription,
        tenant_id="demo",
        aggregate_id=subscription.subscription_id,
        aggregate_version=1,
    )
    settings = SimulatorSettings(kafka_bootstrap=portal.ready["endpoints"]["KAFKA_BOOTSTRAP"])

    async def publish() -> None:
        async with Publisher(settings) as publisher:
            await publisher.publish([event])

    asyncio.run(publish())
    pages: list[httpx.Response] = []

    async def shown() -> bool:
        pages.append(await asyncio.to_thread(customer.get, "/portal/subscriptions"))
        return "Escaping check" in pages[-1].text

    asyncio.run(eventually(shown, within=30, what="the subscription with markup in its name"))
    page = pages[-1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert XSS not in page.text


def test_session_cookie_flags_and_security_headers(portal: DevPortal) -> None:
    bg = bill_group(portal, "bg_hooli")
    address = f"cookie-{uuid.uuid4().hex[:8]}@{bg['customer_domain']}"
    client = httpx.Client(base_url=portal.ready["gateway_url"], timeout=30)
    with client:
        form = client.get(bg["portal_url"])
        headers = form.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        path = urlsplit(bg["portal_url"]).path
        client.post(f"{path}/signin", data={"email": address, "_csrf_token": csrf_field(form.text)})
        link = urlsplit(
            wait_for_verify_link(portal.ready["endpoints"]["AWS_ENDPOINT_URL"], address)
        ).path
        page = client.get(link)
        done = client.post(link, data={"_csrf_token": csrf_field(page.text)})
    cookies = [c for c in done.headers.get_list("set-cookie") if c.startswith("portal_session=")]
    assert len(cookies) == 1
    flags = [part.strip().lower() for part in cookies[0].split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    # Local dev serves plain http; production's Secure flag is covered by the unit test.
    assert "secure" not in flags


def test_preview_session_cannot_change_anything(portal: DevPortal) -> None:
    bg = bill_group(portal, "bg_hooli")
    gateway = portal.ready["gateway_url"]
    admin = {"Authorization": f"Bearer {portal.ready['admin_api_key']}"}
    created = httpx.post(
        f"{gateway}/api/admin/v1/bill-groups/bg_hooli/portal/preview", headers=admin, timeout=30
    )
    assert created.status_code == 201, created.text
    preview_url = created.json()["preview_url"]
    with httpx.Client(base_url=gateway, timeout=30) as staff:
        path = urlsplit(preview_url).path
        page = staff.get(path)
        assert page.status_code == 200
        opened = staff.post(path, data={"_csrf_token": csrf_field(page.text)})
        assert opened.status_code == 303
        overview = staff.get("/portal")
        assert "Preview" in overview.text
        before = staff.get("/api/portal/v1/overview").json()["bill_group"]["billing_profile"]
        token = csrf_field(overview.text)
        refused = [
            staff.post("/portal/billing-details", data={"_csrf_token": token, "po_number": "P"}),
            staff.post("/portal/contacts/billing", data={"_csrf_token": token, "name": "Mallory"}),
            staff.post(
                f"/portal/payment-methods/pm_{bg['bill_group_id'][3:]}_bank/default",
                data={"_csrf_token": token},
            ),
            staff.post(
                "/portal/payment-methods",
                data={
                    "_csrf_token": token,
                    "type": "card",
                    "number": "4242424242424242",
                    "exp_month": "12",
                    "exp_year": "2030",
                },
            ),
            staff.post(
                "/api/portal/v1/billing-profile",
                json={"po_number": "P"},
                headers=api_headers(staff),
            ),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        after = staff.get("/api/portal/v1/overview").json()["bill_group"]["billing_profile"]
        activity = staff.get("/api/portal/v1/activity").json()["items"]
    assert after == before
    assert not [a for a in activity if a["actor_email"].startswith("preview:")]


@pytest.mark.parametrize(
    "path",
    [
        "/p/{key}?reason=https://evil.example/",
        "/p/{key}/verify/not-a-real-token",
        "/portal",
        "//evil.example/portal",
    ],
)
def test_no_redirect_leaves_the_site(portal: DevPortal, path: str) -> None:
    bg = bill_group(portal, "bg_hooli")
    key = urlsplit(bg["portal_url"]).path.rsplit("/", 1)[-1]
    with httpx.Client(base_url=portal.ready["gateway_url"], timeout=30) as client:
        client.cookies.set("portal_key", "//evil.example")
        answer = client.get(path.format(key=key))
    location = answer.headers.get("location", "")
    assert not location.startswith("//")
    assert "evil.example" not in location


def test_admin_edge_needs_admin_credentials(portal: DevPortal, customer: httpx.Client) -> None:
    path = "/api/admin/v1/bill-groups/bg_hooli/portal"
    assert customer.get(path).status_code == 401
    anonymous = httpx.get(portal.ready["gateway_url"] + path, timeout=30)
    assert anonymous.status_code == 401
    admin = {"Authorization": f"Bearer {portal.ready['admin_api_key']}"}
    assert httpx.get(portal.ready["gateway_url"] + path, headers=admin, timeout=30).is_success


def test_card_number_reaches_no_log(portal: DevPortal, customer: httpx.Client) -> None:
    number = "4111111111111111"
    answer = customer.post(
        "/api/portal/v1/payment-methods",
        json={"type": "card", "number": number, "exp_month": 9, "exp_year": 2032},
        headers=api_headers(customer),
    )
    assert answer.status_code == 202, answer.text
    assert number not in answer.text
    change_id = answer.json()["change_id"]
    logs_dir = portal.base / "logs"
    settled: dict[str, Any] = {}

    async def change_settled() -> bool:
        item = await asyncio.to_thread(customer.get, f"/api/portal/v1/changes/{change_id}")
        if item.status_code == 200 and item.json()["status"] != "pending":
            settled.update(item.json())
            return True
        return False

    async def publish_logged() -> bool:
        gateway_log = (logs_dir / "gateway.log").read_text(errors="replace")
        return any(
            "customer change published" in line and "payment_method_add" in line
            for line in gateway_log.splitlines()
        )

    # The flow really ran: Kafka carried the change, billing-view and upstream settled it,
    # and the gateway logged the publish, so the logs below cover every hop of the number.
    asyncio.run(eventually(change_settled, within=60, what="the new card's change settled"))
    assert settled["kind"] == "payment_method_added"
    assert settled["after"]["last4"] == number[-4:]
    asyncio.run(eventually(publish_logged, within=30, what="the gateway's publish log line"))
    logs = sorted(logs_dir.glob("*.log"))
    assert {"gateway.log", "billing-view.log"} <= {log.name for log in logs}
    for log in logs:
        text = log.read_text(errors="replace")
        assert number not in text, log.name
        assert "4111 1111" not in text, log.name
