"""The bill group projection: version-gated, and a poison message is parked, not fatal."""

from __future__ import annotations

import pytest

from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import Access, Feed, read_topic

pytestmark = pytest.mark.integration


async def test_stale_states_are_ignored_and_poison_is_dead_lettered(
    stack: StackHandle, isolation: Isolation, feed: Feed, access: Access
) -> None:
    topic = isolation.topic_prefix + Topic.BILL_GROUPS
    await feed.producer.send_and_wait(topic, b"{not json", key=b"bg_v")
    await feed.bill_group("bg_v", status="inactive", version=5, name="Five")
    await feed.bill_group("bg_v", status="active", version=3, name="Three")
    # Same key, same partition, handled in order: once this one is parked, v3 was handled.
    await feed.producer.send_and_wait(topic, b'{"type": "nonsense"}', key=b"bg_v")

    parked = await read_topic(
        stack, isolation.topic_prefix + dead_letter_topic(ConsumerGroup.ACCESS), at_least=2
    )
    assert [r.value for r in parked] == [b"{not json", b'{"type": "nonsense"}']
    headers = {k: v.decode() for k, v in parked[0].headers}
    assert headers["dlq.error.type"] == "ContractError"
    assert headers["dlq.source.topic"] == topic

    view = await access.wait_for_bill_group("bg_v")
    assert (view["contract_status"], view["name"]) == ("inactive", "Five")
