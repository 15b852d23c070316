"""Idempotency keys of the admin API on real MongoDB (issue 14, item 9): every mutating admin
call with `Idempotency-Key` runs once per tenant and key; repeats replay the first answer."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.access.conftest import INTERNAL, Access, Feed
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def keyed(access: Access, key: str | None = None) -> dict[str, str]:
    return {**access.admin, "Idempotency-Key": key or str(uuid.uuid4())}


async def test_a_repeated_rule_grant_adds_one_rule_and_replays_the_answer(
    feed: Feed, access: Access
) -> None:
    await feed.bill_group("bg_idem")
    await access.wait_for_bill_group("bg_idem")
    base = access.portal("bg_idem")
    headers = keyed(access)
    body = {"kind": "email", "value": "jane@idem.example"}
    first = await access.client.post(base + "/rules", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await access.client.post(base + "/rules", json=body, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    rules = (await access.client.get(base, headers=access.admin)).json()["rules"]
    assert [r["id"] for r in rules] == [first.json()["id"]]
    # Without a key the same grant is a second request (here: refused as a duplicate).
    plain = await access.client.post(base + "/rules", json=body, headers=access.admin)
    assert plain.status_code == 409
    # The same key with another request is refused and changes nothing.
    other = await access.client.post(
        base + "/rules", json={"kind": "email", "value": "joe@idem.example"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"
    rules = (await access.client.get(base, headers=access.admin)).json()["rules"]
    assert len(rules) == 1


async def test_every_mutating_admin_call_honours_the_key(feed: Feed, access: Access) -> None:
    await feed.bill_group("bg_idem2")
    await access.wait_for_bill_group("bg_idem2")
    base = access.portal("bg_idem2")
    calls = [
        ("PUT", base, {"enabled": True}),
        ("POST", base + "/link/rotate", None),
        ("POST", base + "/preview", None),
        ("DELETE", base + "/sessions", None),
    ]
    for method, path, body in calls:
        headers = keyed(access)
        first = await access.client.request(method, path, json=body, headers=headers)
        assert first.status_code < 300, (method, path, first.text)
        again = await access.client.request(method, path, json=body, headers=headers)
        assert (again.status_code, again.content) == (first.status_code, first.content), path
        assert again.headers["idempotent-replayed"] == "true", path
    # One rotation happened: the link is the one the first rotate answered.
    view = (await access.client.get(base, headers=access.admin)).json()
    rotate_headers = keyed(access, "rotate-once")
    rotated = await access.client.post(base + "/link/rotate", headers=rotate_headers)
    replayed = await access.client.post(base + "/link/rotate", headers=rotate_headers)
    assert replayed.json()["portal_url"] == rotated.json()["portal_url"] != view["portal_url"]
    now = (await access.client.get(base, headers=access.admin)).json()
    assert now["portal_url"] == rotated.json()["portal_url"]


async def test_concurrent_repeats_run_once(feed: Feed, access: Access) -> None:
    await feed.bill_group("bg_idem3")
    await access.wait_for_bill_group("bg_idem3")
    base = access.portal("bg_idem3")
    headers = keyed(access)
    answers = await asyncio.gather(
        *(access.client.post(base + "/link/rotate", headers=headers) for _ in range(4))
    )
    statuses = sorted(a.status_code for a in answers)
    # One ran; the others replayed its answer, or were told it is still running.
    assert statuses.count(200) >= 1
    assert set(statuses) <= {200, 409}
    urls = {a.json()["portal_url"] for a in answers if a.status_code == 200}
    assert len(urls) == 1
    assert (await access.client.get(base, headers=access.admin)).json()["portal_url"] in urls


async def test_keys_are_scoped_to_the_tenant_and_checked(feed: Feed, access: Access) -> None:
    await feed.bill_group("bg_idem4")
    await feed.bill_group("bg_idem4", tenant="other-tenant")
    await access.wait_for_bill_group("bg_idem4")
    staff = {**INTERNAL, "X-Tenant-Id": "other-tenant", "X-Actor": "ops@platform.example"}
    key = "shared-key-1"

    async def other_known() -> bool:
        reply = await access.client.get(access.portal("bg_idem4"), headers=staff)
        return reply.status_code == 200

    await eventually(other_known)
    mine = await access.client.post(
        access.portal("bg_idem4") + "/link/rotate", headers=keyed(access, key)
    )
    theirs = await access.client.post(
        access.portal("bg_idem4") + "/link/rotate", headers={**staff, "Idempotency-Key": key}
    )
    assert (mine.status_code, theirs.status_code) == (200, 200)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["portal_url"] != theirs.json()["portal_url"]
    bad = await access.client.post(
        access.portal("bg_idem4") + "/link/rotate", headers=keyed(access, "has space")
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_idempotency_key"
    # An unauthenticated call with a key gets the API's own refusal.
    anonymous = await access.client.post(
        access.portal("bg_idem4") + "/link/rotate", headers={"Idempotency-Key": "k"}
    )
    assert anonymous.status_code == 401
