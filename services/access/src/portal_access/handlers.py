"""Kafka side: the bill group projection consumer and the outbox publisher."""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter

from portal_access.operations import AccessService
from portal_access.outbox import RELAYED, Publish
from portal_access.settings import Settings
from portal_contracts.codec import ContractError, decode
from portal_contracts.registry import EventType
from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_kit.consumer import ConsumerPolicy, HealthProbe, Outcome
from portal_kit.deadletter import KafkaDeadLetter, SourceRecord

log = logging.getLogger(__name__)

PROJECTED = Counter("access_bill_groups_projected_total", "Bill group states", ["outcome"])


def register(
    broker: KafkaBroker, settings: Settings, service: AccessService, healthy: HealthProbe
) -> None:
    group = settings.topic_prefix + ConsumerGroup.ACCESS
    policy = ConsumerPolicy(
        group=ConsumerGroup.ACCESS.value,
        dead_letter=KafkaDeadLetter(
            broker,
            topic=settings.topic(dead_letter_topic(ConsumerGroup.ACCESS)),
            group=ConsumerGroup.ACCESS.value,
        ),
        healthy=healthy,
        invalid=(ContractError, ValueError),
    )

    @broker.subscriber(
        settings.topic(Topic.BILL_GROUPS),
        group_id=group,
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
            applied = await service.apply_bill_group(event)
            PROJECTED.labels("applied" if applied else "stale").inc()

        outcome = await policy.handle(record, apply)
        if outcome is Outcome.DEAD_LETTERED:
            PROJECTED.labels("dead_lettered").inc()


def publisher(broker: KafkaBroker, settings: Settings) -> Publish:
    async def publish(entry: dict[str, Any]) -> None:
        await broker.publish(
            entry["body"].encode(),
            settings.topic(entry["topic"]),
            key=entry["key"].encode(),
            headers=dict(entry["headers"]),
        )
        RELAYED.labels(entry["type"]).inc()

    return publish
