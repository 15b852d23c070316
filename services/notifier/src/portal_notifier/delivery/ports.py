"""What the delivery use cases need of the world: the repository, SES, branding, the
suppression list and the failure report. The adapters implement these; the unit tests use
in-memory fakes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from portal_notifier.branding.domain import EmailBrand
from portal_notifier.delivery.domain import DeliveryFailedError
from portal_notifier.delivery.models import Delivery, DeliveryState


class DeliveryStore(Protocol):
    """Deliveries by key (`Delivery.key`: tenant + event id); every write is one atomic
    single-document operation, outcomes fenced on (`state = sending`, `lease_owner`)."""

    async def record_many(self, deliveries: Sequence[Delivery]) -> dict[int, DeliveryState]: ...
    async def claim(
        self, key: str, owner: str, now: datetime, lease_seconds: float
    ) -> Delivery | None: ...
    async def due(self, now: datetime, limit: int) -> list[str]: ...
    async def abandoned(self, now: datetime, limit: int) -> list[str]: ...
    async def mark_sent(
        self, key: str, owner: str, message_id: str, now: datetime, attempts: int
    ) -> bool: ...
    async def reschedule(
        self,
        key: str,
        owner: str,
        *,
        attempts: int,
        first_attempt_at: datetime,
        due_at: datetime,
        error: str,
    ) -> bool: ...
    async def finish(
        self, key: str, owner: str, state: DeliveryState, reason: str, attempts: int
    ) -> bool: ...


class Mailer(Protocol):
    """Sends one raw MIME email; raises `SesError` saying whether a retry can help."""

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> str: ...


class Brander(Protocol):
    """Brands several emails at once (tenant, bill group, entity named by the event)."""

    async def brands(self, requests: Sequence[tuple[str, str, str | None]]) -> list[EmailBrand]: ...


class SuppressionCheck(Protocol):
    async def suppressed_among(self, addresses: Sequence[str]) -> set[str]: ...


class FailureReporter(Protocol):
    """Dead-letters the original message and publishes `notification.failed`, durably."""

    async def report(
        self, delivery: Delivery, error: DeliveryFailedError, attempts: int
    ) -> None: ...
