"""The repositories against the real server (mongo-java-server locally, MongoDB where
`MONGODB_URI` points at one): delivery claims and leases under concurrency, projections and
the suppression list; and the retry worker on top of them."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient, monitoring

from portal_kit.deadletter import SourceRecord
from portal_localstack.testing import Isolation, StackHandle
from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.branding.repository import BrandingRepository
from portal_notifier.branding.service import BrandingService
from portal_notifier.consumer import dead_letter
from portal_notifier.db import Client, Database, mongo_client
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
    event_id: str,
    *,
    state: DeliveryState,
    owner: str,
    lease_until: datetime | None,
    due_at: datetime = NOW,
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
        due_at=due_at,
        created_at=NOW,
    )


async def _parked(store: DeliveryRepository, event_id: str, due_at: datetime = NOW) -> str:
    """A delivery waiting for its retry (what `reschedule` leaves behind); its key."""
    parked = _delivery(
        event_id, state=DeliveryState.PENDING, owner="", lease_until=None, due_at=due_at
    )
    assert await store.record_many([parked]) == {}
    return parked.key


class _Commands(monitoring.CommandListener):
    """Every command sent, with its filter (None for those without one)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any] | None]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name, body = event.command_name, event.command
        if name in {"find", "findAndModify", "delete"}:
            self.commands.append((name, dict(body.get("filter") or body.get("query") or {})))
        elif name == "update":
            for update in body["updates"]:
                self.commands.append((name, dict(update["q"])))
        elif name in {"insert", "aggregate", "count"}:
            self.commands.append((name, None))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return


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
    await store.ensure_indexes()
    assert await store.add(" Jane@X.example ", "bounce", NOW)
    assert not await store.add("jane@x.example", "manual", NOW)
    assert await store.is_suppressed("JANE@x.example", NOW)
    [entry] = await store.entries(NOW)
    assert (entry.address, entry.reason, entry.expires_at) == ("jane@x.example", "bounce", None)
    assert entry.added_at is not None
    assert await store.remove("jane@X.example")
    assert not await store.remove("jane@x.example")
    assert not await store.is_suppressed("jane@x.example", NOW)


async def test_a_lapsed_suppression_suppresses_nothing_though_still_stored(
    db: Database,
) -> None:
    """The TTL index removes it on MongoDB some time after `expires_at`; the stand-in never
    does. Either way the read decides by the time."""
    store = SuppressionRepository(db)
    await store.ensure_indexes()
    until = NOW + timedelta(days=1)
    assert await store.add("soft@x.example", "soft bounce", NOW, until)
    assert await store.is_suppressed("soft@x.example", until - timedelta(seconds=1))
    assert not await store.is_suppressed("soft@x.example", until)
    assert await store.entries(until) == []
    # A lapsed entry is replaced by a new one (new reason, no expiry).
    assert await store.add("soft@x.example", "bounce", until)
    [entry] = await store.entries(until + timedelta(days=30))
    assert (entry.reason, entry.expires_at) == ("bounce", None)
    indexes = await db["suppressions"].index_information()
    assert any(i.get("expireAfterSeconds") == 0 for i in indexes.values())


async def test_two_claimers_racing_for_a_due_delivery_have_exactly_one_winner(
    stack: StackHandle, db: Database, store: DeliveryRepository
) -> None:
    """Two replicas (two clients, two connections) claim the same due deliveries at once:
    the conditional `find_one_and_update` lets exactly one in, every time."""
    other_client = mongo_client(stack.endpoints.mongodb_uri)
    try:
        rival = DeliveryRepository(other_client[db.name])
        for n in range(20):
            key = await _parked(store, f"race{n}")
            mine, theirs = await asyncio.gather(
                store.claim(key, "replica-a", NOW, 60), rival.claim(key, "replica-b", NOW, 60)
            )
            winners = [c for c in (mine, theirs) if c is not None]
            assert len(winners) == 1, n
            assert winners[0].state is DeliveryState.SENDING
        # Many claimers at once, on one document.
        key = await _parked(store, "crowd")
        racers = await asyncio.gather(
            *((store if i % 2 else rival).claim(key, f"r{i}", NOW, 60) for i in range(12))
        )
        [winner] = [r for r in racers if r is not None]
        doc = await db["deliveries"].find_one({"_id": key})
        assert doc is not None
        assert (doc["lease_owner"], doc["claims"]) == (winner.lease_owner, 1)
    finally:
        await other_client.close()


