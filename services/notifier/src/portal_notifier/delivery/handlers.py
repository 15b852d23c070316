"""Kafka edges of sign-in delivery: `signin.requested` in, failure reports out."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.kafka import KafkaBroker

from portal_contracts.codec import decode, encode, headers_for, make_event
from portal_contracts.envelope import Envelope
from portal_contracts.portal import NotificationFailed, SigninRequested
from portal_contracts.topics import Topic
from portal_kit.deadletter import DeadLetter, SourceRecord
from portal_kit.tracing import correlation_id
from portal_notifier.delivery.domain import DeliveryFailedError
from portal_notifier.delivery.models import Delivery, SigninEmail
from portal_notifier.delivery.service import Clock, DeliveryService
from portal_notifier.delivery.worker import Dispatcher
from portal_notifier.settings import Settings


def signin_email(event: Envelope[SigninRequested], record: SourceRecord) -> SigninEmail:
    payload = event.payload
    return SigninEmail(
        event_id=str(event.event_id),
        tenant_id=event.tenant_id,
        bill_group_id=payload.bill_group_id,
        entity_id=payload.entity_id,
        email=payload.email,
        sealed=payload.sealed,
        locale=payload.locale,
        occurred_at=event.occurred_at,
        expires_at=payload.expires_at,
        source=record,
    )


async def on_signins(
    service: DeliveryService,
    dispatcher: Dispatcher,
    events: Sequence[tuple[Envelope[SigninRequested], SourceRecord]],
) -> None:
    """Returns (so the offsets may be committed) once the events are durable deliveries;
    the attempts run beside the consumer, not in its way."""
    await dispatcher.start_many(await service.accept([signin_email(e, r) for e, r in events]))


class KafkaFailureReporter:
    """A given-up email: its original message to `dlq.notifier` (rebuilt from the copy kept
    with the delivery: the offset is long committed), then `notification.failed` on
    `portal.notifications` keyed by bill group. Raises when Kafka does not take either, so
    the delivery stays unfinished and the report is repeated after its lease."""

    def __init__(
        self, broker: KafkaBroker, settings: Settings, dead_letter: DeadLetter, clock: Clock
    ) -> None:
        self._broker = broker
        self._topic = settings.topic(Topic.PORTAL_NOTIFICATIONS)
        self._dead_letter = dead_letter
        self._clock = clock

    async def report(self, delivery: Delivery, error: DeliveryFailedError, attempts: int) -> None:
        request = delivery.request
        await self._dead_letter(request.source, error, attempts)
        # The sign-in's correlation id, from the kept record: read only on this rare path.
        cause = decode(request.source.value).correlation_id
        failed = make_event(
            NotificationFailed(
                source_event_id=request.event_id,
                bill_group_id=request.bill_group_id,
                reason=error.reason.value,
                failed_at=self._clock(),
            ),
            tenant_id=request.tenant_id,
            aggregate_id=request.bill_group_id,
            correlation_id=cause or correlation_id(),
        )
        await self._broker.publish(
            encode(failed),
            self._topic,
            key=request.bill_group_id.encode(),
            headers=headers_for(failed),
        )
