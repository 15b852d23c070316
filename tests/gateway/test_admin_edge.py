"""The admin edge relays the caller's credentials and nothing of the gateway's."""

from __future__ import annotations

import asyncio

import pytest

from portal_gateway.admin_edge.service import MAX_BODY, AdminEdge, AdminRequest
from portal_gateway.errors import TooLargeError
from tests.gateway.fakes import FakeAccess


def request(body: bytes = b"{}") -> AdminRequest:
    return AdminRequest(
        method="POST",
        path="/api/admin/v1/bill-groups/bg_1/portal/rules",
        params=[("a", "1")],
        body=body,
        headers={"Authorization": "Bearer key", "Cookie": "portal_session=x", "X-Actor": "me"},
        client_ip="10.0.0.9",
    )


def test_only_allowed_headers_go_either_way() -> None:
    access = FakeAccess()
    answer = asyncio.run(AdminEdge(access).forward(request()))
    [(method, path, content, headers)] = access.relayed
    assert (method, path, content) == ("POST", "/api/admin/v1/bill-groups/bg_1/portal/rules", b"{}")
    assert headers == {"Authorization": "Bearer key", "x-forwarded-for": "10.0.0.9"}
    assert answer.headers == {"content-type": "application/json", "etag": "e1"}


def test_a_body_over_one_mebibyte_is_refused_before_access() -> None:
    access = FakeAccess()
    with pytest.raises(TooLargeError) as refused:
        asyncio.run(AdminEdge(access).forward(request(b"x" * (MAX_BODY + 1))))
    assert (refused.value.status, refused.value.body()["error"]) == (413, "too_large")
    assert access.relayed == []