async def test_a_live_lease_is_respected_and_a_lost_one_fences_its_owner(
    store: DeliveryRepository,
) -> None:
    key = await _parked(store, "ev1")
    # Not due yet: nobody takes it.
    assert await store.claim(key, "early", NOW - timedelta(seconds=1), 60) is None
    taken = await store.claim(key, "first", NOW, 60)
    assert taken is not None
    assert (taken.state, taken.lease_owner) == (DeliveryState.SENDING, "first")
    assert taken.lease_until is not None
    assert abs(taken.lease_until - (NOW + timedelta(seconds=60))) < timedelta(milliseconds=1)
    # Leased for 60 s: nobody else takes it before then, anyone may after.
    assert await store.claim(key, "late", NOW + timedelta(seconds=30), 60) is None
    later = await store.claim(key, "late", NOW + timedelta(seconds=61), 60)
    assert later is not None
    assert later.lease_owner == "late"
    # The old owner lost its lease: its outcomes are not recorded over the new owner's.
    assert not await store.mark_sent(key, "first", "m1", NOW, 1)
    assert not await store.finish(key, "first", DeliveryState.FAILED, "ses_rejected", 1)
    assert await store.mark_sent(key, "late", "m2", NOW, 1)
    # Final: never claimed again.
    assert await store.claim(key, "later", NOW + timedelta(days=1), 60) is None
    again = _delivery("ev1", state=DeliveryState.SENDING, owner="x", lease_until=None)
    assert await store.record_many([again]) == {0: DeliveryState.SENT}
    [status] = await store.statuses("tenant_a", ["ev1", "unknown"])
    assert (status.event_id, status.state, status.attempts) == ("ev1", DeliveryState.SENT, 1)
    assert status.sent_at is not None
    # BSON dates hold milliseconds.
    assert abs(status.sent_at - NOW) < timedelta(milliseconds=1)
    # Another tenant's event with the same id is another delivery.
    assert await store.statuses("tenant_b", ["ev1"]) == []


async def test_due_and_abandoned_are_found_by_query_and_old_ones_expire_by_ttl(
    db: Database, store: DeliveryRepository
) -> None:
    soon = await _parked(store, "due-now")
    await _parked(store, "due-later", due_at=NOW + timedelta(minutes=5))
    dead = _delivery(
        "dead", state=DeliveryState.SENDING, owner="gone", lease_until=NOW - timedelta(seconds=1)
    )
    live = _delivery(
        "live", state=DeliveryState.SENDING, owner="me", lease_until=NOW + timedelta(seconds=60)
    )
    assert await store.record_many([dead, live]) == {}
    assert await store.due(NOW, 10) == [soon]
    assert await store.abandoned(NOW, 10) == [dead.key]
    indexes = await db["deliveries"].index_information()
    ttl = [i for i in indexes.values() if "expireAfterSeconds" in i]
    assert [(i["key"], i["expireAfterSeconds"]) for i in ttl] == [([("expire_at", 1)], 0)]
    assert {tuple(i["key"]) for i in indexes.values()} >= {
        (("state", 1), ("due_at", 1)),
        (("state", 1), ("lease_until", 1)),
    }
    doc = await db["deliveries"].find_one({"_id": dead.key})
    assert doc is not None
    assert abs(doc["expire_at"] - (NOW + timedelta(hours=168))) < timedelta(milliseconds=1)


