"""The notifier's one Kafka subscriber, on the kit's consumer policy.

One batch subscriber reads `portal.signin`, `billing.entities` and `billing.bill-groups`:
branding events are tiny, and one group member per replica keeps rebalances (and start-up)
short. Per batch: branding applied in record order (per-key order holds), then every
sign-in of the batch recorded with one insert; the offsets are committed once all of it is
durable. Under `ConsumerPolicy`:

- a message that is not a valid contract event goes to `dlq.notifier` at once;
- MongoDB or Kafka away: the batch is held and retried with backoff, never dead-lettered;
- a batch that keeps failing while they are healthy is applied one record at a time, and a
  record that still fails after bounded retries (say, a state event MongoDB cannot store) is
  dead-lettered: the partition moves on.

Other event types on these topics (`signin.completed`, ...) are not the notifier's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from portal_contracts.billing import BillGroupState, EntityState
from portal_contracts.codec import ContractError, decode
from portal_contracts.envelope import Envelope
from portal_contracts.portal import SigninRequested
from portal_contracts.registry import EventType
from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_kit.consumer import ConsumerPolicy, HealthProbe, Sleep, undecoded
from portal_kit.deadletter import DeadLetter, KafkaDeadLetter, SourceRecord
from portal_kit.tracing import handling_event
from portal_notifier.branding.handlers import on_bill_group_state, on_entity_state
from portal_notifier.branding.service import BrandingService
from portal_notifier.delivery.handlers import on_signins
from portal_notifier.delivery.service import DeliveryService
from portal_notifier.delivery.worker import Dispatcher
from portal_notifier.settings import Settings

# Records per poll: one insert and one offset commit per batch instead of per event.
_MAX_RECORDS = 100
_IDLE_POLL_MS = 25

Decoded = tuple[SourceRecord, Envelope[Any]]


def dead_letter(broker: KafkaBroker, settings: Settings) -> KafkaDeadLetter:
    """`dlq.notifier` (with `TOPIC_PREFIX`), the kit's headers, counter and log line."""
    group = ConsumerGroup.NOTIFIER
    return KafkaDeadLetter(
        broker,
        topic=settings.topic(dead_letter_topic(group)),
        group=group.value,
        sources=consumed_topics(settings),
    )


def consumed_topics(settings: Settings) -> list[str]:
    return [settings.topic(t) for t in (Topic.PORTAL_SIGNIN, Topic.ENTITIES, Topic.BILL_GROUPS)]


def consumer_policy(
    dead_letter: DeadLetter, healthy: HealthProbe, *, sleep: Sleep = asyncio.sleep
) -> ConsumerPolicy:
    """The kit's policy with its defaults: at most 4 attempts of a record that keeps failing
    while MongoDB and Kafka are healthy; backoff from 0.2 s, capped at 5 s."""
    return ConsumerPolicy(
        group=ConsumerGroup.NOTIFIER.value,
        dead_letter=dead_letter,
        healthy=healthy,
        invalid=(ContractError,),
        sleep=sleep,
    )


class EventRouter:
    """Decodes a batch and hands each event to its feature, under the policy."""

    def __init__(
        self,
        policy: ConsumerPolicy,
        branding: BrandingService,
        delivery: DeliveryService,
        dispatcher: Dispatcher,
    ) -> None:
        self._policy = policy
        self._branding = branding
        self._delivery = delivery
        self._dispatcher = dispatcher

    async def handle(self, records: Sequence[SourceRecord]) -> None:
        """Returns once every record is durable or dead-lettered."""
        decoded: list[Decoded] = []
        for record in records:
            try:
                decoded.append((record, decode(record.value)))
            except ContractError as exc:
                await self._policy.dead_letter(record, exc)
        if not decoded:
            return

        async def apply_all() -> None:
            await self._apply(decoded)

        async def apply_one(index: int) -> None:
            await self._apply(decoded[index : index + 1])

        await self._policy.handle_batch([r for r, _ in decoded], apply_all, apply_one)

    async def _apply(self, batch: Sequence[Decoded]) -> None:
        """Idempotent (version-gated projection, deliveries keyed by event id), as a retry
        or the one-record fallback of the policy needs."""
        signins: list[tuple[Envelope[SigninRequested], SourceRecord]] = []
        for record, event in batch:
            if event.type == EventType.SIGNIN_REQUESTED:
                signins.append((cast("Envelope[SigninRequested]", event), record))
            elif event.type == EventType.ENTITY_STATE:
                with handling_event(event.correlation_id, str(event.event_id)):
                    await on_entity_state(self._branding, cast("Envelope[EntityState]", event))
            elif event.type == EventType.BILL_GROUP_STATE:
                with handling_event(event.correlation_id, str(event.event_id)):
                    state = cast("Envelope[BillGroupState]", event)
                    await on_bill_group_state(self._branding, state)
        if signins:
            await on_signins(self._delivery, self._dispatcher, signins)


def register(broker: KafkaBroker, settings: Settings, router: EventRouter) -> None:
    topics = consumed_topics(settings)

    @broker.subscriber(
        *topics,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        # The policy returns only once the batch is durable or dead-lettered; anything
        # escaping it rewinds the partition instead of letting a later commit skip it.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=_MAX_RECORDS,
        # An empty poll is followed by a sleep of the same length in FastStream: keep both
        # short, they are the latency added to an email arriving on an idle consumer.
        batch_timeout_ms=_IDLE_POLL_MS,
        decoder=undecoded,
    )
    async def consume(message: KafkaMessage) -> None:
        raw = message.raw_message
        batch = raw if isinstance(raw, tuple) else (raw,)
        await router.handle([SourceRecord.of(record) for record in batch])
