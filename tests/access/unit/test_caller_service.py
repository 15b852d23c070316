"""Caller use cases against an in-memory key store: API keys and the internal token."""

from __future__ import annotations

import pytest

from portal_access.api_keys.models import Principal
from portal_access.errors import MissingHeadersError
from portal_kit.errors import UnauthorizedError
from tests.access.unit.conftest import INTERNAL_TOKEN, World


async def test_an_api_key_names_its_tenant_until_revoked(world: World) -> None:
    key_id, key = await world.callers.create_key("demo", "ci")
    assert key.startswith("pak_")
    assert all(k.key_hash != key for k in world.keys.keys.values())
    who = await world.callers.admin_principal(f"Bearer {key}", "other", "someone")
    assert who == Principal("demo", "api-key:ci")
    assert await world.callers.revoke_key("other", key_id) is False
    assert await world.callers.revoke_key("demo", key_id) is True
    with pytest.raises(UnauthorizedError) as caught:
        await world.callers.admin_principal(f"Bearer {key}", None, None)
    assert caught.value.headers() == {"WWW-Authenticate": "Bearer"}
    assert [k.name for k in await world.callers.keys_of("demo")] == ["ci"]


async def test_the_internal_token_acts_for_the_named_tenant_and_actor(world: World) -> None:
    bearer = f"Bearer {INTERNAL_TOKEN}"
    who = await world.callers.admin_principal(bearer, "demo", "ops@merchant.example")
    assert who == Principal("demo", "ops@merchant.example")
    with pytest.raises(MissingHeadersError) as caught:
        await world.callers.admin_principal(bearer, "demo", None)
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")
    world.callers.require_internal(bearer)


@pytest.mark.parametrize("authorization", [None, "", "Basic abc", "Bearer ", "Bearer wrong"])
async def test_anything_else_is_unauthorized(world: World, authorization: str | None) -> None:
    with pytest.raises(UnauthorizedError):
        world.callers.require_internal(authorization)
    with pytest.raises(UnauthorizedError):
        await world.callers.admin_principal(authorization, "demo", "x")
