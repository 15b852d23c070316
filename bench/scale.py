"""How the portal's cost grows with size: 1k, 10k and 100k bill groups on one machine.

    .venv/bin/python bench/scale.py --bill-groups 1000 10000 100000 [--seconds 10]

For each N, on a fresh local stack (Kafka, mongo-java-server in memory, moto) with the four
services started from their CLIs (`<script> run`) as production runs them:

1. Seed through the services' own public write paths, in bulk: upstream state events
   published to Kafka in large batches (aiokafka, linger + 1 MiB batches, acks=all,
   idempotent) — per bill group one bill group state, 2 subscriptions, 2 payment methods and
   `--invoices` (12) invoices, plus 4 entities — which billing-view projects and from whose
   `bill_group.state` access creates a portal; meanwhile every portal is turned on and gets
   one domain rule through access's admin API (`--admin-concurrency` requests in flight,
   retried while access has not yet seen the bill group). Projection progress is read from
   Kafka alone: the committed offsets of the `billing-view` consumer group against the end
   offsets of the state topics (the projection commits only after its writes).
2. Sign in the measured customers (`--customers`, spread over the id range: first, ..., last)
   through the real flow: sign-in request, the emailed link read back from moto, verify.
3. Load, 16 connections, one target after the other, each with a short warm-up: `wrk` (a
   separate process; `apt-get install -y wrk`) rotating over the customers for the overview
   page, the invoices list, an invoice PDF and the sign-in request (POST, distinct addresses
   at the customers' domains); verify (single-use tokens) with this script's own asyncio
   load process over `--verify-tokens` links requested and read back beforehand.
4. Peak RSS (VmHWM) of every service process (and of the MongoDB and Kafka servers).

Prints a table per N, then the ratios of the largest N to the smallest (the project's goal:
p99 at 100k ≤ 1.25 x p99 at 1k on every page), and writes everything as JSON (`--json`).
Sign-in rate limits are raised for the run (`SIGNIN_LIMIT_PER_*`): the bench measures the
work of a sign-in, not the limiter's refusal.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import functools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from email import policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.fernet import Fernet
from pydantic import BaseModel

from billing_simulator.scenario import event_for, invoice_state
from portal_contracts import billing
from portal_contracts.codec import encode
from portal_contracts.registry import EVENTS
from portal_contracts.topics import ConsumerGroup, Topic
from portal_localstack.aws import AWS_REGION, prepare_aws, sent_emails
from portal_localstack.ports import free_port
from portal_localstack.process import ManagedProcess
from portal_localstack.stack import LocalStack, Ports

TENANT = "scale"
DOCUMENTS_BUCKET = "invoice-documents"
SENTINEL = 9_999_999  # the bill group number in the event templates, replaced per bill group
STATE_TOPICS = (
    Topic.ENTITIES,
    Topic.BILL_GROUPS,
    Topic.SUBSCRIPTIONS,
    Topic.INVOICES,
    Topic.PAYMENT_METHODS,
)
SCRIPTS = {
    "access": "portal-access",
    "billing-view": "billing-view",
    "notifier": "portal-notifier",
    "gateway": "portal-gateway",
}
UNLIMITED = "1000000000"
_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
_VERIFY_LINK = re.compile(r"https?://[^\s\"'<>]+/p/[A-Za-z0-9_-]+/verify/[A-Za-z0-9_-]+")


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def bill_group_id(n: int) -> str:
    return f"bg_{n:07d}"


def customer_domain(n: int) -> str:
    return f"c{n:07d}.example"


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """One encoded event for the sentinel bill group; rendered per bill group by replacing
    the sentinel number and the event id (the ids are fixed-width, so sizes stay right)."""

    topic: str
    body: bytes
    event_id: bytes
    headers: tuple[tuple[str, bytes], ...]

    def render(self, n: int) -> tuple[str, bytes, list[tuple[str, bytes]]]:
        new_id = str(uuid.uuid4()).encode()
        body = self.body.replace(self.event_id, new_id).replace(b"9999999", b"%07d" % n)
        headers = [(k, new_id if k == "event_id" else v) for k, v in self.headers]
        return self.topic, body, headers


def _template(payload: BaseModel, aggregate_id: str, seq: int) -> Template:
    event = event_for(payload, tenant_id=TENANT, aggregate_id=aggregate_id, version=1, seq=seq)
    headers = (
        ("event_id", str(event.event_id).encode()),
        ("type", event.type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("tenant_id", TENANT.encode()),
    )
    topic = EVENTS[(event.type, event.schema_version)].topic.value
    return Template(topic, encode(event), str(event.event_id).encode(), headers)


def _invoice_status(index: int) -> billing.InvoiceStatus:
    """Newest first: one draft, two open, two overdue, two void, the rest paid."""
    order = ["draft", "open", "open", "overdue", "overdue", "void", "void"]
    return billing.InvoiceStatus(order[index] if index < len(order) else "paid")


def _issue_date(months_back: int) -> date:
    year, month = divmod(2026 * 12 + 10 - months_back, 12)
    return date(year, month + 1, 1)


def invoices_of(n: int, invoices: int) -> list[tuple[billing.InvoiceState, Any]]:
    return [
        invoice_state(
            bill_group_id(n),
            invoices - i,
            status=_invoice_status(i),
            issue_date=_issue_date(i),
            currency="EUR",
            documents_bucket=DOCUMENTS_BUCKET,
            prefix="SCL",
        )
        for i in range(invoices)
    ]


def bill_group_templates(invoices: int) -> list[Template]:
    n = SENTINEL
    bg = bill_group_id(n)
    contact = billing.Contact(
        name=f"Customer {n} AP",
        email=f"ap@{customer_domain(n)}",
        address=billing.Address(
            line1="1 Main Street", city="Berlin", postal_code="10115", country="DE"
        ),
    )
    payloads: list[tuple[BaseModel, str]] = [
        (
            billing.BillGroupState(
                bill_group_id=bg,
                account_id=f"acc_{n:07d}",
                account_name=f"Customer {n}",
                entity_id="ent_0",
                name=f"Customer {n} main",
                currency="EUR",
                contract_status=billing.ContractStatus.ACTIVE,
                billing_frequency=billing.BillingFrequency.MONTHLY,
                auto_pay=True,
                next_billing_date=date(2026, 12, 1),
                billing_profile=billing.BillingProfile(po_number=f"PO-{n}"),
                billing_contact=contact,
                shipping_contact=contact,
                default_payment_method_id=f"pm_{n:07d}_card",
            ),
            bg,
        )
    ]
    for s, name in enumerate(("Platform Pro", "Support Plus")):
        sub_id = f"sub_{n:07d}_{s}"
        item = billing.SubscriptionItem(
            product_name="Seats",
            quantity=10 + s,
            unit_price_minor=1900,
            currency="EUR",
            period=billing.BillingPeriod.MONTH,
        )
        payloads.append(
            (
                billing.SubscriptionState(
                    subscription_id=sub_id,
                    bill_group_id=bg,
                    name=name,
                    status=billing.SubscriptionStatus.ACTIVE,
                    start_date=date(2025, 1 + s, 1),
                    items=(item,),
                ),
                sub_id,
            )
        )
    for kind, brand in (("card", "Visa"), ("bank", "First National")):
        pm_id = f"pm_{n:07d}_{kind}"
        is_card = kind == "card"
        payloads.append(
            (
                billing.PaymentMethodState(
                    payment_method_id=pm_id,
                    bill_group_id=bg,
                    type=(
                        billing.PaymentMethodType.CARD
                        if is_card
                        else billing.PaymentMethodType.BANK_ACCOUNT
                    ),
                    brand=brand,
                    last4="4242" if is_card else "3000",
                    exp_month=4 if is_card else None,
                    exp_year=2030 if is_card else None,
                    holder_name=f"Customer {n}",
                ),
                pm_id,
            )
        )
    for state, _asset in invoices_of(n, invoices):
        payloads.append((state, state.invoice_id))
    return [_template(p, aggregate, i) for i, (p, aggregate) in enumerate(payloads)]


def entity_templates() -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    out = []
    for e in range(4):
        template = _template(
            billing.EntityState(entity_id=f"ent_{e}", name=f"Entity {e}"), f"ent_{e}", e
        )
        out.append(template.render(0))
    return out


# --- the stack and the services -----------------------------------------------------------


@dataclass
class Portal:
    n: int
    heap_mb: int
    stack: LocalStack = field(init=False)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    seal_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    csrf_secret: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.stack = LocalStack(
            f"bench-scale-{os.getpid()}-{self.n}",
            Ports.free(),
            fresh=True,
            persistent_mongodb=False,
        )
        self.stack.mongodb.heap_mb = self.heap_mb

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self, service: str | None = None) -> dict[str, str]:
        env = {
            **self.stack.endpoints.as_env(),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": AWS_REGION,
            "AWS_DEFAULT_REGION": AWS_REGION,
            "ENVIRONMENT": "local",
            "HTTP_HOST": "127.0.0.1",
            "INTERNAL_API_TOKEN": self.token,
            "SEAL_KEYS": self.seal_key,
            "CSRF_SECRET": self.csrf_secret,
            "PORTAL_PUBLIC_URL": self.url("gateway"),
            "ACCESS_URL": self.url("access"),
            "BILLING_VIEW_URL": self.url("billing-view"),
            "DEV_MAILBOX_ENABLED": "true",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
            "SIGNIN_LIMIT_PER_EMAIL": UNLIMITED,
            "SIGNIN_LIMIT_PER_IP": UNLIMITED,
            "SIGNIN_LIMIT_PER_PORTAL": UNLIMITED,
        }
        if service is not None:
            env["HTTP_PORT"] = str(self.ports[service])
        return env

    def start(self) -> None:
        self.stack.start()
        prepare_aws(self.stack.endpoints.aws_endpoint_url)
        for name in SCRIPTS:
            self.ports[name] = free_port()
        for name, script in SCRIPTS.items():
            process = ManagedProcess(
                name,
                [_bin(script), "run"],
                self.stack.base / "logs" / f"{name}.log",
                self.env(name),
            )
            process.start()
            self.processes[name] = process
        for name, process in self.processes.items():
            process.wait_until(functools.partial(_ready, f"{self.url(name)}/readyz"), 120, "ready")

    def admin_key(self) -> str:
        done = subprocess.run(
            [_bin("portal-access"), "api-key", "create", "--tenant", TENANT, "--name", "bench"],
            env={**os.environ, **self.env("access")},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1].strip()

    def peak_rss_mb(self) -> dict[str, float]:
        pids = {name: p.pid for name, p in self.processes.items()}
        pids["mongodb (java)"] = (
            self.stack.mongodb.process.pid if self.stack.mongodb.process else None
        )
        pids["kafka (java)"] = self.stack.kafka.process.pid if self.stack.kafka.process else None
        return {name: _tree_hwm_mb(pid) for name, pid in pids.items() if pid is not None}

    def stop(self, keep_logs: bool = False) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop(timeout=20)
        self.stack.stop()
        import shutil

        if keep_logs:
            kept = Path(tempfile.mkdtemp(prefix=f"scale-{self.n}-logs-"))
            shutil.copytree(self.stack.base / "logs", kept / "logs", dirs_exist_ok=True)
            print(f"  service logs kept in {kept}", flush=True)
        shutil.rmtree(self.stack.base, ignore_errors=True)


def _ready(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_hwm_mb(pid: int) -> float:
    """Peak RSS of a process, or of its largest descendant if it runs its work in a child."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    best, todo = 0, [pid]
    while todo:
        current = todo.pop()
        best = max(best, _hwm_kb(current))
        todo += children.get(current, [])
    return round(best / 1024, 1)


