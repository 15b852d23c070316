"""Kafka side: the bill group projection consumer and the outbox publisher."""

from __future__ import annotations

import asyncio
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
from portal_contracts.service import dead_letter
from portal_contracts.topics import ConsumerGroup, Topic

log = logging.getLogger(__name__)

PROJECTED = Counter("access_bill_groups_projected_total", "Bill group states", ["outcome"])
MAX_ATTEMPTS = 4


def register(broker: KafkaBroker, settings: Settings, service: AccessService) -> None:
    @broker.subscriber(
        settings.topic(Topic.BILL_GROUPS),
        group_id=settings.topic_prefix + ConsumerGroup.ACCESS,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
    )
    async def on_bill_group(message: KafkaMessage) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                event = decode(message.body)
                if event.type != EventType.BILL_GROUP_STATE:
                    raise ContractError(f"unexpected event type {event.type!r} on this topic")
                applied = await service.apply_bill_group(event)
                PROJECTED.labels("applied" if applied else "stale").inc()
                break
            except (ContractError, ValueError) as exc:
                # A malformed message will not get better with retries.
                await dead_letter(broker, settings, ConsumerGroup.ACCESS, message, exc, attempt)
                PROJECTED.labels("dead_lettered").inc()
                break
            except Exception as exc:  # noqa: BLE001 - storage trouble: bounded retries, then park
                if attempt == MAX_ATTEMPTS:
                    await dead_letter(broker, settings, ConsumerGroup.ACCESS, message, exc, attempt)
                    PROJECTED.labels("dead_lettered").inc()
                    break
                log.warning("bill group projection failed; retrying", extra={"attempt": attempt})
                await asyncio.sleep(0.2 * 2**attempt)
        # The offset moves only once the state is durable (or the message is parked).
        await message.ack()


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
