"""The gateway's calls to access and billing-view, counted by status class (or "error" when no
answer came) and timed, below the client so that every call is measured."""

from __future__ import annotations

import httpx
import pytest

from portal_gateway.clients.http import MeteredTransport
from portal_gateway.metrics import STATUS_CLASSES, UPSTREAMS
from tests.support.metrics import scraped


def handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/down":
        raise httpx.ConnectError("connection refused", request=request)
    return httpx.Response(int(request.url.path.strip("/")))


def calls(upstream: str, status_class: str) -> float:
    found = scraped(
        "portal_gateway_upstream_requests_total", upstream=upstream, status_class=status_class
    )
    assert found is not None, (upstream, status_class)
    return found


def test_every_upstream_and_status_class_has_a_series_before_any_call() -> None:
    for upstream in UPSTREAMS:
        for status_class in STATUS_CLASSES:
            calls(upstream, status_class)


async def test_calls_are_counted_by_status_class_and_timed() -> None:
    before = {c: calls("billing-view", c) for c in STATUS_CLASSES}
    timed = scraped(
        "portal_gateway_upstream_request_duration_seconds_count", upstream="billing-view"
    )
    transport = MeteredTransport(httpx.MockTransport(handler), "billing-view")
    async with httpx.AsyncClient(transport=transport, base_url="http://billing-view") as http:
        for path in ("/200", "/204", "/404", "/503"):
            await http.get(path)
        with pytest.raises(httpx.ConnectError):
            await http.get("/down")

    after = {c: calls("billing-view", c) for c in STATUS_CLASSES}
    assert {c: after[c] - before[c] for c in STATUS_CLASSES} == {
        "2xx": 2,
        "3xx": 0,
        "4xx": 1,
        "5xx": 1,
        "error": 1,
    }
    now = scraped("portal_gateway_upstream_request_duration_seconds_count", upstream="billing-view")
    assert now == (timed or 0) + 5
