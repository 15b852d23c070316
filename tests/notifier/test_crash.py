"""`kill -9` of a real `portal-notifier run` process, then a restart: still one email."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pymongo import AsyncMongoClient

from portal_contracts.topics import TOPICS, Topic
from portal_localstack.ports import free_port
from portal_localstack.testing import Isolation, StackHandle
from portal_notifier.keys import tenant_key
from tests.notifier.conftest import (
    FaultProxy,
    emails_to,
    producer,
    publish,
    signin_event,
    wait_for_emails,
)
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Mongo = AsyncMongoClient[dict[str, Any]]


class NotifierProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env, "HTTP_PORT": str(self.port)}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> None:
        binary = str(Path(sys.executable).parent / "portal-notifier")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [binary, "run"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    async def start(self) -> None:
        self._spawn()

        async def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"notifier exited:\n{self.log.read_text()[-3000:]}")
            try:
                async with httpx.AsyncClient() as client:
                    reply = await client.get(f"http://127.0.0.1:{self.port}/readyz")
            except httpx.HTTPError:
                return False
            return reply.status_code == 200

        await eventually(ready, 60, "notifier /readyz")

    async def metrics(self) -> str:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{self.port}/metrics")).text

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> bool:
        """SIGTERM; True when the process shut down gracefully (uvicorn re-raises the
        signal after its shutdown, hence the -SIGTERM exit status)."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return False
        return code == -signal.SIGTERM and "notifier stopped" in self.log.read_text()


@asynccontextmanager
async def notifier_processes(
    stack: StackHandle, isolation: Isolation, tmp_path: Path, **env: str
) -> AsyncIterator[Callable[[], NotifierProcess]]:
    base = {
        **stack.env(),
        "TOPIC_PREFIX": isolation.topic_prefix,
        "MONGODB_DATABASE": isolation.database("notifier"),
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_POLL_SECONDS": "0.2",
        **env,
    }
    started: list[NotifierProcess] = []

    def make() -> NotifierProcess:
        process = NotifierProcess(base, tmp_path / f"notifier-{len(started)}.log")
        started.append(process)
        return process

    try:
        yield make
    finally:
        for process in started:
            process.stop()


async def _rewind_group(stack: StackHandle, isolation: Isolation) -> None:
    """Put the notifier group's offsets of portal.signin back to 0: exactly the state a
    consumer killed before its offset commit leaves behind. The broker accepts this only once
    the killed member's session has expired, so keep trying for a while."""
    topic = isolation.topic_prefix + Topic.PORTAL_SIGNIN
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.endpoints.kafka_bootstrap,
        group_id=isolation.topic_prefix + "notifier",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        # The `topics` fixture creates the registry topics with their local partition count.
        count = TOPICS[Topic.PORTAL_SIGNIN].local_partitions
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)

        async def rewound() -> bool:
            try:
                await consumer.commit(dict.fromkeys(partitions, 0))
            except KafkaError:
                return False
            return True

        await eventually(rewound, 60, "notifier group offsets rewound", interval=1)
    finally:
        await consumer.stop()


async def test_kill_9_right_after_sending_then_restart_sends_exactly_one(
    stack: StackHandle, isolation: Isolation, topics: list[str], mongo: Mongo, tmp_path: Path
) -> None:
    recipient = f"{isolation.token}@globex.example"
    marker = f"{isolation.token}.after@globex.example"
    signin = signin_event(recipient)
    deliveries = mongo[isolation.database("notifier")]["deliveries"]
    key = tenant_key(signin.event.tenant_id, str(signin.event.event_id))
    async with notifier_processes(stack, isolation, tmp_path) as make, producer(stack) as broker:
        first = make()
        await first.start()
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, signin.event)

        async def sent() -> bool:
            doc = await deliveries.find_one({"_id": key})
            return doc is not None and doc["state"] == "sent"

        await eventually(sent, 60, "delivery marked sent")
        first.kill9()
        await _rewind_group(stack, isolation)

        second = make()
        await second.start()
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, signin_event(marker).event)
        await wait_for_emails(stack, marker)

        async def counted() -> bool:
            # SES (moto) stores the email before the notifier hears back and counts it.
            return "portal_notifier_emails_sent_total 1.0" in await second.metrics()

        await eventually(counted, 30, "sent counter")
        metrics = await second.metrics()
        assert second.stop()
    assert len(emails_to(stack, recipient)) == 1
    # The restarted process did see the event again, and acknowledged it without sending.
    assert "portal_notifier_duplicate_events_total 1.0" in metrics
    assert "portal_notifier_emails_sent_total 1.0" in metrics


async def test_kill_9_while_ses_call_hangs_then_restart_takes_over_the_lease(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: Mongo,
    tmp_path: Path,
    fault_proxy: Callable[..., tuple[FaultProxy, str]],
) -> None:
    recipient = f"{isolation.token}@globex.example"
    proxy, endpoint = fault_proxy(1, 503, "ServiceUnavailable", hang=True)
    signin = signin_event(recipient)
    async with (
        notifier_processes(
            stack,
            isolation,
            tmp_path,
            AWS_ENDPOINT_URL_SESV2=endpoint,
            LEASE_SECONDS="4",
            RECOVERY_SECONDS="1",
            SES_CONNECT_TIMEOUT_SECONDS="1",
            SES_READ_TIMEOUT_SECONDS="2",
        ) as make,
        producer(stack) as broker,
    ):
        first = make()
        await first.start()
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, signin.event)
        assert await asyncio.to_thread(proxy.hanging.wait, 60)
        # SES has not accepted anything yet: the claim is held by a process about to die.
        first.kill9()
        proxy.release.set()
        second = make()
        await second.start()
        [message] = await wait_for_emails(stack, recipient)

        async def counted() -> bool:
            return "portal_notifier_emails_sent_total 1.0" in await second.metrics()

        await eventually(counted, 30, "sent counter")
        assert second.stop()
    assert message["To"] == recipient
    assert len(emails_to(stack, recipient)) == 1
    stored = await mongo[isolation.database("notifier")]["deliveries"].find_one(
        {"_id": tenant_key(signin.event.tenant_id, str(signin.event.event_id))}
    )
    assert stored is not None
    assert stored["state"] == "sent"
