"""Replaying billing-view's topics from scratch into a fresh database gives the live model.

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
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from billing_view import db
from billing_view.projection.replay import snapshot
from portal_contracts import billing, portal
from portal_contracts.codec import encode, make_event
from portal_contracts.envelope import Envelope
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType, latest
from tests.support.services import DevPortal
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

LIVE = "billing_view"
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
    exe = str(Path(sys.executable).parent / "billing-view")

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
