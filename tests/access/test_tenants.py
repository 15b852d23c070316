"""The same bill group id in two tenants: two portals, two projections, two sets of rules and
sessions; nothing of one tenant is dropped, shown or ended because of the other."""

from __future__ import annotations

from typing import Any

import pytest

from portal_contracts.codec import decode
from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_kit.sealing import unseal
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import INTERNAL, TENANT, Access, Feed, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SHARED = "bg_shared"
OTHER = "other-tenant"
OTHER_STAFF = {**INTERNAL, "X-Tenant-Id": OTHER, "X-Actor": "ops@other.example"}


async def sign_in(
    access: Access, stack: StackHandle, isolation: Isolation, key: str, tenant: str
) -> dict[str, Any]:
    pending = (await access.request_signin(key, "jane@customer.example")).json()["pending_id"]
    records = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_SIGNIN, at_least=1)
    event = next(
        e
        for e in map(decode, (r.value for r in records))
        if e.type == "signin.requested" and e.payload.challenge_id == pending
    )
    assert (event.tenant_id, event.aggregate_id) == (tenant, SHARED)
    token = unseal(event.payload.sealed, access.settings.seal_keys).link.rsplit("/", 1)[1]
    verified = await access.client.post(
        "/internal/v1/signin/verify", json={"token": token}, headers=INTERNAL
    )
    assert verified.status_code == 200, verified.text
    body: dict[str, Any] = verified.json()
    return body


async def validate(access: Access, session_token: str) -> Any:
    return await access.client.post(
        "/internal/v1/sessions/validate", json={"session_token": session_token}, headers=INTERNAL
    )


async def test_two_tenants_with_the_same_bill_group_id_are_two_portals(
    stack: StackHandle, isolation: Isolation, feed: Feed, access: Access
) -> None:
    await feed.bill_group(SHARED, tenant=TENANT, name="Demo's group")
    await feed.bill_group(SHARED, tenant=OTHER, name="Other's group")
    base = access.portal(SHARED)

    async def other_projected() -> bool:
        reply = await access.client.get(base, headers=OTHER_STAFF)
        return reply.status_code == 200

    await eventually(other_projected, what="the second tenant's bill group")
    demo_view = await access.wait_for_bill_group(SHARED)
    other_view = (await access.client.get(base, headers=OTHER_STAFF)).json()
    assert (demo_view["name"], other_view["name"]) == ("Demo's group", "Other's group")
    assert demo_view["portal_url"] != other_view["portal_url"]

    # Each tenant's admin changes reach only its own portal.
    demo_key = await access.open_portal(SHARED, "customer.example")
    assert (await access.client.put(base, json={"enabled": True}, headers=OTHER_STAFF)).is_success
    other_rule = await access.client.post(
        base + "/rules", json={"kind": "domain", "value": "customer.example"}, headers=OTHER_STAFF
    )
    assert other_rule.status_code == 201
    other_view = (await access.client.get(base, headers=OTHER_STAFF)).json()
    other_key = access.portal_key(other_view)
    demo_view = (await access.client.get(base, headers=access.admin)).json()
    assert [r["id"] for r in other_view["rules"]] == [other_rule.json()["id"]]
    assert [r["id"] for r in demo_view["rules"]] != [other_rule.json()["id"]]
    for key, tenant in ((demo_key, TENANT), (other_key, OTHER)):
        status = await access.client.get(f"/internal/v1/portals/{key}", headers=INTERNAL)
        assert status.json() == {
            "tenant_id": tenant,
            "bill_group_id": SHARED,
            "usable": True,
            "reason": None,
        }

    # Sign-in and sessions stay in their tenant.
    demo_session = await sign_in(access, stack, isolation, demo_key, TENANT)
    other_session = await sign_in(access, stack, isolation, other_key, OTHER)
    assert (await validate(access, demo_session["session_token"])).json()["tenant_id"] == TENANT
    assert (await validate(access, other_session["session_token"])).json()["tenant_id"] == OTHER
    demo_listed = (await access.client.get(base + "/sessions", headers=access.admin)).json()
    other_listed = (await access.client.get(base + "/sessions", headers=OTHER_STAFF)).json()
    assert [s["session_id"] for s in demo_listed["items"]] == [demo_session["session_id"]]
    assert [s["session_id"] for s in other_listed["items"]] == [other_session["session_id"]]

    # The other tenant's contract ends: only its portal and sessions end.
    await feed.bill_group(SHARED, tenant=OTHER, status="inactive", name="Other's group")

    async def other_ended() -> bool:
        reply = await access.client.get(base, headers=OTHER_STAFF)
        return bool(reply.json()["contract_status"] == "inactive")

    await eventually(other_ended, what="the second tenant's contract end")

    # The projection writes the portal, then ends the sessions it allowed (a second write).
    async def other_session_revoked() -> bool:
        reply = await validate(access, other_session["session_token"])
        return bool(reply.status_code != 200 and reply.json().get("error") == "revoked")

    await eventually(other_session_revoked, what="the second tenant's session revoked")
    assert (await validate(access, demo_session["session_token"])).status_code == 200
    demo_status = await access.client.get(f"/internal/v1/portals/{demo_key}", headers=INTERNAL)
    assert demo_status.json()["usable"] is True
    other_status = await access.client.get(f"/internal/v1/portals/{other_key}", headers=INTERNAL)
    assert other_status.json()["reason"] == "contract_inactive"

    # Staff revocation in one tenant leaves the other's sessions alone.
    revoked = await access.client.delete(base + "/sessions", headers=OTHER_STAFF)
    assert revoked.json() == {"revoked": 0}
    assert (await validate(access, demo_session["session_token"])).status_code == 200

    # Nothing was dropped: no state of either tenant went to the dead-letter topic.
    dead = await read_topic(stack, isolation.topic_prefix + dead_letter_topic(ConsumerGroup.ACCESS))
    assert dead == []