# --- seeding ------------------------------------------------------------------------------


async def group_progress(bootstrap: str, group: str, topics: list[str]) -> tuple[int, int]:
    """(committed, end) summed over the topics' partitions, from Kafka alone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [tp for tp in committed if tp.topic in topics]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        done = sum(max(0, committed[tp].offset) for tp in partitions)
        return done, sum(ends.values())
    finally:
        await consumer.stop()
        await admin.close()


async def publish(
    bootstrap: str, n_bill_groups: int, invoices: int, first: list[int]
) -> dict[str, float]:
    """Every bill group's events; the measured customers' first (all of theirs), then every
    other bill group's state (access can open portals early), then everything else."""
    templates = bill_group_templates(invoices)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=50,
        max_batch_size=1024 * 1024,
        request_timeout_ms=120_000,
    )
    await producer.start()
    started = time.monotonic()
    sent = 0
    firsts = set(first)
    others = [n for n in range(n_bill_groups) if n not in firsts]
    rounds = [(first, templates), (others, templates[:1]), (others, templates[1:])]
    try:
        pending = []
        for e, (topic, body, headers) in enumerate(entity_templates()):
            pending.append(await producer.send(topic, body, key=b"ent_%d" % e, headers=headers))
        for numbers, group in rounds:
            for n in numbers:
                key = bill_group_id(n).encode()
                for template in group:
                    topic, body, headers = template.render(n)
                    pending.append(await producer.send(topic, body, key=key, headers=headers))
                    sent += 1
                if len(pending) >= 20_000:
                    await asyncio.gather(*pending)
                    pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    elapsed = time.monotonic() - started
    return {"events": sent + 4, "seconds": round(elapsed, 1), "per_s": round(sent / elapsed)}


