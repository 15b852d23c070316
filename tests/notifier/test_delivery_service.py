"""Delivery use cases with in-memory fakes: exactly once per event, retries, give-ups."""

from __future__ import annotations

import email
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from prometheus_client import REGISTRY

from portal_contracts.sealing import SignInSecret
from portal_kit.deadletter import SourceRecord
from portal_kit.sealing import DEV_SEAL_KEY, seal
from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.branding.service import BrandingService
from portal_notifier.delivery.domain import Failure, SesError
from portal_notifier.delivery.models import Delivery, DeliveryState, SigninEmail
from portal_notifier.delivery.service import DeliveryService
from portal_notifier.delivery.worker import Dispatcher, RetryWorker
from portal_notifier.settings import Settings
from portal_notifier.suppressions.service import SuppressionService
from tests.notifier.fakes import (
    T0,
    Clock,
    FakeBrandingStore,
    FakeDeliveryStore,
    FakeMailer,
    FakeReporter,
    FakeSuppressionStore,
)

LINK = "http://127.0.0.1:8000/p/KEY/verify/TOKEN"
CODE = "123456"
THROTTLED = SesError(Failure.TRANSIENT, "ThrottlingException", "slow down")


def metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def request(n: int = 1, *, recipient: str = "jane@globex.example", **changes: Any) -> SigninEmail:
    values: dict[str, Any] = {
        "event_id": f"00000000-0000-4000-8000-{n:012d}",
        "tenant_id": "tenant_a",
        "bill_group_id": "bg_1",
        "entity_id": "ent_1",
        "email": recipient,
        "sealed": seal(SignInSecret(link=LINK, code=CODE), DEV_SEAL_KEY),
        "locale": "en",
        "occurred_at": T0,
        "expires_at": T0 + timedelta(minutes=15),
        "source": SourceRecord(
            topic="portal.signin", partition=0, offset=n, key=b"bg_1", value=b"{}"
        ),
    }
    return SigninEmail(**{**values, **changes})


@dataclass
class World:
    clock: Clock
    store: FakeDeliveryStore
    branding: FakeBrandingStore
    suppressions: FakeSuppressionStore
    mailer: FakeMailer
    reporter: FakeReporter
    service: DeliveryService

    def state(self, key: str) -> DeliveryState:
        return self.store.deliveries[key].state

    def sent(self) -> list[EmailMessage]:
        found = []
        for raw, _, _ in self.mailer.sent:
            parsed = email.message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


def world(**settings: Any) -> World:
    clock = Clock()
    store, branding, suppressions = FakeDeliveryStore(), FakeBrandingStore(), FakeSuppressionStore()
    mailer, reporter = FakeMailer(), FakeReporter()
    service = DeliveryService(
        Settings(**{"retry_base_seconds": 1.0, "retry_max_attempts": 8, **settings}),
        store,
        mailer,
        BrandingService(branding, neutral_name="Customer Portal", neutral_logo_url=None),
        SuppressionService(suppressions, clock),
        reporter,
        clock=clock,
        jitter=lambda: 0.0,
    )
    return World(clock, store, branding, suppressions, mailer, reporter, service)


async def accept_and_attempt(w: World, *requests: SigninEmail) -> list[Delivery]:
    fresh = await w.service.accept(list(requests))
    for delivery in fresh:
        await w.service.attempt(delivery)
    return fresh


async def test_an_event_is_accepted_once_however_often_it_arrives() -> None:
    w = world()
    duplicates = metric("portal_notifier_duplicate_events_total")
    first = request(1)
    [born] = await w.service.accept([first])
    # Born claimed by this replica: a crash now is recovered after the lease, not lost.
    assert (born.state, born.lease_owner) == (DeliveryState.SENDING, w.service.owner)
    assert born.lease_until == T0 + timedelta(seconds=60)
    await w.service.attempt(born)
    # Redelivered (restart, rebalance, another replica), and twice in one batch.
    assert await w.service.accept([first]) == []
    second = request(2)
    assert [d.event_id for d in await w.service.accept([second, second])] == [second.event_id]
    assert metric("portal_notifier_duplicate_events_total") - duplicates == 2
    assert len(w.mailer.sent) == 1
    assert w.state(first.key) is DeliveryState.SENT


async def test_a_redelivery_while_the_first_attempt_is_under_way_sends_nothing() -> None:
    w = world()
    [born] = await w.service.accept([request()])
    assert await w.service.accept([request()]) == []
    # Another replica's retry worker cannot claim it either: the lease is live.
    assert await w.service.claim(born.key) is None
    await w.service.attempt(born)
    assert len(w.mailer.sent) == 1


