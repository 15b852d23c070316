"""What a dead-lettered message carries, so that an operator can see why and replay it."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime

from portal_contracts.observability import scrub


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
