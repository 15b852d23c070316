"""Use cases of admin idempotency keys: claim a key for a call, keep its answer, release it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from portal_access.idempotency import domain
from portal_access.idempotency.models import Claim, StoredAnswer


class Keys(Protocol):
    async def claim(
        self,
        tenant_id: str,
        key: str,
        fingerprint: str,
        lease_until: datetime,
        expires_at: datetime,
        now: datetime,
    ) -> Claim: ...
    async def complete(
        self, tenant_id: str, key: str, fingerprint: str, answer: StoredAnswer
    ) -> None: ...
    async def release(self, tenant_id: str, key: str, fingerprint: str) -> None: ...


class IdempotencyService:
    def __init__(self, keys: Keys, clock: Callable[[], datetime]) -> None:
        self._keys = keys
        self._now = clock

    async def claim(self, tenant_id: str, key: str, fingerprint: str) -> Claim:
        now = self._now()
        return await self._keys.claim(
            tenant_id, key, fingerprint, now + domain.LEASE, now + domain.KEEP, now
        )

    async def claim_waiting(self, tenant_id: str, key: str, fingerprint: str) -> Claim:
        """As `claim`, but a call that finds the first still running waits (briefly) for its
        answer: two clicks of one button both get the one answer."""
        delay, waited = 0.05, 0.0
        claim = await self.claim(tenant_id, key, fingerprint)
        while claim.outcome == "running" and waited < domain.WAIT_FOR_FIRST.total_seconds():
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)
            claim = await self.claim(tenant_id, key, fingerprint)
        return claim

    async def answered(
        self, tenant_id: str, key: str, fingerprint: str, answer: StoredAnswer
    ) -> None:
        """Kept for repeats unless it is a server error (a retry should run again)."""
        if answer.status >= 500:
            await self._keys.release(tenant_id, key, fingerprint)
        else:
            await self._keys.complete(tenant_id, key, fingerprint, answer)

    async def failed(self, tenant_id: str, key: str, fingerprint: str) -> None:
        await self._keys.release(tenant_id, key, fingerprint)
