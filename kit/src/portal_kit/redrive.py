"""`portal-dlq`: look at a dead-letter topic, and re-drive a range of it to where it came from.

    portal-dlq inspect dlq.<group> [--partition P] [--from A] [--to B] [--values]
    portal-dlq redrive dlq.<group> --partition P --from A --to B [--dry-run]

Kafka is reached as every service reaches it (`KAFKA_BOOTSTRAP` and the SASL/TLS settings of
`CommonSettings`). `inspect` prints one JSON line per dead letter: why it failed (the
`dlq.*` headers `portal_kit.deadletter` writes), its original headers, its key and (with
`--values`) its value; values are otherwise shown scrubbed, as a log line would be.

`redrive` republishes the records at offsets A..B (inclusive) of one partition to the topic
each one names in `dlq.source.topic`, with its key, its value and its original headers; the
`dlq.*` failure headers are dropped and two are added: `redrive.count` (1 more than the record
carried, so a message that fails again and is re-driven again shows how often it went round)
and `redrive.from` (`<dlq topic>/<partition>/<offset>`). Nothing is sent unless every record
of the range names its source topic. `--dry-run` prints the same lines and sends nothing.

Re-driving a range twice is safe: every consumer of the portal is idempotent on what it is
sent again (version-gated projections in access and billing-view; the notifier keys each
delivery by event id) — deploy/README.md, "Re-driving dead letters".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from portal_kit.clihelp import describe_cli
from portal_kit.observability import scrub
from portal_kit.settings import CommonSettings

FAILURE_PREFIX = "dlq."
SOURCE_TOPIC = "dlq.source.topic"
REDRIVE_COUNT = "redrive.count"
REDRIVE_FROM = "redrive.from"
# A range is read until its last offset, or until the partition has nothing more for this long.
READ_TIMEOUT_SECONDS = 60.0

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: Headers

    @property
    def failure(self) -> dict[str, str]:
        return {
            k: v.decode("utf-8", "replace") for k, v in self.headers if k.startswith(FAILURE_PREFIX)
        }

    @property
    def original_headers(self) -> Headers:
        """What the message carried before it failed (a previous re-drive's marks included)."""
        return tuple((k, v) for k, v in self.headers if not k.startswith(FAILURE_PREFIX))

    @property
    def redrive_count(self) -> int:
        marks = [v for k, v in self.headers if k == REDRIVE_COUNT]
        return int(marks[-1]) if marks else 0


@dataclass(frozen=True)
class Redrive:
    """A dead letter as it goes back: to its source topic, with its own key/value/headers."""

    source: DeadLetter
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers


def plan(letter: DeadLetter) -> Redrive:
    topic = letter.failure.get(SOURCE_TOPIC, "")
    if not topic:
        raise ValueError(f"{letter.topic}/{letter.partition}/{letter.offset} names no source topic")
    kept = tuple(
        (k, v) for k, v in letter.original_headers if k not in (REDRIVE_COUNT, REDRIVE_FROM)
    )
    marks = (
        (REDRIVE_COUNT, str(letter.redrive_count + 1).encode()),
        (REDRIVE_FROM, f"{letter.topic}/{letter.partition}/{letter.offset}".encode()),
    )
    return Redrive(letter, topic, letter.key, letter.value, kept + marks)


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


def describe(letter: DeadLetter, *, values: bool = False) -> dict[str, Any]:
    value = _text(letter.value) or ""
    return {
        "partition": letter.partition,
        "offset": letter.offset,
        "timestamp_ms": letter.timestamp_ms,
        "key": _text(letter.key),
        "failure": letter.failure,
        "redrive_count": letter.redrive_count,
        "headers": {k: _text(v) for k, v in letter.original_headers},
        "value_bytes": len(letter.value),
        "value": value if values else scrub(value),
    }


def describe_redrive(redrive: Redrive) -> dict[str, Any]:
    return {
        "from": {"partition": redrive.source.partition, "offset": redrive.source.offset},
        "to": redrive.topic,
        "key": _text(redrive.key),
        "headers": {k: _text(v) for k, v in redrive.headers},
        "value_bytes": len(redrive.value),
    }


async def read(
    settings: CommonSettings,
    topic: str,
    partition: int | None = None,
    first: int | None = None,
    last: int | None = None,
) -> list[DeadLetter]:
    """The records of `topic` (one partition or all) at offsets first..last, inclusive; an
    omitted bound is the partition's beginning or its current end."""
    known = await partitions(settings, topic)
    chosen = known if partition is None else [partition]
    if not set(chosen) <= set(known):
        raise ValueError(f"{topic} has no partition {partition}")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        group_id=None,
        **settings.kafka_client_options(),
    )
    await consumer.start()
    try:
        found: list[DeadLetter] = []
        for number in chosen:
            found.extend(
                await _read_partition(consumer, TopicPartition(topic, number), first, last)
            )
        return found
    finally:
        await consumer.stop()