async def test_worker_takes_over_abandoned_deliveries_and_starts_due_ones(
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
    worker = RetryWorker(dispatcher, poll_seconds=1, recovery_seconds=1, batch=64)
    # Owner died mid-attempt, before SES accepted: lease expired a second ago.
    abandoned = _delivery(
        f"{isolation.token}-a",
        state=DeliveryState.SENDING,
        owner="dead",
        lease_until=NOW - timedelta(seconds=1),
    )
    sent = _delivery(f"{isolation.token}-s", state=DeliveryState.SENT, owner="x", lease_until=None)
    assert await store.record_many([abandoned, sent]) == {}
    parked = await _parked(store, f"{isolation.token}-p")

    assert await worker.recover() == 1
    assert await worker.run_due() == 1
    await dispatcher.drain()

    assert len(emails_to(stack, abandoned.request.email)) == 1
    assert len(emails_to(stack, f"{isolation.token}-p@globex.example")) == 1
    statuses = await store.statuses("tenant_a", [abandoned.event_id, f"{isolation.token}-p"])
    assert {s.state for s in statuses} == {DeliveryState.SENT}
    assert await store.due(utc_now() + timedelta(days=1), 10) == []
    assert await worker.recover() == 0
    assert parked


async def test_sending_one_email_touches_deliveries_by_id_only(
    stack: StackHandle, isolation: Isolation
) -> None:
    """The per-email path (accept, suppression, branding, send, `sent`) filters on `_id`
    only: it costs the same with 1k or 1M deliveries, on MongoDB and on the stand-in."""
    listener = _Commands()
    client: Client = AsyncMongoClient(
        stack.endpoints.mongodb_uri, tz_aware=True, event_listeners=[listener]
    )
    try:
        db = client[isolation.database("notifier")]
        settings = notifier_settings(stack, isolation)
        broker = KafkaBroker()
        service = DeliveryService(
            settings,
            DeliveryRepository(db),
            SesClient(settings),
            BrandingService(
                BrandingRepository(db), neutral_name="Customer Portal", neutral_logo_url=None
            ),
            SuppressionService(SuppressionRepository(db)),
            KafkaFailureReporter(broker, settings, dead_letter(broker, settings), utc_now),
        )
        request = _delivery(
            f"{isolation.token}-x", state=DeliveryState.SENDING, owner="", lease_until=None
        ).request
        listener.commands.clear()
        [fresh] = await service.accept([request])
        await service.attempt(fresh)
        assert fresh.state is DeliveryState.SENDING
        filters = [f for _, f in listener.commands if f is not None]
        assert filters, listener.commands
        for command, query in listener.commands:
            if query is not None:
                assert set(query) <= {"_id", "state", "lease_owner"}, (command, query)
                assert "_id" in query, (command, query)
        names = sorted(c for c, _ in listener.commands)
        # One insert, a suppression read and a bill group read, and the fenced `sent` write
        # as findAndModify (an `update` with a condition beside `_id` scans on the stand-in).
        assert names == ["find", "find", "findAndModify", "insert"], names
    finally:
        await client.close()


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


async def test_concurrent_sent_marks_are_written_together_and_each_is_fenced(
    store: DeliveryRepository,
) -> None:
    """`mark_sent` group-commits: many at once go in few writes, each still conditional on
    its own lease; a lost lease answers False for that one alone."""
    owned = [
        _delivery(
            f"gc{n}",
            state=DeliveryState.SENDING,
            owner="me",
            lease_until=NOW + timedelta(seconds=60),
        )
        for n in range(12)
    ]
    assert await store.record_many(owned) == {}
    results = await asyncio.gather(
        *(
            store.mark_sent(d.key, "someone-else" if n == 5 else "me", f"m{n}", NOW, 1)
            for n, d in enumerate(owned)
        )
    )
    assert results == [n != 5 for n in range(12)]
    statuses = {
        s.event_id: s.state for s in await store.statuses("tenant_a", [f"gc{n}" for n in range(12)])
    }
    assert statuses == {
        f"gc{n}": DeliveryState.SENDING if n == 5 else DeliveryState.SENT for n in range(12)
    }
    # And once alone, too.
    assert await store.mark_sent(owned[5].key, "me", "m5", NOW, 1)
    assert not await store.mark_sent(owned[5].key, "me", "m5", NOW, 1)
