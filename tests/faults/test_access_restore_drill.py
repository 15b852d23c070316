"""The access database's restore drill (issue 14 item 10): what Kafka cannot give back — the
portal, its rules, an API key, a staff-link secret, a signed-in session, the audit — is dumped
with `portal-access backup`, the database is dropped (the portal stops working), and
`portal-access restore` brings it all back: the same session token is still signed in, the
same API key still works, the audit is kept, every document and index is as it was.

Access runs in-process on the session's stack; the two commands run as the operator runs them
(the `portal-access` script, configured by environment). Run the drill alone with
`.cache/tools/bin/uv run --no-sync pytest tests/faults/test_access_restore_drill.py -q`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from portal_access.outbox.models import OUTBOX_COLLECTIONS
from portal_contracts.codec import decode
from portal_contracts.topics import Topic
from portal_kit.sealing import unseal
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import INTERNAL, Access, Feed, make_access, read_topic, settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

BILL_GROUP = "bg_drill"
EMAIL = "jane@customer.example"
RAW: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)
Database = dict[str, list[bytes]]


@pytest.fixture
async def access(
    stack: StackHandle, isolation: Isolation, topics: list[str]
) -> AsyncIterator[Access]:
    async for handle in make_access(settings_for(stack, isolation)):
        yield handle


@pytest.fixture
async def feed(stack: StackHandle, isolation: Isolation, topics: list[str]) -> AsyncIterator[Feed]:
    producer = AIOKafkaProducer(bootstrap_servers=stack.endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    yield Feed(producer, isolation.topic_prefix + Topic.BILL_GROUPS)
    await producer.stop()


async def portal_access(access: Access, *args: str) -> subprocess.CompletedProcess[str]:
    """`portal-access <args>` as an operator runs it, against the test's database."""
    env = {
        "MONGODB_URI": access.settings.mongodb_uri,
        "MONGODB_DATABASE": access.settings.mongodb_database,
        "KAFKA_BOOTSTRAP": access.settings.kafka_bootstrap,
        "PATH": str(Path(sys.executable).parent),
    }
    script = str(Path(sys.executable).parent / "portal-access")
    return await asyncio.to_thread(
        subprocess.run, [script, *args], env=env, capture_output=True, text=True, timeout=120
    )


async def sign_in(access: Access, stack: StackHandle, isolation: Isolation, key: str) -> str:
    """A customer session on the portal (link from the sign-in event, as the notifier would)."""
    pending = (await access.request_signin(key, EMAIL)).json()["pending_id"]
    records = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_SIGNIN, at_least=1)
    [event] = [e for e in map(decode, (r.value for r in records)) if e.aggregate_id == BILL_GROUP]
    assert event.payload.challenge_id == pending
    token = unseal(event.payload.sealed, access.settings.seal_keys).link.rsplit("/", 1)[1]
    verified = await access.client.post(
        "/internal/v1/signin/verify", json={"token": token}, headers=INTERNAL
    )
    assert verified.status_code == 200, verified.text
    return str(verified.json()["session_token"])


async def working(access: Access, key: str, session: str) -> dict[str, int]:
    """What a customer and an admin meet: the link, the session, the admin API (its key)."""
    link = await access.client.get(f"/internal/v1/portals/{key}", headers=INTERNAL)
    signed_in = await access.client.post(
        "/internal/v1/sessions/validate", json={"session_token": session}, headers=INTERNAL
    )
    admin = await access.client.get(access.portal(BILL_GROUP), headers=access.admin)
    return {"link": link.status_code, "session": signed_in.status_code, "admin": admin.status_code}


async def audit(access: Access) -> list[dict[str, Any]]:
    reply = await access.client.get(access.portal(BILL_GROUP) + "/audit", headers=access.admin)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def contents(mongo: AsyncMongoClient[dict[str, Any]], name: str) -> Database:
    """Every collection's documents as raw BSON (order aside): equal means byte for byte."""
    database = mongo[name]
    found: Database = {}
    for collection in sorted(await database.list_collection_names()):
        raw = cast(
            "AsyncCollection[RawBSONDocument]",
            database.get_collection(collection, codec_options=RAW),
        )
        found[collection] = sorted([bytes(d.raw) async for d in raw.find({})])
    return found


async def indexes(mongo: AsyncMongoClient[dict[str, Any]], name: str) -> dict[str, Any]:
    database = mongo[name]
    return {
        collection: sorted(
            [
                (
                    spec["name"],
                    spec["key"].items(),
                    spec.get("unique"),
                    spec.get("expireAfterSeconds"),
                )
                async for spec in await database[collection].list_indexes()
            ]
        )
        for collection in await database.list_collection_names()
    }


async def test_dump_wipe_restore_brings_back_portal_session_key_and_audit(
    stack: StackHandle,
    isolation: Isolation,
    feed: Feed,
    access: Access,
    mongo: AsyncMongoClient[dict[str, Any]],
    tmp_path: Path,
) -> None:
    await feed.bill_group(BILL_GROUP)
    key = await access.open_portal(BILL_GROUP, "customer.example")
    session = await sign_in(access, stack, isolation, key)
    secret = await portal_access(access, "staff-secret", "create", "--tenant", "demo")
    assert secret.returncode == 0, secret.stderr
    assert await working(access, key, session) == {"link": 200, "session": 200, "admin": 200}
    logged = await audit(access)
    assert {item["action"] for item in logged} >= {"portal.enabled", "rule.added"}
    name = access.settings.mongodb_database

    async def events_sent() -> bool:
        owed = mongo[name]
        for collection in OUTBOX_COLLECTIONS:
            if await owed[collection].find_one({"has_outbox": True}, {"_id": 1}) is not None:
                return False
        return True

    # The relay empties the embedded outboxes; the comparison below needs them settled.
    await eventually(events_sent, what="every owed event published")
    before, before_indexes = await contents(mongo, name), await indexes(mongo, name)
    assert {"sessions", "api_keys", "audit", "staff_link_secrets"} <= set(before)

    dumped = await portal_access(access, "backup", "--out", str(tmp_path))
    assert dumped.returncode == 0, dumped.stderr
    assert (tmp_path / name / "sessions.bson").exists()
    assert (tmp_path / name / "sessions.metadata.json").exists()

    await mongo.drop_database(name)
    assert await working(access, key, session) == {"link": 404, "session": 401, "admin": 401}

    restored = await portal_access(access, "restore", "--from", str(tmp_path))
    assert restored.returncode == 0, restored.stderr
    assert await contents(mongo, name) == before
    assert await indexes(mongo, name) == before_indexes
    assert await working(access, key, session) == {"link": 200, "session": 200, "admin": 200}
    assert await audit(access) == logged

    # A second restore would overwrite live data: refused unless asked for with --drop.
    refused = await portal_access(access, "restore", "--from", str(tmp_path))
    assert refused.returncode == 1
    assert "--drop" in refused.stderr
    replaced = await portal_access(access, "restore", "--from", str(tmp_path), "--drop")
    assert replaced.returncode == 0, replaced.stderr
    assert await working(access, key, session) == {"link": 200, "session": 200, "admin": 200}