async def partitions(settings: CommonSettings, topic: str) -> list[int]:
    """The partition numbers of `topic` (ValueError when there is no such topic)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_client_options()
    )
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0 or not described["partitions"]:
        raise ValueError(f"no topic {topic}")
    return sorted(int(p["partition"]) for p in described["partitions"])


async def _read_partition(
    consumer: AIOKafkaConsumer, tp: TopicPartition, first: int | None, last: int | None
) -> list[DeadLetter]:
    consumer.assign([tp])
    start = (await consumer.beginning_offsets([tp]))[tp]
    end = (await consumer.end_offsets([tp]))[tp]
    stop = end - 1 if last is None else min(last, end - 1)
    begin = start if first is None else max(first, start)
    found: list[DeadLetter] = []
    if begin > stop:
        return found
    consumer.seek(tp, begin)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READ_TIMEOUT_SECONDS
    while await consumer.position(tp) <= stop:
        if loop.time() > deadline:
            raise TimeoutError(f"{tp.topic}/{tp.partition}: offsets up to {stop} not readable")
        batch = await consumer.getmany(tp, timeout_ms=1000)
        found.extend(
            DeadLetter(
                topic=tp.topic,
                partition=tp.partition,
                offset=r.offset,
                timestamp_ms=r.timestamp,
                key=r.key,
                value=r.value or b"",
                headers=tuple((k, bytes(v)) for k, v in r.headers),
            )
            for r in batch.get(tp, [])
            if begin <= r.offset <= stop
        )
    return found


async def send(settings: CommonSettings, redrives: Sequence[Redrive]) -> list[dict[str, Any]]:
    """Each record to its topic, in order, acknowledged by every in-sync replica."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        **settings.kafka_client_options(),
    )
    await producer.start()
    sent: list[dict[str, Any]] = []
    try:
        for redrive in redrives:
            meta = await producer.send_and_wait(
                redrive.topic, redrive.value, key=redrive.key, headers=list(redrive.headers)
            )
            sent.append(
                {**describe_redrive(redrive), "partition": meta.partition, "offset": meta.offset}
            )
    finally:
        await producer.stop()
    return sent


async def _main(args: argparse.Namespace, settings: CommonSettings) -> int:
    letters = await read(settings, args.topic, args.partition, args.first, args.last)
    if args.command == "inspect":
        for letter in letters:
            print(json.dumps(describe(letter, values=args.values)))
        print(f"{len(letters)} dead letter(s) on {args.topic}", file=sys.stderr)
        return 0
    redrives = [plan(letter) for letter in letters]
    if args.dry_run:
        for redrive in redrives:
            print(json.dumps(describe_redrive(redrive)))
        print(
            f"dry run: {len(redrives)} record(s) would be re-driven; nothing sent", file=sys.stderr
        )
        return 0
    for line in await send(settings, redrives):
        print(json.dumps(line))
    print(f"re-drove {len(redrives)} record(s)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal-dlq", description=__doc__.split("\n\n")[0])
    describe_cli(parser, "portal-kit", CommonSettings)
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="print the dead letters (JSON lines)")
    redrive = commands.add_parser("redrive", help="republish a range to the original topic")
    for command, required in ((inspect, False), (redrive, True)):
        command.add_argument("topic", help="the dead-letter topic, e.g. dlq.billing-view")
        command.add_argument("--partition", type=int, required=required)
        command.add_argument("--from", dest="first", type=int, required=required, metavar="OFFSET")
        command.add_argument("--to", dest="last", type=int, required=required, metavar="OFFSET")
    inspect.add_argument("--values", action="store_true", help="values verbatim, not scrubbed")
    redrive.add_argument("--dry-run", action="store_true", help="print what would be sent")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args, CommonSettings()))
    except ValueError as exc:
        print(f"portal-dlq: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
