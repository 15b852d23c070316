"""Session use cases against in-memory repositories: idle and absolute expiry, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_access.errors import SessionInvalidError
from portal_access.sessions import domain
from portal_access.wire import iso
from portal_kit.errors import NotFoundError
from tests.access.unit.conftest import STAFF, World


async def start(world: World, email: str = "jane@customer.example") -> str:
    started = await world.sessions.open(
        tenant_id="demo", bill_group_id="bg_1", email=email, rule_id="r", read_only=False
    )
    return started.token


async def reason(world: World, token: str) -> str:
    with pytest.raises(SessionInvalidError) as caught:
        await world.sessions.validate(token)
    assert caught.value.status == 401
    assert caught.value.headers() == {}
    return caught.value.code


async def test_each_use_moves_the_idle_expiry_up_to_the_absolute_one(world: World) -> None:
    token = await start(world)
    ends = world.clock.now + domain.SESSION_ABSOLUTE
    last = None
    while world.clock.now + timedelta(minutes=25) < ends:
        world.clock.advance(minutes=25)
        last = await world.sessions.validate(token)
    assert last is not None
    assert last.idle_expires_at == last.expires_at == iso(ends)
    world.clock.now = ends
    assert await reason(world, token) == "expired"


async def test_a_session_idle_for_too_long_expires(world: World) -> None:
    token = await start(world)
    world.clock.advance(minutes=29)
    reply = await world.sessions.validate(token)
    assert reply.idle_expires_at.endswith("Z")
    world.clock.advance(seconds=domain.SESSION_IDLE.total_seconds())
    assert await reason(world, token) == "expired"


async def test_unknown_revoked_and_signed_out(world: World) -> None:
    assert await reason(world, "nope") == "unknown"
    token = await start(world)
    await world.sessions.signout(token)
    assert await reason(world, token) == "revoked"


async def test_staff_list_and_revoke_sessions_of_their_portal_only(world: World) -> None:
    world.portal()
    token = await start(world)
    await start(world, "bob@customer.example")
    listed = await world.sessions.active(STAFF, "bg_1")
    assert {s.email for s in listed.items} == {"jane@customer.example", "bob@customer.example"}
    one = next(s for s in listed.items if s.email == "jane@customer.example")
    assert (await world.sessions.revoke_by_staff(STAFF, "bg_1", one.session_id)).revoked == 1
    assert await reason(world, token) == "revoked"
    with pytest.raises(NotFoundError):
        await world.sessions.revoke_by_staff(STAFF, "bg_1", one.session_id)
    assert (await world.sessions.revoke_by_staff(STAFF, "bg_1", None)).revoked == 1
    assert world.audit.actions() == ["sessions.revoked", "sessions.revoked"]
    with pytest.raises(NotFoundError):
        await world.sessions.active(STAFF, "bg_unknown")
