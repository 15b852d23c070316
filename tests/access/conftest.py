"""Fixtures of the access tests: the app on the real stack, a bill group feed, topic readers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from litestar.testing import AsyncTestClient

from portal_access.api_keys.repository import ApiKeyRepository
from portal_access.api_keys.service import CallerService
from portal_access.app import create_app
from portal_access.db import Mongo, mongo_client
from portal_access.settings import Settings
from portal_contracts.billing import BillGroupState
from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType
from portal_contracts.topics import Topic
from portal_kit.observability import JsonFormatter
from portal_localstack.testing import Isolation, StackHandle
from tests.support.waiting import eventually

INTERNAL = {"Authorization": "Bearer dev-internal-token"}
TENANT = "demo"


# Rate-limit windows of a day in tests: fixed windows are aligned to the clock, and a test
# that straddled a window's end (the per-portal one is a minute) would see its counts reset.
DAY = 86_400


def settings_for(stack: StackHandle, isolation: Isolation, **overrides: Any) -> Settings:
    return Settings(
        kafka_bootstrap=stack.endpoints.kafka_bootstrap,
        mongodb_uri=stack.endpoints.mongodb_uri,
        topic_prefix=isolation.topic_prefix,
        mongodb_database=isolation.database("access"),
        relay_poll_seconds=0.2,
        **{
            "signin_window_email_seconds": DAY,
            "signin_window_ip_seconds": DAY,
            "signin_window_portal_seconds": DAY,
            **overrides,
        },
    )


class LogCapture(logging.Handler):
    """Every log line exactly as the service writes it (JSON), for secret greps."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("access"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Feed:
    """Publishes upstream bill group states, as the billing system would."""

    producer: AIOKafkaProducer
    topic: str
    # The newest version sent per (tenant, bill group): ids repeat across tenants.
    versions: dict[tuple[str, str], int] = field(default_factory=dict)

    async def bill_group(
        self,
        bill_group_id: str,
        status: str = "active",
        tenant: str = TENANT,
        version: int | None = None,
        **extra: Any,
    ) -> None:
        held = self.versions.get((tenant, bill_group_id), 0)
        if version is None:
            version = held + 1
        self.versions[(tenant, bill_group_id)] = max(version, held)
        raw = {
            **EXAMPLES[(EventType.BILL_GROUP_STATE, 1)],
            "bill_group_id": bill_group_id,
            "contract_status": status,
            **extra,
        }
        event = make_event(
            BillGroupState.model_validate(raw),
            tenant_id=tenant,
            aggregate_id=bill_group_id,
            aggregate_version=version,
        )
        await self.producer.send_and_wait(
            self.topic,
            encode(event),
            key=bill_group_id.encode(),
            headers=[(k, v.encode()) for k, v in headers_for(event).items()],
        )


@pytest.fixture
async def feed(stack: StackHandle, isolation: Isolation, topics: list[str]) -> AsyncIterator[Feed]:
    producer = AIOKafkaProducer(bootstrap_servers=stack.endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    yield Feed(producer, isolation.topic_prefix + Topic.BILL_GROUPS)
    await producer.stop()


@dataclass
class Access:
    client: AsyncTestClient[Any]
    settings: Settings
    logs: LogCapture
    api_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def portal(self, bill_group_id: str) -> str:
        return f"/api/admin/v1/bill-groups/{bill_group_id}/portal"

    async def wait_for_bill_group(
        self, bill_group_id: str, status: str | None = None
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def known() -> bool:
            reply = await self.client.get(self.portal(bill_group_id), headers=self.admin)
            if reply.status_code != 200:
                return False
            seen.update(reply.json())
            return status is None or seen["contract_status"] == status

        await eventually(known)
        return seen

    async def open_portal(self, bill_group_id: str, domain: str = "customer.example") -> str:
        """Enabled portal with a domain rule; returns the portal key."""
        await self.wait_for_bill_group(bill_group_id)
        reply = await self.client.put(
            self.portal(bill_group_id), json={"enabled": True}, headers=self.admin
        )
        assert reply.status_code == 200, reply.text
        reply = await self.client.post(
            self.portal(bill_group_id) + "/rules",
            json={"kind": "domain", "value": domain},
            headers=self.admin,
        )
        assert reply.status_code == 201, reply.text
        view = await self.client.get(self.portal(bill_group_id), headers=self.admin)
        return self.portal_key(view.json())

    @staticmethod
    def portal_key(view: dict[str, Any]) -> str:
        return str(view["portal_url"]).rsplit("/", 1)[1]

    async def request_signin(self, portal_key: str, email: str, ip: str = "203.0.113.7") -> Any:
        return await self.client.post(
            "/internal/v1/signin/request",
            json={"portal_key": portal_key, "email": email, "client_ip": ip},
            headers=INTERNAL,
        )


async def create_api_key(settings: Settings, tenant: str = TENANT, name: str = "ci") -> str:
    """A new admin API key, made the way `portal-access api-key create` makes it."""
    client = mongo_client(settings)
    try:
        keys = ApiKeyRepository(Mongo(client, settings.mongodb_database))
        _, key = await CallerService(keys, settings.internal_api_token).create_key(tenant, name)
    finally:
        await client.close()
    return key


async def make_access(settings: Settings) -> AsyncIterator[Access]:
    app = create_app(settings)
    capture = LogCapture()
    logging.getLogger().addHandler(capture)
    key = await create_api_key(settings)
    try:
        async with AsyncTestClient(app=app, timeout=30) as http:
            yield Access(http, settings, capture, key)
    finally:
        logging.getLogger().removeHandler(capture)


@pytest.fixture
async def access(
    stack: StackHandle, isolation: Isolation, topics: list[str]
) -> AsyncIterator[Access]:
    async for handle in make_access(settings_for(stack, isolation)):
        yield handle


async def read_topic(
    stack: StackHandle, topic: str, at_least: int = 0, within: float = 30.0
) -> list[Any]:
    """Every record of a topic from the start: at least `at_least`, read until caught up."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.endpoints.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []

    async def caught_up() -> bool:
        batch = await consumer.getmany(timeout_ms=300)
        for part in batch.values():
            records.extend(part)
        return len(records) >= at_least and not batch

    try:
        await eventually(caught_up, within=within, what=f"{at_least} records on {topic}")
    finally:
        await consumer.stop()
    return records
