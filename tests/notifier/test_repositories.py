"""The repositories against the real FerretDB: delivery state, leases, work queue,
projections and the suppression list; and the retry worker on top of them."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from faststream.kafka import KafkaBroker

from portal_kit.deadletter import SourceRecord
from portal_localstack.testing import Isolation, StackHandle
from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.branding.repository import BrandingRepository
from portal_notifier.branding.service import BrandingService
from portal_notifier.consumer import dead_letter
from portal_notifier.db import Database, mongo_client
from portal_notifier.delivery.handlers import KafkaFailureReporter
from portal_notifier.delivery.models import Delivery, DeliveryState, SigninEmail
from portal_notifier.delivery.repository import DeliveryRepository
from portal_notifier.delivery.service import DeliveryService, utc_now
from portal_notifier.delivery.ses import SesClient
from portal_notifier.delivery.worker import Dispatcher, RetryWorker
from portal_notifier.suppressions.repository import SuppressionRepository
from portal_notifier.suppressions.service import SuppressionService
from tests.notifier.conftest import emails_to, notifier_settings, signin_event

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
async def db(stack: StackHandle, isolation: Isolation) -> AsyncIterator[Database]:
    client = mongo_client(stack.endpoints.mongodb_uri)
    yield client[isolation.database("notifier")]
    await client.close()


@pytest.fixture
async def store(db: Database) -> DeliveryRepository:
    store = DeliveryRepository(db)
    await store.ensure_indexes()
    return store


def _delivery(
    event_id: str, *, state: DeliveryState, owner: str, lease_until: datetime | None
) -> Delivery:
    signin = signin_event(f"{event_id}@globex.example")
    request = SigninEmail(
        event_id=event_id,
        tenant_id="tenant_a",
        bill_group_id="bg_1",
        entity_id=None,
        email=signin.email,
        sealed=signin.event.payload.sealed,
        locale="en",
        occurred_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
        source=SourceRecord(topic="t", partition=0, offset=1, key=b"bg_1", value=b"{}"),
    )
    return Delivery(
        request=request,
        state=state,
        lease_owner=owner,
        lease_until=lease_until,
        attempts=0,
        first_attempt_at=None,
        due_at=NOW,
        created_at=NOW,
    )


async def test_projection_keeps_the_newest_version_whatever_the_order(db: Database) -> None:
    store = BrandingRepository(db)
    assert await store.apply_entity("t1", "e1", 3, EntityView("Three", None, ""))
    assert not await store.apply_entity("t1", "e1", 2, EntityView("Two", None, ""))
    assert not await store.apply_entity("t1", "e1", 3, EntityView("Three again", None, ""))
    assert await store.entity("t1", "e1") == EntityView("Three", None, "")
    assert await store.apply_entity("t1", "e1", 4, EntityView("Four", "https://x/l.png", "L"))
    assert await store.entity("t1", "e1") == EntityView("Four", "https://x/l.png", "L")
    # Same entity id in another tenant is another entity.
    assert await store.entity("t2", "e1") is None
    assert await store.apply_bill_group("t1", "bg", 1, BillGroupView("Main", "Acme", "e1"))
    assert not await store.apply_bill_group("t1", "bg", 1, BillGroupView("X", "Y", "e1"))
    assert await store.bill_group("t1", "bg") == BillGroupView("Main", "Acme", "e1")


async def test_a_version_mongodb_cannot_store_fails_without_touching_the_projection(
    db: Database,
) -> None:
    """What the consumer policy then retries a bounded number of times and dead-letters."""
    store = BrandingRepository(db)
    assert await store.apply_bill_group("t1", "bg", 1, BillGroupView("Main", "Acme", "e1"))
    with pytest.raises(OverflowError):
        await store.apply_bill_group("t1", "bg", 2**64, BillGroupView("X", "Y", "e1"))
    assert await store.bill_group("t1", "bg") == BillGroupView("Main", "Acme", "e1")


async def test_suppression_list_is_case_insensitive_and_keeps_the_first_reason(
    db: Database,
) -> None:
    store = SuppressionRepository(db)
    assert await store.add(" Jane@X.example ", "bounce", NOW)
    assert not await store.add("jane@x.example", "manual", NOW)
    assert await store.is_suppressed("JANE@x.example")
    [entry] = await store.entries()
    assert (entry.address, entry.reason) == ("jane@x.example", "bounce")
    assert entry.added_at is not None
    assert await store.remove("jane@X.example")
    assert not await store.remove("jane@x.example")
    assert not await store.is_suppressed("jane@x.example")


async def test_only_one_replica_wins_a_claim_and_a_live_lease_is_respected(
    store: DeliveryRepository,
) -> None:
    # FerretDB v1 let several concurrent findAndModify callers "win" the same document;
    # race a few deliveries to make sure the claim does not rely on that.
    for n in range(8):
        await store.record_many(
            [_delivery(f"race{n}", state=DeliveryState.PENDING, owner="", lease_until=None)]
        )
        racers = await asyncio.gather(
            *(store.claim(f"race{n}", f"r{i}", NOW, 60) for i in range(5))
        )
        assert len([r for r in racers if r is not None]) == 1
    await store.record_many(
        [_delivery("ev1", state=DeliveryState.PENDING, owner="", lease_until=None)]
    )
    winners = await asyncio.gather(*(store.claim("ev1", f"r{i}", NOW, 60) for i in range(5)))
    assert len([w for w in winners if w is not None]) == 1
    # Leased for 60 s: nobody else takes it before then, anyone may after.
    assert await store.claim("ev1", "late", NOW + timedelta(seconds=30), 60) is None
    taken = await store.claim("ev1", "late", NOW + timedelta(seconds=61), 60)
    assert taken is not None
    assert (taken.state, taken.lease_owner, taken.generation) == (DeliveryState.SENDING, "late", 2)
    # The old owner lost its lease: its outcome is not recorded over the new owner's.
    loser = next(f"r{i}" for i, w in enumerate(winners) if w is not None)
    assert not await store.mark_sent("ev1", loser, "m1", NOW, 1)
    assert await store.mark_sent("ev1", "late", "m2", NOW, 1)
    assert await store.claim("ev1", "later", NOW + timedelta(days=1), 60) is None
    again = _delivery("ev1", state=DeliveryState.SENDING, owner="x", lease_until=None)
    assert await store.record_many([again]) == {0: DeliveryState.SENT}
    [status] = await store.statuses(["ev1", "unknown"])
    assert (status.state, status.attempts) == (DeliveryState.SENT, 1)
    assert status.sent_at is not None
    # BSON dates hold milliseconds.
    assert abs(status.sent_at - NOW) < timedelta(milliseconds=1)


async def test_worker_takes_over_abandoned_deliveries_and_cleans_stale_queue_items(
    stack: StackHandle, isolation: Isolation, db: Database, store: DeliveryRepository
) -> None:
    settings = notifier_settings(stack, isolation)
    broker = KafkaBroker()
    suppressions = SuppressionService(SuppressionRepository(db))
    branding = BrandingService(
        BrandingRepository(db), neutral_name="Customer Portal", neutral_logo_url=None
    )
    reporter = KafkaFailureReporter(broker, settings, dead_letter(broker, settings), utc_now)
    service = DeliveryService(
        settings, store, SesClient(settings), branding, suppressions, reporter
    )
    dispatcher = Dispatcher(service, settings.send_concurrency)
    worker = RetryWorker(
        dispatcher, poll_seconds=1, recovery_seconds=1, retention=timedelta(days=7), batch=64
    )
    # Owner died mid-attempt, before SES accepted: lease expired a second ago.
    abandoned = _delivery(
        f"{isolation.token}-a",
        state=DeliveryState.SENDING,
        owner="dead",
        lease_until=NOW - timedelta(seconds=1),
    )
    # Owner died between marking it sent and removing its retry item.
    sent = _delivery(f"{isolation.token}-s", state=DeliveryState.SENT, owner="x", lease_until=None)
    assert await store.record_many([abandoned, replace(sent)]) == {}
    await store.requeue(sent.event_id, NOW - timedelta(seconds=1))

    assert await worker.recover() == 1
    assert await worker.run_due() == 0
    await dispatcher.drain()

    assert len(emails_to(stack, abandoned.request.email)) == 1
    lease = await store.lease(abandoned.event_id)
    assert lease is not None
    assert lease.state is DeliveryState.SENT
    assert await store.due(NOW + timedelta(days=1), 10) == []
    assert await worker.recover() == 0


async def test_a_batch_records_new_events_once_and_reports_known_ones(
    store: DeliveryRepository,
) -> None:
    lease = NOW + timedelta(seconds=60)
    sent = _delivery("b-sent", state=DeliveryState.SENT, owner="x", lease_until=None)
    assert await store.record_many([sent]) == {}
    new = _delivery("b-new", state=DeliveryState.SENDING, owner="me", lease_until=lease)
    twice = _delivery("b-twice", state=DeliveryState.SENDING, owner="me", lease_until=lease)
    known = await store.record_many([new, sent, twice, twice, new])
    # Positions 0 and 2 are new (recorded now); the rest were known or repeats of them.
    assert known == {
        1: DeliveryState.SENT,
        3: DeliveryState.SENDING,
        4: DeliveryState.SENDING,
    }
