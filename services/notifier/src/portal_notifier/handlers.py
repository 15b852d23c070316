"""The notifier's Kafka consumer: sign-in requests to send, branding state to project."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from portal_contracts.billing import BillGroupState, EntityState
from portal_contracts.codec import ContractError, decode
from portal_contracts.envelope import Envelope
from portal_contracts.portal import SigninRequested
from portal_contracts.registry import EventType
from portal_contracts.service import dead_letter
from portal_contracts.topics import ConsumerGroup, Topic
from portal_notifier.delivery import Deliverer
from portal_notifier.domain import BillGroupView, EntityView
from portal_notifier.storage import NotifierStore, SourceRecord

log = logging.getLogger(__name__)

# Before the message is redelivered (MongoDB unreachable while recording it): a pause keeps
# the consumer from spinning against a database that is down.
_REDELIVERY_PAUSE_SECONDS = 1.0


def register(broker: KafkaBroker, deliverer: Deliverer, store: NotifierStore) -> None:
    settings = deliverer.settings
    topics = [settings.topic(t) for t in (Topic.PORTAL_SIGNIN, Topic.ENTITIES, Topic.BILL_GROUPS)]

    # One consumer for the three topics: branding events are tiny, and a single group member
    # per replica keeps rebalances (and start-up) short.
    @broker.subscriber(
        *topics,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        # An exception means "not durable yet": the offset stays, the message comes again.
        # Poison messages never raise; they are dead-lettered below and acknowledged.
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def consume(message: KafkaMessage) -> None:
        try:
            event = decode(message.body)
        except ContractError as exc:
            await dead_letter(broker, settings, ConsumerGroup.NOTIFIER, message, exc, 1)
            return
        try:
            await _dispatch(event, message, deliverer, store)
        except Exception:
            log.exception("event not handled yet; it will be redelivered")
            await asyncio.sleep(_REDELIVERY_PAUSE_SECONDS)
            raise


async def _dispatch(
    event: Envelope[Any], message: Any, deliverer: Deliverer, store: NotifierStore
) -> None:
    if event.type == EventType.SIGNIN_REQUESTED:
        raw = message.raw_message
        source = SourceRecord(
            topic=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            key=raw.key,
            body=message.body,
        )
        await deliverer.accept(cast("Envelope[SigninRequested]", event), source)
    elif event.type == EventType.ENTITY_STATE and event.aggregate_version is not None:
        entity = cast("EntityState", event.payload)
        await store.apply_entity(
            event.tenant_id,
            entity.entity_id,
            event.aggregate_version,
            EntityView(
                name=entity.name,
                logo_url=entity.logo.url if entity.logo else None,
                logo_alt=entity.logo.alt if entity.logo else "",
            ),
        )
    elif event.type == EventType.BILL_GROUP_STATE and event.aggregate_version is not None:
        group = cast("BillGroupState", event.payload)
        await store.apply_bill_group(
            event.tenant_id,
            group.bill_group_id,
            event.aggregate_version,
            BillGroupView(
                name=group.name, account_name=group.account_name, entity_id=group.entity_id
            ),
        )
    # Anything else on these topics (signin.completed, ...) is not the notifier's business.
