"""Sign-in use cases against an in-memory access: every refusal is a typed error."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from portal_gateway.clients.models import PortalInfo
from portal_gateway.errors import FormInvalidError, NotFoundError
from portal_gateway.portal.models import Branding
from portal_gateway.signin.service import SigninService
from portal_kit.errors import GoneError, RateLimitedError
from tests.gateway.fakes import FakeAccess, FakeBilling, refusal

T = TypeVar("T")
PORTAL = PortalInfo(tenant_id="t1", bill_group_id="bg_1", usable=True)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def signin(access: FakeAccess | None = None) -> tuple[SigninService, FakeAccess]:
    access = access or FakeAccess(portals={"key_1": PORTAL})
    return SigninService(access, FakeBilling()), access


def test_entry_brings_the_sellers_branding_and_unknown_keys_are_not_found() -> None:
    service, _ = signin()
    entry = run(service.entry("key_1"))
    assert entry.branding.entity is not None
    assert entry.branding.entity.name == "Seller GmbH"
    with pytest.raises(NotFoundError):
        run(service.entry("rotated"))


def test_entry_of_a_bill_group_billing_view_does_not_know_has_no_branding() -> None:
    lost = PortalInfo(tenant_id="t1", bill_group_id="bg_unseen", usable=True)
    service, _ = signin(FakeAccess(portals={"key_2": lost}))
    assert run(service.entry("key_2")).branding == Branding()


def test_a_value_that_is_not_one_address_never_reaches_access() -> None:
    service, access = signin()
    for value in ("", "jane", "jane@acme", "a@b.com c@d.com"):
        with pytest.raises(FormInvalidError) as refused:
            run(service.request_link("key_1", value, "10.0.0.1"))
        assert (refused.value.status, set(refused.value.errors)) == (400, {"email"})
    assert access.requests == []
    assert run(service.request_link("key_1", "jane@acme.example", "10.0.0.1")) == "pend_1"
    assert access.requests == [("key_1", "jane@acme.example", "10.0.0.1")]


def test_rate_limited_request_says_when_to_try_again() -> None:
    limited = refusal(429, "rate_limited", retry_after_seconds=61)
    service, _ = signin(FakeAccess(portals={"key_1": PORTAL}, refuse_signin=limited))
    with pytest.raises(RateLimitedError) as refused:
        run(service.request_link("key_1", "jane@acme.example", "10.0.0.1"))
    assert refused.value.status == 429
    assert refused.value.fields == {"email": "Too many sign-in requests. Try again in 2 minutes."}


def test_access_refusal_of_the_address_is_shown_on_the_field() -> None:
    invalid = refusal(422, "invalid_email", message="Enter one address.")
    service, _ = signin(FakeAccess(portals={"key_1": PORTAL}, refuse_signin=invalid))
    with pytest.raises(FormInvalidError) as refused:
        run(service.request_link("key_1", "jane@acme.example", "10.0.0.1"))
    assert refused.value.errors == {"email": "Enter one address."}


def test_wrong_code_counts_the_attempts_left() -> None:
    wrong = refusal(400, "invalid_code", attempts_left=1)
    service, _ = signin(FakeAccess(refuse_verify=wrong))
    with pytest.raises(FormInvalidError) as refused:
        run(service.verify_code("pend_1", "abc"))
    assert refused.value.errors == {"code": "That code is not right. 1 attempt left."}


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [(410, "expired_or_used", GoneError), (429, "too_many_attempts", RateLimitedError)],
)
def test_used_or_exhausted_code_ends_the_attempt(
    status: int, error: str, expected: type[Exception]
) -> None:
    service, _ = signin(FakeAccess(refuse_verify=refusal(status, error)))
    with pytest.raises(expected):
        run(service.verify_code("pend_1", "abc"))


def test_used_link_or_preview_is_gone() -> None:
    service, _ = signin(FakeAccess(refuse_verify=refusal(410, "expired_or_used")))
    with pytest.raises(GoneError):
        run(service.verify_link("tok"))
    with pytest.raises(GoneError):
        run(service.redeem_preview("tok"))


def test_preview_sessions_are_read_only_and_signout_ends_the_session_at_access() -> None:
    service, access = signin()
    session = run(service.redeem_preview("tok"))
    assert session.read_only
    run(service.signout(session))
    assert access.signed_out == ["tok_secret"]


def test_the_sign_in_request_reuses_the_page_just_shown_but_access_decides_on_the_key() -> None:
    access = FakeAccess(portals={"key_1": PORTAL})
    now = [100.0]
    service = SigninService(access, FakeBilling(), recent_seconds=2.0, clock=lambda: now[0])
    shown = run(service.entry("key_1"))
    del access.portals["key_1"]  # rotated after the page was shown
    assert run(service.recent_entry("key_1")) == shown  # its branding, within 2 s
    with pytest.raises(NotFoundError):
        run(service.entry("key_1"))  # the sign-in page itself asks access every time
    now[0] += 2.1
    with pytest.raises(NotFoundError):
        run(service.recent_entry("key_1"))
    fresh = FakeAccess(portals={"key_1": PORTAL})
    off = SigninService(fresh, FakeBilling())
    run(off.entry("key_1"))
    fresh.portals.clear()
    with pytest.raises(NotFoundError):
        run(off.recent_entry("key_1"))  # recent_seconds=0: nothing reused
