"""The kit's metrics, read from /metrics as Prometheus parses it: HTTP requests by route
template (never the raw path), build info, and the consumer policy's series."""

from __future__ import annotations

import asyncio
import platform
from typing import cast

from faststream.kafka import KafkaBroker
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient

from portal_kit.consumer import ConsumerPolicy
from portal_kit.deadletter import KafkaDeadLetter, SourceRecord
from portal_kit.metrics import Metrics, distribution_version
from portal_kit.ops import ops_routes
from tests.support.metrics import samples, scraped, value
from tests.support.waiting import eventually

KEY = "Zk3pQ9vLr2Xw8Yt5Nb7Mc1Hd4Jf6Gs0Aa2Ee9Uu3Ii"
TOKEN = "Tq8Wm2Rn5Vb7Xc1Zl4Kp9Jh3Gf6Ds0Ay5Eu8Io2Pw"
RECORD = SourceRecord(topic="t", partition=0, offset=7, key=b"k", value=b"{}")


@get("/p/{key:str}/verify/{token:str}", sync_to_thread=False)
def verify(key: FromPath[str], token: FromPath[str]) -> dict[str, str]:
    return {"ok": "yes"}


@get("/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("boom")


def app(service: str) -> Litestar:
    return Litestar(
        route_handlers=[verify, boom, *ops_routes({})],
        plugins=[Metrics(service, "portal-kit")],
        logging_config=None,
    )


def test_requests_are_counted_by_route_template_never_by_raw_path() -> None:
    with TestClient(app("kit-test-http")) as client:
        for _ in range(3):
            assert client.get(f"/p/{KEY}/verify/{TOKEN}").status_code == 200
        assert client.get("/boom").status_code == 500
        assert client.get(f"/nothing/{TOKEN}").status_code == 404
        text = client.get("/metrics").text
    service = "kit-test-http"
    route = "/p/{key}/verify/{token}"
    counted = value(
        text,
        "portal_http_requests_total",
        service=service,
        method="GET",
        route=route,
        status_code="200",
    )
    assert counted == 3
    assert (
        value(
            text,
            "portal_http_request_duration_seconds_count",
            service=service,
            method="GET",
            route=route,
        )
        == 3
    )
    assert (
        value(
            text,
            "portal_http_requests_total",
            service=service,
            method="GET",
            route="/boom",
            status_code="500",
        )
        == 1
    )
    assert (
        value(
            text,
            "portal_http_requests_total",
            service=service,
            method="GET",
            route="(unmatched)",
            status_code="404",
        )
        == 1
    )
    assert KEY not in text
    assert TOKEN not in text


def test_build_info_names_the_service_its_version_and_python() -> None:
    with TestClient(app("kit-test-build")) as client:
        text = client.get("/metrics").text
    assert (
        value(
            text,
            "portal_build_info",
            service="kit-test-build",
            version=distribution_version("portal-kit"),
            python=platform.python_version(),
        )
        == 1
    )
    assert distribution_version("portal-kit") != "unknown"


def test_dead_letter_and_retry_series_exist_at_zero_before_the_first_failure() -> None:
    group = "kit-test-precreate"
    broker = cast(KafkaBroker, object())
    dead_letter = KafkaDeadLetter(broker, topic="dlq.x", group=group, sources=["a", "b"])

    async def healthy() -> bool:
        return True

    ConsumerPolicy(group=group, dead_letter=dead_letter, healthy=healthy, invalid=(ValueError,))
    found = samples(_metrics_text())
    for topic in ("a", "b"):
        key = ("portal_dead_lettered_total", frozenset({("group", group), ("topic", topic)}))
        assert found.get(key) == 0
    for name in ("portal_consumer_held_total", "portal_consumer_retried_total"):
        assert found.get((name, frozenset({("group", group)}))) == 0
    assert found.get(("portal_consumer_holding", frozenset({("group", group)}))) == 0


async def test_holding_gauge_is_one_while_a_record_is_held_and_zero_after() -> None:
    group = "kit-test-holding"
    outage = asyncio.Event()
    outage.set()
    held = asyncio.Event()

    async def apply() -> None:
        if outage.is_set():
            raise ConnectionError("mongodb away")

    async def sleep(_: float) -> None:
        held.set()
        await asyncio.sleep(0)

    async def healthy() -> bool:
        return not outage.is_set()

    async def parked(record: SourceRecord, error: BaseException, attempts: int) -> None:
        raise AssertionError("an outage never dead-letters")

    policy = ConsumerPolicy(
        group=group, dead_letter=parked, healthy=healthy, invalid=(ValueError,), sleep=sleep
    )
    task = asyncio.create_task(policy.handle(RECORD, apply))
    await held.wait()

    async def holding() -> bool:
        return scraped("portal_consumer_holding", group=group) == 1

    await eventually(holding, what="holding gauge at 1")
    outage.clear()
    await task

    assert scraped("portal_consumer_holding", group=group) == 0
    assert (scraped("portal_consumer_held_total", group=group) or 0) >= 1


def _metrics_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest().decode()
