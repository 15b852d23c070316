"""Every MongoDB command on a customer's path looks documents up by `_id`: the command stream
of the real client is captured while a customer opens a portal link, asks for sign-in (allowed
and not), verifies (code and link), opens a preview and uses and ends a session; any other
filter would scan on the local stand-in and grow with the number of tenants in production."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

import portal_access.app
from portal_access.db import Doc
from portal_access.settings import Settings
from portal_contracts.sealing import SignInSecret
from portal_kit.sealing import unseal
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import INTERNAL, Access, Feed, make_access, settings_for

pytestmark = pytest.mark.integration

FILTERED = {"find": "filter", "findAndModify": "query", "count": "query", "aggregate": None}


class Filters(CommandListener):
    """The filters of every find, update, delete and findAndModify the service sends."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self.on = False

    def started(self, event: CommandStartedEvent) -> None:
        if not self.on:
            return
        name, command = event.command_name, event.command
        collection = str(command.get(name, ""))
        if name in FILTERED:
            field = FILTERED[name]
            self.seen.append((name, collection, command.get(field) if field else "pipeline"))
        elif name == "update":
            self.seen.extend((name, collection, u["q"]) for u in command["updates"])
        elif name == "delete":
            self.seen.extend((name, collection, d["q"]) for d in command["deletes"])

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def by_id(query: Any) -> bool:
    """An equality on `_id` (a value or an embedded key, never an operator)."""
    if not isinstance(query, dict) or "_id" not in query:
        return False
    key = query["_id"]
    return not (isinstance(key, dict) and any(str(k).startswith("$") for k in key))


@pytest.fixture
async def watched(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Access, Filters]]:
    filters = Filters()

    def client(settings: Settings, *, connect: bool = True) -> AsyncMongoClient[Doc]:
        return AsyncMongoClient(
            settings.mongodb_uri, tz_aware=True, connect=connect, event_listeners=[filters]
        )

    monkeypatch.setattr(portal_access.app, "mongo_client", client)
    # No relay: its sweep is a background pass, not a customer's request.
    settings = settings_for(stack, isolation, relay_enabled=False)
    async for access in make_access(settings):
        yield access, filters


async def owed_secret(
    mongo: AsyncMongoClient[dict[str, Any]], access: Access, pending_id: str
) -> SignInSecret:
    """The link and code a notifier would send (read from the owed event: no relay here)."""
    challenges = mongo[access.settings.mongodb_database]["challenges"]
    doc = await challenges.find_one({"challenge_id": pending_id})
    assert doc is not None
    body = json.loads(doc["outbox"][0]["body"])
    return unseal(body["payload"]["sealed"], access.settings.seal_keys)


async def test_the_customer_path_reads_by_id_only(
    feed: Feed,
    watched: tuple[Access, Filters],
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    access, filters = watched
    await feed.bill_group("bg_hot")
    key = await access.open_portal("bg_hot")
    staff = {**INTERNAL, "X-Tenant-Id": "demo", "X-Actor": "ops@platform.example"}
    preview = await access.client.post(access.portal("bg_hot") + "/preview", headers=staff)
    preview_token = preview.json()["preview_url"].rsplit("/", 1)[1]

    filters.on = True
    post = access.client.post
    assert (await access.client.get(f"/internal/v1/portals/{key}", headers=INTERNAL)).is_success
    jane = (await access.request_signin(key, "jane@customer.example")).json()["pending_id"]
    bob = (await access.request_signin(key, "bob@customer.example")).json()["pending_id"]
    decoy = (await access.request_signin(key, "eve@elsewhere.example")).json()["pending_id"]
    filters.on = False
    jane_secret = await owed_secret(mongo, access, jane)
    bob_secret = await owed_secret(mongo, access, bob)
    filters.on = True
    wrong = {"pending_id": decoy, "code": "ACDEFGHJKM"}
    assert (await post("/internal/v1/signin/verify", json=wrong, headers=INTERNAL)).status_code
    token = jane_secret.link.rsplit("/", 1)[1]
    link = await post("/internal/v1/signin/verify", json={"token": token}, headers=INTERNAL)
    code = {"pending_id": bob, "code": bob_secret.code}
    by_code = await post("/internal/v1/signin/verify", json=code, headers=INTERNAL)
    assert (link.status_code, by_code.status_code) == (200, 200)
    session = {"session_token": link.json()["session_token"]}
    assert (await post("/internal/v1/sessions/validate", json=session, headers=INTERNAL)).is_success
    assert (await post("/internal/v1/sessions/signout", json=session, headers=INTERNAL)).is_success
    redeem = {"preview_token": preview_token}
    assert (await post("/internal/v1/preview/redeem", json=redeem, headers=INTERNAL)).is_success
    filters.on = False

    collections = {collection for _, collection, _ in filters.seen}
    assert {"portals", "portal_keys", "challenges", "challenge_ids", "sessions"} <= collections
    assert {"rate_limits"} <= collections
    assert [seen for seen in filters.seen if not by_id(seen[2])] == []
    # A condition beside `_id` goes as findAndModify: the stand-in's `update` would scan.
    assert [seen for seen in filters.seen if seen[0] == "update" and set(seen[2]) != {"_id"}] == []
