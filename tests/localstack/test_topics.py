"""`portal-topics` on real Kafka, run as a developer runs it: `list` counts a topic's records,
`tail` prints each record decoded (an envelope, or why it is not one) and scrubbed, `dlq`
is `portal-dlq inspect` of the service's dead-letter topic."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from portal_contracts.billing import BillGroupState
from portal_contracts.codec import encode
from portal_contracts.envelope import new_envelope
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType
from portal_contracts.topics import Topic
from portal_localstack.testing import Isolation, StackHandle

pytestmark = pytest.mark.integration

NOT_AN_ENVELOPE = b'{"not": "an envelope", "password": "hunter2-hunter2"}'


async def portal_topics(
    stack: StackHandle, isolation: Isolation, *args: str
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "portal_localstack.topics", *args],
        env={
            "KAFKA_BOOTSTRAP": stack.endpoints.kafka_bootstrap,
            "TOPIC_PREFIX": isolation.topic_prefix,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_list_tail_and_dlq(
    stack: StackHandle, isolation: Isolation, topics: list[str]
) -> None:
    topic = f"{isolation.topic_prefix}{Topic.BILL_GROUPS}"
    payload = BillGroupState.model_validate(EXAMPLES[(EventType.BILL_GROUP_STATE, 1)])
    event = new_envelope(
        payload,
        event_type=EventType.BILL_GROUP_STATE,
        schema_version=1,
        tenant_id="tnt_demo",
        aggregate_id=payload.bill_group_id,
        aggregate_version=1,
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, encode(event), key=b"bg_1001", partition=0)
        await producer.send_and_wait(topic, NOT_AN_ENVELOPE, key=b"bg_1001", partition=0)
    finally:
        await producer.stop()

    listed = {
        entry["topic"]: entry for entry in lines(await portal_topics(stack, isolation, "list"))
    }
    assert listed[topic]["records"] == 2
    assert set(listed) == set(topics)

    done = await portal_topics(
        stack, isolation, "tail", Topic.BILL_GROUPS, "--from-beginning", "--n", "2"
    )
    first, second = lines(done)
    assert first["envelope"]["payload"]["bill_group_id"] == "bg_1001"
    assert first["envelope"]["type"] == EventType.BILL_GROUP_STATE
    assert (first["partition"], first["offset"], first["key"]) == (0, 0, "bg_1001")
    assert "not_an_envelope" in second
    # Scrubbed as a log line is: no customer email address, no secret.
    assert "ap@globex.example" not in done.stdout
    assert "hunter2-hunter2" not in done.stdout

    dlq = await portal_topics(stack, isolation, "dlq", "access")
    assert lines(dlq) == []
    assert f"0 dead letter(s) on {isolation.topic_prefix}dlq.access" in dlq.stderr