async def test_the_email_is_branded_and_sent_from_the_entity() -> None:
    w = world(ses_senders={"tenant_a/ent_1": "billing@acme.example"})
    w.branding.entities_held[("tenant_a", "ent_1")] = (
        3,
        EntityView("Acme Billing", "https://l", "A"),
    )
    w.branding.bill_groups_held[("tenant_a", "bg_1")] = (
        1,
        BillGroupView("EMEA", "Globex", "ent_1"),
    )
    sent = metric("portal_notifier_emails_sent_total")
    [delivery] = await accept_and_attempt(w, request(entity_id=None))
    [message] = w.sent()
    assert message["From"] == "Acme Billing <billing@acme.example>"
    assert message["To"] == "jane@globex.example"
    assert CODE in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert w.state(delivery.key) is DeliveryState.SENT
    assert w.store.outcomes[delivery.key].message_id == "ses-1"
    assert metric("portal_notifier_emails_sent_total") - sent == 1


async def test_unknown_branding_sends_a_neutral_email_rather_than_none() -> None:
    w = world()
    await accept_and_attempt(w, request())
    [message] = w.sent()
    assert message["From"] == "Customer Portal <portal@portal.example.com>"


async def test_a_transient_fault_parks_the_delivery_then_a_retry_sends_it() -> None:
    w = world()
    w.mailer.faults.append(THROTTLED)
    retries = metric("portal_notifier_send_retries_total")
    [delivery] = await accept_and_attempt(w, request())
    parked = w.store.deliveries[delivery.key]
    # Equal jitter with jitter 0: half of the first ceiling (1 s).
    assert (parked.state, parked.attempts, parked.due_at) == (
        DeliveryState.PENDING,
        1,
        T0 + timedelta(seconds=0.5),
    )
    # Found by the worker's query once due, not before.
    assert await w.store.due(T0, 10) == []
    assert await w.store.due(T0 + timedelta(seconds=0.5), 10) == [delivery.key]
    assert w.store.outcomes[delivery.key].last_error == "ThrottlingException"
    assert metric("portal_notifier_send_retries_total") - retries == 1
    assert await w.service.claim(delivery.key) is None  # not due yet
    w.clock.advance(0.5)
    retry = await w.service.claim(delivery.key)
    assert retry is not None
    await w.service.attempt(retry)
    assert (w.state(delivery.key), w.store.deliveries[delivery.key].attempts) == (
        DeliveryState.SENT,
        2,
    )
    assert await w.store.due(w.clock.now + timedelta(days=1), 10) == []
    assert len(w.mailer.sent) == 1


async def test_retries_are_bounded_then_reported() -> None:
    w = world(retry_max_attempts=2)
    w.mailer.faults.extend([THROTTLED, THROTTLED])
    failed = metric("portal_notifier_emails_failed_total", {"reason": "retries_exhausted"})
    [delivery] = await accept_and_attempt(w, request())
    w.clock.advance(1)
    retry = await w.service.claim(delivery.key)
    assert retry is not None
    await w.service.attempt(retry)
    assert w.reporter.reports == [(delivery.event_id, "retries_exhausted", 2)]
    assert w.state(delivery.key) is DeliveryState.FAILED
    assert await w.store.due(w.clock.now + timedelta(days=1), 10) == []
    after = metric("portal_notifier_emails_failed_total", {"reason": "retries_exhausted"})
    assert after - failed == 1


@pytest.mark.parametrize(
    ("setup", "reason", "state"),
    [
        ("rejected", "ses_rejected", DeliveryState.FAILED),
        ("suppressed", "suppressed", DeliveryState.SUPPRESSED),
        ("expired", "expired_before_sending", DeliveryState.FAILED),
        ("unreadable", "unreadable_secret", DeliveryState.FAILED),
    ],
)
async def test_permanent_failures_are_reported_once_and_never_sent(
    setup: str, reason: str, state: DeliveryState
) -> None:
    w = world()
    changes: dict[str, Any] = {}
    if setup == "rejected":
        w.mailer.faults.append(SesError(Failure.PERMANENT, "MessageRejected", "no"))
    elif setup == "suppressed":
        await w.suppressions.add("JANE@globex.example", "bounce", T0)
    elif setup == "expired":
        changes["expires_at"] = T0
    else:
        changes["sealed"] = "not-a-sealed-value"
    [delivery] = await accept_and_attempt(w, request(**changes))
    assert w.reporter.reports == [(delivery.event_id, reason, 1)]
    assert w.state(delivery.key) is state
    assert w.store.outcomes[delivery.key].reason == reason
    assert w.mailer.sent == []
    assert w.mailer.calls == (1 if setup == "rejected" else 0)


