"""Acceptance: a malformed event and an event that fails validation land in the dead-letter
topic with their error; the events after them are still applied (real Kafka + MongoDB)."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from billing_simulator.scenario import demo
from billing_view import db
from billing_view.app import create_app
from billing_view.projection.replay import ReplayError, replay_into, snapshot
from billing_view.settings import Settings
from portal_contracts.codec import encode
from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_localstack.testing import Isolation, StackHandle
from tests.billing_view.support import stack_settings
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def running(
    stack: StackHandle, isolation: Isolation, topics: list[str]
) -> AsyncIterator[tuple[Settings, AsyncTestClient[Any]]]:
    settings = stack_settings(stack, isolation)
    async with AsyncTestClient(create_app(settings)) as client:
        yield settings, client


async def test_bad_events_are_parked_and_the_rest_applied(
    running: tuple[Settings, AsyncTestClient[Any]],
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    settings, client = running
    invoice_events = [e for e in demo().events if e.type == "invoice.state"][:3]
    good_before, good_after, mismatched = invoice_events
    malformed = b'{"type": "invoice.state", "schema_version": 1, "payload": '
    invalid = json.loads(encode(good_before))
    del invalid["payload"]["total_minor"]
    # Well-formed but inconsistent: the envelope names another aggregate than the payload.
    inconsistent = mismatched.model_copy(update={"aggregate_id": "inv_someone_else"})
    topic = settings.topic(Topic.INVOICES)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in (
            encode(good_before),
            malformed,
            json.dumps(invalid).encode(),
            encode(inconsistent),
            encode(good_after),
        ):
            await producer.send_and_wait(topic, value, key=b"bg_globex")
    finally:
        await producer.stop()

    read_model = mongo[settings.mongodb_database][db.READ_MODEL]

    def key(event: Any) -> str:
        return db.invoice_id(event.tenant_id, event.payload.bill_group_id, event.aggregate_id)

    async def applied() -> bool:
        wanted = [key(good_before), key(good_after)]
        return await read_model.count_documents({"_id": {"$in": wanted}}) == 2

    await eventually(applied, what="the two valid invoices applied")
    invoices = {d["invoice_id"] async for d in read_model.find() if "invoice_id" in d}
    assert invoices == {good_before.aggregate_id, good_after.aggregate_id}

    consumer = AIOKafkaConsumer(
        settings.topic(dead_letter_topic(ConsumerGroup.BILLING_VIEW)),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    parked: list[Any] = []

    async def three_parked() -> bool:
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            parked.extend(batch)
        return len(parked) >= 3

    try:
        await eventually(three_parked, within=30, what="three dead-lettered records")
    finally:
        await consumer.stop()
    assert len(parked) == 3
    headers = [{k: v.decode() for k, v in r.headers} for r in parked]
    assert parked[0].value == malformed
    assert [h["dlq.source.offset"] for h in headers] == ["1", "2", "3"]
    assert all(h["dlq.source.topic"] == topic for h in headers)
    assert all(h["dlq.consumer.group"] == "billing-view" for h in headers)
    assert "not JSON" in headers[0]["dlq.error.message"]
    assert "total_minor" in headers[1]["dlq.error.message"]
    assert "does not match" in headers[2]["dlq.error.message"]
    assert {h["dlq.error.type"] for h in headers} == {"ContractError", "InvalidEventError"}
    assert all(r.key == b"bg_globex" for r in parked)

    metrics = (await client.get("/metrics")).text
    assert 'portal_dead_lettered_total{group="billing-view"' in metrics
    assert "portal_billing_view_events_applied_total" in metrics
    ready = await client.get("/readyz")
    assert ready.json()["checks"] == {"mongodb": True, "kafka": True}

    # `billing-view replay` rebuilds the same read model into a fresh database.
    rebuilt = settings.mongodb_database + "_replay"
    stats = await replay_into(settings, rebuilt)
    assert (stats.records, stats.skipped_invalid, stats.caught_up) == (5, 3, True)
    assert await snapshot(mongo[rebuilt]) == await snapshot(mongo[settings.mongodb_database])
    # Run again, it resumes from its own group's offsets: nothing left to apply.
    assert (await replay_into(settings, rebuilt)).records == 0
    occupied = settings.mongodb_database + "_other"
    await mongo[occupied][db.READ_MODEL].insert_one({"_id": "x"})
    with pytest.raises(ReplayError, match="not empty"):
        await replay_into(settings, occupied)
