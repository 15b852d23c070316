"""Kafka goes away mid-stream and comes back: nothing the producer sent is lost."""

import asyncio
import itertools

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from portal_localstack.testing import Isolation, StackHandle

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("crash", [False, True], ids=["stop", "kill-9"])
async def test_producer_and_consumer_recover_after_kafka_restart(
    stack: StackHandle, isolation: Isolation, topics: list[str], crash: bool
) -> None:
    local = stack.require_local()
    topic = isolation.topic_prefix + "restart"
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.endpoints.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=60000,
        retry_backoff_ms=200,
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.endpoints.kafka_bootstrap,
        group_id=f"{isolation.token}-restart",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    received: list[int] = []

    async def consume(until: int) -> None:
        while len(set(received)) < until:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                received.extend(int(r.value or b"-1") for r in records)
            if batch:
                await consumer.commit()

    try:
        for i in range(50):
            await producer.send_and_wait(topic, str(i).encode(), key=b"k")
        await asyncio.wait_for(consume(50), 60)

        await asyncio.to_thread(local.restart_kafka, crash=crash)

        for i in range(50, 100):
            await producer.send_and_wait(topic, str(i).encode(), key=b"k")
        await asyncio.wait_for(consume(100), 120)
        # The commits made around the restart were kept: the group resumes at the end.
        committed = {tp: await consumer.committed(tp) or 0 for tp in consumer.assignment()}
        ends = await consumer.end_offsets(list(committed))
    finally:
        await consumer.stop()
        await producer.stop()
    assert set(received) == set(range(100))
    # An uncommitted tail may be delivered again after the restart, but never reordered:
    # each value follows the one before it, or the stream rewinds to redeliver (one key, so
    # one partition, so one order).
    for before, after in itertools.pairwise(received):
        assert after == before + 1 or after <= before, received
    assert committed == ends, "the group's committed offsets are not at the end"
