"""Preview use cases against in-memory repositories: one-time, read-only, audited."""

from __future__ import annotations

import asyncio

import pytest

from portal_access.errors import ExpiredOrUsedError
from portal_access.portals.domain import PREVIEW_LIFETIME
from portal_kit.errors import NotFoundError
from tests.access.unit.conftest import STAFF, World


async def test_a_preview_opens_once_as_a_read_only_session(world: World) -> None:
    world.portal(enabled=False)
    created = await world.previews.create(STAFF, "bg_1")
    assert created.preview_url.startswith("https://portal.example/p/key-bg_1/preview/")
    token = created.preview_url.rsplit("/", 1)[1]
    results = await asyncio.gather(
        world.previews.redeem(token), world.previews.redeem(token), return_exceptions=True
    )
    [started] = [r for r in results if not isinstance(r, BaseException)]
    assert sum(isinstance(r, ExpiredOrUsedError) for r in results) == 1
    assert (started.session.read_only, started.session.rule_id) == (True, None)
    assert started.session.email == "preview:ops@merchant.example"
    assert world.session_repo.outbox == []
    assert world.audit.actions() == ["preview.created", "preview.opened"]
    assert world.audit.entries[-1].actor == STAFF.actor


async def test_an_expired_or_unknown_preview_does_not_open(world: World) -> None:
    world.portal()
    created = await world.previews.create(STAFF, "bg_1")
    world.clock.advance(seconds=PREVIEW_LIFETIME.total_seconds())
    with pytest.raises(ExpiredOrUsedError):
        await world.previews.redeem(created.preview_url.rsplit("/", 1)[1])
    with pytest.raises(ExpiredOrUsedError):
        await world.previews.redeem("nope")
    with pytest.raises(NotFoundError):
        await world.previews.create(STAFF, "bg_unknown")
