"""Notifier throughput and latency against moto, next to a raw boto3 baseline, same run.

    .venv/bin/python bench/notifier_send.py [--emails 400] [--paced 150] [--rate 20]

Starts its own local stack (Kafka, mongo-java-server, moto) on free ports and a real
`portal-notifier run` process, and drives it only from the outside (Kafka, its /metrics,
its CLI, moto through boto3 and moto's own API), then measures:

1. baseline: a raw boto3 `sesv2.send_email` loop to the same moto, sending the raw MIME of
   an email the notifier itself sent during the warm-up (so both send the same bytes);
2. burst: N `signin.requested` events published at once; emails/s through the notifier
   (consume → record → unseal → render → SES → mark sent), and its ratio to the baseline;
   Also the CPU time per email of the raw loop and of the notifier process (its own
   `process_cpu_seconds_total`), which other load on a shared machine distorts far less;
3. paced: events at a steady rate; p50/p99 from the event acknowledged by Kafka to SES
   having accepted the email (`sent_at`, taken when SES answered) — the latency a customer
   waiting for the email sees, without queueing from a burst (`sent_at` read back with
   `portal-notifier delivery status`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
from faststream.kafka import KafkaBroker

from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.portal import SigninRequested
from portal_contracts.sealing import SignInSecret
from portal_contracts.topics import TOPICS, Topic
from portal_kit.sealing import DEV_SEAL_KEY, seal
from portal_localstack.aws import AWS_REGION, SENDER_DOMAIN, prepare_aws, sent_emails
from portal_localstack.kafka import create_topics
from portal_localstack.ports import free_port
from portal_localstack.stack import LocalStack, Ports

PREFIX = "bench."
DATABASE = "bench_notifier"
TENANT = "bench"
WARM_UP = 5
CLI = str(Path(sys.executable).parent / "portal-notifier")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def notifier_email(endpoint: str) -> bytes:
    """The raw MIME of an email the notifier sent (moto keeps every message it accepted)."""
    for message in sent_emails(endpoint):
        raw = message.get("raw_data")
        if isinstance(raw, str):
            return raw.encode()
    raise SystemExit("the notifier sent no email during the warm-up")


def raw_boto3_loop(endpoint: str, raw: bytes, count: int) -> tuple[float, float]:
    """Emails/s, and this loop's own CPU ms per email."""
    ses = boto3.client(
        "sesv2",
        endpoint_url=endpoint,
        region_name=AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        ses.send_email(
            FromEmailAddress=f"portal@{SENDER_DOMAIN}",
            Destination={"ToAddresses": ["b@bench.example"]},
            Content={"Raw": {"Data": raw}},
        )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return count / elapsed, cpu * 1000 / count


def signin_bytes(n: int) -> tuple[str, bytes, dict[str, str], bytes]:
    link = f"http://127.0.0.1:8000/p/{secrets.token_urlsafe(32)}/verify/{secrets.token_urlsafe(32)}"
    bill_group = f"bg_{n % 64}"
    payload = SigninRequested(
        challenge_id=f"ch_{n}",
        bill_group_id=bill_group,
        entity_id=None,
        email=f"user{n}@bench.example",
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        sealed=seal(SignInSecret(link=link, code=f"{n % 10**6:06d}"), DEV_SEAL_KEY),
    )
    event = make_event(payload, tenant_id=TENANT, aggregate_id=bill_group)
    return str(event.event_id), encode(event), headers_for(event), bill_group.encode()


async def metric(metrics_url: str, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(metrics_url)).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def sent_count(metrics_url: str) -> float:
    # The notifier's own counter: polling MongoDB instead would load the database (the
    # stand-in scans for anything but `_id`) and slow down the very thing being measured.
    return await metric(metrics_url, "portal_notifier_emails_sent_total")


async def cpu_seconds(metrics_url: str) -> float:
    """The notifier process's CPU time (user + system), from its own /metrics."""
    return await metric(metrics_url, "process_cpu_seconds_total")


async def wait_count(metrics_url: str, target: float, limit: float) -> float:
    deadline = time.monotonic() + limit
    while True:
        count = await sent_count(metrics_url)
        if count >= target or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)


def sent_at(env: dict[str, str], ids: list[str]) -> dict[str, datetime]:
    """When SES accepted each email, from the notifier's own CLI (one JSON line per id)."""
    out = subprocess.run(
        [CLI, "delivery", "status", "--tenant", TENANT, *ids],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, datetime] = {}
    for line in out.splitlines():
        status: dict[str, Any] = json.loads(line)
        if status["state"] == "sent" and status["sent_at"]:
            found[status["event_id"]] = datetime.fromisoformat(status["sent_at"])
    return found


