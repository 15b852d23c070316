"""The one subscriber's batch handling on the kit's ConsumerPolicy, with in-memory fakes:
invalid (an out-of-range version included) → dead-lettered at once; outage → held, never
dead-lettered; a contract-valid event the store keeps refusing → bounded retries,
dead-lettered, and the partition moves on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY
from pymongo.errors import AutoReconnect

from portal_contracts.billing import BillGroupState, EntityState, Logo
from portal_contracts.codec import encode, make_event
from portal_contracts.envelope import Envelope
from portal_kit.deadletter import SourceRecord
from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.branding.service import BrandingService
from portal_notifier.consumer import EventRouter, consumer_policy
from portal_notifier.delivery.models import DeliveryState
from portal_notifier.delivery.service import DeliveryService
from portal_notifier.delivery.worker import Dispatcher
from portal_notifier.settings import Settings
from portal_notifier.suppressions.service import SuppressionService
from tests.notifier.conftest import signin_event
from tests.notifier.fakes import (
    Clock,
    FakeBrandingStore,
    FakeDeadLetter,
    FakeDeliveryStore,
    FakeMailer,
    FakeReporter,
    FakeSuppressionStore,
)


@dataclass
class Consumer:
    router: EventRouter
    dispatcher: Dispatcher
    branding: FakeBrandingStore
    deliveries: FakeDeliveryStore
    mailer: FakeMailer
    parked: FakeDeadLetter
    healthy: list[bool] = field(default_factory=lambda: [True])
    slept: list[float] = field(default_factory=list)
    # A dependency that comes back while the policy waits.
    heal_on_sleep: bool = False
    offset: int = 0

    def record(self, topic: str, body: bytes) -> SourceRecord:
        self.offset += 1
        return SourceRecord(topic=topic, partition=0, offset=self.offset, key=b"bg_1", value=body)

    async def handle(self, *records: SourceRecord) -> None:
        await self.router.handle(list(records))
        await self.dispatcher.drain()


def consumer() -> Consumer:
    clock = Clock()
    branding, deliveries = FakeBrandingStore(), FakeDeliveryStore()
    mailer, parked = FakeMailer(), FakeDeadLetter()
    brand = BrandingService(branding, neutral_name="Customer Portal", neutral_logo_url=None)
    delivery = DeliveryService(
        Settings(),
        deliveries,
        mailer,
        brand,
        SuppressionService(FakeSuppressionStore(), clock),
        FakeReporter(),
        clock=clock,
    )
    dispatcher = Dispatcher(delivery, concurrency=4)
    state: dict[str, Any] = {}

    async def probe() -> bool:
        return bool(state["consumer"].healthy[-1])

    async def sleep(seconds: float) -> None:
        state["consumer"].slept.append(seconds)
        if state["consumer"].heal_on_sleep:
            state["consumer"].healthy.append(True)

    policy = consumer_policy(parked, probe, sleep=sleep)
    router = EventRouter(policy, brand, delivery, dispatcher)
    built = Consumer(router, dispatcher, branding, deliveries, mailer, parked)
    state["consumer"] = built
    return built


def bill_group(version: int, name: str = "Globex EMEA") -> Envelope[Any]:
    group = BillGroupState(
        bill_group_id="bg_1",
        account_id="acc_1",
        account_name="Globex Corporation",
        entity_id="ent_1",
        name=name,
        currency="EUR",
        contract_status="active",
        billing_frequency="monthly",
        auto_pay=True,
    )
    return make_event(group, tenant_id="tenant_a", aggregate_id="bg_1", aggregate_version=version)


def entity(version: int) -> Envelope[Any]:
    state = EntityState(entity_id="ent_1", name="Acme", logo=Logo(url="https://l", alt="A"))
    return make_event(state, tenant_id="tenant_a", aggregate_id="ent_1", aggregate_version=version)


def held(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"group": "notifier"}) or 0.0


async def test_a_batch_applies_branding_in_order_then_records_its_signins() -> None:
    c = consumer()
    signin = signin_event("jane@globex.example")
    await c.handle(
        c.record("billing.entities", encode(entity(3))),
        c.record("billing.bill-groups", encode(bill_group(5))),
        c.record("billing.bill-groups", encode(bill_group(4, "older"))),
        c.record("portal.signin", encode(signin.event)),
    )
    assert c.branding.entities_held[("tenant_a", "ent_1")] == (
        3,
        EntityView("Acme", "https://l", "A"),
    )
    assert c.branding.bill_groups_held[("tenant_a", "bg_1")] == (
        5,
        BillGroupView("Globex EMEA", "Globex Corporation", "ent_1"),
    )
    [(raw, _, recipient)] = c.mailer.sent
    assert recipient == "jane@globex.example"
    assert b"Acme" in raw
    assert c.parked.parked == []


async def test_an_invalid_message_is_dead_lettered_at_once() -> None:
    c = consumer()
    signin = signin_event("jane@globex.example")
    garbage = c.record("portal.signin", b"{not json")
    await c.handle(garbage, c.record("portal.signin", encode(signin.event)))
    assert c.parked.parked == [(garbage, "ContractError", 1)]
    assert len(c.mailer.sent) == 1
    assert c.slept == []


async def test_a_version_past_64_bits_is_contract_invalid_and_dead_lettered_at_once() -> None:
    """aggregate_version 2**64 is outside the contract (int64, what MongoDB stores): parked
    at decode, never attempted or retried, and the records behind it are applied."""
    c = consumer()
    retried = held("portal_consumer_retried_total")
    body = json.loads(encode(bill_group(5)))
    body["aggregate_version"] = 2**64
    poison = c.record("billing.bill-groups", json.dumps(body).encode())
    signin = signin_event("jane@globex.example")
    await c.handle(
        poison,
        c.record("billing.entities", encode(entity(3))),
        c.record("portal.signin", encode(signin.event)),
    )
    assert c.parked.parked == [(poison, "ContractError", 1)]
    assert held("portal_consumer_retried_total") == retried
    assert c.slept == []
    assert ("tenant_a", "ent_1") in c.branding.entities_held
    assert ("tenant_a", "bg_1") not in c.branding.bill_groups_held
    [delivery] = c.deliveries.deliveries.values()
    assert delivery.state is DeliveryState.SENT


async def test_a_state_event_the_store_keeps_refusing_is_dead_lettered_after_bounded_retries() -> (
    None
):
    """A contract-valid event the database refuses every time while it is healthy: retried a
    bounded number of times, then dead-lettered, and the records behind it are applied."""
    c = consumer()
    retried = held("portal_consumer_retried_total")
    # The batch's one bulk attempt, then the record's own four.
    c.branding.failures.extend([ValueError("refused by the database")] * 5)
    poison = c.record("billing.bill-groups", encode(bill_group(5)))
    signin = signin_event("jane@globex.example")
    await c.handle(
        poison,
        c.record("billing.entities", encode(entity(3))),
        c.record("portal.signin", encode(signin.event)),
    )
    assert c.parked.parked == [(poison, "ValueError", 4)]
    assert held("portal_consumer_retried_total") - retried == 3
    assert ("tenant_a", "ent_1") in c.branding.entities_held
    [delivery] = c.deliveries.deliveries.values()
    assert delivery.state is DeliveryState.SENT
    assert len(c.mailer.sent) == 1
    # The next batch flows as usual.
    later = signin_event("john@globex.example")
    await c.handle(c.record("portal.signin", encode(later.event)))
    assert len(c.mailer.sent) == 2


async def test_an_outage_holds_the_batch_and_never_dead_letters() -> None:
    c = consumer()
    before = held("portal_consumer_held_total")
    c.branding.failures.extend([AutoReconnect("mongo away")] * 3)
    signin = signin_event("jane@globex.example")
    await c.handle(
        c.record("billing.bill-groups", encode(bill_group(5))),
        c.record("portal.signin", encode(signin.event)),
    )
    assert c.parked.parked == []
    assert held("portal_consumer_held_total") - before == 3
    assert c.slept == [0.2, 0.4, 0.8]
    assert ("tenant_a", "bg_1") in c.branding.bill_groups_held
    assert len(c.mailer.sent) == 1


async def test_any_error_while_a_dependency_is_unhealthy_holds_too() -> None:
    c = consumer()
    c.healthy.append(False)
    c.heal_on_sleep = True
    c.branding.failures.append(RuntimeError("odd answer while MongoDB is failing over"))
    await c.handle(c.record("billing.bill-groups", encode(bill_group(5))))
    assert c.parked.parked == []
    assert ("tenant_a", "bg_1") in c.branding.bill_groups_held
