"""Dead-lettering: what a parked message carries, so that an operator can see why and replay it.

Every consumer of the portal parks messages through `KafkaDeadLetter` (never by hand), so the
headers, the topic (`dlq.<group>`), the counter and the log line are the same everywhere.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from portal_kit.observability import scrub

log = logging.getLogger(__name__)

DEAD_LETTERED = Counter(
    "portal_dead_lettered_total", "Messages sent to a dead-letter topic", ["group", "topic"]
)


@dataclass(frozen=True)
class SourceRecord:
    """The Kafka record as consumed: what a dead-letter needs to be replayed byte for byte."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = field(default=())

    @classmethod
    def of(cls, record: Any) -> SourceRecord:
        """From an aiokafka `ConsumerRecord` (what FastStream hands over as `raw_message`)."""
        headers: Iterable[tuple[str, bytes]] = getattr(record, "headers", None) or ()
        return cls(
            topic=str(getattr(record, "topic", "") or ""),
            partition=getattr(record, "partition", None),
            offset=getattr(record, "offset", None),
            key=getattr(record, "key", None),
            value=bytes(getattr(record, "value", None) or b""),
            headers=tuple((str(k), bytes(v)) for k, v in headers),
        )


def dead_letter_headers(
    error: BaseException,
    *,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    consumer_group: str,
    attempts: int,
) -> dict[str, str]:
    detail = "".join(traceback.format_exception_only(type(error), error)).strip()
    return {
        "dlq.error.type": type(error).__name__,
        "dlq.error.message": scrub(detail)[:2000],
        "dlq.source.topic": source_topic,
        "dlq.source.partition": "" if partition is None else str(partition),
        "dlq.source.offset": "" if offset is None else str(offset),
        "dlq.consumer.group": consumer_group,
        "dlq.attempts": str(attempts),
        "dlq.failed_at": datetime.now(UTC).isoformat(),
    }


class DeadLetter(Protocol):
    async def __call__(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        """Publish durably (acks=all) or raise; the consumer acks only after it returns."""


class KafkaDeadLetter:
    def __init__(
        self, broker: KafkaBroker, *, topic: str, group: str, sources: Iterable[str] = ()
    ) -> None:
        """`sources`: the topics the group consumes; their series start at 0, so that a
        `rate()` alert fires on the first dead letter, not only from the second on."""
        self._broker = broker
        self._topic = topic
        self._group = group
        for source in sources:
            DEAD_LETTERED.labels(group, source)

    async def __call__(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        headers = dead_letter_headers(
            error,
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            consumer_group=self._group,
            attempts=attempts,
        )
        # The record's own headers (trace context, content type, ...) travel along, so a
        # replay from the dead-letter topic is the original message; ours describe the failure.
        original = {k: v.decode("utf-8", "replace") for k, v in record.headers}
        await self._broker.publish(
            record.value, self._topic, key=record.key, headers={**original, **headers}
        )
        DEAD_LETTERED.labels(self._group, record.topic).inc()
        log.warning(
            "dead-lettered a message",
            extra={
                "source_topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error_type": type(error).__name__,
                "attempts": attempts,
            },
        )
