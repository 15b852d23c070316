"""End-to-end freshness and sign-in email latency over the whole portal (`portal-dev`).

    .venv/bin/python bench/e2e_freshness.py [--events 200] [--signins 100]

1. Freshness: one new invoice at a time is published upstream (acks=all, the simulator's
   producer); the clock stops when the signed-in customer's portal (the gateway's
   `/api/portal/v1/invoices/{id}`, same session and path as the pages) returns it.
2. Sign-in email: a customer requests a link on the sign-in page (form POST to the
   gateway); the clock stops when moto's SES holds the email for that address.

Both are sequential (one in flight), so they measure latency, not throughput; the polling
step (10 ms) bounds the resolution. Prints p50/p90/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from billing_simulator import scenario  # noqa: E402
from billing_simulator.publish import Publisher  # noqa: E402
from billing_simulator.settings import Settings  # noqa: E402
from portal_localstack.aws import sent_emails  # noqa: E402
from tests.support.portal import csrf_field, sign_in  # noqa: E402
from tests.support.services import DevPortal  # noqa: E402

POLL = 0.01


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return (
        f"n={len(ordered)} p50={q[49]:.0f} ms p90={q[89]:.0f} ms "
        f"p99={q[98]:.0f} ms max={ordered[-1]:.0f} ms"
    )


def active_bill_group(ready: dict[str, object]) -> tuple[dict[str, str], str]:
    """The first active demo bill group's portal link and its granted customer domain."""
    bill_groups = ready["bill_groups"]
    seeded = ready["seeded"]
    assert isinstance(bill_groups, list)
    assert isinstance(seeded, dict)
    bg = next(b for b in bill_groups if b["contract_status"] == "active")
    domain = next(
        s["customer_domain"]
        for s in seeded["bill_groups"]
        if s["bill_group_id"] == bg["bill_group_id"]
    )
    return bg, str(domain)


async def freshness(ready: dict[str, object], events: int) -> list[float]:
    endpoints = ready["endpoints"]
    assert isinstance(endpoints, dict)
    bg, domain = active_bill_group(ready)
    client = sign_in(
        str(ready["gateway_url"]),
        bg["portal_url"],
        f"fresh-{uuid.uuid4().hex[:6]}@{domain}",
        endpoints["AWS_ENDPOINT_URL"],
    )
    settings = Settings(kafka_bootstrap=endpoints["KAFKA_BOOTSTRAP"])
    samples: list[float] = []
    async with Publisher(settings) as publisher:
        for i in range(events):
            event, _asset = scenario.new_invoice(bg["bill_group_id"], 500_000 + i)
            started = time.perf_counter()
            await publisher.publish([event])
            url = f"/api/portal/v1/invoices/{event.aggregate_id}"
            while (await asyncio.to_thread(client.get, url)).status_code != 200:  # noqa: ASYNC110 - polling another process
                await asyncio.sleep(POLL)
            samples.append((time.perf_counter() - started) * 1000)
    client.close()
    return samples


def signin_latency(ready: dict[str, object], count: int) -> list[float]:
    endpoints = ready["endpoints"]
    assert isinstance(endpoints, dict)
    aws = endpoints["AWS_ENDPOINT_URL"]
    bg, domain = active_bill_group(ready)
    samples: list[float] = []
    with httpx.Client(base_url=str(ready["gateway_url"]), timeout=30) as client:
        path = urlsplit(bg["portal_url"]).path
        for _ in range(count):
            address = f"lat-{uuid.uuid4().hex[:10]}@{domain}"
            token = csrf_field(client.get(path).text)
            started = time.perf_counter()
            answer = client.post(f"{path}/signin", data={"email": address, "_csrf_token": token})
            answer.raise_for_status()
            while not any(address in str(m.get("raw_data", "")) for m in sent_emails(aws)):
                time.sleep(POLL)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--signins", type=int, default=100)
    args = parser.parse_args()
    # The benchmark signs in many addresses from one IP: lift that limit for this run only.
    os.environ["SIGNIN_LIMIT_PER_IP"] = "1000000"
    os.environ["SIGNIN_LIMIT_PER_PORTAL"] = "1000000"
    portal = DevPortal(f"bench-fresh-{os.getpid()}")
    try:
        ready = portal.start()
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
        print(f"portal-dev ready in {ready['ready_seconds']} s")
        fresh = asyncio.run(freshness(ready, args.events))
        print(f"upstream invoice published -> visible in the portal: {percentiles(fresh)}")
        emails = signin_latency(ready, args.signins)
        print(f"sign-in request -> email stored in SES:            {percentiles(emails)}")
    finally:
        portal.stop()


if __name__ == "__main__":
    main()
