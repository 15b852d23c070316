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
from portal_contracts.topics import Topic
from portal_notifier.delivery import Deliverer
from portal_notifier.domain import BillGroupView, EntityView
from portal_notifier.storage import NotifierStore, SourceRecord

log = logging.getLogger(__name__)

# Before the batch is redelivered (MongoDB unreachable while recording it): a pause keeps
# the consumer from spinning against a database that is down.
_REDELIVERY_PAUSE_SECONDS = 1.0
# Records per poll: one insert and one offset commit per batch instead of per event.
_MAX_RECORDS = 100
_IDLE_POLL_MS = 25


def register(broker: KafkaBroker, deliverer: Deliverer, store: NotifierStore) -> None:
    settings = deliverer.settings
    topics = [settings.topic(t) for t in (Topic.PORTAL_SIGNIN, Topic.ENTITIES, Topic.BILL_GROUPS)]

    # One consumer for the three topics: branding events are tiny, and a single group member
    # per replica keeps rebalances (and start-up) short.
    @broker.subscriber(
        *topics,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        # An exception means "not durable yet": the offsets stay, the batch comes again.
        # Poison messages never raise; they are dead-lettered below and acknowledged.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=_MAX_RECORDS,
        # An empty poll is followed by a sleep of the same length in FastStream: keep both
        # short, they are the latency added to an email arriving on an idle consumer.
        batch_timeout_ms=_IDLE_POLL_MS,
    )
    async def consume(message: KafkaMessage) -> None:
        records = message.raw_message
        batch = records if isinstance(records, tuple) else (records,)
        try:
            await handle_batch(batch, deliverer, store)
        except Exception:
            log.exception("batch not handled yet; it will be redelivered")
            await asyncio.sleep(_REDELIVERY_PAUSE_SECONDS)
            raise


def _source(record: Any) -> SourceRecord:
    return SourceRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        body=bytes(record.value or b""),
    )


async def handle_batch(
    records: tuple[Any, ...], deliverer: Deliverer, store: NotifierStore
) -> None:
    """Branding first (in record order, so per-key order holds), then every sign-in of the
    batch recorded at once; returns when all of it is durable."""
    signins: list[tuple[Envelope[SigninRequested], SourceRecord]] = []
    for record in records:
        source = _source(record)
        try:
            event = decode(source.body)
        except ContractError as exc:
            await deliverer.dead_letter(source, exc, attempts=1)
            continue
        if event.type == EventType.SIGNIN_REQUESTED:
            signins.append((cast("Envelope[SigninRequested]", event), source))
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
    if signins:
        await deliverer.accept_many(signins)
