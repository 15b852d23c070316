"""The FastStream Kafka subscriber: polls batches and hands them to the projector."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from billing_view import metrics
from billing_view.projector import Projector, Record
from billing_view.settings import Settings
from billing_view.storage import Storage
from portal_contracts.topics import ConsumerGroup, Topic
from portal_kit.deadletter import DEAD_LETTERED, dead_letter_headers

log = logging.getLogger(__name__)

CONSUMED_TOPICS = (
    Topic.ENTITIES,
    Topic.BILL_GROUPS,
    Topic.SUBSCRIPTIONS,
    Topic.INVOICES,
    Topic.PAYMENT_METHODS,
    Topic.CHANGE_RESULTS,
    Topic.PORTAL_CUSTOMER_CHANGES,
)


def dead_letterer(broker: KafkaBroker, settings: Settings) -> Any:
    """Park a record with its error in headers on this group's dead-letter topic."""

    async def dead_letter(record: Record, error: BaseException, attempts: int) -> None:
        headers = dead_letter_headers(
            error,
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            consumer_group=ConsumerGroup.BILLING_VIEW.value,
            attempts=attempts,
        )
        await broker.publish(
            record.value or b"", settings.dead_letter_topic, key=record.key, headers=headers
        )
        DEAD_LETTERED.labels(ConsumerGroup.BILLING_VIEW.value, record.topic).inc()
        log.warning(
            "dead-lettered a message",
            extra={
                "source_topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error_type": type(error).__name__,
            },
        )

    return dead_letter


def build_broker(settings: Settings, storage: Storage) -> KafkaBroker:
    # FastStream's per-message lines go to the JSON root logger (its default "faststream"
    # logger has a plain-text handler of its own), at debug level.
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        client_id="billing-view",
        security=settings.kafka_security(),
        logger=logging.getLogger("billing_view.faststream"),
        log_level=logging.DEBUG,
    )
    projector = Projector(
        storage,
        dead_letterer(broker, settings),
        max_attempts=settings.max_attempts,
        retry_base_seconds=settings.retry_base_seconds,
    )

    @broker.subscriber(
        *(settings.topic(t) for t in CONSUMED_TOPICS),
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        ack_policy=AckPolicy.MANUAL,
    )
    async def project(msg: KafkaMessage) -> None:
        raw = msg.raw_message
        records: tuple[Any, ...] = raw if isinstance(raw, tuple) else (raw,)
        await projector.handle_batch(records)
        # Offsets move only now that every record of the batch is durable or dead-lettered.
        await msg.ack()
        _observe_lag(msg, records)

    return broker


def _observe_lag(msg: Any, records: tuple[Any, ...]) -> None:
    consumer = getattr(msg, "consumer", None)
    highwater = getattr(consumer, "highwater", None)
    if highwater is None:
        return
    last: dict[tuple[str, int], int] = {}
    for record in records:
        last[(record.topic, record.partition)] = record.offset
    for (topic, partition), offset in last.items():
        high = highwater(TopicPartition(topic, partition))
        if high is not None:
            metrics.LAG.labels(topic, str(partition)).set(max(0, high - offset - 1))
