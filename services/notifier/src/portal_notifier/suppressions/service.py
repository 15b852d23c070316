"""Suppression list use cases: never email an address again, or again allow it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from portal_kit.observability import mask_email
from portal_notifier.errors import InvalidDurationError, NotAnEmailError, NotSuppressedError
from portal_notifier.suppressions.domain import looks_like_email
from portal_notifier.suppressions.models import Suppression


class SuppressionStore(Protocol):
    """What the use cases need of the list (`SuppressionRepository`, or a fake)."""

    async def is_suppressed(self, address: str, now: datetime) -> bool: ...

    async def suppressed_among(self, addresses: Sequence[str], now: datetime) -> set[str]: ...

    async def add(
        self, address: str, reason: str, now: datetime, expires_at: datetime | None = None
    ) -> bool: ...

    async def remove(self, address: str) -> bool: ...

    async def entries(self, now: datetime, limit: int = 1000) -> list[Suppression]: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SuppressionService:
    def __init__(self, store: SuppressionStore, clock: Callable[[], datetime] = _utc_now) -> None:
        self._store = store
        self._clock = clock

    async def is_suppressed(self, address: str) -> bool:
        return await self._store.is_suppressed(address, self._clock())

    async def suppressed_among(self, addresses: Sequence[str]) -> set[str]:
        """Those of `addresses` (as given, whatever their case) not to be emailed now."""
        return await self._store.suppressed_among(addresses, self._clock())

    async def suppress(self, address: str, reason: str, days: float | None = None) -> bool:
        """True when newly suppressed, False when it already was. With `days`, the entry
        lapses by itself after that long (a soft bounce, say)."""
        if not looks_like_email(address):
            raise NotAnEmailError(f"not an email address: {address!r}")
        if days is not None and days <= 0:
            raise InvalidDurationError("a suppression lasts a positive number of days")
        now = self._clock()
        expires_at = None if days is None else now + timedelta(days=days)
        return await self._store.add(address, reason, now, expires_at)

    async def unsuppress(self, address: str) -> None:
        if not await self._store.remove(address):
            raise NotSuppressedError(f"{mask_email(address)} is not on the suppression list")

    async def suppressed(self) -> list[Suppression]:
        return await self._store.entries(self._clock())
