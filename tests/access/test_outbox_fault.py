"""The service dies between its state write and the relay's publish: nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from portal_access.db import Mongo
from portal_access.outbox.models import OutboxEntry, outbox_entry
from portal_access.outbox.publisher import KafkaPublisher
from portal_access.outbox.relay import Relay
from portal_access.outbox.repository import OutboxRepository, stored_entry
from portal_access.settings import Settings
from portal_contracts.codec import decode
from portal_contracts.portal import PortalEnabled
from portal_contracts.topics import Topic
from portal_localstack.ports import free_port
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import Feed, create_api_key, read_topic
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent / "portal-access"


class Service:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, **extra: str) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - a child we own and kill
                [str(BIN), "run"],
                env={**os.environ, **self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        async def ready() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                async with httpx.AsyncClient() as client:
                    reply = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                return reply.status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, within=60)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


async def test_event_written_before_a_kill_is_published_after_restart(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: AsyncMongoClient[dict[str, Any]],
    tmp_path: Path,
) -> None:
    port = free_port()
    database = isolation.database("access")
    env = {
        **stack.env(),
        "TOPIC_PREFIX": isolation.topic_prefix,
        "MONGODB_DATABASE": database,
        "HTTP_PORT": str(port),
        "RELAY_POLL_SECONDS": "0.2",
    }
    key = await create_api_key(
        Settings(mongodb_uri=stack.endpoints.mongodb_uri, mongodb_database=database),
        name="fault",
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    service = Service(env, port, tmp_path / "access.log")
    try:
        await Feed(producer, isolation.topic_prefix + Topic.BILL_GROUPS).bill_group("bg_f")
        # First life: the relay is off, so the process dies with the event only in MongoDB.
        await service.start(RELAY_ENABLED="false")
        base = f"http://127.0.0.1:{port}/api/admin/v1/bill-groups/bg_f/portal"
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:

            async def projected() -> bool:
                return (await client.get(base)).status_code == 200

            await eventually(projected)
            granted = await client.post(
                base + "/rules", json={"kind": "domain", "value": "customer.example"}
            )
            assert granted.status_code == 201
        portal_id = {"t": "demo", "b": "bg_f"}
        portal = await mongo[database]["portals"].find_one({"_id": portal_id})
        assert portal is not None
        owed = [entry["event_id"] for entry in portal["outbox"]]
        assert len(owed) == 1
        service.kill()
        access_topic = isolation.topic_prefix + Topic.PORTAL_ACCESS
        assert await read_topic(stack, access_topic, within=2) == []

        # Second life: the relay finds the owed event and publishes it, same event_id.
        await service.start()
        records = await read_topic(stack, access_topic, at_least=1)
        assert [str(decode(r.value).event_id) for r in records] == owed
        assert records[0].key == b"bg_f"

        async def marked_sent() -> bool:
            doc = await mongo[database]["portals"].find_one({"_id": portal_id})
            return doc is not None and doc["outbox"] == [] and doc["has_outbox"] is False

        await eventually(marked_sent)
        # A marker: a later change's event, published after the relay's later passes. The
        # owed event was not published again meanwhile.
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            assert (await client.put(base, json={"enabled": True})).status_code == 200
        records = await read_topic(stack, access_topic, at_least=2)
        assert [decode(r.value).type for r in records] == ["access.granted", "portal.enabled"]
    finally:
        service.kill()
        await producer.stop()


async def test_crash_between_publish_and_mark_republishes_once_with_same_id(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    from faststream.kafka import KafkaBroker

    settings = Settings(topic_prefix=isolation.topic_prefix)
    outbox = OutboxRepository(Mongo(mongo, isolation.database("access")))
    entry = outbox_entry(
        PortalEnabled(bill_group_id="bg_x", actor="t"), tenant_id="demo", bill_group_id="bg_x"
    )
    challenges = mongo[isolation.database("access")]["challenges"]
    await challenges.insert_one({"_id": "c1", "outbox": [stored_entry(entry)], "has_outbox": True})
    broker = KafkaBroker(stack.endpoints.kafka_bootstrap, acks="all")
    await broker.start()
    publish = KafkaPublisher(broker, settings)

    async def publish_then_die(owed: OutboxEntry) -> None:
        await publish(owed)
        raise RuntimeError("process died before marking the event sent")

    try:
        with pytest.raises(RuntimeError):
            await Relay(outbox, publish_then_die, sweep_seconds=5).drain()
        relay = Relay(outbox, publish, sweep_seconds=5)
        assert await relay.drain() == 1
        assert await relay.drain() == 0
    finally:
        await broker.stop()
    records = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_ACCESS, at_least=2)
    assert [str(decode(r.value).event_id) for r in records] == [entry.event_id] * 2
