"""Rebuild the read model from the topics into a fresh database, and compare two builds.

The rebuild reads every partition of the consumed topics from offset 0 up to the end
offsets seen at start, with manually assigned partitions (no consumer group, so nothing is
committed and the live group is untouched), through the same projector as the live service.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from billing_view.db import COLLECTIONS, Doc, first_occupied
from billing_view.projection.handlers import CONSUMED_TOPICS
from billing_view.projection.service import consumer_policy
from billing_view.projection.writes import CHANGES
from billing_view.settings import Settings
from portal_kit.deadletter import SourceRecord
from portal_kit.ops import mongo_check

log = logging.getLogger(__name__)

# Written by the service when it applies an event, not part of the upstream facts.
VOLATILE_FIELDS: frozenset[str] = frozenset()

Snapshot = dict[str, dict[str, Doc]]


class ReplayError(RuntimeError):
    pass


async def snapshot(db: AsyncDatabase[Doc]) -> Snapshot:
    """Every read-model document by collection and id, without what differs between builds.

    `before` of a change is left out: it records what the read model held when the change
    arrived, which depends on how the topics happened to interleave for that consumer.
    (A whole-collection read: for rebuild comparisons, never on a request's path.)
    """
    result: Snapshot = {}
    for collection in COLLECTIONS:
        docs: dict[str, Doc] = {}
        async for doc in db[collection].find():
            kept = {k: v for k, v in doc.items() if k not in VOLATILE_FIELDS}
            if CHANGES in kept:
                kept[CHANGES] = {
                    key: {f: v for f, v in change.items() if f != "before"}
                    for key, change in kept[CHANGES].items()
                }
            docs[str(doc["_id"])] = kept
        result[collection] = docs
    return result


async def replay_into(settings: Settings, database: str, batch: int = 1000) -> dict[str, int]:
    from billing_view.app import projector_for  # the composition root wires the projection

    client: AsyncMongoClient[Doc] = AsyncMongoClient(settings.mongodb_uri)
    await client.aconnect()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        **settings.kafka_client_options(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="billing-view-replay",
    )
    try:
        if database == settings.mongodb_database:
            raise ReplayError("refusing to replay into the live database")
        db = client[database]
        occupied = await first_occupied(db)
        if occupied is not None:
            raise ReplayError(f"database {database!r} is not empty ({occupied})")
        skipped = 0

        async def skip(record: SourceRecord, error: BaseException, attempts: int) -> None:
            # The live consumer already dead-lettered it; a rebuild only counts it.
            nonlocal skipped
            skipped += 1

        projector = projector_for(db, consumer_policy(settings, skip, mongo_check(client)))
        await consumer.start()
        partitions: list[TopicPartition] = []
        for topic in CONSUMED_TOPICS:
            name = settings.topic(topic)
            for p in consumer.partitions_for_topic(name) or await _partitions(consumer, name):
                partitions.append(TopicPartition(name, p))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        records = 0
        while remaining:
            polled = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch)
            flat = [r for tp, rs in polled.items() for r in rs if r.offset < end[tp]]
            await projector.handle_batch([SourceRecord.of(r) for r in flat])
            records += len(flat)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return {"records": records, "skipped_invalid": skipped, "partitions": len(partitions)}
    finally:
        await consumer.stop()
        await client.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
