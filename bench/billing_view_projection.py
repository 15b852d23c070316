"""billing-view projection throughput vs a raw aiokafka + PyMongo baseline, same run, plus
publish→visible lag at a steady rate and the read model's document sizes.

    .venv/bin/python bench/billing_view_projection.py [--events 30000] [--bill-groups 10000]
        [--rate 500] [--seconds 20]

Starts its own local stack (Kafka, FerretDB, moto) on free ports, publishes N mixed upstream
state events (entities, bill groups, subscriptions, invoices, payment methods) over the given
number of bill groups, then measures:

1. baseline: aiokafka consuming the same topics, no validation, writing the same documents
   with the fastest bulk form FerretDB offers (`delete_many(_id $in)` + `insert_many` per
   poll; PyMongo's `bulk_write` of upserts is unusably slow on FerretDB v1.24, see README);
2. projection: billing-view's real FastStream consumer and projector (decode + contract
   validation + version-gated `$max` writes + manual commits), in this process;
3. lag: events published at a steady rate; p50/p99 from the send to the end of the batch
   that made the event durable in the read model (what a reader can see);
4. sizes: BSON bytes per bill group / invoice document, from the demo scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import bson
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from billing_simulator.publish import Publisher, topic_of
from billing_simulator.scenario import demo
from billing_simulator.settings import Settings as SimulatorSettings
from billing_simulator.stream import ordered_history
from billing_view import projector as projector_module
from billing_view.domain import STATE_COLLECTIONS
from billing_view.handlers import build_broker
from billing_view.projector import Projector, Record
from billing_view.settings import Settings
from billing_view.storage import Storage
from portal_contracts.codec import encode
from portal_contracts.topics import TOPICS, Topic
from portal_localstack.kafka import create_topics
from portal_localstack.stack import Endpoints, LocalStack, Ports

STATE_TOPICS = [
    Topic.ENTITIES,
    Topic.BILL_GROUPS,
    Topic.SUBSCRIPTIONS,
    Topic.INVOICES,
    Topic.PAYMENT_METHODS,
]
COLLECTION_OF_TYPE = {t: c for t, (c, _) in STATE_COLLECTIONS.items()}


@dataclass(frozen=True)
class _Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Watch:
    """Counts records the projector has made durable, and when each event became visible."""

    def __init__(self) -> None:
        self.handled = 0
        self.visible: dict[str, float] = {}
        self.done = asyncio.Event()
        self.target = 0

    def install(self) -> None:
        original = Projector.handle_batch
        watch = self

        async def handle_batch(self: Projector, records: Sequence[Record]) -> None:
            await original(self, records)
            now = time.perf_counter()
            watch.handled += len(records)
            for record in records:
                watch.visible.setdefault(json.loads(record.value)["event_id"], now)
            if watch.handled >= watch.target:
                watch.done.set()

        projector_module.Projector.handle_batch = handle_batch  # type: ignore[method-assign]


async def publish(settings: SimulatorSettings, events: list[Any]) -> float:
    started = time.perf_counter()
    async with Publisher(settings) as publisher:
        await publisher.publish(events)
    return time.perf_counter() - started


async def baseline(kafka: str, uri: str, prefix: str, total: int) -> float:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    await client.aconnect()
    db = client["bench_baseline"]
    consumer = AIOKafkaConsumer(
        *(prefix + t for t in STATE_TOPICS),
        bootstrap_servers=kafka,
        group_id=prefix + "baseline",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    try:
        while seen < total:
            polled = await consumer.getmany(timeout_ms=100, max_records=500)
            by_collection: dict[str, dict[str, dict[str, Any]]] = {}
            for records in polled.values():
                for record in records:
                    raw = json.loads(record.value)
                    key = f"{raw['tenant_id']}|{raw['aggregate_id']}"
                    doc = {
                        "_id": key,
                        "tenant_id": raw["tenant_id"],
                        "bill_group_id": raw["payload"].get("bill_group_id"),
                        "current": {"version": raw["aggregate_version"], "state": raw["payload"]},
                    }
                    by_collection.setdefault(COLLECTION_OF_TYPE[raw["type"]], {})[key] = doc
                    seen += 1
            for name, docs in by_collection.items():
                await db[name].delete_many({"_id": {"$in": list(docs)}})
                await db[name].insert_many(list(docs.values()))
            if polled:
                await consumer.commit()
    finally:
        await consumer.stop()
        await client.close()
    return time.perf_counter() - started


async def projection(settings: Settings, watch: Watch, total: int) -> float:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    await client.aconnect()
    storage = Storage(client, settings.mongodb_database)
    await storage.ensure_indexes()
    broker = build_broker(settings, storage)
    watch.target = total
    await broker.start()
    # Like the baseline, the clock starts once the consumer is started (the group join and
    # the first fetch are inside the measurement for both).
    started = time.perf_counter()
    try:
        await watch.done.wait()
        return time.perf_counter() - started
    finally:
        await broker.stop()
        await client.close()


async def paced_lag(
    settings: Settings, sim: SimulatorSettings, watch: Watch, rate: int, seconds: int, bgs: int
) -> list[float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    await client.aconnect()
    storage = Storage(client, settings.mongodb_database)
    broker = build_broker(settings, storage)
    events = ordered_history(rate * seconds, bgs, seed=99, tenant="lag")
    watch.handled, watch.target, watch.done = 0, len(events), asyncio.Event()
    sent: dict[str, float] = {}
    await broker.start()
    await asyncio.sleep(3)  # let the group settle on its partitions before the clock starts
    try:
        async with Publisher(sim) as publisher:
            started = time.perf_counter()
            for i, event in enumerate(events):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent[str(event.event_id)] = time.perf_counter()
                await publisher.send(event)
            await publisher.producer.flush()
        await asyncio.wait_for(watch.done.wait(), 600)
    finally:
        await broker.stop()
        await client.close()
    return [watch.visible[k] - t for k, t in sent.items() if k in watch.visible]


async def sizes(uri: str) -> dict[str, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    await client.aconnect()
    storage = Storage(client, "bench_sizes")

    async def park(record: Record, error: BaseException, attempts: int) -> None:
        raise error

    scenario = demo()
    records = [
        _Record(topic_of(e), 0, i, e.aggregate_id.encode(), encode(e))
        for i, e in enumerate(scenario.events)
    ]
    await Projector(storage, park).handle_batch(records)
    result: dict[str, float] = {}
    for name in ("bill_groups", "invoices", "payment_methods", "subscriptions", "entities"):
        docs = await storage.db[name].find().to_list()
        result[name] = round(statistics.mean(len(bson.encode(d)) for d in docs), 1)
    await client.close()
    return result


def main(args: argparse.Namespace) -> None:
    local = LocalStack(f"bench-bv-{os.getpid()}", Ports.free(), fresh=True)
    try:
        endpoints = local.start()
        report = asyncio.run(run(args, endpoints))
    finally:
        local.stop()
        shutil.rmtree(local.base, ignore_errors=True)
    print(json.dumps(report, indent=2))


async def run(args: argparse.Namespace, endpoints: Endpoints) -> dict[str, Any]:
    prefix = "benchbv."
    await create_topics(endpoints.kafka_bootstrap, list(TOPICS), prefix=prefix)
    sim = SimulatorSettings(kafka_bootstrap=endpoints.kafka_bootstrap, topic_prefix=prefix)
    events = ordered_history(args.events, args.bill_groups, seed=5, tenant="bench")
    mix: dict[str, int] = {}
    for event in events:
        mix[topic_of(event)] = mix.get(topic_of(event), 0) + 1
    publish_seconds = await publish(sim, events)
    base = await baseline(endpoints.kafka_bootstrap, endpoints.mongodb_uri, prefix, len(events))
    watch = Watch()
    watch.install()
    settings = Settings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongodb_uri=endpoints.mongodb_uri,
        mongodb_database="bench_projection",
        topic_prefix=prefix,
    )
    proj = await projection(settings, watch, len(events))
    lags = await paced_lag(settings, sim, watch, args.rate, args.seconds, args.bill_groups)
    doc_sizes = await sizes(endpoints.mongodb_uri)
    return {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        },
        "events": len(events),
        "bill_groups": args.bill_groups,
        "mix": mix,
        "publish_events_per_s": round(len(events) / publish_seconds),
        "baseline_events_per_s": round(len(events) / base),
        "projection_events_per_s": round(len(events) / proj),
        "projection/baseline": round(base / proj, 2),
        "paced_rate": args.rate,
        "paced_events": len(lags),
        "lag_p50_ms": round(percentile(lags, 0.5) * 1000, 1),
        "lag_p99_ms": round(percentile(lags, 0.99) * 1000, 1),
        "bson_bytes_per_document": doc_sizes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--bill-groups", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=20)
    main(parser.parse_args())
