"""billing-view projection throughput vs a raw aiokafka + PyMongo baseline, same run, plus
publish→visible lag at a steady rate and the read model's document sizes.

    .venv/bin/python bench/billing_view_projection.py [--events 30000] [--bill-groups 10000]
        [--rate 1000] [--seconds 20] [--h2]

Starts its own local stack (Kafka, mongo-java-server, moto) on free ports, publishes N mixed
upstream state events (entities, bill groups, subscriptions, invoices, payment methods) over
the given number of bill groups, then measures:

1. baseline: aiokafka consuming the same topics, no validation, no version gate, writing the
   same documents (the same `_id`s, fields and JSON texts as billing-view's read model) with
   ONE unordered `bulk_write` of `_id` upserts per poll, on the same server;
2. projection: the real service, `billing-view run` as a subprocess (its FastStream consumer:
   decode + contract validation + version-gated upserts in one unordered `bulk_write` per
   batch + commits after the writes), from the moment its `/readyz` answers until its
   consumer group's committed offsets reach the end of every partition;
3. lag: events published at a steady rate to the same running service; p50/p99 from the
   send to the moment its group's committed offset passes the event (committed only once the
   batch is durable in the read model; offsets are polled every 20 ms, so add up to that);
4. sizes: BSON bytes per read-model document, read with PyMongo from what the running
   service wrote for the demo scenario.

The service is driven only through its public entry points (CLI, Kafka, its database), so the
figures are those of the process a deployment runs.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bson
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient, UpdateOne

from billing_simulator.publish import Publisher, topic_of
from billing_simulator.scenario import demo
from billing_simulator.settings import Settings as SimulatorSettings
from billing_simulator.stream import ordered_history
from portal_contracts.registry import EventType
from portal_contracts.topics import TOPICS, ConsumerGroup, Topic
from portal_localstack.kafka import create_topics
from portal_localstack.ports import free_port
from portal_localstack.stack import Endpoints, LocalStack, Ports

STATE_TOPICS = [
    Topic.ENTITIES,
    Topic.BILL_GROUPS,
    Topic.SUBSCRIPTIONS,
    Topic.INVOICES,
    Topic.PAYMENT_METHODS,
]
# The topics billing-view consumes (the same list as its consumer subscribes to).
CONSUMED = [*STATE_TOPICS, Topic.CHANGE_RESULTS, Topic.PORTAL_CUSTOMER_CHANGES]
DATABASE = "bench_projection"
READ_MODEL = "read_model"
_ESCAPES = {"%": "%25", "|": "%7C", ".": "%2E", "$": "%24", "\x00": "%00"}
POLL_SECONDS = 0.02


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Service:
    """`billing-view run` as a subprocess, and its consumer group's committed offsets."""

    def __init__(self, endpoints: Endpoints, prefix: str, log: Path) -> None:
        self.port = free_port()
        self.group = prefix + ConsumerGroup.BILLING_VIEW
        self.topics = [prefix + t for t in CONSUMED]
        self.kafka = endpoints.kafka_bootstrap
        self.env = {
            **os.environ,
            **endpoints.as_env(),
            "TOPIC_PREFIX": prefix,
            "MONGODB_DATABASE": DATABASE,
            "HTTP_PORT": str(self.port),
            "LOG_LEVEL": "WARNING",
        }
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka)

    async def start(self) -> None:
        exe = str(Path(sys.executable).parent / "billing-view")
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                exe, "run", env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        await self.admin.start()
        async with httpx.AsyncClient() as client:
            while True:
                if self.proc.returncode is not None:
                    raise SystemExit(f"billing-view exited:\n{self.log.read_text()[-3000:]}")
                try:
                    ready = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                    if ready.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.admin.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), 30)

    async def committed(self) -> dict[TopicPartition, int]:
        offsets = await self.admin.list_consumer_group_offsets(self.group)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def caught_up(self, end: dict[TopicPartition, int]) -> None:
        """Until the group has committed every record up to `end`."""
        while True:
            committed = await self.committed()
            if all(committed.get(tp, 0) >= offset for tp, offset in end.items()):
                return
            await asyncio.sleep(POLL_SECONDS)

    async def end_offsets(self) -> dict[TopicPartition, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka)
        await consumer.start()
        try:
            partitions = [
                TopicPartition(t, p)
                for t in self.topics
                for p in consumer.partitions_for_topic(t) or await _partitions(consumer, t)
            ]
            ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
            return ends
        finally:
            await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def publish(settings: SimulatorSettings, events: list[Any]) -> float:
    started = time.perf_counter()
    async with Publisher(settings) as publisher:
        await publisher.publish(events)
    return time.perf_counter() - started


