"""The relay's Kafka publisher (acks=all, idempotent producer; key = bill group id)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from portal_access.outbox.models import OutboxEntry
from portal_access.settings import Settings
from portal_contracts.topics import TOPICS
from portal_kit.metrics import count_publish, precreate_publishes
from portal_kit.tracing import resumed


class KafkaPublisher:
    def __init__(self, broker: KafkaBroker, settings: Settings) -> None:
        self._broker = broker
        self._settings = settings
        ours = (name for name, spec in TOPICS.items() if "access" in spec.producers)
        precreate_publishes("access", (settings.topic(name) for name in ours))

    async def __call__(self, entry: OutboxEntry) -> None:
        topic = self._settings.topic(entry.topic)
        try:
            # The publish span continues the trace of the request that owed the event.
            with resumed(entry.headers):
                await self._broker.publish(
                    entry.body.encode(), topic, key=entry.key.encode(), headers=dict(entry.headers)
                )
        except Exception:
            count_publish("access", topic, ok=False)
            raise
        count_publish("access", topic, ok=True)
