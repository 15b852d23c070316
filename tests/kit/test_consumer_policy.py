"""The one consumer policy, with fakes for the dead-letter publisher and the health probe."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

import pytest
from faststream.kafka import KafkaBroker
from pymongo.errors import AutoReconnect

from portal_kit.consumer import Backoff, ConsumerPolicy, Outcome
from portal_kit.deadletter import KafkaDeadLetter, SourceRecord

RECORD = SourceRecord(topic="t", partition=0, offset=7, key=b"k", value=b"{}")


class InvalidMessageError(ValueError):
    pass


@dataclass
class Fakes:
    healthy: bool = True
    parked: list[tuple[SourceRecord, str, int]] = field(default_factory=list)
    park_failures: int = 0
    slept: list[float] = field(default_factory=list)

    async def dead_letter(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        if self.park_failures:
            self.park_failures -= 1
            raise ConnectionError("kafka away")
        self.parked.append((record, type(error).__name__, attempts))

    async def probe(self) -> bool:
        return self.healthy

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def policy(fakes: Fakes, max_attempts: int = 3) -> ConsumerPolicy:
    return ConsumerPolicy(
        group="g",
        dead_letter=fakes.dead_letter,
        healthy=fakes.probe,
        invalid=(InvalidMessageError,),
        max_attempts=max_attempts,
        backoff=Backoff(base_seconds=1, cap_seconds=4),
        sleep=fakes.sleep,
    )


def failing(errors: list[BaseException]) -> tuple[list[int], Callable[[], Awaitable[None]]]:
    calls: list[int] = []

    async def apply() -> None:
        calls.append(1)
        if errors:
            raise errors.pop(0)

    return calls, apply


async def test_an_invalid_message_is_dead_lettered_at_once() -> None:
    fakes = Fakes()
    calls, apply = failing([InvalidMessageError("bad")])
    assert await policy(fakes).handle(RECORD, apply) is Outcome.DEAD_LETTERED
    assert calls == [1]
    assert fakes.parked == [(RECORD, "InvalidMessageError", 1)]


async def test_an_outage_holds_the_message_however_long_it_lasts() -> None:
    fakes = Fakes()
    calls, apply = failing([AutoReconnect("mongo away") for _ in range(25)])
    assert await policy(fakes).handle(RECORD, apply) is Outcome.APPLIED
    assert len(calls) == 26
    assert fakes.parked == []
    assert max(fakes.slept) == 4  # capped backoff


async def test_any_error_while_the_probe_fails_is_an_outage_not_the_message() -> None:
    fakes = Fakes(healthy=False)
    calls, apply = failing([RuntimeError("write failed") for _ in range(10)])
    assert await policy(fakes).handle(RECORD, apply) is Outcome.APPLIED
    assert len(calls) == 11
    assert fakes.parked == []


async def test_a_message_failing_while_healthy_is_parked_after_bounded_attempts() -> None:
    fakes = Fakes()
    calls, apply = failing([OverflowError("too big") for _ in range(10)])
    assert await policy(fakes, max_attempts=3).handle(RECORD, apply) is Outcome.DEAD_LETTERED
    assert len(calls) == 3
    assert fakes.parked == [(RECORD, "OverflowError", 3)]
    assert fakes.slept == [1, 2]


async def test_a_failing_dead_letter_publish_is_retried_until_durable() -> None:
    fakes = Fakes(park_failures=5)
    _, apply = failing([InvalidMessageError("bad")])
    assert await policy(fakes).handle(RECORD, apply) is Outcome.DEAD_LETTERED
    assert fakes.parked == [(RECORD, "InvalidMessageError", 1)]
    assert len(fakes.slept) == 5


async def test_a_batch_is_held_on_outage_then_applied_whole() -> None:
    fakes = Fakes()
    calls, apply_all = failing([AutoReconnect("away"), AutoReconnect("away")])
    ones: list[int] = []

    async def apply_one(index: int) -> None:
        ones.append(index)

    outcomes = await policy(fakes).handle_batch([RECORD, RECORD], apply_all, apply_one)
    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED]
    assert len(calls) == 3
    assert ones == []


async def test_a_failing_batch_falls_back_to_records_and_parks_only_the_culprit() -> None:
    fakes = Fakes()
    first = SourceRecord(topic="t", partition=0, offset=1, key=None, value=b"1")
    poison = SourceRecord(topic="t", partition=0, offset=2, key=None, value=b"2")

    async def apply_all() -> None:
        raise OverflowError("one document cannot be stored")

    async def apply_one(index: int) -> None:
        if index == 1:
            raise OverflowError("this one")

    outcomes = await policy(fakes).handle_batch([first, poison], apply_all, apply_one)
    assert outcomes == [Outcome.APPLIED, Outcome.DEAD_LETTERED]
    assert [p[0] for p in fakes.parked] == [poison]


def test_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        policy(Fakes(), max_attempts=0)


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[tuple[bytes, str, bytes | None, dict[str, str]]] = []

    async def publish(
        self, message: bytes, topic: str, *, key: bytes | None, headers: dict[str, str]
    ) -> None:
        self.published.append((message, topic, key, headers))


async def test_a_dead_letter_keeps_the_record_and_its_headers_and_says_why() -> None:
    broker = RecordingBroker()
    record = SourceRecord(
        topic="billing.invoices",
        partition=3,
        offset=41,
        key=b"bg_1",
        value=b'{"broken": ',
        headers=(("traceparent", b"00-abc-def-01"), ("content-type", b"application/json")),
    )
    publish = KafkaDeadLetter(cast("KafkaBroker", broker), topic="dlq.g", group="g")
    await publish(record, ValueError("not JSON"), attempts=1)
    ((value, topic, key, headers),) = broker.published
    assert (value, topic, key) == (b'{"broken": ', "dlq.g", b"bg_1")
    assert headers["traceparent"] == "00-abc-def-01"
    assert headers["dlq.error.type"] == "ValueError"
    assert headers["dlq.source.offset"] == "41"
    assert headers["dlq.source.partition"] == "3"


async def test_a_retried_message_is_named_by_its_partition_and_offset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It may not decode to an event at all: the record's place is what an on-call can find."""
    fakes = Fakes()
    _, apply = failing([RuntimeError("bug")])
    with caplog.at_level("WARNING", logger="portal_kit.consumer"):
        assert await policy(fakes).handle(RECORD, apply) is Outcome.APPLIED
    (retried,) = [r for r in caplog.records if r.getMessage() == "message failed; retrying"]
    named = {k: vars(retried).get(k) for k in ("topic", "partition", "offset")}
    assert named == {"topic": "t", "partition": 0, "offset": 7}
