"""The gateway's short session cache: how long a revoked session can still be served."""

from dataclasses import dataclass, field

from portal_gateway.clients.models import Session
from portal_gateway.clients.sessions import SessionCache
from tests.gateway.fakes import session


@dataclass
class Access:
    """access's `sessions/validate`: answers the session until it is revoked."""

    revoked: set[str] = field(default_factory=set)
    calls: int = 0

    async def validate(self, session_token: str) -> Session | None:
        self.calls += 1
        if session_token in self.revoked:
            return None
        return session().model_copy(
            update={"session_token": session_token, "expires_at": "2099-01-01T00:00:00+00:00"}
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_revoked_session_is_served_for_at_most_the_ttl() -> None:
    access, clock = Access(), Clock()
    cache = SessionCache(access, ttl_seconds=2.0, clock=clock)
    assert await cache.validate("tok") is not None
    access.revoked.add("tok")
    clock.now += 1.9
    assert await cache.validate("tok") is not None  # still within the TTL: served
    assert access.calls == 1
    clock.now += 0.2  # past the TTL: asked again, refused
    assert await cache.validate("tok") is None
    assert access.calls == 2
    assert await cache.validate("tok") is None  # refusals are never cached
    assert access.calls == 3


async def test_ttl_zero_asks_access_on_every_request() -> None:
    access = Access()
    cache = SessionCache(access, ttl_seconds=0)
    await cache.validate("tok")
    access.revoked.add("tok")
    assert await cache.validate("tok") is None
    assert access.calls == 2


async def test_own_signout_forgets_at_once_and_expiry_caps_the_entry() -> None:
    access, clock = Access(), Clock()
    cache = SessionCache(access, ttl_seconds=5.0, clock=clock)
    await cache.validate("tok")
    access.revoked.add("tok")
    cache.forget("tok")
    assert await cache.validate("tok") is None

    class Expiring(Access):
        async def validate(self, session_token: str) -> Session | None:
            found = await super().validate(session_token)
            assert found is not None
            return found.model_copy(update={"expires_at": "1970-01-01T00:16:41+00:00"})

    expiring = Expiring()
    cache = SessionCache(expiring, ttl_seconds=5.0, clock=clock)  # now = 1000 s
    await cache.validate("t2")
    clock.now = 1_001.5  # past the session's own expiry (1001 s), within the TTL
    await cache.validate("t2")
    assert expiring.calls == 2


async def test_memory_is_bounded() -> None:
    cache = SessionCache(Access(), ttl_seconds=5.0, max_entries=3)
    for i in range(10):
        await cache.validate(f"tok{i}")
    assert len(cache._entries) <= 3
