"""The Kafka edge of the service: the `billing.bill-groups` projection consumer.

Thin: decode, check the type, hand the state to `PortalService.apply_bill_group` under the
kit's one consumer policy (manual ack after the write; an outage of our own dependencies holds
the partition; a message that keeps failing while they are healthy is dead-lettered).
"""

from __future__ import annotations

import logging

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from portal_access.portals.service import PortalService
from portal_access.settings import Settings
from portal_contracts.billing import BillGroupState
from portal_contracts.codec import ContractError, decode
from portal_contracts.registry import EventType
from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_kit.consumer import ConsumerPolicy, HealthProbe, Outcome
from portal_kit.deadletter import KafkaDeadLetter, SourceRecord

log = logging.getLogger(__name__)

PROJECTED = Counter("access_bill_groups_projected_total", "Bill group states", ["outcome"])


def consumer_policy(
    broker: KafkaBroker, settings: Settings, healthy: HealthProbe
) -> ConsumerPolicy:
    return ConsumerPolicy(
        group=ConsumerGroup.ACCESS.value,
        dead_letter=KafkaDeadLetter(
            broker,
            topic=settings.topic(dead_letter_topic(ConsumerGroup.ACCESS)),
            group=ConsumerGroup.ACCESS.value,
        ),
        healthy=healthy,
        invalid=(ContractError, ValueError),
    )


def register(
    broker: KafkaBroker, settings: Settings, policy: ConsumerPolicy, portals: PortalService
) -> None:
    @broker.subscriber(
        settings.topic(Topic.BILL_GROUPS),
        group_id=settings.topic_prefix + ConsumerGroup.ACCESS,
        auto_offset_reset="earliest",
        # Success commits; anything escaping the policy rewinds the partition instead of
        # letting a later commit skip this message.
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_bill_group(message: KafkaMessage) -> None:
        record = SourceRecord.of(message.raw_message)

        async def apply() -> None:
            event = decode(record.value)
            if event.type != EventType.BILL_GROUP_STATE:
                raise ContractError(f"unexpected event type {event.type!r} on this topic")
            if event.aggregate_version is None:
                raise ValueError("bill_group.state without aggregate_version")
            state: BillGroupState = event.payload
            applied = await portals.apply_bill_group(
                event.tenant_id, event.aggregate_version, state
            )
            PROJECTED.labels("applied" if applied else "stale").inc()

        outcome = await policy.handle(record, apply)
        if outcome is Outcome.DEAD_LETTERED:
            PROJECTED.labels("dead_lettered").inc()
