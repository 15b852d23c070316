"""Issue 9 acceptance in a real browser over the real services: open a signed link, add a
domain rule, be refused an email under it (naming the rule) and a two-address value, copy
the link, preview the portal read-only, end a customer's session, read it all in the history.
Screenshots at phone and desktop width; axe finds no serious or critical violation."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    expect,
)

from portal_gateway.settings import Settings as GatewaySettings
from tests.staff.conftest import SCREENSHOTS, STAFF, Console
from tests.support.portal import wait_for_verify_link

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PHONE: ViewportSize = {"width": 360, "height": 800}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}

# How long the gateway may serve a session it validated (revocation staleness bound).
SESSION_CACHE_SECONDS = GatewaySettings.model_fields["session_cache_seconds"].default


@pytest.fixture
def staff_context(browser: Browser, console: Console) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP, base_url=console.gateway)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.gateway)
    yield context
    context.close()


def check_page(page: Page, name: str) -> None:
    """Screenshots at both widths, and axe at both (layouts differ)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"staff-{name}-{label}.png"), full_page=True)
        results = Axe().run(page)
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']}"
            for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")
        ]
        assert not bad, f"{name} at {label}: {bad}"
    page.set_viewport_size(DESKTOP)


def enter(page: Page, link: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", name="Open the staff console")).to_be_visible()
    page.get_by_role("button", name="Open the console").click()


def customer_signs_in(browser: Browser, console: Console, portal_url: str, email: str) -> Page:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(portal_url)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    link = wait_for_verify_link(console.aws_endpoint, email)
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/portal$"))
    return page


def section(page: Page, heading_id: str) -> Locator:
    return page.locator(f"section[aria-labelledby='{heading_id}']")


def rule_form(page: Page, kind: str, value: str) -> None:
    page.get_by_role("radio", name=kind).check()
    page.get_by_label("Domain or email address").fill(value)
    page.get_by_role("button", name="Add rule").click()


def test_staff_set_up_portal_access_end_to_end(
    browser: Browser, staff_context: BrowserContext, console: Console
) -> None:
    bg: dict[str, Any] = console.bill_group()
    bill_group_id = bg["bill_group_id"]
    partner = f"partner-{uuid.uuid4().hex[:6]}.example"
    page = staff_context.new_page()

    # A signed link: confirmation first (a link previewer cannot use it up), then the console.
    link = console.staff_link(bill_group=bill_group_id)
    page.goto(link)
    check_page(page, "enter")
    page.get_by_role("button", name="Open the console").click()
    page.wait_for_url(f"**/staff/bill-groups/{bill_group_id}")
    expect(page.get_by_text(f"signed in as {STAFF}")).to_be_visible()
    expect(page.locator("#contract-why")).to_contain_text("Customers can use the portal")

    # Add a domain rule.
    rule_form(page, "Domain", partner)
    expect(page.get_by_role("status").filter(has_text="rule was added")).to_be_visible()
    row = section(page, "rules-h").get_by_role("row").filter(has_text=partner)
    expect(row).to_contain_text("Domain")
    expect(row).to_contain_text(STAFF)

    # An email under that domain: refused inline, naming the covering rule.
    rule_form(page, "Individual email", f"someone@{partner}")
    error = page.locator("#e-value")
    expect(error).to_contain_text(partner)
    expect(page.get_by_label("Domain or email address")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Domain or email address")).to_have_value(f"someone@{partner}")
    expect(page.locator(".error-summary")).to_contain_text(partner)
    check_page(page, "rule-refused")

    # Two addresses in one value: the one-address message.
    rule_form(page, "Individual email", "a@x.com, b@x.com")
    expect(page.locator("#e-value")).to_contain_text("single value")
    expect(page.locator("#e-value")).to_contain_text("one rule per address")

    # Copy the portal link (clipboard), the read-only field stays as fallback.
    field = page.get_by_role("textbox", name="Portal link")
    expect(field).to_have_attribute("readonly", "")
    portal_url = field.input_value()
    assert re.search(r"/p/[A-Za-z0-9_-]{20,}$", portal_url), portal_url
    page.get_by_role("button", name="Copy portal link").click()
    expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == portal_url

    # Preview in a new tab: bannered, and nothing can be changed.
    with staff_context.expect_page() as opened:
        page.get_by_role("button", name=re.compile("Preview portal")).click()
    preview = opened.value
    preview.wait_for_load_state()
    preview.get_by_role("button", name="Open preview").click()
    preview.wait_for_url(re.compile(r"/portal$"))
    banner = preview.locator(".preview-banner")
    expect(banner).to_contain_text("Changes are disabled")
    preview.goto(console.gateway + "/portal/billing-details")
    save = preview.get_by_role("button", name="Save billing details")
    expect(save).to_be_disabled()
    # Even a forced submit is refused by the server.
    save.evaluate("button => { button.disabled = false; }")
    save.click()
    expect(preview.get_by_text("This is a preview: changes are not possible.")).to_be_visible()
    preview.goto(console.gateway + "/portal")
    check_page(preview, "preview")
    preview.close()

    # A customer signs in; staff end that session; the customer is out.
    customer_email = f"staff-test-{uuid.uuid4().hex[:6]}@{bg['customer_domain']}"
    customer = customer_signs_in(browser, console, portal_url, customer_email)
    page.goto(f"/staff/bill-groups/{bill_group_id}")
    sessions = section(page, "sessions-h")
    session_row = sessions.get_by_role("row").filter(has_text=customer_email)
    expect(session_row).to_be_visible()
    check_page(page, "bill-group")
    session_row.get_by_role("button", name=f"End session of {customer_email}").click()
    expect(page.get_by_role("status").filter(has_text="session was ended")).to_be_visible()
    expect(sessions.get_by_role("row").filter(has_text=customer_email)).to_have_count(0)
    # The gateway may serve a validated session for SESSION_CACHE_SECONDS (its README,
    # Sessions): past that bound, the ended session must be refused.
    time.sleep(SESSION_CACHE_SECONDS + 0.2)
    customer.reload()
    assert re.search(r"/p/[^/?]+\?reason=expired$", customer.url), customer.url
    customer.context.close()

    # The history holds it all, under the staff identity from the link.
    history = section(page, "audit-h")
    for action in (
        "opened the staff console",
        "added an access rule",
        "made a preview link",
        "opened the preview",
        "ended a customer session",
    ):
        expect(history.get_by_role("row").filter(has_text=action).first).to_contain_text(STAFF)
    expect(history).to_contain_text(f"Domain {partner}")

    # Remove the rule again: gone from the list, recorded in the history.
    rules = section(page, "rules-h")
    rules.get_by_role("button", name=f"Remove {partner}").click()
    expect(page.get_by_role("status").filter(has_text="rule was removed")).to_be_visible()
    expect(rules.get_by_role("row").filter(has_text=partner)).to_have_count(0)
    removed = history.get_by_role("row").filter(has_text="removed an access rule").first
    expect(removed).to_contain_text(partner)

    # The same link a second time is refused.
    page.goto(link)
    expect(page.get_by_role("heading", name="This staff link cannot be used")).to_be_visible()
    expect(page.get_by_text("already used")).to_be_visible()
    check_page(page, "refused")


def test_rotate_link_asks_first_and_the_old_link_stops_working(
    staff_context: BrowserContext, console: Console
) -> None:
    bill_group_id = console.bill_group()["bill_group_id"]
    page = staff_context.new_page()
    enter(page, console.staff_link(bill_group=bill_group_id))
    old = page.get_by_role("textbox", name="Portal link").input_value()
    page.get_by_role("link", name="Rotate link…").click()
    expect(page.get_by_text("The old link stops working at once")).to_be_visible()
    check_page(page, "rotate")
    page.get_by_role("button", name="Rotate the link").click()
    expect(page.get_by_role("status").filter(has_text="old link no longer works")).to_be_visible()
    new = page.get_by_role("textbox", name="Portal link").input_value()
    assert new != old
    gone = page.request.get(old)
    assert gone.status == 404


def test_account_page_shows_every_bill_group_at_a_glance(
    staff_context: BrowserContext, console: Console
) -> None:
    bg = console.bill_group()
    page = staff_context.new_page()
    enter(page, console.staff_link(account=bg["account_id"]))
    page.wait_for_url(f"**/staff/accounts/{bg['account_id']}")
    expect(page.get_by_text("separately for each bill group")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=bg["bill_group_id"])
    expect(row).to_contain_text("Active")
    check_page(page, "account")
    row.get_by_role("link").click()
    page.wait_for_url(f"**/staff/bill-groups/{bg['bill_group_id']}")
    expect(page.get_by_role("link", name="All bill groups of this account")).to_be_visible()


def test_keyboard_only_can_add_a_rule(staff_context: BrowserContext, console: Console) -> None:
    bill_group_id = console.bill_group()["bill_group_id"]
    page = staff_context.new_page()
    enter(page, console.staff_link(bill_group=bill_group_id))
    page.get_by_label("Domain or email address").focus()
    page.keyboard.type("a@x.com, b@x.com")
    page.keyboard.press("Enter")
    # The error summary takes focus so a screen reader announces the problem.
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary a")).to_have_attribute("href", "#f-value")


def test_an_inactive_contract_says_why_the_portal_cannot_be_used(
    staff_context: BrowserContext, console: Console
) -> None:
    bg = console.bill_group("inactive")
    page = staff_context.new_page()
    enter(page, console.staff_link(bill_group=bg["bill_group_id"]))
    status = section(page, "status-h")
    expect(status).to_contain_text("Inactive")
    expect(page.locator("#contract-why")).to_contain_text(
        "the portal only works while the contract is active"
    )
    check_page(page, "bill-group-inactive")
