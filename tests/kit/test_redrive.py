"""`portal-dlq` (issue 14 item 10) on real Kafka: messages a real consumer (billing-view's)
dead-lettered are listed with why they failed and their original headers; a dry run of a range
sends nothing; a re-drive republishes exactly that range to the original topic (key, value,
original headers, plus the re-drive marks), and when the messages fail again their second
dead letters carry `redrive.count`, so a loop shows."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from litestar.testing import AsyncTestClient

from billing_view.app import create_app
from billing_view.settings import Settings
from portal_contracts.topics import Topic
from portal_kit.redrive import partitions
from portal_localstack.testing import Isolation, StackHandle
from tests.billing_view.support import stack_settings
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

KEY = b"bg_globex"
POISONS = [b'{"type": "invoice.state", "payload": ', b'{"not": "an envelope"}']
ORIGINAL_HEADERS = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]


@pytest.fixture
def settings(stack: StackHandle, isolation: Isolation, topics: list[str]) -> Settings:
    return stack_settings(stack, isolation)


@pytest.fixture
async def consuming(settings: Settings) -> AsyncIterator[None]:
    """billing-view with its real consumer, dead-lettering what it cannot decode."""
    async with AsyncTestClient(create_app(settings)):
        yield


async def records(settings: Settings, topic: str, at_least: int) -> list[Any]:
    """Every record of `topic` (all partitions) from the beginning, once there are enough."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []

    async def enough() -> bool:
        for batch in (await consumer.getmany(timeout_ms=300)).values():
            found.extend(batch)
        return len(found) >= at_least

    try:
        await eventually(enough, within=60, what=f"{at_least} records on {topic}")
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: (r.partition, r.offset))


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    parts = [TopicPartition(topic, p) for p in await partitions(settings, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()


async def portal_dlq(settings: Settings, *args: str) -> list[dict[str, Any]]:
    """`portal-dlq <args>` as an operator runs it; its JSON lines."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "portal_kit.redrive", *args],
        env={"KAFKA_BOOTSTRAP": settings.kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_inspect_dry_run_and_redrive_of_dead_letters(
    settings: Settings, consuming: None
) -> None:
    source = settings.topic(Topic.INVOICES)
    dlq = settings.dead_letter_topic
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(source, value, key=KEY, headers=ORIGINAL_HEADERS)
            for value in POISONS
        ]
    finally:
        await producer.stop()

    parked = await records(settings, dlq, at_least=2)
    assert [r.value for r in parked] == POISONS
    [partition] = {r.partition for r in parked}
    first, last = parked[0].offset, parked[-1].offset

    listed = await portal_dlq(settings, "inspect", dlq)
    assert [(d["partition"], d["offset"]) for d in listed] == [
        (partition, first),
        (partition, last),
    ]
    for letter, original in zip(listed, sent, strict=True):
        assert letter["failure"]["dlq.source.topic"] == source
        assert letter["failure"]["dlq.source.offset"] == str(original.offset)
        assert letter["failure"]["dlq.error.type"] == "ContractError"
        assert letter["headers"]["traceparent"] == ORIGINAL_HEADERS[0][1].decode()
        assert letter["key"] == KEY.decode()
        assert letter["redrive_count"] == 0

    range_args = ["--partition", str(partition), "--from", str(first), "--to", str(last)]
    before = await end_offsets(settings, source)
    planned = await portal_dlq(settings, "redrive", dlq, *range_args, "--dry-run")
    assert [p["to"] for p in planned] == [source, source]
    assert [p["headers"]["redrive.count"] for p in planned] == ["1", "1"]
    assert await end_offsets(settings, source) == before  # nothing sent

    redriven = await portal_dlq(settings, "redrive", dlq, *range_args)
    after = await end_offsets(settings, source)
    assert sum(after.values()) - sum(before.values()) == 2
    on_source = await records(settings, source, at_least=4)
    new = [r for r in on_source if r.offset >= before[r.partition]]
    assert [(r.partition, r.offset) for r in new] == [
        (d["partition"], d["offset"]) for d in redriven
    ]
    assert [(r.key, r.value) for r in new] == [(KEY, p) for p in POISONS]
    for record, letter in zip(new, parked, strict=True):
        headers = dict(record.headers)
        assert headers["traceparent"] == ORIGINAL_HEADERS[0][1]
        assert headers["redrive.count"] == b"1"
        assert headers["redrive.from"] == f"{dlq}/{partition}/{letter.offset}".encode()
        assert not [k for k in headers if k.startswith("dlq.")]

    # Still poison: billing-view parks them again, and their marks show they went round once.
    again = await records(settings, dlq, at_least=4)
    assert [dict(r.headers)["redrive.count"] for r in again[2:]] == [b"1", b"1"]
    relisted = await portal_dlq(settings, "inspect", dlq, "--from", str(last + 1))
    assert [d["redrive_count"] for d in relisted] == [1, 1]
