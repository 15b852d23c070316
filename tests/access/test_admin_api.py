"""Admin API on real Kafka + MongoDB: rules, events, tenant isolation, audit, sessions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portal_contracts.codec import decode
from portal_contracts.topics import Topic
from portal_localstack.testing import Isolation, StackHandle
from tests.access.conftest import INTERNAL, Access, Feed, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_rules_events_isolation_and_audit(
    stack: StackHandle, isolation: Isolation, feed: Feed, access: Access
) -> None:
    await feed.bill_group("bg_1")
    await feed.bill_group("bg_other", tenant="other-tenant")
    view = await access.wait_for_bill_group("bg_1")
    assert view["enabled"] is False
    assert view["contract_status"] == "active"
    assert view["rules"] == []
    assert view["portal_url"].startswith("http://127.0.0.1:8000/p/")
    base = access.portal("bg_1")

    # No credentials, a wrong key, another tenant's bill group.
    assert (await access.client.get(base)).status_code == 401
    wrong = {"Authorization": "Bearer pak_nope"}
    assert (await access.client.get(base, headers=wrong)).status_code == 401
    staff = {**INTERNAL, "X-Tenant-Id": "other-tenant", "X-Actor": "ops@platform.example"}

    async def other_projected() -> bool:
        reply = await access.client.get(access.portal("bg_other"), headers=staff)
        return reply.status_code == 200

    await eventually(other_projected)
    other = await access.client.get(access.portal("bg_other"), headers=access.admin)
    assert other.status_code == 404
    assert (await access.client.get(base, headers=staff)).status_code == 404

    reply = await access.client.put(base, json={"enabled": True}, headers=access.admin)
    assert reply.status_code == 200
    assert reply.json()["usable"] is True

    reply = await access.client.post(
        base + "/rules", json={"kind": "domain", "value": "  Company.COM "}, headers=access.admin
    )
    assert reply.status_code == 201, reply.text
    domain_rule = reply.json()
    assert (domain_rule["kind"], domain_rule["value"]) == ("domain", "company.com")

    conflict = await access.client.post(
        base + "/rules", json={"kind": "email", "value": "Jane@company.com"}, headers=access.admin
    )
    assert conflict.status_code == 409
    assert domain_rule["id"] in conflict.json()["message"]
    assert conflict.json()["conflicting_rule"]["id"] == domain_rule["id"]

    for bad in ("a@x.com, b@x.com", "a@x.com b@x.com", "a@x.com;b@x.com", "a@b@x.com"):
        reply = await access.client.post(
            base + "/rules", json={"kind": "email", "value": bad}, headers=access.admin
        )
        assert reply.status_code == 422, bad
        assert reply.json()["error"] == "invalid_value"
        assert reply.json()["message"]
    reply = await access.client.post(
        base + "/rules", json={"kind": "group", "value": "x.com"}, headers=access.admin
    )
    assert reply.status_code == 422

    reply = await access.client.post(
        base + "/rules", json={"kind": "email", "value": "solo@other.example"}, headers=access.admin
    )
    email_rule = reply.json()
    assert reply.status_code == 201
    reply = await access.client.post(
        base + "/rules", json={"kind": "domain", "value": "other.example"}, headers=access.admin
    )
    assert reply.status_code == 409
    assert email_rule["id"] in reply.json()["message"]

    old_url = (await access.client.get(base, headers=access.admin)).json()["portal_url"]
    rotated = await access.client.post(base + "/link/rotate", headers=access.admin)
    assert rotated.status_code == 200
    new_url = rotated.json()["portal_url"]
    assert new_url != old_url
    old_key, new_key = old_url.rsplit("/", 1)[1], new_url.rsplit("/", 1)[1]
    assert (
        await access.client.get(f"/internal/v1/portals/{old_key}", headers=INTERNAL)
    ).status_code == 404
    status = await access.client.get(f"/internal/v1/portals/{new_key}", headers=INTERNAL)
    assert status.json() == {
        "tenant_id": "demo",
        "bill_group_id": "bg_1",
        "usable": True,
        "reason": None,
    }

    reply = await access.client.delete(f"{base}/rules/{email_rule['id']}", headers=access.admin)
    assert reply.status_code == 204
    assert (
        await access.client.delete(f"{base}/rules/{email_rule['id']}", headers=access.admin)
    ).status_code == 404

    events = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_ACCESS, at_least=5)
    decoded = [decode(r.value) for r in events]
    assert {r.key for r in events} == {b"bg_1"}
    types = sorted(e.type for e in decoded)
    assert types == sorted(
        [
            "portal.enabled",
            "access.granted",
            "access.granted",
            "portal.link_rotated",
            "access.revoked",
        ]
    )
    revoked = next(e for e in decoded if e.type == "access.revoked")
    assert revoked.payload.rule_id == email_rule["id"]
    assert revoked.payload.actor == "api-key:ci"
    assert len({e.event_id for e in decoded}) == len(decoded)
    assert all(
        dict(r.headers)["event_id"].decode() == str(e.event_id)
        for r, e in zip(events, decoded, strict=True)
    )

    audit = (await access.client.get(base + "/audit", headers=access.admin)).json()["items"]
    actions = [a["action"] for a in audit]
    assert actions[0] == "rule.removed"
    assert {"portal.enabled", "rule.added", "link.rotated"} <= set(actions)
    assert all(a["actor"] == "api-key:ci" for a in audit)

    account_id = view["account_id"]
    listing = await access.client.get(
        f"/internal/v1/tenants/demo/accounts/{account_id}/portals", headers=INTERNAL
    )
    assert listing.json()["items"] == [
        {
            "bill_group_id": "bg_1",
            "name": view["name"],
            "contract_status": "active",
            "enabled": True,
            "usable": True,
            "reason": None,
            "rule_count": 1,
        }
    ]
    assert listing.json()["account_name"]

    schema = await access.client.get("/schema/openapi.json")
    paths: dict[str, Any] = json.loads(schema.text)["paths"]
    assert "/api/admin/v1/bill-groups/{bill_group_id}/portal/rules" in paths