async def open_portals(
    access_url: str,
    key: str,
    n_bill_groups: int,
    concurrency: int,
    first: list[int],
    opened: list[int],
) -> dict[str, float]:
    """Turn every portal on and grant one domain, through access's admin API."""
    headers = {"Authorization": f"Bearer {key}"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in [*first, *(n for n in range(n_bill_groups) if n not in set(first))]:
        queue.put_nowait(n)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.monotonic()
    retries = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal retries
        while True:
            try:
                n = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            base = f"/api/admin/v1/bill-groups/{bill_group_id(n)}/portal"
            while True:
                try:
                    answer = await client.put(base, json={"enabled": True})
                    if answer.status_code == 404:
                        retries += 1  # access has not projected this bill group yet
                    else:
                        answer.raise_for_status()
                        rule = await client.post(
                            f"{base}/rules", json={"kind": "domain", "value": customer_domain(n)}
                        )
                        if rule.status_code not in (201, 409):
                            rule.raise_for_status()
                        break
                except httpx.TransportError:
                    retries += 1  # a loaded access dropped the connection: same call again
                await asyncio.sleep(1.0)
            opened[0] += 1

    async with httpx.AsyncClient(
        base_url=access_url, headers=headers, timeout=120, limits=limits
    ) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return {
        "portals": n_bill_groups,
        "seconds": round(elapsed, 1),
        "per_s": round(n_bill_groups / elapsed, 1),
        "retries_404": retries,
    }


async def seed(
    portal: Portal, args: argparse.Namespace, key: str, first: list[int]
) -> dict[str, Any]:
    """Publish and open portals concurrently; wait until billing-view has committed every
    event, or `--seed-timeout` (then the load runs while the projection is still at work,
    and the report says how far it had got)."""
    bootstrap = portal.stack.endpoints.kafka_bootstrap
    topics = [str(t) for t in STATE_TOPICS]
    started = time.monotonic()
    samples: list[tuple[float, int]] = []
    opened = [0]
    publishing = asyncio.ensure_future(publish(bootstrap, portal.n, args.invoices, first))
    opening = asyncio.ensure_future(
        open_portals(portal.url("access"), key, portal.n, args.admin_concurrency, first, opened)
    )
    total = 4 + portal.n * (5 + args.invoices)
    deadline = started + args.seed_timeout
    projected_at: float | None = None
    access_at: float | None = None
    while True:
        await asyncio.sleep(2)
        for process in portal.processes.values():
            process.check_alive()
        done, end = await group_progress(bootstrap, ConsumerGroup.BILLING_VIEW.value, topics)
        access_done, _ = await group_progress(
            bootstrap, ConsumerGroup.ACCESS.value, [str(Topic.BILL_GROUPS)]
        )
        now = time.monotonic() - started
        samples.append((now, done))
        if projected_at is None and publishing.done() and done >= total and end >= total:
            projected_at = now
        if access_at is None and access_done >= portal.n:
            access_at = now
        if len(samples) % 15 == 0:
            print(
                f"  [{now:6.0f}s] billing-view {done}/{total}, access {access_done}/{portal.n}"
                f" bill groups, portals opened {opened[0]}/{portal.n}",
                flush=True,
            )
        complete = projected_at is not None and access_at is not None and opening.done()
        if complete or (time.monotonic() > deadline and publishing.done()):
            break
    elapsed = time.monotonic() - started
    published = await publishing
    if not opening.done():
        # The measured customers' portals were opened first; the rest stop here.
        opening.cancel()
    try:
        portals = await opening
    except asyncio.CancelledError:
        portals = {"portals": opened[0], "seconds": round(elapsed, 1), "cancelled": 1}
        portals["per_s"] = round(opened[0] / elapsed, 1)
    # Best sustained rate over any 20 s window, beside the average over the whole seed.
    best = 0.0
    for i, (t0, d0) in enumerate(samples):
        for t1, d1 in samples[i + 1 :]:
            if t1 - t0 >= 20:
                best = max(best, (d1 - d0) / (t1 - t0))
                break
    projection_s = projected_at or elapsed
    return {
        "events": total,
        "complete": complete,
        "projected_events": done,
        "publish": published,
        "projection_seconds": round(projection_s, 1),
        "projection_events_per_s": round(done / projection_s),
        "projection_best_20s_events_per_s": round(best),
        "access_bill_groups": access_done,
        "access_seconds": round(access_at or elapsed, 1),
        "access_bill_groups_per_s": round(access_done / (access_at or elapsed), 1),
        "portals": portals,
        "seed_seconds": round(time.monotonic() - started, 1),
    }


# --- customers ----------------------------------------------------------------------------


def _text_of(message: dict[str, Any]) -> str:
    raw = message.get("raw_data")
    if raw:
        parsed = email.message_from_string(str(raw), policy=policy.default)
        return "\n".join(
            str(p.get_content()) for p in parsed.walk() if p.get_content_type() == "text/plain"
        )
    return str(message.get("body", ""))


def _to(message: dict[str, Any]) -> str:
    raw = message.get("raw_data")
    if raw:
        return str(email.message_from_string(str(raw), policy=policy.default).get("To", ""))
    return str(message.get("destinations", ""))


def verify_links(
    aws: str, addresses: set[str], timeout: float = 300, *, partial: bool = False
) -> dict[str, str]:
    """The emailed link per address; with `partial`, whatever arrived within `timeout`."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sent_emails(aws):
            to = _to(message)
            for address in addresses - found.keys():
                if address in to:
                    match = _VERIFY_LINK.search(_text_of(message))
                    if match:
                        found[address] = match.group(0)
        if len(found) == len(addresses):
            return found
        time.sleep(1)
    if partial and found:
        print(f"  only {len(found)}/{len(addresses)} sign-in emails within {timeout:.0f}s")
        return found
    raise TimeoutError(f"{len(found)}/{len(addresses)} sign-in emails arrived")


@dataclass
class Customer:
    n: int
    portal_url: str
    cookie: str = ""
    csrf_cookie: str = ""
    csrf_field: str = ""
    invoice_id: str = ""

    @property
    def portal_path(self) -> str:
        return urlsplit(self.portal_url).path


def retried(call: Any, *args: Any, **kwargs: Any) -> httpx.Response:
    """One request, again on a dropped connection (a loaded server closing a keep-alive)."""
    for attempt in range(3):
        try:
            response: httpx.Response = call(*args, **kwargs)
            return response
        except httpx.TransportError:
            if attempt == 2:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def form_state(client: httpx.Client, path: str) -> tuple[str, str]:
    """The CSRF cookie and form field a browser holds after opening the sign-in page."""
    page = retried(client.get, path)
    page.raise_for_status()
    match = _CSRF_FIELD.search(page.text)
    assert match, "sign-in page without CSRF field"
    return client.cookies.get("csrftoken") or "", match.group(1)


def sign_in_customers(
    portal: Portal, key: str, customers: list[int], email_timeout: float
) -> list[Customer]:
    gateway, aws = portal.url("gateway"), portal.stack.endpoints.aws_endpoint_url
    signed: list[Customer] = []
    with httpx.Client(base_url=portal.url("access"), timeout=30) as admin:
        for n in customers:
            got = retried(
                admin.get,
                f"/api/admin/v1/bill-groups/{bill_group_id(n)}/portal",
                headers={"Authorization": f"Bearer {key}"},
            )
            got.raise_for_status()
            signed.append(Customer(n, got.json()["portal_url"]))
    addresses = {f"ap@{customer_domain(c.n)}": c for c in signed}
    clients = {a: httpx.Client(base_url=gateway, timeout=30) for a in addresses}
    for address, customer in addresses.items():
        client = clients[address]
        customer.csrf_cookie, customer.csrf_field = form_state(client, customer.portal_path)
        retried(
            client.post,
            f"{customer.portal_path}/signin",
            data={"email": address, "_csrf_token": customer.csrf_field},
        ).raise_for_status()
    links = verify_links(aws, set(addresses), email_timeout, partial=True)
    for address, customer in addresses.items():
        client = clients[address]
        if address not in links:
            client.close()
            continue
        path = urlsplit(links[address]).path
        retried(client.get, path).raise_for_status()
        done = retried(client.post, path, data={"_csrf_token": customer.csrf_field})
        assert done.status_code == 303, done.text
        customer.cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        listing = retried(client.get, "/api/portal/v1/invoices", params={"limit": 1})
        listing.raise_for_status()
        customer.invoice_id = listing.json()["items"][0]["invoice_id"]
        client.close()
    # The notifier works through its backlog in order: measure whoever got the email.
    return [c for c in signed if c.cookie]


def upload_documents(portal: Portal, customers: list[Customer], invoices: int) -> None:
    """PDFs in S3 for the measured customers' invoices (the others are never downloaded)."""
    s3 = boto3.client(
        "s3",
        endpoint_url=portal.stack.endpoints.aws_endpoint_url,
        region_name=AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if DOCUMENTS_BUCKET not in existing:
        s3.create_bucket(
            Bucket=DOCUMENTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    for customer in customers:
        for _state, asset in invoices_of(customer.n, invoices):
            s3.put_object(Bucket=asset.bucket, Key=asset.key, Body=asset.body)


# --- load ---------------------------------------------------------------------------------


def _lua_string(value: str) -> str:
    return json.dumps(value)


def wrk_script(requests: list[dict[str, Any]]) -> str:
    """A wrk Lua script that rotates over the given requests (method, path, headers, body)."""
    rows = []
    for r in requests:
        headers = ", ".join(
            f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in r["headers"].items()
        )
        body = _lua_string(r["body"]) if r.get("body") is not None else "nil"
        rows.append(
            f"  {{ {_lua_string(r['method'])}, {_lua_string(r['path'])}, {{ {headers} }}, {body} }}"
        )
    return (
        "local reqs = {\n"
        + ",\n".join(rows)
        + "\n}\nlocal i = 0\n"
        + "request = function()\n"
        + "  i = i % #reqs + 1\n"
        + "  local r = reqs[i]\n"
        + "  return wrk.format(r[1], r[2], r[3], r[4])\n"
        + "end\n"
    )


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    base: str, requests: list[dict[str, Any]], seconds: int, connections: int
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(requests))
    try:
        command = [
            "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
            "--latency", "-s", script.name, base,
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(total.group(1)) if total else 0.0,
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


async def _verify_load(spec: dict[str, Any]) -> dict[str, float]:
    """POST each verify link once, `connections` at a time: single-use tokens, so no wrk."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in spec["paths"]:
        queue.put_nowait(path)
    latencies: list[float] = []
    failures = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while True:
            try:
                path = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            answer = await client.post(
                path,
                data={"_csrf_token": spec["csrf_field"]},
                headers={"Cookie": f"csrftoken={spec['csrf_cookie']}"},
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            if answer.status_code != 303:
                failures += 1

    limits = httpx.Limits(max_connections=spec["connections"])
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=spec["base"], timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(spec["connections"])))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "requests": float(len(latencies)),
        "non_2xx": float(failures),
    }


def verify_load(
    portal: Portal, customers: list[Customer], tokens: int, connections: int, email_timeout: float
) -> dict[str, float]:
    """Request `tokens` links (distinct addresses at the customers' domains), read them back
    from moto, then redeem them all from a separate load process."""
    gateway, aws = portal.url("gateway"), portal.stack.endpoints.aws_endpoint_url
    first = customers[0]
    with httpx.Client(base_url=gateway, timeout=30) as client:
        csrf_cookie, csrf_field = form_state(client, first.portal_path)
        wanted: dict[str, Customer] = {}
        for i in range(tokens):
            customer = customers[i % len(customers)]
            wanted[f"v{i}-{uuid.uuid4().hex[:6]}@{customer_domain(customer.n)}"] = customer

        def request(address: str) -> bool:
            answer = retried(
                client.post,
                f"{wanted[address].portal_path}/signin",
                data={"email": address, "_csrf_token": csrf_field},
            )
            return answer.status_code == 200

        with ThreadPoolExecutor(8) as pool:
            accepted = dict(zip(wanted, pool.map(request, list(wanted)), strict=True))
    refused = [a for a, ok in accepted.items() if not ok]
    for address in refused:
        del wanted[address]
    if refused:
        print(f"  {len(refused)} of {tokens} sign-in requests refused (not redeemed)", flush=True)
    links = verify_links(aws, set(wanted), email_timeout, partial=True)
    spec = {
        "base": gateway,
        "paths": [urlsplit(link).path for link in links.values()],
        "csrf_cookie": csrf_cookie,
        "csrf_field": csrf_field,
        "connections": connections,
    }
    done = subprocess.run(
        [sys.executable, __file__, "--verify-load", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def measure(portal: Portal, customers: list[Customer], args: argparse.Namespace) -> dict[str, Any]:
    base = portal.url("gateway")

    def gets(path_of: Any) -> list[dict[str, Any]]:
        return [
            {"method": "GET", "path": path_of(c), "headers": {"Cookie": c.cookie}}
            for c in customers
        ]

    targets: dict[str, list[dict[str, Any]]] = {
        "overview GET /portal": gets(lambda c: "/portal"),
        "invoices GET /portal/invoices": gets(lambda c: "/portal/invoices"),
        "invoice PDF": gets(lambda c: f"/portal/invoices/{c.invoice_id}/pdf"),
    }
    results: dict[str, Any] = {}
    for name, requests in targets.items():
        wrk(base, requests, 3, args.connections)
        results[name] = wrk(base, requests, args.seconds, args.connections)
        print(f"  {name}: {results[name]}", flush=True)
    results["sign-in verify (POST link)"] = verify_load(
        portal, customers, args.verify_tokens, args.connections, args.email_timeout
    )
    print(f"  verify: {results['sign-in verify (POST link)']}", flush=True)
    # Last: every request sends an email, and the notifier's backlog outlives the run.
    with httpx.Client(base_url=base, timeout=30) as client:
        csrf_cookie, csrf_field = form_state(client, customers[0].portal_path)
    signin = [
        {
            "method": "POST",
            "path": f"{c.portal_path}/signin",
            "headers": {
                "Cookie": f"csrftoken={csrf_cookie}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            "body": f"email=load{i}%40{customer_domain(c.n)}&_csrf_token={csrf_field}",
        }
        for i in range(50)
        for c in customers
    ]
    wrk(base, signin, 3, args.connections)
    results["sign-in request POST"] = wrk(base, signin, args.seconds, args.connections)
    print(f"  sign-in request: {results['sign-in request POST']}", flush=True)
    return results


# --- the run ------------------------------------------------------------------------------


def spread(n: int, count: int) -> list[int]:
    if count <= 1:
        return [0]
    return sorted({round(i * (n - 1) / (count - 1)) for i in range(count)})


def run_one(n: int, args: argparse.Namespace) -> dict[str, Any]:
    print(f"== N = {n:,} bill groups", flush=True)
    portal = Portal(n, args.mongo_heap_mb)
    try:
        started = time.monotonic()
        portal.start()
        print(f"  stack and services ready in {time.monotonic() - started:.0f}s", flush=True)
        key = portal.admin_key()
        measured = spread(n, args.customers)
        seeded = asyncio.run(seed(portal, args, key, measured))
        print(f"  seeded: {json.dumps(seeded)}", flush=True)
        customers = sign_in_customers(portal, key, measured, args.email_timeout)
        upload_documents(portal, customers, args.invoices)
        loads = measure(portal, customers, args)
        return {
            "bill_groups": n,
            "seed": seeded,
            "customers": [bill_group_id(c.n) for c in customers],
            "load": loads,
            "peak_rss_mb": portal.peak_rss_mb(),
        }
    except BaseException:
        portal.stop(keep_logs=True)
        raise
    finally:
        portal.stop()


def print_report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs; load average "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}; wrk -t2 -c{args.connections} "
        f"-d{args.seconds}s; verify: {args.verify_tokens} single-use links, same concurrency"
    )
    for r in results:
        seed_ = r["seed"]
        print(f"\nN = {r['bill_groups']:,} bill groups ({seed_['events']:,} events)")
        if not seed_["complete"]:
            print(
                f"  SEED INCOMPLETE at --seed-timeout: billing-view {seed_['projected_events']:,}"
                f" of {seed_['events']:,} events, access {seed_['access_bill_groups']:,} bill "
                f"groups, portals opened {seed_['portals']['portals']:,}; the load ran beside "
                "what was still projecting"
            )
        print(
            f"  seed: publish {seed_['publish']['per_s']:,} events/s; projection "
            f"{seed_['projection_events_per_s']:,} events/s average "
            f"(best 20 s: {seed_['projection_best_20s_events_per_s']:,}), done in "
            f"{seed_['projection_seconds']}s; access bill group states "
            f"{seed_['access_bill_groups_per_s']}/s; portals on + rule "
            f"{seed_['portals']['per_s']}/s ({seed_['portals']['seconds']}s)"
        )
        print(f"  {'target':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
        for name, m in r["load"].items():
            print(
                f"  {name:<32}{m['rps']:>9.1f}{m['p50_ms']:>9.2f}{m['p99_ms']:>9.2f}"
                f"{m['non_2xx']:>9.0f}"
            )
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mb"].items())
        print(f"  peak RSS MB: {rss}")
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(
            f"\nratios N={large['bill_groups']:,} / N={small['bill_groups']:,} "
            "(goal: p99 ≤ 1.25 on every page)"
        )
        print(f"  {'target':<32}{'req/s':>9}{'p50':>9}{'p99':>9}  goal")
        for name, m in large["load"].items():
            b = small["load"][name]
            p99 = m["p99_ms"] / b["p99_ms"]
            print(
                f"  {name:<32}{m['rps'] / b['rps']:>9.2f}{m['p50_ms'] / b['p50_ms']:>9.2f}"
                f"{p99:>9.2f}  {'met' if p99 <= 1.25 else 'MISSED'}"
            )
        seed_ratio = (
            large["seed"]["projection_events_per_s"] / small["seed"]["projection_events_per_s"]
        )
        print(f"  projection events/s: {seed_ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bill-groups", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--invoices", type=int, default=12)
    parser.add_argument("--customers", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--verify-tokens", type=int, default=200)
    parser.add_argument("--admin-concurrency", type=int, default=24)
    parser.add_argument("--mongo-heap-mb", type=int, default=8192)
    parser.add_argument("--seed-timeout", type=float, default=900)
    parser.add_argument("--email-timeout", type=float, default=300)
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    results = []
    for n in sorted(args.bill_groups):
        try:
            results.append(run_one(n, args))
        except Exception as exc:  # noqa: BLE001 - report the others; say which N failed
            print(f"  N = {n:,} FAILED: {exc!r}", flush=True)
            traceback.print_exc()
            continue
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    print_report(results, args)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify-load":
        print(json.dumps(asyncio.run(_verify_load(json.loads(sys.argv[2])))))
    else:
        main()
