"""The outbox relay against an in-memory outbox: publish, then mark sent; a failed publish
leaves the event owed for the next pass."""

from __future__ import annotations

import pytest

from portal_access.outbox.models import Hint, OutboxEntry, outbox_entry
from portal_access.outbox.relay import Relay
from portal_contracts.portal import PortalEnabled
from tests.access.unit.fakes import FakeOutbox


def entry(bill_group_id: str) -> OutboxEntry:
    payload = PortalEnabled(bill_group_id=bill_group_id, actor="t")
    return outbox_entry(payload, tenant_id="demo", bill_group_id=bill_group_id)


async def test_owed_events_are_published_in_order_then_marked_sent() -> None:
    first, second, other = entry("bg_1"), entry("bg_1"), entry("bg_2")
    outbox = FakeOutbox(
        {Hint("portals", "bg_1"): [first, second], Hint("portals", "bg_2"): [other]}
    )
    published: list[OutboxEntry] = []

    async def publish(owed: OutboxEntry) -> None:
        published.append(owed)

    relay = Relay(outbox, publish, sweep_seconds=5)
    assert await relay.drain([Hint("portals", "bg_1")]) == 2
    assert published == [first, second]
    assert await relay.drain() == 1
    assert await relay.drain() == 0
    assert published == [first, second, other]


async def test_a_failed_publish_leaves_the_event_owed() -> None:
    owed = entry("bg_1")
    outbox = FakeOutbox({Hint("sessions", "h"): [owed]})

    async def broken(_: OutboxEntry) -> None:
        raise ConnectionError("kafka away")

    with pytest.raises(ConnectionError):
        await Relay(outbox, broken, sweep_seconds=5).drain()
    published: list[OutboxEntry] = []

    async def publish(e: OutboxEntry) -> None:
        published.append(e)

    assert await Relay(outbox, publish, sweep_seconds=5).drain() == 1
    assert published == [owed]
