"""`portal-topics`: the portal's Kafka topics from a terminal, without Kafka's console tools.

    portal-topics list                                  every topic: partitions, records held
    portal-topics tail TOPIC [--from-beginning] [--n N] decoded envelopes as JSON lines
    portal-topics dlq SERVICE [portal-dlq inspect options]   that service's dead letters

Configured like the services (`KAFKA_BOOTSTRAP`, `TOPIC_PREFIX`, the SASL/TLS settings of
`CommonSettings`): against the dev stack it needs nothing set. TOPIC and the dead-letter topic
get `TOPIC_PREFIX` prepended. `tail` reads without a consumer group (it commits nothing and
moves nobody's offsets), decodes each value as an envelope (or says why it is not one) and
prints it scrubbed as a log line would be; it follows new records until Ctrl-C or N records.
`dlq` is `portal-dlq inspect dlq.<group>` (kit/src/portal_kit/redrive.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from portal_contracts.codec import ContractError, decode
from portal_contracts.topics import ConsumerGroup, dead_letter_topic
from portal_kit import redrive
from portal_kit.clihelp import describe_cli
from portal_kit.redaction import redact
from portal_kit.settings import CommonSettings

SERVICES = {
    "access": ConsumerGroup.ACCESS,
    "billing-view": ConsumerGroup.BILLING_VIEW,
    "notifier": ConsumerGroup.NOTIFIER,
}


def _consumer(settings: CommonSettings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        group_id=None,
        **settings.kafka_client_options(),
    )


async def list_topics(settings: CommonSettings) -> list[dict[str, Any]]:
    """Each topic (of TOPIC_PREFIX, internal ones left out) with its partitions and how many
    records it holds now (end minus beginning offsets)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_client_options()
    )
    await admin.start()
    try:
        names = sorted(n for n in await admin.list_topics() if n.startswith(settings.topic_prefix))
        described = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    consumer = _consumer(settings)
    await consumer.start()
    try:
        found = []
        for topic in described:
            if topic["error_code"] != 0 or topic["topic"].startswith("__"):
                continue
            parts = [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
            begin = await consumer.beginning_offsets(parts)
            end = await consumer.end_offsets(parts)
            found.append(
                {
                    "topic": topic["topic"],
                    "partitions": len(parts),
                    "records": sum(end[tp] - begin[tp] for tp in parts),
                }
            )
        return found
    finally:
        await consumer.stop()


def render(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    """One record as a JSON-ready line: the envelope it decodes to, or why it does not."""
    line: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp,
        "key": record.key.decode(errors="replace") if record.key is not None else None,
    }
    value = record.value or b""
    try:
        line["envelope"] = decode(value).model_dump(mode="json")
    except ContractError as exc:
        line["not_an_envelope"] = str(exc)
        line["value"] = value.decode(errors="replace")
    redacted = redact(line)
    assert isinstance(redacted, dict)
    return redacted


async def tail(
    settings: CommonSettings, topic: str, *, from_beginning: bool, limit: int | None
) -> AsyncIterator[dict[str, Any]]:
    """The records of every partition of `topic`, from its beginning or from now on."""
    numbers = await redrive.partitions(settings, topic)
    parts = [TopicPartition(topic, n) for n in numbers]
    consumer = _consumer(settings)
    await consumer.start()
    try:
        consumer.assign(parts)
        if from_beginning:
            await consumer.seek_to_beginning(*parts)
        else:
            await consumer.seek_to_end(*parts)
        seen = 0
        while limit is None or seen < limit:
            batch = await consumer.getmany(*parts, timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    yield render(record)
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
    finally:
        await consumer.stop()


async def _tail(settings: CommonSettings, args: argparse.Namespace) -> int:
    topic = settings.topic(args.topic)
    async for line in tail(settings, topic, from_beginning=args.from_beginning, limit=args.n):
        print(json.dumps(line), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal-topics", description=__doc__.split("\n\n")[0])
    describe_cli(parser, "portal-localstack", CommonSettings)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every topic with its partitions and records held")
    tail_cmd = commands.add_parser("tail", help="print a topic's records as decoded JSON lines")
    tail_cmd.add_argument("topic", help="topic name without TOPIC_PREFIX, e.g. portal.signin")
    tail_cmd.add_argument("--from-beginning", action="store_true", help="not only new records")
    tail_cmd.add_argument("--n", type=int, default=None, help="stop after N records")
    dlq = commands.add_parser("dlq", help="a service's dead letters (portal-dlq inspect)")
    dlq.add_argument("service", choices=sorted(SERVICES))
    dlq.add_argument("rest", nargs=argparse.REMAINDER, help="portal-dlq inspect options")
    args = parser.parse_args(argv)
    settings = CommonSettings()
    if args.command == "dlq":
        topic = settings.topic(dead_letter_topic(SERVICES[args.service]))
        return redrive.main(["inspect", topic, *args.rest])
    try:
        if args.command == "list":
            for entry in asyncio.run(list_topics(settings)):
                print(json.dumps(entry))
            return 0
        return asyncio.run(_tail(settings, args))
    except ValueError as exc:
        print(f"portal-topics: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
