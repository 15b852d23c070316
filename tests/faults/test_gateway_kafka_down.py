"""A gateway started while Kafka is away: ready at once, pages served, changes refused cleanly
(503, Retry-After, the kit's error body; the form answers "could not save right now"); Kafka
back → changes taken again without a restart; Kafka away again → pages still served, changes
refused again; and no refused change ever reaches the topic.

The gateway runs as a process (`portal-gateway run`) in front of the shared portal's access and
billing-view, but on a Kafka broker of this test's own, which it stops and starts without
touching the session's broker. "Taken again within 10 s" is a property of the publisher's
capped retry (`portal_gateway.clients.changes`), not a timed assertion here.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from portal_contracts.codec import decode
from portal_contracts.topics import Topic
from portal_localstack.kafka import KafkaServer, create_topics
from portal_localstack.ports import free_port
from portal_localstack.stack import stack_root
from tests.support.gateway import GatewayProcess
from tests.support.portal import csrf_field, sign_in
from tests.support.services import DevPortal, active_bill_group, shared_dev_portal
from tests.support.waiting import eventually

# The shared portal may start inside this test's setup, and the broker starts twice.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

NOT_SAVED = "could not save your change right now"


@pytest.fixture(scope="module")
def portal() -> DevPortal:
    return shared_dev_portal()


@pytest.fixture
def kafka() -> Iterator[KafkaServer]:
    """A broker of this test's own, prepared but not started: the gateway meets it down."""
    base = stack_root(f"gw-kafka-{secrets.token_hex(4)}")
    server = KafkaServer(free_port(), free_port(), base, heap_mb=512)
    server.prepare()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Gateway:
    """A signed-in customer of this test's gateway; every change tried is recorded by its
    PO number with the status it was answered."""

    client: httpx.AsyncClient
    topic_prefix: str
    attempts: dict[str, int] = field(default_factory=dict)

    async def edit(self, po_number: str) -> httpx.Response:
        answer = await self.client.post(
            "/api/portal/v1/billing-profile",
            json={"po_number": po_number},
            headers={"x-csrftoken": self.client.cookies.get("csrftoken") or ""},
        )
        self.attempts[po_number] = answer.status_code
        return answer

    async def edit_form(self, po_number: str) -> httpx.Response:
        form = await self.client.get("/portal/billing-details")
        assert form.status_code == 200, form.text
        answer = await self.client.post(
            "/portal/billing-details",
            data={"po_number": po_number, "_csrf_token": csrf_field(form.text)},
        )
        self.attempts[po_number] = answer.status_code
        return answer

    async def accepted(self, prefix: str) -> bool:
        return (await self.edit(f"{prefix}-{len(self.attempts)}")).status_code == 202

    async def refused(self, prefix: str) -> bool:
        return (await self.edit(f"{prefix}-{len(self.attempts)}")).status_code == 503


@pytest.fixture
async def gateway(portal: DevPortal, kafka: KafkaServer) -> AsyncIterator[Gateway]:
    """This test's gateway on its own (stopped) broker, and a customer signed in through it
    while Kafka is away: sign-in is access's business."""
    prefix = f"t{secrets.token_hex(6)}."
    process = await asyncio.to_thread(
        GatewayProcess.start,
        portal,
        kafka.base / "gateway.log",
        KAFKA_BOOTSTRAP=kafka.bootstrap,
        TOPIC_PREFIX=prefix,
        # billing-view reads the session's Kafka, never this broker: do not wait for it.
        CHANGE_VISIBLE_WAIT_SECONDS="0",
    )
    bill_group = active_bill_group(portal, 0)
    path = urlsplit(bill_group["portal_url"]).path
    address = f"kafka-down-{secrets.token_hex(4)}@{bill_group['customer_domain']}"
    aws = portal.ready["endpoints"]["AWS_ENDPOINT_URL"]
    try:
        signed_in = await asyncio.to_thread(sign_in, process.url, process.url + path, address, aws)
        async with httpx.AsyncClient(
            base_url=process.url, cookies=signed_in.cookies, timeout=30
        ) as client:
            signed_in.close()
            yield Gateway(client, prefix)
    finally:
        await asyncio.to_thread(process.stop)


async def readiness(gateway: Gateway) -> dict[str, Any]:
    answer = await gateway.client.get("/readyz")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def ready(gateway: Gateway) -> bool:
    return (await gateway.client.get("/readyz")).status_code == 200


async def kafka_up(kafka: KafkaServer, prefix: str) -> None:
    await asyncio.to_thread(kafka.start)
    await asyncio.to_thread(kafka.wait_ready)
    await create_topics(kafka.bootstrap, [Topic.PORTAL_CUSTOMER_CHANGES], prefix=prefix)


async def published_po_numbers(kafka: KafkaServer, prefix: str) -> list[str]:
    """Every change on the topic, from the first offset to the end offsets of now."""
    consumer = AIOKafkaConsumer(
        prefix + Topic.PORTAL_CUSTOMER_CHANGES,
        bootstrap_servers=kafka.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[str] = []

    async def at_the_end() -> bool:
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            found.extend(
                str(decode(r.value or b"").payload.billing_profile.po_number) for r in records
            )
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions) if partitions else {}
        for partition, end in ends.items():
            if await consumer.position(partition) < end:
                return False
        return bool(partitions)

    try:
        await eventually(at_the_end, 30, "the end of the changes topic")
    finally:
        await consumer.stop()
    return found


async def test_gateway_serves_without_kafka_and_takes_changes_once_it_is_back(
    kafka: KafkaServer, gateway: Gateway
) -> None:
    # Ready although Kafka never answered: the process serves its pages.
    await eventually(functools.partial(ready, gateway), 60, "gateway ready without Kafka")
    status = await readiness(gateway)
    assert status["status"] == "degraded"
    assert status["checks"]["kafka"] is False
    assert (await gateway.client.get("/portal")).status_code == 200

    refused = await gateway.edit("REFUSED-api")
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "not_saved"
    assert "try again in a moment" in refused.json()["message"]
    page = await gateway.edit_form("REFUSED-form")
    assert page.status_code == 503
    assert NOT_SAVED in page.text

    await kafka_up(kafka, gateway.topic_prefix)
    await eventually(
        functools.partial(gateway.accepted, "BACK"), 60, "a change taken after Kafka came up"
    )
    assert (await readiness(gateway))["checks"]["kafka"] is True

    await asyncio.to_thread(kafka.stop)
    assert (await gateway.client.get("/portal")).status_code == 200
    await eventually(
        functools.partial(gateway.refused, "AWAY"), 60, "changes refused with Kafka away"
    )
    page = await gateway.edit_form("AWAY-form")
    assert page.status_code == 503
    assert NOT_SAVED in page.text
    assert (await gateway.client.get("/portal/billing-details")).status_code == 200
    assert (await readiness(gateway))["status"] == "degraded"

    # Nothing refused was written, not even late: once Kafka is back, the topic holds exactly
    # the changes that were answered 202.
    await kafka_up(kafka, gateway.topic_prefix)
    await eventually(
        functools.partial(gateway.accepted, "AGAIN"), 60, "a change taken after a restart"
    )
    taken = sorted(po for po, answered in gateway.attempts.items() if answered == 202)
    assert sorted(await published_po_numbers(kafka, gateway.topic_prefix)) == taken
    assert len(taken) >= 2
    assert {answered for po, answered in gateway.attempts.items() if po not in taken} == {503}
