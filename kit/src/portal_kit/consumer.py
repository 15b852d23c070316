"""The one consumer policy of every Kafka consumer of the portal.

- A message that cannot be decoded or validated (an `invalid` error) is dead-lettered at once:
  retrying cannot make it valid.
- A failure of our own dependencies (MongoDB or Kafka unreachable: an outage error, or any
  error while the health probe fails) holds the partition: retry with capped backoff for as
  long as it takes, never dead-letter — what our own outage caused is not the message's fault.
- Only a message that keeps failing while the dependencies are healthy is dead-lettered, after
  `max_attempts`.
- The dead-letter publish is itself held and retried until it is durable. The caller acks only
  after `handle` returns, so an offset is never committed past an unhandled message; consumers
  also subscribe with `AckPolicy.NACK_ON_ERROR`, so anything escaping rewinds the partition.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError
from faststream.message import StreamMessage
from prometheus_client import Counter, Gauge
from pymongo.errors import ConnectionFailure, ExecutionTimeout, WaitQueueTimeoutError

from portal_kit.deadletter import DeadLetter, SourceRecord

log = logging.getLogger(__name__)

HELD = Counter(
    "portal_consumer_held_total",
    "Retries of a message held back because a dependency of the consumer was unavailable",
    ["group"],
)
RETRIED = Counter(
    "portal_consumer_retried_total",
    "Retries of a message that failed while the consumer's dependencies were healthy",
    ["group"],
)
HOLDING = Gauge(
    "portal_consumer_holding",
    "Records (or batches) held back right now because a dependency is unavailable: a parked "
    "partition stays at 1 for as long as the outage lasts, where the held counter only ticks",
    ["group"],
)

# Errors that say "our side is away", whatever the message: never the message's fault.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    ExecutionTimeout,
    WaitQueueTimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    ConnectionError,
    TimeoutError,
)

HealthProbe = Callable[[], Awaitable[bool]]
Sleep = Callable[[float], Awaitable[None]]


async def undecoded(message: StreamMessage[Any]) -> Any:
    """Every subscriber's `decoder`: the body stays bytes, the handler decodes it under the
    policy. FastStream's own decoder parses a body without a content-type as JSON and lets a
    RecursionError (deep nesting) or a ValueError (an integer of more than 4300 digits), or
    with a JSON content-type any parse error, escape before the handler: the partition would
    rewind to that record forever instead of dead-lettering it."""
    return message.body


class Outcome(enum.Enum):
    APPLIED = "applied"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 0.2
    cap_seconds: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1)))


class ConsumerPolicy:
    def __init__(
        self,
        *,
        group: str,
        dead_letter: DeadLetter,
        healthy: HealthProbe,
        invalid: tuple[type[BaseException], ...],
        max_attempts: int = 4,
        backoff: Backoff | None = None,
        probe_timeout_seconds: float = 5.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.group = group
        self._dead_letter = dead_letter
        self._healthy = healthy
        self._invalid = invalid
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff()
        self._probe_timeout = probe_timeout_seconds
        self._sleep = sleep
        # Series at 0 from start: rate() alerts see the first hold or retry.
        for metric in (HELD, RETRIED, HOLDING):
            metric.labels(group)

    async def handle(self, record: SourceRecord, apply: Callable[[], Awaitable[object]]) -> Outcome:
        """Apply one record under the policy; returns once it is durable or dead-lettered."""
        failures = 0
        with _Holds(self.group) as held:
            while True:
                try:
                    await apply()
                    return Outcome.APPLIED
                except self._invalid as exc:
                    await self._park(record, exc, failures + 1)
                    return Outcome.DEAD_LETTERED
                except Exception as exc:
                    if await self._is_outage(exc):
                        await self._hold(exc, held)
                        continue
                    failures += 1
                    if failures >= self._max_attempts:
                        await self._park(record, exc, failures)
                        return Outcome.DEAD_LETTERED
                    RETRIED.labels(self.group).inc()
                    log.warning(
                        "message failed; retrying",
                        extra={
                            "group": self.group,
                            "attempt": failures,
                            "topic": record.topic,
                            # The record itself: it may not even decode to an event id.
                            "partition": record.partition,
                            "offset": record.offset,
                        },
                        exc_info=True,
                    )
                    await self._sleep(self._backoff.delay(failures))

    async def handle_batch(
        self,
        records: Sequence[SourceRecord],
        apply_all: Callable[[], Awaitable[object]],
        apply_one: Callable[[int], Awaitable[object]],
    ) -> list[Outcome]:
        """Apply a batch in one go (e.g. one bulk write); while the dependencies are healthy
        and the batch keeps failing, fall back to one record at a time to isolate the culprit.
        `apply_one(i)` applies `records[i]` alone; both must be idempotent."""
        with _Holds(self.group) as held:
            while True:
                try:
                    await apply_all()
                    return [Outcome.APPLIED] * len(records)
                except self._invalid:
                    break
                except Exception as exc:
                    if await self._is_outage(exc):
                        await self._hold(exc, held)
                        continue
                    log.warning(
                        "batch failed; applying its records one by one",
                        extra={"group": self.group, "records": len(records)},
                        exc_info=True,
                    )
                    break
        outcomes: list[Outcome] = []
        for index, record in enumerate(records):
            outcomes.append(await self.handle(record, _bind(apply_one, index)))
        return outcomes

    async def dead_letter(self, record: SourceRecord, error: BaseException) -> None:
        """Park a record found invalid before any attempt to apply it (e.g. undecodable)."""
        await self._park(record, error, 1)

    async def _park(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        with _Holds(self.group) as held:
            while True:
                try:
                    await self._dead_letter(record, error, attempts)
                    return
                except Exception as exc:  # noqa: BLE001 - Kafka away: hold, never skip the message
                    await self._hold(exc, held)

    async def _is_outage(self, error: BaseException) -> bool:
        if isinstance(error, OUTAGE_ERRORS):
            return True
        try:
            return not await asyncio.wait_for(self._healthy(), self._probe_timeout)
        except Exception:  # noqa: BLE001 - a probe that cannot answer means "not healthy"
            return True

    async def _hold(self, error: BaseException, held: _Holds) -> None:
        HELD.labels(self.group).inc()
        held.count += 1
        if held.count == 1:
            HOLDING.labels(self.group).inc()
        log.warning(
            "a dependency is unavailable; holding the partition",
            extra={"group": self.group, "held": held.count, "error_type": type(error).__name__},
        )
        await self._sleep(self._backoff.delay(held.count))


class _Holds:
    """The holds of one record (or batch): counted in `HOLDING` from the first hold until
    the record is applied, dead-lettered or abandoned (the consumer stops)."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.count = 0

    def __enter__(self) -> _Holds:
        return self

    def __exit__(self, *_: object) -> None:
        if self.count:
            HOLDING.labels(self.group).dec()


def _bind(
    apply_one: Callable[[int], Awaitable[object]], index: int
) -> Callable[[], Awaitable[object]]:
    async def apply() -> object:
        return await apply_one(index)

    return apply
