"""A short in-process cache of validated customer sessions, in front of access.

Every signed-in request needs its session validated; asking access each time doubles the
upstream calls of a page. A validated session is kept for `ttl_seconds` (a few seconds at
most, `SESSION_CACHE_SECONDS`), never past the session's own `expires_at`. The price is
staleness: a session revoked at access (sign-out on another replica, a removed access rule,
staff ending sessions) can still be served by a replica that validated it within the last
`ttl_seconds`. A sign-out through this replica forgets the session at once. Refusals are
never cached (a new sign-in is seen at once). With `ttl_seconds=0` every request asks access.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from portal_gateway.clients.models import Session

# Bounded memory: past this many live entries the oldest are dropped first.
MAX_ENTRIES = 50_000


class SessionValidator(Protocol):
    async def validate(self, session_token: str) -> Session | None: ...


def _key(token: str) -> str:
    # The cookie value itself is not kept as a key (it is in the Session, which is needed).
    return hashlib.sha256(token.encode()).hexdigest()


def _expiry(session: Session) -> float:
    try:
        return datetime.fromisoformat(session.expires_at).timestamp()
    except ValueError:
        return 0.0  # not understood: never cached past this request


class SessionCache:
    def __init__(
        self,
        access: SessionValidator,
        ttl_seconds: float,
        clock: Callable[[], float] = time.time,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.access = access
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Session]] = {}

    async def validate(self, session_token: str) -> Session | None:
        if self.ttl_seconds <= 0:
            return await self.access.validate(session_token)
        key = _key(session_token)
        now = self.clock()
        held = self._entries.get(key)
        if held is not None and held[0] > now:
            return held[1]
        session = await self.access.validate(session_token)
        if session is None:
            self._entries.pop(key, None)
            return None
        if len(self._entries) >= self.max_entries:
            self._evict(now)
        self._entries[key] = (min(now + self.ttl_seconds, _expiry(session)), session)
        return session

    def forget(self, session_token: str) -> None:
        """This replica's own sign-out: the session is not served from the cache again."""
        self._entries.pop(_key(session_token), None)

    def _evict(self, now: float) -> None:
        for key in [k for k, (until, _) in self._entries.items() if until <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
