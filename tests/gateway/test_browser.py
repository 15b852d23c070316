"""The customer journey in a real browser (Debian's chromium) over the real services:
sign in through the emailed link, see the simulator's numbers, edit the PO number until it
is confirmed, add a card, make it the default, download an invoice PDF, sign out.

Every page is screenshotted at phone (360 px) and desktop (1280 px) width into
artifacts/screenshots/ and scanned with axe-core (no serious or critical violation).
"""

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, ViewportSize, expect

from portal_gateway.portal.domain.money import format_money
from tests.gateway.conftest import active_bill_group
from tests.support.portal import stored_document, wait_for_verify_link
from tests.support.services import DevPortal

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PHONE = ViewportSize(width=360, height=780)
DESKTOP = ViewportSize(width=1280, height=900)


class Pages:
    """Screenshots at both widths plus an axe scan, for whatever page is showing."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.axe = Axe()
        self.problems: dict[str, list[str]] = {}
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def capture(self, name: str) -> None:
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(size)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size(DESKTOP)
        results = self.axe.run(self.page)
        serious = [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            self.problems[name] = serious


def wait_confirmed(page: Page) -> None:
    # The change page polls the JSON API and reloads itself once upstream has answered.
    expect(page.locator("h1")).to_have_text("Saved and confirmed", timeout=30_000)


def test_customer_journey(browser: Browser, portal: DevPortal) -> None:
    bg: dict[str, Any] = active_bill_group(portal, 0)
    aws = portal.ready["endpoints"]["AWS_ENDPOINT_URL"]
    address = f"browser-{uuid.uuid4().hex[:8]}@{bg['customer_domain']}"
    context = browser.new_context(viewport=DESKTOP, locale="en-US", accept_downloads=True)
    page = context.new_page()
    shots = Pages(page)
    base = portal.ready["gateway_url"]

    # Sign in through the emailed link.
    page.goto(bg["portal_url"])
    expect(page.locator(".brand-name")).not_to_have_text("Billing portal")
    shots.capture("signin")
    page.get_by_label("Email").fill(address)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.locator("h1")).to_have_text("Check your email")
    shots.capture("check-email")
    link = wait_for_verify_link(aws, address)
    assert link.startswith(base)
    page.goto(link)
    shots.capture("verify")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/portal")

    # The overview shows the simulator's numbers.
    for currency, amount in bg["expected_outstanding"].items():
        expect(page.locator(".summary-grid")).to_contain_text(
            format_money(amount, currency, "en_US")
        )
    auto_pay = "On" if bg["expected_auto_pay_active"] else "Off"
    expect(page.locator(".tile", has_text="Auto-pay")).to_contain_text(auto_pay)
    shots.capture("overview")

    # Edit the PO number and see it confirmed.
    new_po = f"PO-{uuid.uuid4().hex[:6].upper()}"
    page.get_by_role("link", name="Billing details", exact=True).click()
    shots.capture("billing-details")
    page.get_by_label("PO number").fill(new_po)
    page.get_by_role("button", name="Save billing details").click()
    wait_confirmed(page)
    shots.capture("change-confirmed")
    page.goto(f"{base}/portal")
    expect(page.locator(".details")).to_contain_text(new_po)

    # A VAT number of the wrong shape is refused with a message tied to the field.
    page.goto(f"{base}/portal/billing-details")
    page.get_by_label("VAT number").fill("DE123")
    page.get_by_role("button", name="Save billing details").click()
    expect(page.locator("#e-vat_number")).to_contain_text("not a valid VAT number")
    shots.capture("billing-details-error")

    # Add a card, then make it the default.
    page.goto(f"{base}/portal/payment-methods/new")
    page.get_by_label("Card number").fill("5555 5555 5555 4444")
    page.get_by_label("Month").fill("12")
    page.get_by_label("Year").fill("2031")
    page.get_by_label("Name on card").fill("Browser Test")
    shots.capture("add-card")
    page.get_by_role("button", name="Add card").click()
    wait_confirmed(page)
    page.goto(f"{base}/portal/payment-methods")
    card = page.locator(".method", has_text="Mastercard •••• 4444")
    expect(card).to_be_visible()
    shots.capture("payment-methods")
    card.get_by_role("button", name="Make default").click()
    wait_confirmed(page)
    page.goto(f"{base}/portal")
    expect(page.locator(".details")).to_contain_text("Mastercard •••• 4444")

    # Edit the shipping contact.
    page.goto(f"{base}/portal/contacts/shipping/edit")
    page.get_by_label("Name").fill("Dock 7 Receiving")
    page.get_by_label("Phone").fill("+49 30 7654321")
    page.get_by_label("Street address").fill("7 Harbour Road")
    page.get_by_label("City").fill("Hamburg")
    page.get_by_label("Country code").fill("DE")
    shots.capture("contact-edit")
    page.get_by_role("button", name="Save contact").click()
    wait_confirmed(page)
    page.goto(f"{base}/portal/contacts")
    expect(page.locator("section", has_text="Shipping contact")).to_contain_text("Dock 7 Receiving")
    shots.capture("contacts")

    # The other pages.
    for name, path in (
        ("subscriptions", "/portal/subscriptions"),
        ("activity", "/portal/activity"),
    ):
        page.goto(base + path)
        expect(page.locator("h1")).to_be_visible()
        shots.capture(name)
    expect(page.locator(".activity")).to_contain_text(address)

    # Download an invoice PDF: the bytes are the document upstream stored.
    page.goto(f"{base}/portal/invoices")
    shots.capture("invoices")
    first = page.get_by_role("link", name="Download PDF").first
    href = first.get_attribute("href") or ""
    invoice_id = href.split("/")[-2]
    with page.expect_download() as download_info:
        first.click()
    download = download_info.value
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"%PDF")
    assert download.suggested_filename.endswith(".pdf")
    invoice = context.request.get(f"{base}/api/portal/v1/invoices/{invoice_id}").json()
    assert body == stored_document(aws, invoice["document"])

    # Sign out: back on the sign-in page, and the portal is closed to this browser.
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".notice")).to_contain_text("You have signed out")
    page.goto(f"{base}/portal")
    assert urlsplit(page.url).path == urlsplit(bg["portal_url"]).path
    context.close()

    assert shots.problems == {}, shots.problems


def test_preview_expired_link_and_mailbox_pages(browser: Browser, portal: DevPortal) -> None:
    bg: dict[str, Any] = active_bill_group(portal, 2)
    base = portal.ready["gateway_url"]
    created = httpx.post(
        f"{base}/api/admin/v1/bill-groups/{bg['bill_group_id']}/portal/preview",
        headers={"Authorization": f"Bearer {portal.ready['admin_api_key']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    preview_url = created.json()["preview_url"]
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    shots = Pages(page)

    page.goto(preview_url)
    page.get_by_role("button", name="Open preview").click()
    expect(page.locator(".preview-banner")).to_contain_text("Preview")
    shots.capture("preview-overview")
    page.goto(f"{base}/portal/billing-details")
    expect(page.get_by_role("button", name="Save billing details")).to_be_disabled()
    shots.capture("preview-billing-details")

    # The same preview link a second time: used up, with a way to ask for a new link.
    fresh = browser.new_context(viewport=DESKTOP, locale="en-US")
    again = fresh.new_page()
    again.goto(preview_url)
    again.get_by_role("button", name="Open preview").click()
    expect(again.locator("h1")).to_contain_text("expired or was already used")
    other = Pages(again)
    other.capture("link-expired")

    again.goto(f"{base}/dev/mailbox")
    expect(again.locator("h1")).to_have_text("Dev mailbox")
    other.capture("dev-mailbox")
    fresh.close()
    context.close()
    assert shots.problems == {}, shots.problems
    assert other.problems == {}, other.problems
