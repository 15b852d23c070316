"""Delivery state, leases, work queue and projections against the real FerretDB."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from portal_localstack.testing import Isolation, StackHandle
from portal_notifier.clients import SesClient
from portal_notifier.delivery import Deliverer
from portal_notifier.domain import BillGroupView, DeliveryState, EntityView
from portal_notifier.storage import NotifierStore
from tests.notifier.conftest import emails_to, notifier_settings, signin_event

pytestmark = pytest.mark.integration

Mongo = AsyncMongoClient[dict[str, Any]]
NOW = datetime.now(UTC)


@pytest.fixture
async def store(stack: StackHandle, isolation: Isolation) -> AsyncIterator[NotifierStore]:
    client: Mongo = AsyncMongoClient(stack.endpoints.mongodb_uri, tz_aware=True)
    store = NotifierStore(client, isolation.database("notifier"))
    await store.ensure_indexes()
    yield store
    await client.close()


def _doc(event_id: str, *, state: str, owner: str, lease_until: datetime | None) -> dict[str, Any]:
    signin = signin_event(f"{event_id}@globex.example")
    return {
        "_id": event_id,
        "state": state,
        "lease_owner": owner,
        "lease_until": lease_until,
        "tenant_id": "tenant_a",
        "bill_group_id": "bg_1",
        "entity_id": None,
        "email": signin.email,
        "sealed": signin.event.payload.sealed,
        "locale": "en",
        "occurred_at": NOW,
        "expires_at": NOW + timedelta(minutes=15),
        "attempts": 0,
        "first_attempt_at": None,
        "due_at": NOW,
        "created_at": NOW,
        "source": {"topic": "t", "partition": 0, "offset": 1, "key": b"bg_1", "body": b"{}"},
    }


async def test_projection_keeps_the_newest_version_whatever_the_order(
    store: NotifierStore,
) -> None:
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


async def test_only_one_replica_wins_a_claim_and_a_live_lease_is_respected(
    store: NotifierStore,
) -> None:
    # FerretDB v1 let several concurrent findAndModify callers "win" the same document;
    # race a few deliveries to make sure the claim does not rely on that.
    for n in range(8):
        await store.record(_doc(f"race{n}", state="pending", owner="", lease_until=None))
        racers = await asyncio.gather(
            *(store.claim(f"race{n}", f"r{i}", NOW, 60) for i in range(5))
        )
        assert len([r for r in racers if r is not None]) == 1
    await store.record(_doc("ev1", state="pending", owner="", lease_until=None))
    winners = await asyncio.gather(*(store.claim("ev1", f"r{i}", NOW, 60) for i in range(5)))
    assert len([w for w in winners if w is not None]) == 1
    # Leased for 60 s: nobody else takes it before then, anyone may after.
    assert await store.claim("ev1", "late", NOW + timedelta(seconds=30), 60) is None
    taken = await store.claim("ev1", "late", NOW + timedelta(seconds=61), 60)
    assert taken is not None
    # The old owner lost its lease: its outcome is not recorded over the new owner's.
    loser = next(f"r{i}" for i, w in enumerate(winners) if w is not None)
    assert not await store.mark_sent("ev1", loser, "m1", NOW, 1)
    assert await store.mark_sent("ev1", "late", "m2", NOW, 1)
    assert await store.claim("ev1", "later", NOW + timedelta(days=1), 60) is None
    assert await store.record(_doc("ev1", state="sending", owner="x", lease_until=None)) is (
        DeliveryState.SENT
    )


async def test_worker_takes_over_abandoned_deliveries_and_cleans_stale_queue_items(
    stack: StackHandle, isolation: Isolation, store: NotifierStore
) -> None:
    settings = notifier_settings(stack, isolation)
    deliverer = Deliverer(settings, store, SesClient(settings), KafkaBroker())
    # Owner died mid-attempt, before SES accepted: lease expired a second ago.
    abandoned = _doc(
        f"{isolation.token}-a",
        state="sending",
        owner="dead",
        lease_until=NOW - timedelta(seconds=1),
    )
    await store.record(abandoned)
    # Owner died between marking it sent and removing its retry item.
    await store.record(_doc(f"{isolation.token}-s", state="sent", owner="x", lease_until=None))
    await store.requeue(f"{isolation.token}-s", NOW - timedelta(seconds=1))

    assert await deliverer.recover() == 1
    assert await deliverer.run_due() == 0
    await deliverer.drain()

    assert len(emails_to(stack, abandoned["email"])) == 1
    state, _ = await store.peek(abandoned["_id"])
    assert state is DeliveryState.SENT
    assert await store.due(NOW + timedelta(days=1), 10) == []
    assert await deliverer.recover() == 0


async def test_a_batch_records_new_events_once_and_reports_known_ones(
    store: NotifierStore,
) -> None:
    sent = _doc("b-sent", state="sent", owner="x", lease_until=None)
    assert await store.record(sent) is None
    new = _doc("b-new", state="sending", owner="me", lease_until=NOW + timedelta(seconds=60))
    twice = _doc("b-twice", state="sending", owner="me", lease_until=NOW + timedelta(seconds=60))
    known = await store.record_many([new, sent, twice, twice, new])
    # Positions 0 and 2 are new (recorded now); the rest were known or repeats of them.
    assert known == {
        1: DeliveryState.SENT,
        3: DeliveryState.SENDING,
        4: DeliveryState.SENDING,
    }
