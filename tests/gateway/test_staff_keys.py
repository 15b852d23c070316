"""Staff console changes carry their form's idempotency key to access (issue 14, item 9);
reads and key-less submits carry none."""

from __future__ import annotations

import httpx

from portal_gateway.clients.access import AccessClient
from portal_gateway.staff.domain import Scope, StaffSession, form_key
from portal_gateway.staff.service import Keyed

STAFF = StaffSession(
    tenant_id="demo",
    scope=Scope.BILL_GROUP,
    scope_id="bg_1",
    actor="ops@merchant.example",
    issued_at=0,
    last_seen=0,
)


def client(seen: list[httpx.Request]) -> AccessClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"portal_url": "http://x/p/k"})

    transport = httpx.MockTransport(answer)
    http = httpx.AsyncClient(base_url="http://access", transport=transport)
    return AccessClient(http, http)


async def test_a_keyed_change_sends_idempotency_key_and_a_read_none() -> None:
    seen: list[httpx.Request] = []
    access = client(seen)
    await access.admin_rotate_link(Keyed(STAFF, "k-1"), "bg_1")
    await access.admin_rotate_link(Keyed(STAFF, None), "bg_1")
    await access.admin_revoke_sessions(STAFF, "bg_1")
    assert [r.headers.get("idempotency-key") for r in seen] == ["k-1", None, None]
    assert {r.headers["x-actor"] for r in seen} == {"ops@merchant.example"}


def test_form_keys() -> None:
    assert form_key({"idempotency_key": "abc"}) == "abc"
    assert form_key({}) is None
    assert form_key({"idempotency_key": "tampered key"}) is None
