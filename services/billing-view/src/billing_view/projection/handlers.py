"""The FastStream Kafka subscriber: polls batches and hands them to the projector.

Subscribed with `AckPolicy.NACK_ON_ERROR`: the batch is committed once `handle_batch`
returns (every record durable or dead-lettered); anything escaping rewinds each partition
to the batch's first record instead of letting a later commit skip it.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from billing_view.projection.service import Projector
from billing_view.settings import Settings
from portal_contracts.topics import ConsumerGroup, Topic
from portal_kit.consumer import undecoded
from portal_kit.deadletter import KafkaDeadLetter, SourceRecord
from portal_kit.tracing import kafka_middlewares

CONSUMED_TOPICS = (
    Topic.ENTITIES,
    Topic.BILL_GROUPS,
    Topic.SUBSCRIPTIONS,
    Topic.INVOICES,
    Topic.PAYMENT_METHODS,
    Topic.CHANGE_RESULTS,
    Topic.PORTAL_CUSTOMER_CHANGES,
)


def build_broker(settings: Settings) -> KafkaBroker:
    # FastStream's per-message lines go to the JSON root logger (its default "faststream"
    # logger has a plain-text handler of its own), at debug level.
    return KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        client_id="billing-view",
        security=settings.kafka_security(),
        logger=logging.getLogger("billing_view.faststream"),
        log_level=logging.DEBUG,
        middlewares=kafka_middlewares(),
    )


def dead_letter(broker: KafkaBroker, settings: Settings) -> KafkaDeadLetter:
    """This group's dead-letter topic (`dlq.billing-view`), published through the broker."""
    return KafkaDeadLetter(
        broker,
        topic=settings.dead_letter_topic,
        group=ConsumerGroup.BILLING_VIEW.value,
        sources=consumed_topics(settings),
    )


def consumed_topics(settings: Settings) -> list[str]:
    return [settings.topic(t) for t in CONSUMED_TOPICS]


def subscribe(broker: KafkaBroker, settings: Settings, projector: Projector) -> None:
    @broker.subscriber(
        *consumed_topics(settings),
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,
    )
    async def project(msg: KafkaMessage) -> None:
        raw = msg.raw_message
        records: tuple[Any, ...] = raw if isinstance(raw, tuple) else (raw,)
        await projector.handle_batch([SourceRecord.of(r) for r in records])
