"""Replaying billing-view's topics from scratch into a fresh database gives the live model,
and switching the service to a rebuild while events keep flowing loses none of them.

Synchronisation is by marker events, never by "quiet for a while": ordering holds per
partition only, so a marker goes to every partition of every topic billing-view consumes,
and the live model is read once billing-view shows every marker.
1. A marker customer change on each partition of `portal.customer-changes`: once billing-view
   shows each one settled, the simulator (upstream) has answered every change before it.
2. A marker of the topic's own event type on each partition of every consumed topic: once
   billing-view holds them all, it has applied everything published before them.
"""

import asyncio
import functools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from billing_view import db
from billing_view.app import create_app
from billing_view.projection.replay import replay_into, snapshot
from billing_view.settings import Settings, rebuild_group
from portal_contracts import billing, portal
from portal_contracts.codec import encode, make_event
from portal_contracts.envelope import Envelope
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType, latest
from tests.support.services import DevPortal
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

LIVE = "billing_view"
EXE = str(Path(sys.executable).parent / "billing-view")
# Bill groups the flowing invoices spread over (their key): every partition gets some.
FLOW_BILL_GROUPS = 24
# Published during each phase of the rebuild and switch, at the very least.
PER_PHASE = 40
# Each upstream state event type and the payload's id field.
STATE_MARKERS = {
    EventType.ENTITY_STATE: "entity_id",
    EventType.BILL_GROUP_STATE: "bill_group_id",
    EventType.SUBSCRIPTION_STATE: "subscription_id",
    EventType.INVOICE_STATE: "invoice_id",
    EventType.PAYMENT_METHOD_STATE: "payment_method_id",
}


def shown_at(event: Envelope[Any]) -> tuple[str, str]:
    """The read-model document (`_id`) and the path in it that show a state applied."""
    tenant, payload = event.tenant_id, event.payload
    if event.type == EventType.ENTITY_STATE:
        return db.entity_id(tenant, payload.entity_id), "state"
    if event.type == EventType.BILL_GROUP_STATE:
        return db.view_id(tenant, payload.bill_group_id), "bg"
    if event.type == EventType.INVOICE_STATE:
        return db.invoice_id(tenant, payload.bill_group_id, payload.invoice_id), "state"
    part = "sub" if event.type == EventType.SUBSCRIPTION_STATE else "pm"
    return db.view_id(tenant, payload.bill_group_id), f"{part}.{db.field(event.aggregate_id)}"


