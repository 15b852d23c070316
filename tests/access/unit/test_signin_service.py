"""Sign-in use cases against in-memory repositories: decoys, codes, single use, limits."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from portal_access import tokens
from portal_access.errors import (
    AccessEndedError,
    ExpiredOrUsedError,
    InvalidCodeError,
    InvalidEmailError,
    InvalidRequestError,
    SigninRateLimitedError,
    TooManyAttemptsError,
)
from portal_access.portals.models import StoredRule
from portal_access.signin import domain
from portal_contracts.portal import RuleKind
from portal_contracts.sealing import SignInSecret
from portal_kit.errors import NotFoundError
from portal_kit.sealing import DEV_SEAL_KEY, unseal
from tests.access.unit.conftest import STAFF, World
from tests.access.unit.fakes import T0


def open_portal(world: World, **state: object) -> None:
    portal = world.portal(**state)  # type: ignore[arg-type]
    rule = StoredRule("rul_1", RuleKind.DOMAIN, "customer.example", T0, "ops")
    world.portal_repo.put(replace(portal, rules=(rule,)))


def secret_of(world: World, pending_id: str) -> SignInSecret:
    event = next(
        json.loads(e.body)
        for e in world.challenge_repo.outbox
        if json.loads(e.body)["payload"]["challenge_id"] == pending_id
    )
    return unseal(event["payload"]["sealed"], DEV_SEAL_KEY)


async def test_an_allowed_address_gets_a_link_and_a_code(world: World) -> None:
    open_portal(world)
    accepted = await world.signin.request("key-bg_1", " Jane@Customer.EXAMPLE ", "203.0.113.1")
    [event] = world.challenge_repo.outbox
    assert event.type == "signin.requested"
    assert json.loads(event.body)["payload"]["email"] == "jane@customer.example"
    secret = secret_of(world, accepted.pending_id)
    assert secret.link.startswith("https://portal.example/p/key-bg_1/verify/")
    token = secret.link.rsplit("/", 1)[1]
    # The challenge is keyed by its token's hash, and the relay is woken with that key.
    assert world.woken.hints[-1].doc_id == tokens.hash_secret(token)
    assert world.challenge_repo.ids[accepted.pending_id] == tokens.hash_secret(token)

    started = await world.signin.verify(token, None, None)
    assert (started.session.email, started.session.rule_id) == ("jane@customer.example", "rul_1")
    assert [e.type for e in world.session_repo.outbox] == ["signin.completed"]
    with pytest.raises(ExpiredOrUsedError):
        await world.signin.verify(token, None, None)


@pytest.mark.parametrize(
    ("email", "state"),
    [
        ("jane@elsewhere.example", {}),
        ("jane@customer.example", {"enabled": False}),
        ("jane@customer.example", {"contract_status": "cancelled"}),
    ],
    ids=["not-granted", "portal-off", "contract-inactive"],
)
async def test_no_access_gets_a_decoy_that_looks_the_same(
    world: World, email: str, state: dict[str, object]
) -> None:
    open_portal(world, **state)
    accepted = await world.signin.request("key-bg_1", email, "203.0.113.1")
    assert set(accepted.model_dump()) == {"pending_id", "expires_at"}
    assert world.challenge_repo.outbox == []
    assert world.woken.hints == []
    challenge = world.challenge_repo.challenges[world.challenge_repo.ids[accepted.pending_id]]
    assert (challenge.decoy, challenge.code_hash, challenge.rule_id) == (True, None, None)
    # Codes are tried like for a real challenge, and never match.
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(InvalidCodeError) as caught:
            await world.signin.verify(None, accepted.pending_id, "ACDEFGHJKM")
        assert caught.value.body()["attempts_left"] == left
    with pytest.raises(TooManyAttemptsError):
        await world.signin.verify(None, accepted.pending_id, "ACDEFGHJKM")


async def test_the_code_works_once_typed_loosely_and_wrong_tries_count(world: World) -> None:
    open_portal(world)
    accepted = await world.signin.request("key-bg_1", "bob@customer.example", "203.0.113.1")
    code = secret_of(world, accepted.pending_id).code
    with pytest.raises(InvalidCodeError) as caught:
        await world.signin.verify(None, accepted.pending_id, "AAAAAAAAAA")
    assert caught.value.body() == {
        "error": "invalid_code",
        "message": "that code is not right; check the email and try again",
        "attempts_left": 4,
    }
    typed = f"{code[:5].lower()}-{code[5:]}"
    results = await asyncio.gather(
        *(world.signin.verify(None, accepted.pending_id, typed) for _ in range(3)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, ExpiredOrUsedError) for r in results) == 2


async def test_an_expired_challenge_does_not_verify(world: World) -> None:
    open_portal(world)
    accepted = await world.signin.request("key-bg_1", "late@customer.example", "203.0.113.1")
    secret = secret_of(world, accepted.pending_id)
    world.clock.advance(seconds=domain.SIGNIN_LIFETIME.total_seconds())
    with pytest.raises(ExpiredOrUsedError):
        await world.signin.verify(secret.link.rsplit("/", 1)[1], None, None)
    with pytest.raises(ExpiredOrUsedError):
        await world.signin.verify(None, accepted.pending_id, secret.code)


async def test_access_that_ends_before_verify_opens_no_session(world: World) -> None:
    open_portal(world)
    accepted = await world.signin.request("key-bg_1", "jane@customer.example", "203.0.113.1")
    token = secret_of(world, accepted.pending_id).link.rsplit("/", 1)[1]
    portal = world.portal_repo.portals[("demo", "bg_1")]
    world.portal_repo.put(replace(portal, rules=()))
    with pytest.raises(AccessEndedError) as caught:
        await world.signin.verify(token, None, None)
    assert (caught.value.status, caught.value.code) == (410, "access_ended")
    assert world.session_repo.sessions == {}


async def test_requests_are_limited_per_address_whether_granted_or_not(world: World) -> None:
    open_portal(world)
    for _ in range(world.per_email):
        await world.signin.request("key-bg_1", "a@nowhere.example", "203.0.113.1")
    with pytest.raises(SigninRateLimitedError) as caught:
        await world.signin.request("key-bg_1", " A@nowhere.example", "203.0.113.2")
    error = caught.value
    assert error.status == 429
    assert error.headers()["Retry-After"] == str(error.body()["retry_after_seconds"])
    assert error.body()["retry_after_seconds"] >= 1


async def test_bad_requests(world: World) -> None:
    open_portal(world)
    with pytest.raises(NotFoundError):
        await world.signin.request("no-such-key", "a@customer.example", "203.0.113.1")
    with pytest.raises(InvalidEmailError):
        await world.signin.request("key-bg_1", "a@x.com, b@x.com", "203.0.113.1")
    with pytest.raises(InvalidRequestError):
        await world.signin.verify(None, "sgn_1", None)
    with pytest.raises(ExpiredOrUsedError):
        await world.signin.verify("x" * 43, None, None)


@pytest.mark.parametrize("method", ["link", "code"])
async def test_a_link_rotation_cancels_pending_challenges(world: World, method: str) -> None:
    """Issue 14 item 8g: a link mailed before a rotation must not sign anyone in afterwards
    (the gateway's GET already answers "unknown link"; the POST must agree)."""
    open_portal(world)
    accepted = await world.signin.request("key-bg_1", "jane@customer.example", "203.0.113.1")
    secret = secret_of(world, accepted.pending_id)
    await world.portals.rotate_link(STAFF, "bg_1")
    token = secret.link.rsplit("/", 1)[1] if method == "link" else None
    pending_id, code = (None, None) if token else (accepted.pending_id, secret.code)
    with pytest.raises(ExpiredOrUsedError):
        await world.signin.verify(token, pending_id, code)
    # Refused before it is used: nothing was consumed, no session was opened.
    assert all(c.consumed_at is None for c in world.challenge_repo.challenges.values())
    assert world.session_repo.outbox == []
