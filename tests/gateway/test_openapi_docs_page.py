"""The API docs pages in a real browser (Debian's chromium): the vendored Redoc renders each
document under the page's own CSP, its search (a blob: worker) answers, and nothing from another
origin is loaded (no CDN, no remote font)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Request, expect

from tests.support.services import DevPortal

pytestmark = [pytest.mark.integration, pytest.mark.browser]
# Redoc's "API docs by Redocly" footer always asks Redocly's CDN for this logo: the page's CSP
# refuses it (the image then hides itself), so nothing from another origin is ever loaded.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize(
    ("api", "title", "operation"),
    [
        ("portal", "Customer portal API", "The signed-in customer"),
        ("admin", "Customer portal admin API", "Turn the portal on or off"),
    ],
)
def test_docs_page_renders_under_its_csp(
    browser: Browser, portal: DevPortal, api: str, title: str, operation: str
) -> None:
    gateway = portal.ready["gateway_url"]
    page = browser.new_page()
    refused: list[str] = []
    elsewhere: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    def on_request(request: Request) -> None:
        if not request.url.startswith((gateway, "blob:", "data:")):
            elsewhere.append(request.url)

    page.on("console", on_console)
    page.on("request", on_request)
    try:
        page.goto(f"{gateway}/api/{api}/v1/docs")
        expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=30_000)
        expect(page.get_by_text(operation).first).to_be_attached()
        page.get_by_placeholder("Search...").fill("portal")
        results = page.locator('[data-role="search:results"] [role="menuitem"]')
        expect(results.first).to_be_visible(timeout=15_000)
    finally:
        page.close()
    assert elsewhere == [REDOCLY_LOGO]
    assert refused
    assert [message for message in refused if REDOCLY_LOGO not in message] == []