def _esc(value: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in value)


def _version(n: int) -> str:
    return f"{len(str(n)):05d}:{n}"


def raw_statements(raw: dict[str, Any]) -> list[UpdateOne]:
    """The documents billing-view's read model holds for one state (README, Read model),
    written with `$set` (no version gate, no validation): what a bare consumer would send."""
    t, p, kind = _esc(raw["tenant_id"]), raw["payload"], raw["type"]
    v = _version(raw["aggregate_version"])
    if kind == EventType.ENTITY_STATE.value:
        doc = {"state": {"v": v, "s": json.dumps(p)}}
        return [UpdateOne({"_id": f"{t}|e|{_esc(p['entity_id'])}"}, {"$set": doc}, upsert=True)]
    view = f"{t}|b|{_esc(p['bill_group_id'])}"
    if kind == EventType.BILL_GROUP_STATE.value:
        listed = {k: p[k] for k in ("bill_group_id", "name", "contract_status", "currency")}
        account = f"{t}|a|{_esc(p['account_id'])}"
        path = f"bgs.k{_esc(p['bill_group_id'])}"
        return [
            UpdateOne({"_id": view}, {"$set": {"bg": {"v": v, "s": json.dumps(p)}}}, upsert=True),
            UpdateOne({"_id": account}, {"$set": {path: {"v": v, "s": json.dumps(listed)}}}, True),
        ]
    if kind == EventType.INVOICE_STATE.value:
        lines = p.pop("lines", [])
        doc = {"state": {"v": v, "s": json.dumps(p), "l": json.dumps(lines)}}
        entry = {
            "v": v,
            "i": p["invoice_id"],
            "st": p["status"],
            "d": p["issue_date"],
            "n": p["number"],
            "c": p["currency"],
            "a": str(p["amount_due_minor"]),
        }
        path = f"inv.k{_esc(p['invoice_id'])}"
        return [
            UpdateOne({"_id": f"{view}|i|{_esc(p['invoice_id'])}"}, {"$set": doc}, upsert=True),
            UpdateOne({"_id": view}, {"$set": {path: entry}}, upsert=True),
        ]
    part = "sub" if kind == EventType.SUBSCRIPTION_STATE.value else "pm"
    path = f"{part}.k{_esc(raw['aggregate_id'])}"
    return [UpdateOne({"_id": view}, {"$set": {path: {"v": v, "s": json.dumps(p)}}}, upsert=True)]


async def baseline(kafka: str, uri: str, prefix: str, total: int) -> float:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    await client.aconnect()
    col = client["bench_baseline"][READ_MODEL]
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
            statements: list[UpdateOne] = []
            for records in polled.values():
                for record in records:
                    statements.extend(raw_statements(json.loads(record.value)))
                    seen += 1
            if statements:
                await col.bulk_write(statements, ordered=False)
            if polled:
                await consumer.commit()
    finally:
        await consumer.stop()
        await client.close()
    return time.perf_counter() - started


async def projection(service: Service) -> float:
    """From the moment the service is ready (its consumer started, like the baseline's clock
    after `consumer.start()`) until it has committed everything published."""
    end = await service.end_offsets()
    await service.start()
    started = time.perf_counter()
    await service.caught_up(end)
    return time.perf_counter() - started