class Markers:
    """Marker events under a tenant of their own, and the documents that show them applied."""

    def __init__(self, producer: AIOKafkaProducer, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.tenant = f"marker_{uuid.uuid4().hex[:8]}"
        self.producer = producer
        self.db = db
        self.expected: list[tuple[str, str]] = []  # (_id, path of the item shown)
        self.seq = 0

    def _id(self, kind: str) -> str:
        self.seq += 1
        return f"{kind}_{self.seq}"

    async def _send_everywhere(self, topic: str, event_for: Callable[[], Envelope[Any]]) -> None:
        partitions = sorted(await self.producer.partitions_for(topic))
        assert partitions, topic
        for partition in partitions:
            event = event_for()
            await self.producer.send_and_wait(
                topic, encode(event), key=event.aggregate_id.encode(), partition=partition
            )

    async def customer_changes(self) -> None:
        def change() -> Envelope[Any]:
            change_id = self._id("chg")
            self.expected.append(self._change(change_id))
            payload = portal.DefaultPaymentMethodChangeRequested(
                change_id=change_id,
                bill_group_id="bg_marker",
                actor_email="marker@example.com",
                payment_method_id="pm_marker",
            )
            return make_event(payload, tenant_id=self.tenant, aggregate_id="bg_marker")

        spec = latest(EventType.DEFAULT_PAYMENT_METHOD_CHANGE_REQUESTED)
        await self._send_everywhere(spec.topic, change)

    async def states(self) -> None:
        for event_type, id_field in STATE_MARKERS.items():
            marker = functools.partial(self._state, event_type, id_field)
            await self._send_everywhere(latest(event_type).topic, marker)

        def result() -> Envelope[Any]:
            change_id = self._id("result")
            self.expected.append(self._change(change_id))
            payload = billing.ChangeResult(
                change_id=change_id, bill_group_id="bg_marker", outcome="accepted"
            )
            return make_event(payload, tenant_id=self.tenant, aggregate_id="bg_marker")

        await self._send_everywhere(latest(EventType.CHANGE_RESULT).topic, result)

    def _change(self, change_id: str) -> tuple[str, str]:
        return db.view_id(self.tenant, "bg_marker"), f"chg.{db.field(change_id)}"

    def _state(self, event_type: EventType, id_field: str) -> Envelope[Any]:
        aggregate_id = self._id(id_field.removesuffix("_id"))
        example = {**EXAMPLES[(event_type, 1)], id_field: aggregate_id}
        event = make_event(
            latest(event_type).model.model_validate(example),
            tenant_id=self.tenant,
            aggregate_id=aggregate_id,
            aggregate_version=1,
        )
        self.expected.append(shown_at(event))
        return event

    async def all_shown(self, settled: bool = False) -> bool:
        for key, path in self.expected:
            item: Any = await self.db[db.READ_MODEL].find_one({"_id": key})
            for part in path.split("."):
                item = item.get(part) if isinstance(item, dict) else None
            if item is None or (settled and item.get("settled_at") is None):
                return False
        return True


def test_replay_rebuilds_the_live_read_model(portal: DevPortal) -> None:
    endpoints = portal.ready["endpoints"]
    target = f"replay_{uuid.uuid4().hex[:8]}"
    exe = EXE

    async def live_and_replayed() -> tuple[dict[str, Any], dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints["MONGODB_URI"])
        producer = AIOKafkaProducer(bootstrap_servers=endpoints["KAFKA_BOOTSTRAP"], acks="all")
        await client.aconnect()
        await producer.start()
        try:
            markers = Markers(producer, client[LIVE])
            await markers.customer_changes()
            await eventually(
                lambda: markers.all_shown(settled=True),
                what="upstream's answer to every marker customer change, in billing-view",
            )
            await markers.states()
            await eventually(markers.all_shown, what="every marker event in billing-view")
            live = await snapshot(client[LIVE])
            await asyncio.to_thread(
                subprocess.run,
                [exe, "replay", "--database", target],
                env={**os.environ, **endpoints},
                check=True,
                capture_output=True,
            )
            replayed = await snapshot(client[target])
            await client.drop_database(target)
            return live, replayed
        finally:
            await producer.stop()
            await client.close()

    live, replayed = asyncio.run(live_and_replayed())
    assert sum(len(docs) for docs in live.values()) > 100
    assert replayed == live


class Flow:
    """Upstream going on meanwhile: each event a NEW invoice, so an event skipped anywhere is
    a document missing at the end (a later version cannot hide it)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.tenant = f"flow_{uuid.uuid4().hex[:8]}"
        self.sent: list[str] = []  # read-model `_id` of each invoice published
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        topic = latest(EventType.INVOICE_STATE).topic
        example = EXAMPLES[(EventType.INVOICE_STATE, 1)]
        while not self.stopping.is_set():
            n = len(self.sent)
            bill_group, invoice = f"bg_{n % FLOW_BILL_GROUPS}", f"inv_{n}"
            payload = {**example, "invoice_id": invoice, "bill_group_id": bill_group}
            event = make_event(
                latest(EventType.INVOICE_STATE).model.model_validate(payload),
                tenant_id=self.tenant,
                aggregate_id=invoice,
                aggregate_version=1,
            )
            await self.producer.send_and_wait(topic, encode(event), key=bill_group.encode())
            self.sent.append(db.invoice_id(self.tenant, bill_group, invoice))
            # Pacing, not synchronisation: a steady trickle, as upstream sends.
            await asyncio.sleep(0.01)

    async def more(self, count: int = PER_PHASE) -> None:
        """Wait until `count` more events are out: each phase overlaps a stretch of flow."""
        target = len(self.sent) + count

        async def reached() -> bool:
            return len(self.sent) >= target

        await eventually(reached, what=f"{count} more flowing events published")


def test_switching_to_a_rebuild_while_events_flow_loses_nothing(portal: DevPortal) -> None:
    """Rebuild with `replay --follow` while upstream publishes, stop it (SIGTERM, as deleting
    the Job does), publish on, start the service on the rebuilt database and its group (as
    the switch deploys it; in this process, to keep the test short), publish on: the result
    equals a fresh replay of every topic, and holds every event."""
    endpoints = portal.ready["endpoints"]
    rebuilt, fresh = f"rebuilt_{uuid.uuid4().hex[:8]}", f"fresh_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KAFKA_BOOTSTRAP": endpoints["KAFKA_BOOTSTRAP"]}
    env["MONGODB_URI"] = endpoints["MONGODB_URI"]
    servers = {"kafka_bootstrap": env["KAFKA_BOOTSTRAP"], "mongodb_uri": env["MONGODB_URI"]}
    live = Settings(**servers)
    switched_to = Settings(
        **servers, mongodb_database=rebuilt, kafka_consumer_group=rebuild_group(rebuilt)
    )

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], list[str], set[str]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints["MONGODB_URI"])
        producer = AIOKafkaProducer(bootstrap_servers=endpoints["KAFKA_BOOTSTRAP"], acks="all")
        await client.aconnect()
        await producer.start()
        flow = Flow(producer)
        publishing = asyncio.create_task(flow.run())
        try:
            await flow.more()
            replay = await asyncio.create_subprocess_exec(
                EXE, "replay", "--database", rebuilt, "--follow", env=env,
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert replay.stdout is not None
            line = await asyncio.wait_for(replay.stdout.readline(), 120)
            assert b'"caught_up"' in line, line
            await flow.more()  # caught up and following
            replay.send_signal(signal.SIGTERM)
            assert await replay.wait() == 0
            await flow.more()  # nobody consumes for the rebuilt database
            async with AsyncTestClient(create_app(switched_to)):
                await flow.more()  # the switched service consumes
                flow.stopping.set()
                await publishing
                markers = Markers(producer, client[rebuilt])
                await markers.states()
                await eventually(markers.all_shown, what="every marker in the rebuilt database")
            await replay_into(live, fresh)
            switched, replayed = await snapshot(client[rebuilt]), await snapshot(client[fresh])
            for name in (rebuilt, fresh):
                await client.drop_database(name)
            return switched, replayed, flow.sent, set(switched[db.READ_MODEL])
        finally:
            flow.stopping.set()
            await publishing
            await producer.stop()
            await client.close()

    switched, replayed, sent, ids = asyncio.run(scenario())
    assert len(sent) >= 4 * PER_PHASE
    assert [i for i in sent if i not in ids] == []
    assert switched == replayed
