"""Shared pieces of the notifier's integration tests: events, a running notifier, moto reads,
and a fault-injecting HTTP proxy in front of moto."""

import asyncio
import email
import json
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from litestar.testing import AsyncTestClient

from portal_contracts.billing import BillGroupState, EntityState, Logo
from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.envelope import Envelope
from portal_contracts.portal import SigninRequested
from portal_contracts.sealing import SignInSecret
from portal_contracts.topics import Topic
from portal_kit.sealing import DEV_SEAL_KEY, seal
from portal_localstack.aws import AWS_REGION, sent_emails
from portal_localstack.testing import Isolation, StackHandle
from portal_notifier.app import create_app
from portal_notifier.settings import Settings
from tests.support.waiting import eventually

LOGO_URL = "https://cdn.example/acme-logo.png"


@dataclass(frozen=True)
class Signin:
    event: Envelope[Any]
    link: str
    code: str
    email: str


def signin_event(
    recipient: str,
    *,
    tenant_id: str = "tenant_a",
    bill_group_id: str = "bg_1",
    entity_id: str | None = "ent_1",
    minutes: int = 15,
) -> Signin:
    token = secrets.token_urlsafe(32)
    portal_key = secrets.token_urlsafe(32)
    link = f"http://127.0.0.1:8000/p/{portal_key}/verify/{token}"
    code = f"{secrets.randbelow(10**6):06d}"
    now = datetime.now(UTC)
    payload = SigninRequested(
        challenge_id=f"ch_{secrets.token_hex(6)}",
        bill_group_id=bill_group_id,
        entity_id=entity_id,
        email=recipient,
        expires_at=now + timedelta(minutes=minutes),
        sealed=seal(SignInSecret(link=link, code=code), DEV_SEAL_KEY),
    )
    event = make_event(payload, tenant_id=tenant_id, aggregate_id=bill_group_id, occurred_at=now)
    return Signin(event, link, code, recipient)


def branding_events(
    *, tenant_id: str = "tenant_a", bill_group_id: str = "bg_1", entity_id: str = "ent_1"
) -> list[tuple[str, Envelope[Any]]]:
    entity = EntityState(
        entity_id=entity_id, name="Acme Billing GmbH", logo=Logo(url=LOGO_URL, alt="Acme")
    )
    group = BillGroupState(
        bill_group_id=bill_group_id,
        account_id="acc_1",
        account_name="Globex Corporation",
        entity_id=entity_id,
        name="Globex EMEA",
        currency="EUR",
        contract_status="active",
        billing_frequency="monthly",
        auto_pay=True,
    )
    return [
        (
            Topic.ENTITIES,
            make_event(entity, tenant_id=tenant_id, aggregate_id=entity_id, aggregate_version=3),
        ),
        (
            Topic.BILL_GROUPS,
            make_event(group, tenant_id=tenant_id, aggregate_id=bill_group_id, aggregate_version=5),
        ),
    ]


def notifier_settings(stack: StackHandle, isolation: Isolation, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap": stack.endpoints.kafka_bootstrap,
        "mongodb_uri": stack.endpoints.mongodb_uri,
        "aws_endpoint_url_sesv2": stack.endpoints.aws_endpoint_url,
        "aws_region": AWS_REGION,
        "topic_prefix": isolation.topic_prefix,
        "mongodb_database": isolation.database("notifier"),
        "retry_base_seconds": 0.2,
        "retry_cap_seconds": 1.0,
        "retry_poll_seconds": 0.1,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
    }.items():
        monkeypatch.setenv(name, value)


