"""Races on the real server (the local stack's MongoDB), with two replicas of the service on
one database: single use, code attempts, rate limits and admin changes stay exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from portal_access.db import Mongo
from portal_access.signin.domain import Bucket
from portal_access.signin.repository import RateLimitRepository
from portal_contracts.codec import decode
from portal_contracts.envelope import utc_now
from portal_contracts.topics import Topic
from portal_kit.sealing import unseal
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import INTERNAL, Access, Feed, make_access, read_topic, settings_for

pytestmark = pytest.mark.integration

RACERS = 20


@pytest.fixture
async def replicas(
    stack: StackHandle, isolation: Isolation, topics: list[str]
) -> AsyncIterator[tuple[Access, Access]]:
    """Two app instances on the same database and topics, as two pods would be."""
    settings = settings_for(stack, isolation, signin_limit_per_email=5)
    async for first in make_access(settings):
        async for second in make_access(settings):
            yield first, second


def spread(replicas: tuple[Access, Access], i: int) -> Access:
    return replicas[i % 2]


async def signin_secret(stack: StackHandle, isolation: Isolation, pending_id: str) -> Any:
    records = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_SIGNIN, at_least=1)
    event = next(
        e
        for e in map(decode, (r.value for r in records))
        if e.type == "signin.requested" and e.payload.challenge_id == pending_id
    )
    return event.payload.sealed


async def test_one_link_verified_by_twenty_racers_on_two_replicas_opens_one_session(
    stack: StackHandle,
    isolation: Isolation,
    feed: Feed,
    replicas: tuple[Access, Access],
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    first, _ = replicas
    await feed.bill_group("bg_race")
    key = await first.open_portal("bg_race")
    pending = (await first.request_signin(key, "jane@customer.example")).json()["pending_id"]
    sealed = await signin_secret(stack, isolation, pending)
    secret = unseal(sealed, first.settings.seal_keys)
    token = secret.link.rsplit("/", 1)[1]

    replies = await asyncio.gather(
        *(
            spread(replicas, i).client.post(
                "/internal/v1/signin/verify", json={"token": token}, headers=INTERNAL
            )
            for i in range(RACERS)
        )
    )
    assert sorted(r.status_code for r in replies) == [200] + [410] * (RACERS - 1)
    sessions = mongo[first.settings.mongodb_database]["sessions"]
    assert await sessions.count_documents({"bill_group_id": "bg_race"}) == 1
    # The code of the same (now used) challenge opens nothing either.
    code = await first.client.post(
        "/internal/v1/signin/verify",
        json={"pending_id": pending, "code": secret.code},
        headers=INTERNAL,
    )
    assert code.status_code == 410


async def test_code_attempts_are_exact_under_a_race(
    feed: Feed, replicas: tuple[Access, Access]
) -> None:
    first, _ = replicas
    await feed.bill_group("bg_codes")
    key = await first.open_portal("bg_codes")
    pending = (await first.request_signin(key, "jane@customer.example")).json()["pending_id"]
    replies = await asyncio.gather(
        *(
            spread(replicas, i).client.post(
                "/internal/v1/signin/verify",
                json={"pending_id": pending, "code": "ACDEFGHJKM"},
                headers=INTERNAL,
            )
            for i in range(RACERS)
        )
    )
    # Exactly five tries are taken (wrong code), every other racer is refused.
    assert sorted(r.status_code for r in replies) == [400] * 5 + [429] * (RACERS - 5)


async def test_rate_limit_refuses_exactly_the_excess_across_replicas(
    feed: Feed, replicas: tuple[Access, Access]
) -> None:
    first, _ = replicas
    await feed.bill_group("bg_limit")
    key = await first.open_portal("bg_limit")
    replies = await asyncio.gather(
        *(
            spread(replicas, i).request_signin(key, "jane@customer.example", f"198.51.100.{i}")
            for i in range(RACERS)
        )
    )
    # The per-address limit is 5 per window, counted by every replica in one document.
    assert sorted(r.status_code for r in replies) == [202] * 5 + [429] * (RACERS - 5)


async def test_fifty_concurrent_hits_are_counted_exactly(
    stack: StackHandle, isolation: Isolation, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    database = isolation.database("access")
    limits = RateLimitRepository(Mongo(mongo, database))
    await limits.ensure_indexes()
    resets_at = utc_now() + timedelta(minutes=1)
    roomy = Bucket("ip", "", "203.0.113.1", 1, resets_at, limit=100)
    tight = Bucket("ip", "", "203.0.113.2", 1, resets_at, limit=20)

    roomy_hits = await asyncio.gather(*(limits.hit(roomy) for _ in range(50)))
    tight_hits = await asyncio.gather(*(limits.hit(tight) for _ in range(50)))

    assert roomy_hits == [True] * 50
    assert sorted(tight_hits) == [False] * 30 + [True] * 20
    stored = {
        doc["_id"]["k"]: (doc["n"], doc.get("refused", 0))
        for doc in await mongo[database]["rate_limits"].find().to_list()
    }
    assert stored == {"203.0.113.1": (50, 0), "203.0.113.2": (20, 30)}


async def test_admin_changes_racing_on_two_replicas_lose_nothing(
    feed: Feed, replicas: tuple[Access, Access]
) -> None:
    first, _ = replicas
    await feed.bill_group("bg_rules")
    await first.wait_for_bill_group("bg_rules")
    base = first.portal("bg_rules")
    replies = await asyncio.gather(
        *(
            spread(replicas, i).client.post(
                base + "/rules",
                json={"kind": "email", "value": f"p{i}@customer{i}.example"},
                headers=first.admin,
            )
            for i in range(8)
        )
    )
    # Each change either lands whole or is refused as a conflict to retry; none is lost.
    assert {r.status_code for r in replies} <= {201, 409}
    added = {r.json()["id"] for r in replies if r.status_code == 201}
    assert added
    view = (await first.client.get(base, headers=first.admin)).json()
    assert {rule["id"] for rule in view["rules"]} == added
