"""Sign-in, sessions and preview on real Kafka + MongoDB, with the no-plaintext-secret proof."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from portal_contracts.codec import decode
from portal_contracts.envelope import utc_now
from portal_contracts.topics import Topic
from portal_kit.sealing import unseal
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import INTERNAL, Access, Feed, make_access, read_topic, settings_for

pytestmark = pytest.mark.integration


async def _signin_events(stack: StackHandle, isolation: Isolation, at_least: int) -> list[Any]:
    records = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_SIGNIN, at_least)
    return [decode(r.value) for r in records]


async def _verify(access: Access, **body: str) -> Any:
    return await access.client.post("/internal/v1/signin/verify", json=body, headers=INTERNAL)


async def _validate(access: Access, token: str) -> Any:
    return await access.client.post(
        "/internal/v1/sessions/validate", json={"session_token": token}, headers=INTERNAL
    )


async def _everything_stored(mongo: AsyncMongoClient[dict[str, Any]], database: str) -> str:
    db = mongo[database]
    dump: list[str] = []
    for name in await db.list_collection_names():
        dump.extend(repr(d) for d in await db[name].find().to_list())
    return "\n".join(dump)


async def test_signin_sessions_and_no_plaintext_secret_anywhere(
    stack: StackHandle,
    isolation: Isolation,
    feed: Feed,
    access: Access,
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    await feed.bill_group("bg_open")
    await feed.bill_group("bg_ended")
    key = await access.open_portal("bg_open", "customer.example")
    ended_key = await access.open_portal("bg_ended", "customer.example")
    await feed.bill_group("bg_ended", status="inactive")
    await access.wait_for_bill_group("bg_ended", status="inactive")

    # Allowed, not allowed, inactive contract: the caller cannot tell them apart.
    allowed = await access.request_signin(key, " Jane@Customer.example ")
    denied = await access.request_signin(key, "jane@evilcustomer.example")
    inactive = await access.request_signin(ended_key, "jane@customer.example")
    for reply in (allowed, denied, inactive):
        assert reply.status_code == 202
        assert set(reply.json()) == {"pending_id", "expires_at"}
    second = await access.request_signin(key, "bob@customer.example")
    assert second.status_code == 202

    events = await _signin_events(stack, isolation, at_least=2)
    requested = {e.payload.challenge_id: e for e in events if e.type == "signin.requested"}
    assert set(requested) == {allowed.json()["pending_id"], second.json()["pending_id"]}
    jane = requested[allowed.json()["pending_id"]]
    assert jane.payload.email == "jane@customer.example"
    assert jane.aggregate_id == "bg_open"
    secret = unseal(jane.payload.sealed, access.settings.seal_keys)
    bob_secret = unseal(
        requested[second.json()["pending_id"]].payload.sealed, access.settings.seal_keys
    )
    assert secret.link.startswith(f"http://127.0.0.1:8000/p/{key}/verify/")
    token = secret.link.rsplit("/", 1)[1]
    assert len(token) >= 43
    assert len(secret.code) >= 8

    # The token works once, even for two verifies racing each other.
    first, again = await asyncio.gather(_verify(access, token=token), _verify(access, token=token))
    statuses = sorted([first.status_code, again.status_code])
    assert statuses == [200, 410]
    session = (first if first.status_code == 200 else again).json()
    assert session["email"] == "jane@customer.example"
    assert session["read_only"] is False
    assert (await _verify(access, token=token)).status_code == 410
    assert (await _verify(access, token="x" * 43)).json()["error"] == "expired_or_used"

    # The code: wrong tries are counted, the right one works once.
    bob_pending = second.json()["pending_id"]
    wrong = await _verify(access, pending_id=bob_pending, code="AAAAAAAAAA")
    assert wrong.status_code == 400
    assert wrong.json()["attempts_left"] == 4
    typed = secret_code = bob_secret.code.lower()
    results = await asyncio.gather(
        *(_verify(access, pending_id=bob_pending, code=typed) for _ in range(3))
    )
    assert sorted(r.status_code for r in results) == [200, 410, 410]
    bob_session = next(r for r in results if r.status_code == 200).json()
    assert secret_code

    # A decoy behaves like a real challenge: wrong codes until the tries run out.
    decoy = denied.json()["pending_id"]
    for left in (4, 3, 2, 1, 0):
        reply = await _verify(access, pending_id=decoy, code="ACDEFGHJKM")
        assert (reply.status_code, reply.json()["attempts_left"]) == (400, left)
    assert (await _verify(access, pending_id=decoy, code="ACDEFGHJKM")).status_code == 429

    # Expired challenge (its expiry moved into the past in the database).
    expiring = await access.request_signin(key, "late@customer.example")
    challenges = mongo[access.settings.mongodb_database]["challenges"]
    late_id = expiring.json()["pending_id"]

    await challenges.update_one(
        {"challenge_id": late_id}, {"$set": {"expires_at": utc_now() - timedelta(seconds=1)}}
    )
    events = await _signin_events(stack, isolation, at_least=5)
    late = next(e for e in events if e.payload.challenge_id == expiring.json()["pending_id"])
    late_token = unseal(late.payload.sealed, access.settings.seal_keys).link.rsplit("/", 1)[1]
    assert (await _verify(access, token=late_token)).status_code == 410

    # Sessions validate, list, and end with the rule that allowed them.
    valid = await _validate(access, session["session_token"])
    assert valid.status_code == 200, valid.text
    assert valid.json()["bill_group_id"] == "bg_open"
    listed = await access.client.get(access.portal("bg_open") + "/sessions", headers=access.admin)
    assert {s["email"] for s in listed.json()["items"]} == {
        "jane@customer.example",
        "bob@customer.example",
    }
    email_rule = await access.client.post(
        access.portal("bg_open") + "/rules",
        json={"kind": "email", "value": "solo@elsewhere.example"},
        headers=access.admin,
    )
    solo = await access.request_signin(key, "solo@elsewhere.example")
    events = await _signin_events(stack, isolation, at_least=6)
    solo_event = next(e for e in events if e.payload.challenge_id == solo.json()["pending_id"])
    solo_code = unseal(solo_event.payload.sealed, access.settings.seal_keys).code
    solo_session = (
        await _verify(access, pending_id=solo.json()["pending_id"], code=solo_code)
    ).json()

    view = (await access.client.get(access.portal("bg_open"), headers=access.admin)).json()
    domain_rule = next(r for r in view["rules"] if r["kind"] == "domain")
    removed = await access.client.delete(
        f"{access.portal('bg_open')}/rules/{domain_rule['id']}", headers=access.admin
    )
    assert removed.status_code == 204
    assert (await _validate(access, session["session_token"])).json()["error"] == "revoked"
    assert (await _validate(access, bob_session["session_token"])).status_code == 401
    assert (await _validate(access, solo_session["session_token"])).status_code == 200
    assert email_rule.status_code == 201

    # The contract ends: sign-in is refused (silently) and sessions end.
    await feed.bill_group("bg_open", status="inactive")
    await access.wait_for_bill_group("bg_open", status="inactive")
    assert (await _validate(access, solo_session["session_token"])).status_code == 401
    status = await access.client.get(f"/internal/v1/portals/{key}", headers=INTERNAL)
    assert status.json()["reason"] == "contract_inactive"
    refused = await access.request_signin(key, "solo@elsewhere.example")
    assert refused.status_code == 202

    # Sign out ends a session; unknown tokens are told apart from revoked ones.
    assert (await _validate(access, "nope")).json()["error"] == "unknown"

    completed = [
        e for e in await _signin_events(stack, isolation, 7) if e.type == "signin.completed"
    ]
    assert {(e.payload.email, e.payload.method) for e in completed} == {
        ("jane@customer.example", "link"),
        ("bob@customer.example", "code"),
        ("solo@elsewhere.example", "code"),
    }
    assert not any(e.payload.challenge_id == refused.json()["pending_id"] for e in events)

    # The proof: no plaintext token, code or session token in logs, Kafka or MongoDB.
    secrets = [token, late_token, secret.code, bob_secret.code, solo_code]
    secrets += [
        session["session_token"],
        bob_session["session_token"],
        solo_session["session_token"],
    ]
    logs = "\n".join(access.logs.lines)
    assert "sign-in requested" in logs
    kafka: list[str] = []
    for topic in await read_topic_names(stack, isolation):
        kafka.extend(
            (r.value or b"").decode() + repr(r.headers) for r in await read_topic(stack, topic)
        )
    wire = "\n".join(kafka)
    assert "signin.requested" in wire
    stored = await _everything_stored(mongo, access.settings.mongodb_database)
    for value in secrets:
        assert value not in logs
        assert value not in wire
        assert value not in stored
        assert value.lower() not in stored.lower()


async def read_topic_names(stack: StackHandle, isolation: Isolation) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.endpoints.kafka_bootstrap)
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    return [n for n in names if n.startswith(isolation.topic_prefix)]


async def test_rate_limits_per_email_ip_and_portal(
    stack: StackHandle, isolation: Isolation, feed: Feed, topics: list[str]
) -> None:
    settings = settings_for(
        stack,
        isolation,
        signin_limit_per_email=2,
        signin_limit_per_ip=4,
        signin_limit_per_portal=6,
    )
    async for access in make_access(settings):
        await feed.bill_group("bg_rl")
        key = await access.open_portal("bg_rl")
        for _ in range(2):
            assert (
                await access.request_signin(key, "a@customer.example", "198.51.100.1")
            ).status_code == 202
        limited = await access.request_signin(key, "A@customer.example ", "198.51.100.2")
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) == limited.json()["retry_after_seconds"] >= 1
        # Per IP: other addresses, same client.
        for i in range(2):
            reply = await access.request_signin(key, f"b{i}@customer.example", "198.51.100.1")
            assert reply.status_code == 202
        assert (
            await access.request_signin(key, "c@customer.example", "198.51.100.1")
        ).status_code == 429
        # Per portal: new addresses, new clients, but this portal is done for the window.
        assert (
            await access.request_signin(key, "d@customer.example", "198.51.100.9")
        ).status_code == 429


async def test_preview_and_staff_session_control(
    stack: StackHandle, isolation: Isolation, feed: Feed, access: Access
) -> None:
    await feed.bill_group("bg_prev")
    await access.open_portal("bg_prev")
    base = access.portal("bg_prev")
    staff = {**INTERNAL, "X-Tenant-Id": "demo", "X-Actor": "ops@platform.example"}
    created = await access.client.post(base + "/preview", headers=staff)
    assert created.status_code == 201
    url = created.json()["preview_url"]
    assert "/preview/" in url
    preview_token = url.rsplit("/", 1)[1]
    redeem = {"preview_token": preview_token}
    first, second = await asyncio.gather(
        access.client.post("/internal/v1/preview/redeem", json=redeem, headers=INTERNAL),
        access.client.post("/internal/v1/preview/redeem", json=redeem, headers=INTERNAL),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 410]
    session = (first if first.status_code == 200 else second).json()
    assert session["read_only"] is True
    assert session["email"] == "preview:ops@platform.example"

    listed = (await access.client.get(base + "/sessions", headers=access.admin)).json()["items"]
    assert [(s["session_id"], s["read_only"]) for s in listed] == [(session["session_id"], True)]
    one = await access.client.delete(
        f"{base}/sessions/{session['session_id']}", headers=access.admin
    )
    assert one.json() == {"revoked": 1}
    assert (await _validate(access, session["session_token"])).json()["error"] == "revoked"
    assert (await access.client.delete(base + "/sessions", headers=access.admin)).json() == {
        "revoked": 0
    }

    audit = (await access.client.get(base + "/audit", headers=access.admin)).json()["items"]
    actions = [(a["action"], a["actor"]) for a in audit]
    assert ("preview.created", "ops@platform.example") in actions
    assert ("preview.opened", "ops@platform.example") in actions
    assert ("sessions.revoked", "api-key:ci") in actions

    # Access that ends between request and verify: the link no longer opens a session.
    key = access.portal_key((await access.client.get(base, headers=access.admin)).json())
    pending = (await access.request_signin(key, "late@customer.example")).json()["pending_id"]
    events = await _signin_events(stack, isolation, at_least=1)
    sealed = next(e for e in events if e.payload.challenge_id == pending).payload.sealed
    token = unseal(sealed, access.settings.seal_keys).link.rsplit("/", 1)[1]
    off = await access.client.put(base, json={"enabled": False}, headers=access.admin)
    assert off.json()["reason"] == "portal_disabled"
    ended = await _verify(access, token=token)
    assert (ended.status_code, ended.json()["error"]) == (410, "access_ended")
    listed = (await access.client.get(base + "/sessions", headers=access.admin)).json()["items"]
    assert listed == []

    # Internal endpoints refuse anything but the internal token.
    refused = await access.client.post(
        "/internal/v1/preview/redeem", json=redeem, headers=access.admin
    )
    assert refused.status_code == 401
