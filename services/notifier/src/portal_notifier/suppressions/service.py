"""Suppression list use cases: never email an address again, or again allow it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from portal_kit.observability import mask_email
from portal_notifier.errors import NotAnEmailError, NotSuppressedError
from portal_notifier.suppressions.domain import looks_like_email
from portal_notifier.suppressions.models import Suppression


class SuppressionStore(Protocol):
    """What the use cases need of the list (`SuppressionRepository`, or a fake)."""

    async def is_suppressed(self, address: str) -> bool: ...

    async def add(self, address: str, reason: str, now: datetime) -> bool: ...

    async def remove(self, address: str) -> bool: ...

    async def entries(self, limit: int = 1000) -> list[Suppression]: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SuppressionService:
    def __init__(self, store: SuppressionStore, clock: Callable[[], datetime] = _utc_now) -> None:
        self._store = store
        self._clock = clock

    async def is_suppressed(self, address: str) -> bool:
        return await self._store.is_suppressed(address)

    async def suppress(self, address: str, reason: str) -> bool:
        """True when newly suppressed, False when it already was."""
        if not looks_like_email(address):
            raise NotAnEmailError(f"not an email address: {address!r}")
        return await self._store.add(address, reason, self._clock())

    async def unsuppress(self, address: str) -> None:
        if not await self._store.remove(address):
            raise NotSuppressedError(f"{mask_email(address)} is not on the suppression list")

    async def suppressed(self) -> list[Suppression]:
        return await self._store.entries()
