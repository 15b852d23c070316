"""Issue 7's journeys in a real browser over `portal-dev`'s real stack.

1. Staff grants a domain through the admin API and takes the portal link; a customer at that
   domain signs in through the emailed link, sees the simulator's numbers, changes the PO
   number until upstream confirms it, sees a newly published invoice appear, downloads its
   PDF; staff removes the rule and the customer's next request lands on sign-in.
2. An address that no rule covers gets the same page, and no email.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from portal_gateway.portal.domain.money import format_money
from portal_gateway.settings import Settings as GatewaySettings
from tests.support.portal import count_emails_to, stored_document, wait_for_verify_link
from tests.support.services import DevPortal, active_bill_group

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# How long the gateway may serve a session it validated (revocation staleness bound).
SESSION_CACHE_SECONDS = GatewaySettings.model_fields["session_cache_seconds"].default


def _journey_bill_group(portal: DevPortal) -> dict[str, Any]:
    """The last active demo bill group: the gateway and staff suites use the first ones."""
    return active_bill_group(portal, -1)


def _admin(portal: DevPortal) -> httpx.Client:
    return httpx.Client(
        base_url=f"{portal.ready['gateway_url']}/api/admin/v1",
        headers={"Authorization": f"Bearer {portal.ready['admin_api_key']}"},
        timeout=30,
    )


def _simulator(portal: DevPortal, *args: str) -> dict[str, Any]:
    exe = str(Path(sys.executable).parent / "billing-simulator")
    env = {
        **os.environ,
        **portal.ready["endpoints"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
    }
    done = subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _sign_in(page: Page, portal_url: str, address: str, aws: str, base: str) -> None:
    page.goto(portal_url)
    page.get_by_label("Email").fill(address)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.locator("h1")).to_have_text("Check your email")
    link = wait_for_verify_link(aws, address)
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/portal")


def test_staff_grants_customer_signs_in_and_loses_access(
    browser: Browser, portal: DevPortal
) -> None:
    bg = _journey_bill_group(portal)
    base = portal.ready["gateway_url"]
    aws = portal.ready["endpoints"]["AWS_ENDPOINT_URL"]
    domain = f"journey-{uuid.uuid4().hex[:8]}.example"
    address = f"ap@{domain}"

    with _admin(portal) as admin:
        path = f"/bill-groups/{bg['bill_group_id']}/portal"
        rule = admin.post(f"{path}/rules", json={"kind": "domain", "value": domain})
        assert rule.status_code == 201, rule.text
        portal_url = admin.get(path).json()["portal_url"]

    context = browser.new_context(locale="en-US", accept_downloads=True)
    page = context.new_page()
    _sign_in(page, portal_url, address, aws, base)

    for currency, amount in bg["expected_outstanding"].items():
        expect(page.locator(".summary-grid")).to_contain_text(
            format_money(amount, currency, "en_US")
        )

    new_po = f"PO-E2E-{uuid.uuid4().hex[:6].upper()}"
    page.goto(f"{base}/portal/billing-details")
    page.get_by_label("PO number").fill(new_po)
    page.get_by_role("button", name="Save billing details").click()
    expect(page.locator("h1")).to_have_text("Saved and confirmed", timeout=30_000)
    page.goto(f"{base}/portal")
    expect(page.locator(".details")).to_contain_text(new_po)

    invoice = _simulator(
        portal,
        "publish-invoice",
        "--bill-group",
        bg["bill_group_id"],
        "--seq",
        str(uuid.uuid4().int % 900_000 + 100_000),
        "--currency",
        bg.get("currency", "EUR"),
    )
    page.goto(f"{base}/portal/invoices")
    row = page.locator("tr", has_text=invoice["number"])
    # The page is reloaded until the projection has the invoice: seconds, not minutes.
    for _ in range(30):
        if row.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(row).to_be_visible()
    with page.expect_download() as download_info:
        row.get_by_role("link", name="Download PDF").click()
    body = Path(download_info.value.path()).read_bytes()
    assert body.startswith(b"%PDF")
    details = context.request.get(f"{base}/api/portal/v1/invoices/{invoice['invoice_id']}").json()
    assert body == stored_document(aws, details["document"])

    with _admin(portal) as admin:
        removed = admin.delete(f"{path}/rules/{rule.json()['id']}")
        assert removed.status_code == 204

    # The gateway may serve a validated session for SESSION_CACHE_SECONDS (its README,
    # Sessions): past that bound, the removed rule must have ended it.
    time.sleep(SESSION_CACHE_SECONDS + 0.2)
    page.goto(f"{base}/portal")
    expect(page.get_by_label("Email")).to_be_visible()
    assert page.url.startswith(portal_url)
    context.close()


def test_address_without_access_gets_the_same_page_and_no_email(
    browser: Browser, portal: DevPortal
) -> None:
    bg = _journey_bill_group(portal)
    aws = portal.ready["endpoints"]["AWS_ENDPOINT_URL"]
    outsider = f"someone-{uuid.uuid4().hex[:8]}@not-granted.example"
    insider = f"check-{uuid.uuid4().hex[:8]}@{bg['customer_domain']}"
    context = browser.new_context(locale="en-US")
    page = context.new_page()

    pages = []
    for address in (outsider, insider):
        page.goto(bg["portal_url"])
        page.get_by_label("Email").fill(address)
        page.get_by_role("button", name="Send me a sign-in link").click()
        expect(page.locator("h1")).to_have_text("Check your email")
        pages.append(page.locator("main").inner_text().replace(address, "<address>"))
    assert pages[0] == pages[1]

    # Both requests are keyed by the same bill group, so the notifier handles them in order:
    # once the insider's email is in SES, an email to the outsider would be there too.
    wait_for_verify_link(aws, insider)
    assert count_emails_to(aws, outsider) == 0
    context.close()
