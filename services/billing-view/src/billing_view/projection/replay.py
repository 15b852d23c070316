"""Rebuild the read model from the topics into a new database, and compare two builds.

`replay_into(settings, D)` reads every partition of the consumed topics from the start,
through the same projector as the live service, into the database D, and commits what it
has applied under a consumer group of D's own, `billing-view.D` (`rebuild_group`): offsets
are committed only after their records are in D, so the group's offsets are always exactly
where D stands. D also records the end offsets the rebuild started from and the positions it
reached (`replay` collection). With `follow`, it keeps consuming once caught up, until
stopped. The switch runs the service on D *with D's group*: it resumes from those offsets, so
no event is skipped or applied twice, whatever the live group has committed meanwhile
(deploy/README.md, "Replaying a projection (billing-view)"). A rebuild stopped early resumes
from its committed offsets when run again on the same D.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from billing_view.db import COLLECTIONS, Doc, first_occupied
from billing_view.projection.handlers import CONSUMED_TOPICS
from billing_view.projection.service import consumer_policy
from billing_view.projection.writes import CHANGES
from billing_view.settings import Settings, rebuild_group
from portal_kit.deadletter import SourceRecord
from portal_kit.ops import mongo_check

log = logging.getLogger(__name__)

# Written by the service when it applies an event, not part of the upstream facts.
VOLATILE_FIELDS: frozenset[str] = frozenset()
# The rebuild's own bookkeeping in the rebuilt database: no request ever reads it.
PROGRESS = "replay"
PROGRESS_ID = "progress"

Snapshot = dict[str, dict[str, Doc]]


class ReplayError(RuntimeError):
    pass


@dataclass(frozen=True)
class ReplayStats:
    database: str
    group: str
    partitions: int
    records: int
    skipped_invalid: int
    caught_up: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def _offsets(offsets: dict[TopicPartition, int]) -> list[Doc]:
    return [
        {"topic": tp.topic, "partition": tp.partition, "offset": offset}
        for tp, offset in sorted(offsets.items())
    ]


async def replay_into(
    settings: Settings,
    database: str,
    *,
    follow: bool = False,
    stop: asyncio.Event | None = None,
    on_caught_up: Callable[[ReplayStats], None] | None = None,
    batch: int = 1000,
) -> ReplayStats:
    """Rebuild into `database` up to the end offsets seen at start (and on, with `follow`,
    until `stop` is set). `stop` before then ends early; running again resumes."""
    from billing_view.app import projector_for  # the composition root wires the projection

    if database == settings.mongodb_database:
        raise ReplayError("refusing to replay into the live database")
    group = settings.topic_prefix + rebuild_group(database)
    stop = stop or asyncio.Event()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(settings.mongodb_uri)
    await client.aconnect()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        **settings.kafka_client_options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="billing-view-replay",
    )
    try:
        db = client[database]
        progress = db[PROGRESS]
        previous = await progress.find_one({"_id": PROGRESS_ID})
        if previous is None and (occupied := await first_occupied(db)) is not None:
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
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        end = await consumer.end_offsets(partitions)
        await progress.update_one(
            {"_id": PROGRESS_ID},
            {"$setOnInsert": {"group": group, "end_offsets_at_start": _offsets(end)}},
            upsert=True,
        )
        records, caught_up = 0, False
        while True:
            polled = await consumer.getmany(*partitions, timeout_ms=500, max_records=batch)
            flat = [r for rs in polled.values() for r in rs]
            if flat:
                await projector.handle_batch([SourceRecord.of(r) for r in flat])
                records += len(flat)
            positions = {tp: await consumer.position(tp) for tp in partitions}
            # Only now that the batch is in the database: the group's offsets never pass it.
            await consumer.commit(positions)
            newly = not caught_up and all(positions[tp] >= end[tp] for tp in partitions)
            caught_up = caught_up or newly
            await progress.update_one(
                {"_id": PROGRESS_ID},
                {
                    "$set": {"positions": _offsets(positions), "caught_up": caught_up},
                    "$inc": {"records": len(flat)},
                },
            )
            stats = ReplayStats(database, group, len(partitions), records, skipped, caught_up)
            if newly and on_caught_up is not None:
                on_caught_up(stats)
            if stop.is_set() or (caught_up and not follow):
                log.info("replay stopped", extra={"stats": stats.as_dict()})
                return stats
    finally:
        await consumer.stop()
        await client.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