@asynccontextmanager
async def running_notifier(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """The whole app in this process, lifespan included (consumer + retry worker)."""
    async with AsyncTestClient(create_app(settings)) as client:
        yield client


@asynccontextmanager
async def producer(stack: StackHandle) -> AsyncIterator[KafkaBroker]:
    broker = KafkaBroker(stack.endpoints.kafka_bootstrap, acks="all")
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def publish(
    broker: KafkaBroker, isolation: Isolation, topic: str, event: Envelope[Any]
) -> None:
    await broker.publish(
        encode(event),
        isolation.topic_prefix + topic,
        key=event.aggregate_id.encode(),
        headers=headers_for(event),
    )


def emails_to(stack: StackHandle, recipient: str) -> list[EmailMessage]:
    found: list[EmailMessage] = []
    for message in sent_emails(stack.endpoints.aws_endpoint_url):
        raw = message.get("raw_data")
        if isinstance(raw, str):
            parsed = email.message_from_string(raw, policy=policy.default)
            if isinstance(parsed, EmailMessage) and parsed["To"] == recipient:
                found.append(parsed)
    return found


async def wait_for_emails(
    stack: StackHandle, recipient: str, count: int = 1, within: float = 60.0
) -> list[EmailMessage]:
    async def arrived() -> bool:
        return len(await asyncio.to_thread(emails_to, stack, recipient)) >= count

    await eventually(arrived, within, f"{count} email(s) to {recipient}")
    return await asyncio.to_thread(emails_to, stack, recipient)


def parts(message: EmailMessage) -> dict[str, str]:
    return {
        p.get_content_type(): str(p.get_content()) for p in message.walk() if not p.is_multipart()
    }


@dataclass
class FaultProxy:
    """HTTP proxy on loopback in front of moto: the first `failures` SendEmail calls answer
    with `status` and an AWS error of type `error_type`; everything else passes through."""

    upstream: str
    failures: int
    status: int = 400
    error_type: str = "ThrottlingException"
    # Only calls for this recipient fail; None: every SendEmail call counts.
    only_to: str | None = None
    injected: int = 0
    passed: int = 0
    # hang=True: the failing calls get no answer until `release` is set (then a 503).
    hang: bool = False
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def should_fail(self, path: str, body: bytes) -> bool:
        if not path.startswith("/v2/email/outbound-emails"):
            return False
        if self.only_to is not None:
            to = json.loads(body or b"{}").get("Destination", {}).get("ToAddresses", [])
            if self.only_to not in to:
                return False
        with self._lock:
            if self.injected < self.failures:
                self.injected += 1
                return True
            self.passed += 1
            return False


@pytest.fixture
def fault_proxy(stack: StackHandle) -> Iterator[Callable[..., tuple[FaultProxy, str]]]:
    servers: list[ThreadingHTTPServer] = []
    proxies: list[FaultProxy] = []

    def start(
        failures: int,
        status: int = 400,
        error_type: str = "ThrottlingException",
        only_to: str | None = None,
        hang: bool = False,
    ) -> tuple[FaultProxy, str]:
        proxy = FaultProxy(
            stack.endpoints.aws_endpoint_url, failures, status, error_type, only_to, hang=hang
        )

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.should_fail(self.path, body):
                    if proxy.hang:
                        proxy.hanging.set()
                        proxy.release.wait(60)
                    payload = b'{"message": "injected fault"}'
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("x-amzn-ErrorType", proxy.error_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                reply = httpx.request(
                    self.command, proxy.upstream + self.path, headers=headers, content=body
                )
                self.send_response(reply.status_code)
                for key, value in reply.headers.items():
                    if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward  # noqa: N815

        proxies.append(proxy)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return proxy, f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for proxy in proxies:
        proxy.release.set()
    for server in servers:
        server.shutdown()
        server.server_close()


async def read_topic(stack: StackHandle, topic: str, count: int, within: float = 30.0) -> list[Any]:
    """The first `count` records of a topic (or more, if one poll brings them), read from the
    beginning without a group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.endpoints.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []

    async def read_enough() -> bool:
        batch = await consumer.getmany(timeout_ms=500)
        for part in batch.values():
            records.extend(part)
        return len(records) >= count

    try:
        await eventually(read_enough, within, f"{count} record(s) on {topic}", interval=0)
    finally:
        await consumer.stop()
    return records


def metric_value(metrics: str, sample: str) -> float:
    """The value of one sample (name and labels exactly as exposed) in a /metrics text;
    0 when the sample is not there yet (a labelled counter before its first increment)."""
    for line in metrics.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0
