"""Redeeming staff links against in-memory stores: single use, scope must exist, audit."""

from __future__ import annotations

import pytest

from portal_access.staff_links.domain import Scope, issue, new_secret
from portal_kit.errors import ForbiddenError, GoneError
from tests.access.unit.conftest import World


def link(world: World, scope: Scope = Scope.BILL_GROUP, scope_id: str = "bg_1") -> dict[str, str]:
    secret = world.staff_repo.secrets.setdefault("demo", [new_secret()])[0]
    return issue(
        tenant_id="demo",
        scope=scope,
        scope_id=scope_id,
        staff_email="ops@merchant.example",
        now=int(world.clock.now.timestamp()),
        minutes=30,
        secret=secret,
    )


async def test_a_link_is_checked_without_use_then_used_once(world: World) -> None:
    world.portal()
    params = link(world)
    checked = await world.staff_links.redeem(params, consume=False)
    assert (checked.scope, checked.scope_id) == (Scope.BILL_GROUP, "bg_1")
    assert checked.expires_at.endswith("+00:00")
    assert world.audit.actions() == []
    await world.staff_links.redeem(params, consume=True)
    assert world.audit.actions() == ["console.opened"]
    for consume in (True, False):
        with pytest.raises(GoneError) as caught:
            await world.staff_links.redeem(params, consume=consume)
        assert caught.value.code == "reused"


async def test_account_links_need_a_portal_of_that_account(world: World) -> None:
    world.portal(account_id="acc_1")
    granted = await world.staff_links.redeem(link(world, Scope.ACCOUNT, "acc_1"), True)
    assert granted.scope is Scope.ACCOUNT
    assert world.audit.actions() == []
    with pytest.raises(ForbiddenError) as caught:
        await world.staff_links.redeem(link(world, Scope.ACCOUNT, "acc_2"), True)
    assert (caught.value.status, caught.value.code) == (403, "unknown_scope")


async def test_tampered_and_expired_links_are_refused(world: World) -> None:
    world.portal()
    params = link(world)
    with pytest.raises(ForbiddenError) as caught:
        await world.staff_links.redeem({**params, "bill_group": "bg_2"}, True)
    assert caught.value.code == "bad_signature"
    world.clock.advance(hours=1)
    with pytest.raises(GoneError) as gone:
        await world.staff_links.redeem(params, True)
    assert (gone.value.status, gone.value.code) == (410, "expired")
