"""The gateway's calls to access and billing-view, counted by status class (or "error" when no
answer came) and timed, below the client so that every call is measured; and its Kafka
publishes by outcome."""

from __future__ import annotations

import httpx
import pytest
from litestar.testing import TestClient

from portal_gateway.app import create_app
from portal_gateway.clients.changes import ChangePublisher
from portal_gateway.clients.http import MeteredTransport
from portal_gateway.errors import PublishError
from portal_gateway.metrics import STATUS_CLASSES, UPSTREAMS
from tests.gateway import fakes
from tests.gateway.fakes import offline_settings, profile_change
from tests.support.metrics import samples, scraped


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


async def test_a_change_refused_while_kafka_is_away_counts_as_a_failed_publish() -> None:
    publisher = ChangePublisher(offline_settings())
    topic = publisher.topic
    labels = {"service": "gateway", "topic": topic}
    failed_before = scraped("portal_kafka_published_total", **labels, outcome="error")
    assert scraped("portal_kafka_published_total", **labels, outcome="ok") is not None
    assert failed_before is not None
    session = fakes.session()
    change = profile_change(session)
    try:
        with pytest.raises(PublishError):
            await publisher.publish(session, change)
    finally:
        await publisher.stop()
    failed = scraped("portal_kafka_published_total", **labels, outcome="error")
    assert failed == failed_before + 1


def test_the_gateway_counts_requests_by_route_template_and_its_failed_upstream_calls() -> None:
    settings = offline_settings()
    key = "Zk3pQ9vLr2Xw8Yt5Nb7Mc1Hd4Jf6Gs0Aa2Ee9Uu3Ii"
    access_errors = calls("access", "error")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        client.get(f"/p/{key}")
        text = client.get("/metrics").text
    routes = {
        dict(labels).get("route")
        for (name, labels) in samples(text)
        if name == "portal_http_requests_total" and ("service", "gateway") in labels
    }
    assert any(route and route.startswith("/p/{") for route in routes), routes
    assert key not in text
    assert calls("access", "error") > access_errors
