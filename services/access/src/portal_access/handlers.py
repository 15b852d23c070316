"""The Kafka edge of the service: the `billing.bill-groups` projection consumer.

Thin: polls batches, decodes them (an invalid record is dead-lettered at once), and hands the
newest state of each bill group to `PortalService.apply_bill_group` under the kit's one
consumer policy. The batch is committed once, after every record is durable or dead-lettered
(a commit per record bounded a replay to a few dozen bill groups a second); an outage of our
own dependencies holds the partition; a batch that keeps failing while they are healthy is
retried record by record, so only the culprit is dead-lettered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from portal_access.portals.service import PortalService
from portal_access.settings import Settings
from portal_contracts.billing import BillGroupState
from portal_contracts.codec import ContractError, decode
from portal_contracts.envelope import Envelope
from portal_contracts.registry import EventType
from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_kit.consumer import ConsumerPolicy, HealthProbe, Outcome, undecoded
from portal_kit.deadletter import KafkaDeadLetter, SourceRecord
from portal_kit.metrics import precreate
from portal_kit.tracing import handling_event

log = logging.getLogger(__name__)

PROJECTED = Counter(
    "portal_access_bill_groups_projected_total", "Bill group states consumed", ["outcome"]
)
precreate(PROJECTED, ("applied",), ("stale",), ("dead_lettered",))

# Records per poll, and how long a poll waits for more once one has arrived.
BATCH_MAX_RECORDS = 500
BATCH_TIMEOUT_MS = 100
# What no retry can fix: dead-lettered at once.
INVALID: tuple[type[Exception], ...] = (ContractError, ValueError)


@dataclass(frozen=True)
class _State:
    record: SourceRecord
    tenant_id: str
    version: int
    state: BillGroupState
    correlation_id: str | None
    event_id: str


def _state_of(record: SourceRecord) -> _State:
    event: Envelope[Any] = decode(record.value)
    if event.type != EventType.BILL_GROUP_STATE:
        raise ContractError(f"unexpected event type {event.type!r} on this topic")
    if event.aggregate_version is None:
        raise ValueError("bill_group.state without aggregate_version")
    return _State(
        record,
        event.tenant_id,
        event.aggregate_version,
        event.payload,
        event.correlation_id,
        str(event.event_id),
    )


def consumer_policy(
    broker: KafkaBroker, settings: Settings, healthy: HealthProbe
) -> ConsumerPolicy:
    return ConsumerPolicy(
        group=ConsumerGroup.ACCESS.value,
        dead_letter=KafkaDeadLetter(
            broker,
            topic=settings.topic(dead_letter_topic(ConsumerGroup.ACCESS)),
            group=ConsumerGroup.ACCESS.value,
            sources=[settings.topic(Topic.BILL_GROUPS)],
        ),
        healthy=healthy,
        invalid=INVALID,
    )


def register(
    broker: KafkaBroker, settings: Settings, policy: ConsumerPolicy, portals: PortalService
) -> None:
    @broker.subscriber(
        settings.topic(Topic.BILL_GROUPS),
        group_id=settings.topic_prefix + ConsumerGroup.ACCESS,
        auto_offset_reset="earliest",
        batch=True,
        max_records=BATCH_MAX_RECORDS,
        batch_timeout_ms=BATCH_TIMEOUT_MS,
        # Success commits the batch; anything escaping the policy rewinds each partition to
        # the batch's first record instead of letting a later commit skip it.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,
    )
    async def on_bill_groups(message: KafkaMessage) -> None:
        raw = message.raw_message
        records = [SourceRecord.of(r) for r in (raw if isinstance(raw, tuple) else (raw,))]
        states: list[_State] = []
        for record in records:
            try:
                states.append(_state_of(record))
            except INVALID as exc:
                await policy.dead_letter(record, exc)
                PROJECTED.labels("dead_lettered").inc()

        async def apply(item: _State) -> None:
            # The events this state causes (sessions ended) carry its correlation id on.
            with handling_event(item.correlation_id, item.event_id):
                applied = await portals.apply_bill_group(item.tenant_id, item.version, item.state)
            PROJECTED.labels("applied" if applied else "stale").inc()

        async def apply_all() -> None:
            # Version-gated and idempotent: after a partial failure the whole batch is
            # applied again, and what already landed is skipped as stale.
            for item in states:
                await apply(item)

        async def apply_one(index: int) -> None:
            await apply(states[index])

        outcomes = await policy.handle_batch([s.record for s in states], apply_all, apply_one)
        PROJECTED.labels("dead_lettered").inc(outcomes.count(Outcome.DEAD_LETTERED))