async def test_a_report_that_does_not_go_through_is_repeated_never_lost() -> None:
    w = world()
    w.reporter.failures = 1
    w.mailer.faults.append(SesError(Failure.PERMANENT, "MessageRejected", "no"))
    w.mailer.faults.append(SesError(Failure.PERMANENT, "MessageRejected", "no"))
    dispatcher = Dispatcher(w.service, concurrency=2)
    worker = RetryWorker(dispatcher, poll_seconds=1, recovery_seconds=1, batch=8)
    [delivery] = await w.service.accept([request()])
    await dispatcher.start(delivery)
    await dispatcher.drain()
    # Kafka refused the report: the delivery is not final, still leased to its owner.
    assert w.reporter.reports == []
    assert w.state(delivery.key) is DeliveryState.SENDING
    assert await worker.recover() == 0
    w.clock.advance(61)
    assert await worker.recover() == 1
    await dispatcher.drain()
    assert w.reporter.reports == [(delivery.event_id, "ses_rejected", 1)]
    assert w.state(delivery.key) is DeliveryState.FAILED


async def test_the_worker_takes_over_abandoned_work_and_leaves_live_leases_alone() -> None:
    w = world()
    dispatcher = Dispatcher(w.service, concurrency=2)
    worker = RetryWorker(dispatcher, poll_seconds=1, recovery_seconds=1, batch=8)
    # A replica that died mid-attempt (its lease runs 60 s), and one that finished.
    [abandoned, done] = await w.service.accept([request(1), request(2)])
    await w.service.attempt(done)
    assert await worker.run_due() == 0
    assert await worker.recover() == 0  # the lease is live
    w.clock.advance(61)
    assert await worker.recover() == 1
    await dispatcher.drain()
    assert w.state(abandoned.key) is DeliveryState.SENT
    assert w.state(done.key) is DeliveryState.SENT
    assert len(w.mailer.sent) == 2
    assert await worker.recover() == 0
    assert await worker.run_due() == 0
    assert w.store.claims == {abandoned.key: 1}


async def test_a_claim_has_one_winner_among_replicas() -> None:
    """Two replicas' workers see the same due delivery; the conditional claim lets one in."""
    w = world()
    other = world()
    # The other replica shares the store (the database), not the process.
    rival = DeliveryService(
        w.service.settings,
        w.store,
        other.mailer,
        BrandingService(w.branding, neutral_name="Customer Portal", neutral_logo_url=None),
        SuppressionService(w.suppressions, w.clock),
        other.reporter,
        clock=w.clock,
        jitter=lambda: 0.0,
    )
    w.mailer.faults.append(THROTTLED)
    [delivery] = await accept_and_attempt(w, request())
    w.clock.advance(1)
    [key] = await w.service.due(10)
    assert await rival.due(10) == [key]
    mine, theirs = await w.service.claim(key), await rival.claim(key)
    assert mine is not None
    assert theirs is None
    assert mine.lease_owner == w.service.owner
    # The loser cannot record an outcome on the winner's lease either (fencing).
    assert not await w.store.mark_sent(key, rival.owner, "m", w.clock.now, 2)
    await w.service.attempt(mine)
    assert w.state(delivery.key) is DeliveryState.SENT
    assert (len(w.mailer.sent), len(other.mailer.sent)) == (1, 0)
    # Final: nobody claims it again, however late.
    w.clock.advance(3600)
    assert await rival.claim(key) is None


async def test_deliveries_are_keyed_by_tenant_and_event() -> None:
    """The same event id under two tenants is two deliveries (ids are only unique within a
    tenant); the same (tenant, event) twice is one."""
    w = world()
    fresh = await w.service.accept([request(1), request(1, tenant_id="tenant_b"), request(1)])
    assert [d.request.tenant_id for d in fresh] == ["tenant_a", "tenant_b"]
    assert len({d.key for d in fresh}) == 2


async def test_a_batch_is_looked_up_at_once_and_each_email_keeps_its_own_answer() -> None:
    w = world()
    await w.suppressions.add("Bounced@globex.example", "bounce", T0)
    w.branding.entities_held[("tenant_a", "ent_1")] = (3, EntityView("Acme", None, "A"))
    dispatcher = Dispatcher(w.service, concurrency=4)
    fresh = await w.service.accept(
        [request(1), request(2, recipient="bounced@GLOBEX.example"), request(3, entity_id=None)]
    )
    reads = w.branding.reads
    await dispatcher.start_many(fresh)
    await dispatcher.drain()
    # Bill groups + named entities (the third names none, and its bill group is unknown).
    assert w.branding.reads - reads == 2
    assert [w.state(d.key) for d in fresh] == [
        DeliveryState.SENT,
        DeliveryState.SUPPRESSED,
        DeliveryState.SENT,
    ]
    assert sorted(m["From"] for m in w.sent()) == [
        "Acme <portal@portal.example.com>",
        "Customer Portal <portal@portal.example.com>",
    ]
