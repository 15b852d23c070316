"""Consumer lag on real Kafka: sampled from the broker by a task of its own, so that it keeps
growing while the consumer is stopped (a lag computed after each batch freezes exactly then)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from portal_contracts.topics import Topic
from portal_kit.consumer_lag import ConsumerLag
from portal_kit.settings import CommonSettings
from portal_localstack.testing import Isolation, StackHandle
from tests.support.metrics import samples, scraped
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(stack: StackHandle, isolation: Isolation, topics: list[str]) -> CommonSettings:
    return CommonSettings(
        kafka_bootstrap=stack.endpoints.kafka_bootstrap, topic_prefix=isolation.topic_prefix
    )


@pytest.fixture
async def producer(settings: CommonSettings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def publish(producer: AIOKafkaProducer, topic: str, count: int) -> None:
    for i in range(count):
        await producer.send_and_wait(topic, b"{}", key=f"bg_{i}".encode())


def lag_of(group: str, topic: str) -> float:
    """The group's lag on `topic`, summed over its partitions, as /metrics serves it."""
    from prometheus_client import generate_latest

    return sum(
        value
        for (name, labels), value in samples(generate_latest().decode()).items()
        if name == "portal_consumer_lag"
        and ("group", group) in labels
        and ("topic", topic) in labels
    )


async def test_lag_keeps_growing_while_the_consumer_is_stopped(
    settings: CommonSettings, producer: AIOKafkaProducer, isolation: Isolation
) -> None:
    topic = settings.topic(Topic.BILL_GROUPS)
    group = f"{isolation.token}-lag"
    await publish(producer, topic, 3)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    consumed = 0

    async def caught_up() -> bool:
        nonlocal consumed
        consumed += sum(len(b) for b in (await consumer.getmany(timeout_ms=300)).values())
        return consumed >= 3

    try:
        await eventually(caught_up, what="the consumer read the first 3 records")
        await consumer.commit()
    finally:
        await consumer.stop()  # the consumer stalls from here on

    lag = ConsumerLag(settings, group=group, topics=[topic], interval_seconds=0.2)
    lag.start()
    try:

        async def sampled() -> bool:
            return scraped("portal_consumer_lag_sampled_timestamp_seconds", group=group) is not None

        await eventually(sampled, what="a first lag sample")
        assert lag_of(group, topic) == 0

        await publish(producer, topic, 5)

        async def five_behind() -> bool:
            return lag_of(group, topic) == 5

        await eventually(five_behind, what="lag 5 after 5 records nobody consumed")

        await publish(producer, topic, 4)

        async def nine_behind() -> bool:
            return lag_of(group, topic) == 9

        await eventually(nine_behind, what="lag 9: still growing while the consumer is stopped")
    finally:
        await lag.stop()
