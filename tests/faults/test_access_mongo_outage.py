"""MongoDB goes away for 20 s while bill group states flow into access: nothing is
dead-lettered, every state is applied once MongoDB is back, and a contract that ended during
the outage ends the sessions of its bill group.

The test session's MongoDB is in memory (a stop would lose its data, and every other test's),
so this test runs a server of its own: the local stack's `MongoJavaServer` with a data file
(H2 MVStore), which keeps the data across the stop. Access runs in-process, on the shared
Kafka.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from portal_contracts.codec import decode
from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_kit.sealing import unseal
from portal_localstack.mongoserver import MongoJavaServer
from portal_localstack.ports import free_port
from portal_localstack.stack import stack_root
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import INTERNAL, Access, Feed, make_access, read_topic, settings_for
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_SECONDS = 20.0
# Operations fail within a second while the server is away (instead of pymongo's default
# 30 s of server selection), so the consumer meets the outage as errors, again and again.
FAIL_FAST = "?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"
GROUPS = ("bg_m1", "bg_m2", "bg_m3", "bg_m4")
ENDING = "bg_m_end"


@pytest.fixture
def mongo_server(stack: StackHandle, isolation: Isolation) -> Iterator[MongoJavaServer]:
    """A MongoDB server of this test's own that keeps its data on disk across a stop."""
    stack.require_local()
    base = stack_root(f"outage-{isolation.token}")
    server = MongoJavaServer(free_port(), base, persistent=True)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def feed(stack: StackHandle, isolation: Isolation, topics: list[str]) -> AsyncIterator[Feed]:
    producer = AIOKafkaProducer(bootstrap_servers=stack.endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    yield Feed(producer, isolation.topic_prefix + Topic.BILL_GROUPS)
    await producer.stop()


def held() -> float:
    """How often access's consumer has held a message back because a dependency was away."""
    value = REGISTRY.get_sample_value(
        "portal_consumer_held_total", {"group": ConsumerGroup.ACCESS.value}
    )
    return value or 0.0


async def sign_in(access: Access, stack: StackHandle, isolation: Isolation, key: str) -> str:
    """A customer session on the portal (link from the sign-in event, as the notifier would)."""
    pending = (await access.request_signin(key, "jane@customer.example")).json()["pending_id"]
    records = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_SIGNIN, at_least=1)
    event = next(e for e in map(decode, (r.value for r in records)) if e.aggregate_id == ENDING)
    assert event.payload.challenge_id == pending
    token = unseal(event.payload.sealed, access.settings.seal_keys).link.rsplit("/", 1)[1]
    verified = await access.client.post(
        "/internal/v1/signin/verify", json={"token": token}, headers=INTERNAL
    )
    assert verified.status_code == 200, verified.text
    return str(verified.json()["session_token"])


async def validate(access: Access, session_token: str) -> int:
    reply = await access.client.post(
        "/internal/v1/sessions/validate", json={"session_token": session_token}, headers=INTERNAL
    )
    return reply.status_code


async def applied_after_outage(access: Access, bill_group_id: str) -> bool:
    reply = await access.client.get(access.portal(bill_group_id), headers=access.admin)
    return reply.status_code == 200 and reply.json()["name"] == f"{bill_group_id} after the outage"


@pytest.fixture
async def access_on_own_mongo(
    stack: StackHandle, isolation: Isolation, topics: list[str], mongo_server: MongoJavaServer
) -> AsyncIterator[Access]:
    settings = settings_for(stack, isolation).model_copy(
        update={"mongodb_uri": mongo_server.uri + FAIL_FAST}
    )
    async for access in make_access(settings):
        yield access


async def test_states_wait_out_a_mongodb_outage_and_a_contract_end_ends_sessions(
    stack: StackHandle,
    isolation: Isolation,
    feed: Feed,
    mongo_server: MongoJavaServer,
    access_on_own_mongo: Access,
) -> None:
    access = access_on_own_mongo
    for bill_group_id in (*GROUPS, ENDING):
        await feed.bill_group(bill_group_id)
    key = await access.open_portal(ENDING, "customer.example")
    for bill_group_id in GROUPS:
        await access.wait_for_bill_group(bill_group_id)
    session = await sign_in(access, stack, isolation, key)
    assert await validate(access, session) == 200
    held_before = held()

    await asyncio.to_thread(mongo_server.stop)
    for bill_group_id in GROUPS:
        await feed.bill_group(bill_group_id, name=f"{bill_group_id} after the outage")
    await feed.bill_group(ENDING, status="inactive", name="contract ended")
    # The fault itself lasts a fixed time (not a synchronisation: nothing is awaited here).
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(mongo_server.start)
    await asyncio.to_thread(mongo_server.wait_ready)

    for bill_group_id in GROUPS:
        await eventually(
            functools.partial(applied_after_outage, access, bill_group_id),
            what=f"{bill_group_id}'s state from the outage",
        )
    ended = await access.wait_for_bill_group(ENDING, status="inactive")
    assert (ended["name"], ended["usable"]) == ("contract ended", False)
    assert await validate(access, session) == 401
    listed = await access.client.get(access.portal(ENDING) + "/sessions", headers=access.admin)
    assert listed.json()["items"] == []

    dead = await read_topic(stack, isolation.topic_prefix + dead_letter_topic(ConsumerGroup.ACCESS))
    assert dead == []
    # The consumer did meet the outage (and held its messages instead of parking them).
    assert held() > held_before
