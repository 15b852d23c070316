"""Fault: the dead-letter publish fails. The consumer holds the poison message — its group's
committed offset does not pass it and nothing after it is applied — until the publish
succeeds; then the message is on the dead-letter topic, the offset moves on and the events
after it are applied (real Kafka + MongoDB servers, billing-view's real consumer)."""

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from faststream.kafka import KafkaBroker
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from billing_simulator.scenario import demo
from billing_view.app import create_app
from billing_view.db import READ_MODEL, invoice_id
from billing_view.settings import Settings
from portal_contracts.codec import encode
from portal_contracts.envelope import Envelope
from portal_contracts.topics import ConsumerGroup, Topic
from portal_kit.deadletter import KafkaDeadLetter, SourceRecord
from portal_localstack.testing import Isolation, StackHandle
from tests.billing_view.support import stack_settings
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

POISON = b'{"type": "invoice.state", "payload": '


class FailingDeadLetter:
    """The real `KafkaDeadLetter`, made to fail (as an unwritable topic would) until released."""

    def __init__(self, real: KafkaDeadLetter) -> None:
        self.real = real
        self.failures = 0
        self.released = asyncio.Event()

    async def __call__(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        if not self.released.is_set():
            self.failures += 1
            raise KafkaTimeoutError("injected: the dead-letter topic cannot be written")
        await self.real(record, error, attempts)


@pytest.fixture
async def settings(stack: StackHandle, isolation: Isolation, topics: list[str]) -> Settings:
    return stack_settings(stack, isolation)


@pytest.fixture
async def dead_letter(settings: Settings) -> AsyncIterator[FailingDeadLetter]:
    broker = KafkaBroker(settings.kafka_bootstrap, acks="all")
    await broker.connect()
    try:
        yield FailingDeadLetter(
            KafkaDeadLetter(
                broker, topic=settings.dead_letter_topic, group=ConsumerGroup.BILLING_VIEW.value
            )
        )
    finally:
        await broker.stop()


async def test_a_failing_dead_letter_publish_holds_the_offset_until_it_succeeds(
    settings: Settings,
    dead_letter: FailingDeadLetter,
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    first, later = [e for e in demo().events if e.type == "invoice.state"][:2]
    topic = settings.topic(Topic.INVOICES)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, value, key=b"bg_globex")
            for value in (encode(first), POISON, encode(later))
        ]
    finally:
        await producer.stop()
    partition = TopicPartition(topic, sent[1].partition)
    poison_offset: int = sent[1].offset
    assert {m.partition for m in sent} == {partition.partition}

    read_model = mongo[settings.mongodb_database][READ_MODEL]
    offsets = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    await offsets.start()

    async def committed() -> int:
        offset: int | None = await offsets.committed(partition)
        return offset or 0

    async def applied(event: Envelope[Any]) -> bool:
        key = invoice_id(event.tenant_id, event.payload.bill_group_id, event.aggregate_id)
        return await read_model.find_one({"_id": key}) is not None

    try:
        async with AsyncTestClient(create_app(settings, dead_letter_to=dead_letter)):

            async def failed(times: int) -> bool:
                return dead_letter.failures >= times

            for times in (3, 6):
                await eventually(functools.partial(failed, times), what=f"{times} failed publishes")
                # Held: not committed past the poison message, nothing after it applied.
                assert await committed() <= poison_offset
                assert not await applied(later)

            dead_letter.released.set()

            async def moved_on() -> bool:
                return await committed() > poison_offset

            await eventually(moved_on, what="the committed offset past the poison message")
            await eventually(lambda: applied(later), what="the event after the poison applied")
            assert await applied(first)
    finally:
        await offsets.stop()

    parked = AIOKafkaConsumer(
        settings.dead_letter_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await parked.start()
    records: list[Any] = []

    async def on_the_dead_letter_topic() -> bool:
        for batch in (await parked.getmany(timeout_ms=500)).values():
            records.extend(batch)
        return bool(records)

    try:
        await eventually(on_the_dead_letter_topic, within=30, what="the dead-lettered message")
    finally:
        await parked.stop()
    [record] = records
    headers = {k: v.decode() for k, v in record.headers}
    assert record.value == POISON
    assert headers["dlq.source.offset"] == str(poison_offset)
    assert headers["dlq.error.type"] == "ContractError"
