"""Idempotency keys of customer changes over a real database (issue 14, item 9): the first
submit's change id for every repeat, exactly one publisher at a time, a crashed publisher's
lease taken over, the API edge."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from billing_view.app import create_app
from billing_view.changes.repository import ChangeKeyRepository
from billing_view.changes.service import ChangeKeyService
from billing_view.settings import Settings
from portal_localstack.testing import Isolation, StackHandle

pytestmark = pytest.mark.integration

TOKEN = "test-internal-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "/internal/v1/tenants/demo/bill-groups/bg_1/change-keys"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def database(
    stack: StackHandle, isolation: Isolation, mongo: AsyncMongoClient[dict[str, Any]]
) -> str:
    return isolation.database("billing-view")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(mongo: AsyncMongoClient[dict[str, Any]], database: str, clock: Clock) -> ChangeKeyService:
    return ChangeKeyService(ChangeKeyRepository(mongo[database]), clock)


async def test_a_repeat_gets_the_first_change_and_does_not_publish(
    keys: ChangeKeyService,
) -> None:
    first = await keys.claim("demo", "bg_1", "key-1", "fp-a", "chg_first")
    assert (first.change_id, first.publish) == ("chg_first", True)
    repeat = await keys.claim("demo", "bg_1", "key-1", "fp-a", "chg_second")
    assert (repeat.change_id, repeat.fingerprint, repeat.publish) == ("chg_first", "fp-a", False)
    other_body = await keys.claim("demo", "bg_1", "key-1", "fp-b", "chg_third")
    assert (other_body.change_id, other_body.fingerprint) == ("chg_first", "fp-a")
    assert other_body.publish is False
    # Keys are scoped: the same key of another bill group or tenant is a key of its own.
    assert (await keys.claim("demo", "bg_2", "key-1", "fp-a", "chg_bg2")).change_id == "chg_bg2"
    assert (await keys.claim("acme", "bg_1", "key-1", "fp-a", "chg_acme")).publish is True


async def test_concurrent_first_submits_publish_once(keys: ChangeKeyService) -> None:
    answers = await asyncio.gather(
        *(keys.claim("demo", "bg_1", "key-race", "fp", f"chg_{i}") for i in range(8))
    )
    assert len({a.change_id for a in answers}) == 1
    assert sum(a.publish for a in answers) == 1


async def test_a_crashed_publisher_is_taken_over_after_its_lease(
    keys: ChangeKeyService, clock: Clock
) -> None:
    assert (await keys.claim("demo", "bg_1", "key-crash", "fp", "chg_1")).publish
    # The first holder crashed between its claim and its publish: within the lease a repeat
    # waits for it, after the lease exactly one repeat publishes the recorded change.
    assert not (await keys.claim("demo", "bg_1", "key-crash", "fp", "chg_2")).publish
    clock.now += timedelta(seconds=31)
    repeats = await asyncio.gather(
        *(keys.claim("demo", "bg_1", "key-crash", "fp", f"chg_r{i}") for i in range(4))
    )
    assert [r.change_id for r in repeats] == ["chg_1"] * 4
    assert sum(r.publish for r in repeats) == 1
    # A different body never takes the key over.
    clock.now += timedelta(seconds=31)
    assert not (await keys.claim("demo", "bg_1", "key-crash", "other", "chg_x")).publish


async def test_published_keys_are_never_published_again_and_released_ones_at_once(
    keys: ChangeKeyService, clock: Clock
) -> None:
    assert (await keys.claim("demo", "bg_1", "key-done", "fp", "chg_1")).publish
    await keys.settle("demo", "bg_1", "key-done", published=True)
    clock.now += timedelta(days=1)
    done = await keys.claim("demo", "bg_1", "key-done", "fp", "chg_2")
    assert (done.change_id, done.published, done.publish) == ("chg_1", True, False)

    assert (await keys.claim("demo", "bg_1", "key-failed", "fp", "chg_3")).publish
    await keys.settle("demo", "bg_1", "key-failed", published=False)
    retry = await keys.claim("demo", "bg_1", "key-failed", "fp", "chg_4")
    assert (retry.change_id, retry.publish) == ("chg_3", True)


@pytest.fixture
async def client(stack: StackHandle, database: str) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = Settings(
        mongodb_uri=stack.endpoints.mongodb_uri,
        mongodb_database=database,
        internal_api_token=TOKEN,
    )
    async with AsyncTestClient(create_app(settings, consume=False)) as test_client:
        yield test_client


async def test_the_api_edge(client: AsyncTestClient[Any]) -> None:
    body = {"key": "k/1.$", "fingerprint": "fp", "change_id": "chg_api"}
    first = await client.post(BASE, json=body, headers=AUTH)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "change_id": "chg_api",
        "fingerprint": "fp",
        "published": False,
        "publish": True,
    }
    settled = await client.post(
        f"{BASE}/settled", json={"key": "k/1.$", "published": True}, headers=AUTH
    )
    assert settled.status_code == 204
    repeat = await client.post(BASE, json={**body, "change_id": "chg_other"}, headers=AUTH)
    assert repeat.json() == {**first.json(), "published": True, "publish": False}
    assert (await client.post(BASE, json=body)).status_code == 401
    too_long = await client.post(BASE, json={**body, "key": "k" * 129}, headers=AUTH)
    assert too_long.status_code == 400


async def test_keys_expire_after_a_day_by_a_ttl_index(
    client: AsyncTestClient[Any], mongo: AsyncMongoClient[dict[str, Any]], database: str
) -> None:
    """Started, the service declares the TTL index that bounds `change_keys` to a day of
    submits (mongo-java-server keeps the index but never expires: MongoDB does)."""
    indexes = await mongo[database]["change_keys"].index_information()
    ttl = [i for i in indexes.values() if "expireAfterSeconds" in i]
    assert [(i["key"], i["expireAfterSeconds"]) for i in ttl] == [([("created_at", 1)], 86400)]
