"""The relay's Kafka publisher (acks=all, idempotent producer; key = bill group id)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from portal_access.outbox.models import OutboxEntry
from portal_access.settings import Settings


class KafkaPublisher:
    def __init__(self, broker: KafkaBroker, settings: Settings) -> None:
        self._broker = broker
        self._settings = settings

    async def __call__(self, entry: OutboxEntry) -> None:
        await self._broker.publish(
            entry.body.encode(),
            self._settings.topic(entry.topic),
            key=entry.key.encode(),
            headers=dict(entry.headers),
        )