async def warm_up(bootstrap: str, metrics_url: str) -> float:
    """Group joined, connections open, templates compiled; returns the emails sent so far."""
    broker = KafkaBroker(bootstrap, acks="all")
    await broker.start()
    try:
        for _, body, headers, key in (signin_bytes(-i - 1) for i in range(WARM_UP)):
            await broker.publish(body, PREFIX + Topic.PORTAL_SIGNIN, key=key, headers=headers)
        return await wait_count(metrics_url, WARM_UP, 120)
    finally:
        await broker.stop()


async def through_notifier(
    bootstrap: str,
    env: dict[str, str],
    metrics_url: str,
    done: float,
    burst: int,
    paced: int,
    rate: float,
) -> tuple[float, float, list[float], int]:
    """Burst emails/s, the notifier's CPU ms per email in the burst, paced latencies (s),
    and how many events were not sent in time."""
    broker = KafkaBroker(bootstrap, acks="all")
    topic = PREFIX + Topic.PORTAL_SIGNIN
    await broker.start()
    try:
        events = [signin_bytes(i) for i in range(burst)]
        cpu_before = await cpu_seconds(metrics_url)
        started = time.perf_counter()
        await asyncio.gather(*(broker.publish(b, topic, key=k, headers=h) for _, b, h, k in events))
        after_burst = await wait_count(metrics_url, done + burst, 600)
        elapsed = time.perf_counter() - started
        throughput = (after_burst - done) / elapsed
        cpu_ms = (await cpu_seconds(metrics_url) - cpu_before) * 1000 / max(1.0, after_burst - done)

        published_at: dict[str, datetime] = {}
        interval = 1.0 / rate
        next_at = time.perf_counter()
        for i in range(paced):
            event_id, body, headers, key = signin_bytes(burst + i)
            await broker.publish(body, topic, key=key, headers=headers)
            published_at[event_id] = datetime.now(UTC)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await wait_count(metrics_url, after_burst + paced, 300)
        paced_sent = await asyncio.to_thread(sent_at, env, list(published_at))
        latencies = [(paced_sent[i] - published_at[i]).total_seconds() for i in paced_sent]
        missing = int(done + burst - after_burst) + paced - len(paced_sent)
        return throughput, cpu_ms, latencies, missing
    finally:
        await broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=400, help="burst size and baseline loop")
    parser.add_argument("--paced", type=int, default=150, help="events for the latency run")
    parser.add_argument("--rate", type=float, default=20.0, help="events/s in the latency run")
    args = parser.parse_args()

    local = LocalStack(f"bench-notifier-{os.getpid()}", Ports.free(), fresh=True)
    notifier: subprocess.Popen[bytes] | None = None
    try:
        endpoints = local.start()
        prepare_aws(endpoints.aws_endpoint_url)
        asyncio.run(create_topics(endpoints.kafka_bootstrap, list(TOPICS), prefix=PREFIX))
        port = free_port()
        env = {
            **os.environ,
            **endpoints.as_env(),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": AWS_REGION,
            "TOPIC_PREFIX": PREFIX,
            "MONGODB_DATABASE": DATABASE,
            "HTTP_PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        notifier = subprocess.Popen(
            [CLI, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or notifier.poll() is not None:
                raise SystemExit("notifier did not become ready")
            time.sleep(0.2)

        metrics_url = f"http://127.0.0.1:{port}/metrics"
        done = asyncio.run(warm_up(endpoints.kafka_bootstrap, metrics_url))
        raw = notifier_email(endpoints.aws_endpoint_url)
        baseline, baseline_cpu_ms = raw_boto3_loop(endpoints.aws_endpoint_url, raw, args.emails)
        throughput, cpu_ms, latencies, missing = asyncio.run(
            through_notifier(
                endpoints.kafka_bootstrap,
                env,
                metrics_url,
                done,
                args.emails,
                args.paced,
                args.rate,
            )
        )
    finally:
        if notifier is not None and notifier.poll() is None:
            notifier.send_signal(signal.SIGTERM)
            notifier.wait(30)
        local.stop()
        shutil.rmtree(local.base, ignore_errors=True)

    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"raw boto3 send loop to moto:      {baseline:8.1f} emails/s ({args.emails} emails)")
    print(f"through the notifier (burst):     {throughput:8.1f} emails/s ({args.emails} events)")
    print(f"ratio notifier / raw loop:        {throughput / baseline:8.2f}")
    # CPU per email is far less sensitive to other load on the machine than emails/s.
    print(f"CPU per email, raw loop process:  {baseline_cpu_ms:8.2f} ms")
    print(f"CPU per email, notifier process:  {cpu_ms:8.2f} ms (burst, all its threads)")
    if latencies:
        print(
            f"signin.requested on Kafka -> SES accepted, paced {args.rate:g}/s "
            f"({len(latencies)} events): p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms"
        )
    if missing:
        print(f"WARNING: {missing} events not sent within the time limit")


if __name__ == "__main__":
    main()
