"""Access sign-in latency and verify throughput, next to a bare baseline service, same run.

    .venv/bin/python bench/access_signin.py [--requests 1000] [--concurrency 16]

Starts its own local stack (Kafka, mongo-java-server, moto) on free ports, a real
`portal-access run` process and a baseline process (a bare Litestar app on the same stack),
then measures:

1. request latency: N sequential `POST /internal/v1/signin/request` for addresses that have
   access; time from sending the request to a consumer receiving `signin.requested` on
   Kafka (the request path, the single-document state+outbox write, the relay woken by the
   write, acks=all, consumer fetch). Baseline: `POST /baseline/request` doing one MongoDB
   insert + one acks=all Kafka publish inside the request, measured the same way;
2. verify throughput: the N tokens (unsealed from the events, as the notifier would) verified
   with C concurrent clients; verifies/s. Baseline: `POST /baseline/verify` doing one find
   + two inserts (what a minimal single-use consume + session write costs), same clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from portal_contracts.billing import BillGroupState
from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType
from portal_contracts.topics import TOPICS, Topic
from portal_kit.sealing import DEV_SEAL_KEY, unseal
from portal_localstack.kafka import create_topics
from portal_localstack.ports import free_port
from portal_localstack.stack import LocalStack, Ports

PREFIX = "bench."
DATABASE = "bench_access"
INTERNAL = {"Authorization": "Bearer dev-internal-token"}
BASELINE_TOPIC = PREFIX + "baseline"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- the baseline service (run in its own process with --serve-baseline) -------------------


def serve_baseline(port: int) -> None:
    from faststream.kafka import KafkaBroker
    from litestar import Litestar, post
    from pymongo import AsyncMongoClient

    from portal_kit.serving import serve

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        os.environ["MONGODB_URI"], connect=False
    )
    broker = KafkaBroker(os.environ["KAFKA_BOOTSTRAP"], acks="all")
    db = mongo["bench_baseline"]

    @post("/baseline/request", status_code=202)
    async def request(data: dict[str, Any]) -> dict[str, str]:
        key = uuid.uuid4().hex
        await db["docs"].insert_one({"_id": key, "email": data["email"]})
        await broker.publish(json.dumps({"id": data["id"]}).encode(), BASELINE_TOPIC, key=b"k")
        return {"pending_id": key}

    @post("/baseline/verify", status_code=200)
    async def verify(data: dict[str, Any]) -> dict[str, str]:
        await db["docs"].find_one({"_id": data["token"]})
        key = uuid.uuid4().hex
        await db["consumed"].insert_one({"_id": key})
        await db["sessions"].insert_one({"_id": uuid.uuid4().hex, "consumed": key})
        return {"session": key}

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await mongo.aconnect()
        await broker.start()
        yield
        await broker.stop()
        await mongo.close()

    serve(Litestar([request, verify], lifespan=[lifespan]), "127.0.0.1", port)


# --- the measurement --------------------------------------------------------------------


async def create_baseline_topic(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = TOPICS[Topic.PORTAL_SIGNIN].local_partitions
        await admin.create_topics([NewTopic(BASELINE_TOPIC, partitions, 1)])
    finally:
        await admin.close()


def start_process(argv: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code in (200, 404):
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"{argv[0]} did not become ready")
        time.sleep(0.2)


class Arrivals:
    """Consumes a topic from its end; records when each awaited id arrives."""

    def __init__(self, bootstrap: str, topic: str, ident: Callable[[dict[str, Any]], str]) -> None:
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="latest", group_id=None
        )
        self.ident = ident
        self.seen: dict[str, tuple[float, dict[str, Any]]] = {}
        self.waiters: dict[str, asyncio.Event] = {}
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        await self.consumer.seek_to_end()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    body = json.loads(record.value or b"{}")
                    key = self.ident(body)
                    self.seen[key] = (now, body)
                    self.waiters.setdefault(key, asyncio.Event()).set()

    async def wait(self, key: str) -> tuple[float, dict[str, Any]]:
        await asyncio.wait_for(self.waiters.setdefault(key, asyncio.Event()).wait(), 30)
        return self.seen[key]

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.consumer.stop()


async def latencies(
    send: Callable[[int], Awaitable[str]], arrivals: Arrivals, count: int
) -> tuple[list[float], list[float], list[dict[str, Any]]]:
    """(request sent -> event consumed, request sent -> answer received, event bodies)."""
    measured: list[float] = []
    answered: list[float] = []
    bodies: list[dict[str, Any]] = []
    for i in range(count):
        started = time.perf_counter()
        key = await send(i)
        answered.append(time.perf_counter() - started)
        arrived, body = await arrivals.wait(key)
        measured.append(arrived - started)
        bodies.append(body)
    return measured, answered, bodies


async def throughput(
    call: Callable[[httpx.AsyncClient, int], Awaitable[bool]], count: int, concurrency: int
) -> tuple[float, int]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    ok = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal ok
        while not queue.empty():
            succeeded = await call(client, queue.get_nowait())
            ok += succeeded

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return count / elapsed, ok


async def prepare_portal(bootstrap: str, access_url: str, api_key: str) -> str:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    raw = {**EXAMPLES[(EventType.BILL_GROUP_STATE, 1)], "bill_group_id": "bg_bench"}
    event = make_event(
        BillGroupState.model_validate(raw),
        tenant_id="demo",
        aggregate_id="bg_bench",
        aggregate_version=1,
    )
    await producer.send_and_wait(
        PREFIX + Topic.BILL_GROUPS,
        encode(event),
        key=b"bg_bench",
        headers=[(k, v.encode()) for k, v in headers_for(event).items()],
    )
    await producer.stop()
    base = f"{access_url}/api/admin/v1/bill-groups/bg_bench/portal"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {api_key}"}) as client:
        deadline = time.monotonic() + 60
        while (await client.get(base)).status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("access never saw the bill group")
            await asyncio.sleep(0.2)
        (await client.put(base, json={"enabled": True})).raise_for_status()
        rule = await client.post(base + "/rules", json={"kind": "domain", "value": "bench.example"})
        rule.raise_for_status()
        portal_url = str((await client.get(base)).json()["portal_url"])
    return portal_url.rsplit("/", 1)[1]


async def measure(
    bootstrap: str, access_url: str, baseline_url: str, api_key: str, count: int, concurrency: int
) -> dict[str, Any]:
    portal_key = await prepare_portal(bootstrap, access_url, api_key)
    results: dict[str, Any] = {}

    base_arrivals = Arrivals(bootstrap, BASELINE_TOPIC, lambda body: str(body["id"]))
    await base_arrivals.start()
    async with httpx.AsyncClient(base_url=baseline_url, timeout=30) as client:

        async def base_send(i: int) -> str:
            ident = f"b{i}"
            reply = await client.post(
                "/baseline/request", json={"id": ident, "email": f"u{i}@bench.example"}
            )
            reply.raise_for_status()
            return ident

        await latencies(base_send, base_arrivals, 20)  # warm-up
        results["baseline_latency"], results["baseline_answer"], _ = await latencies(
            base_send, base_arrivals, count
        )
    await base_arrivals.stop()

    arrivals = Arrivals(
        bootstrap,
        PREFIX + Topic.PORTAL_SIGNIN,
        lambda body: str(body.get("payload", {}).get("challenge_id", "")),
    )
    await arrivals.start()
    async with httpx.AsyncClient(base_url=access_url, headers=INTERNAL, timeout=30) as client:
        counter = 0

        async def send(_: int) -> str:
            nonlocal counter
            counter += 1
            reply = await client.post(
                "/internal/v1/signin/request",
                json={
                    "portal_key": portal_key,
                    "email": f"user{counter}@bench.example",
                    "client_ip": f"10.0.{counter // 250}.{counter % 250}",
                },
            )
            reply.raise_for_status()
            return str(reply.json()["pending_id"])

        await latencies(send, arrivals, 20)  # warm-up
        results["access_latency"], results["access_answer"], bodies = await latencies(
            send, arrivals, count
        )
    await arrivals.stop()

    tokens = [unseal(b["payload"]["sealed"], DEV_SEAL_KEY).link.rsplit("/", 1)[1] for b in bodies]

    failures: dict[int, int] = {}
    failures_text: list[str] = []

    async def verify(client: httpx.AsyncClient, i: int) -> bool:
        reply = await client.post(
            f"{access_url}/internal/v1/signin/verify", json={"token": tokens[i]}, headers=INTERNAL
        )
        if reply.status_code != 200:
            failures[reply.status_code] = failures.get(reply.status_code, 0) + 1
            if len(failures_text) < 3:
                failures_text.append(reply.text[:3000])
        return reply.status_code == 200

    async def base_verify(client: httpx.AsyncClient, i: int) -> bool:
        reply = await client.post(f"{baseline_url}/baseline/verify", json={"token": tokens[i]})
        return reply.status_code == 200

    results["baseline_verify"], _ = await throughput(base_verify, count, concurrency)
    results["access_verify"], results["verified"] = await throughput(verify, count, concurrency)
    if failures:
        print(f"verify failures by status: {failures}; first: {failures_text}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return

    local = LocalStack(f"bench-access-{os.getpid()}", Ports.free(), fresh=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        endpoints = local.start()
        asyncio.run(create_topics(endpoints.kafka_bootstrap, [*TOPICS, "baseline"], prefix=PREFIX))
        access_port, baseline_port = free_port(), free_port()
        env = {
            **os.environ,
            **endpoints.as_env(),
            "TOPIC_PREFIX": PREFIX,
            "MONGODB_DATABASE": DATABASE,
            "LOG_LEVEL": "WARNING",
            "SIGNIN_LIMIT_PER_EMAIL": "1000000",
            "SIGNIN_LIMIT_PER_IP": "1000000",
            "SIGNIN_LIMIT_PER_PORTAL": "1000000",
        }
        api_key = (
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "portal-access"),
                    "api-key",
                    "create",
                    "--tenant",
                    "demo",
                    "--name",
                    "bench",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        processes.append(
            start_process(
                [str(Path(sys.executable).parent / "portal-access"), "run"],
                {**env, "HTTP_PORT": str(access_port)},
                access_port,
            )
        )
        processes.append(
            start_process(
                [sys.executable, __file__, "--serve-baseline", str(baseline_port)],
                env,
                baseline_port,
            )
        )
        results = asyncio.run(
            measure(
                endpoints.kafka_bootstrap,
                f"http://127.0.0.1:{access_port}",
                f"http://127.0.0.1:{baseline_port}",
                api_key,
                args.requests,
                args.concurrency,
            )
        )
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
        local.stop()
        shutil.rmtree(local.base, ignore_errors=True)

    def ms(values: list[float], q: float) -> str:
        return f"{percentile(values, q) * 1000:7.1f} ms"

    access_l, base_l = results["access_latency"], results["baseline_latency"]
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"sign-in request -> signin.requested consumed, {len(access_l)} sequential requests")
    print(f"  access:   p50 {ms(access_l, 0.5)}  p99 {ms(access_l, 0.99)}  max {ms(access_l, 1)}")
    print(f"  baseline: p50 {ms(base_l, 0.5)}  p99 {ms(base_l, 0.99)}  max {ms(base_l, 1)}")
    access_a, base_a = results["access_answer"], results["baseline_answer"]
    print(f"  (HTTP answer alone: access p50 {ms(access_a, 0.5)} p99 {ms(access_a, 0.99)};")
    print(f"   baseline p50 {ms(base_a, 0.5)} p99 {ms(base_a, 0.99)})")
    p50_ratio = statistics.median(access_l) / statistics.median(base_l)
    p99_ratio = percentile(access_l, 0.99) / percentile(base_l, 0.99)
    print(f"  ratio access/baseline: p50 {p50_ratio:.2f}  p99 {p99_ratio:.2f}")
    print(f"verify throughput, {args.concurrency} concurrent clients, {len(access_l)} tokens")
    print(
        f"  access:   {results['access_verify']:8.1f} verifies/s ({results['verified']} sessions)"
    )
    print(f"  baseline: {results['baseline_verify']:8.1f} requests/s (1 find + 2 inserts)")
    print(f"  ratio access/baseline: {results['access_verify'] / results['baseline_verify']:.2f}")


if __name__ == "__main__":
    main()