async def paced_lag(
    service: Service, sim: SimulatorSettings, rate: int, seconds: int, bgs: int
) -> list[float]:
    events = ordered_history(rate * seconds, bgs, seed=99, tenant="lag")
    # The group's committed offsets, polled all along: when each event became visible.
    timeline: list[tuple[float, dict[TopicPartition, int]]] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            committed = await service.committed()
            timeline.append((time.perf_counter(), committed))
            await asyncio.sleep(POLL_SECONDS)

    watcher = asyncio.create_task(watch())
    sent: list[tuple[float, asyncio.Future[Any]]] = []
    try:
        async with Publisher(sim) as publisher:
            started = time.perf_counter()
            for i, event in enumerate(events):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent.append((time.perf_counter(), await publisher.send(event)))
            await publisher.producer.flush()
        placed = [(at, await future) for at, future in sent]
        end: dict[TopicPartition, int] = {}
        for _, meta in placed:
            tp = TopicPartition(meta.topic, meta.partition)
            end[tp] = max(end.get(tp, 0), meta.offset + 1)
        await asyncio.wait_for(service.caught_up(end), 600)
    finally:
        done.set()
        await watcher
    lags: list[float] = []
    by_partition = {tp: [committed.get(tp, 0) for _, committed in timeline] for tp in end}
    for at, meta in placed:
        # The first poll whose committed offset (non-decreasing) is past the event's offset.
        offsets = by_partition[TopicPartition(meta.topic, meta.partition)]
        first = bisect.bisect_right(offsets, meta.offset)
        if first < len(timeline):
            lags.append(timeline[first][0] - at)
    return lags


def kind_of(document_id: str) -> str:
    parts = document_id.split("|")
    if len(parts) > 3 and parts[3] == "i":
        return "invoice"
    return {"b": "portal_view", "e": "entity", "a": "account"}[parts[1]]


async def sizes(service: Service, sim: SimulatorSettings, uri: str) -> dict[str, float]:
    """The demo scenario's documents as the running service wrote them (mean BSON bytes)."""
    scenario = demo()
    await publish(sim, list(scenario.events))
    await service.caught_up(await service.end_offsets())
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    await client.aconnect()
    by_kind: dict[str, list[int]] = {}
    try:
        # A whole-tenant read for measuring only (never on a request's path).
        async for doc in client[DATABASE][READ_MODEL].find({"tenant_id": "demo"}):
            by_kind.setdefault(kind_of(doc["_id"]), []).append(len(bson.encode(doc)))
    finally:
        await client.close()
    return {kind: round(statistics.mean(n), 1) for kind, n in sorted(by_kind.items())}


def main(args: argparse.Namespace) -> None:
    local = LocalStack(
        f"bench-bv-{os.getpid()}", Ports.free(), fresh=True, persistent_mongodb=args.h2
    )
    try:
        endpoints = local.start()
        report = asyncio.run(run(args, endpoints, local.base / "billing-view.log"))
    finally:
        local.stop()
        shutil.rmtree(local.base, ignore_errors=True)
    print(json.dumps(report, indent=2))


async def run(args: argparse.Namespace, endpoints: Endpoints, log: Path) -> dict[str, Any]:
    prefix = "benchbv."
    await create_topics(endpoints.kafka_bootstrap, list(TOPICS), prefix=prefix)
    sim = SimulatorSettings(kafka_bootstrap=endpoints.kafka_bootstrap, topic_prefix=prefix)
    events = ordered_history(args.events, args.bill_groups, seed=5, tenant="bench")
    mix: dict[str, int] = {}
    for event in events:
        mix[topic_of(event)] = mix.get(topic_of(event), 0) + 1
    publish_seconds = await publish(sim, events)
    base = await baseline(endpoints.kafka_bootstrap, endpoints.mongodb_uri, prefix, len(events))
    service = Service(endpoints, prefix, log)
    try:
        proj = await projection(service)
        await asyncio.sleep(3)  # let the group settle on its partitions before the clock starts
        lags = await paced_lag(service, sim, args.rate, args.seconds, args.bill_groups)
        doc_sizes = await sizes(service, sim, endpoints.mongodb_uri)
    finally:
        await service.stop()
    return {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        },
        "mongodb": "mongo-java-server 1.47.0, " + ("H2 file" if args.h2 else "in memory"),
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
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument(
        "--h2",
        action="store_true",
        help="mongo-java-server on its H2 file backend (make dev) instead of in memory (tests)",
    )
    parser.add_argument("--seconds", type=int, default=20)
    main(parser.parse_args())
