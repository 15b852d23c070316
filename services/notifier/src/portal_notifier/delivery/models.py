"""Typed records of the delivery feature: the request to email, and its delivery record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portal_kit.deadletter import SourceRecord
from portal_notifier.keys import tenant_key


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its (first or next) attempt at `due_at`
    SENDING = "sending"  # claimed by `lease_owner` until `lease_until`
    SENT = "sent"  # SES accepted it: never send again
    FAILED = "failed"  # permanent failure, reported
    SUPPRESSED = "suppressed"  # recipient on the suppression list, reported


@dataclass(frozen=True)
class SigninEmail:
    """One `signin.requested` event to turn into one email. `source` is the Kafka record as
    consumed, kept so that a failure long after the offset commit can still be
    dead-lettered byte for byte."""

    event_id: str
    tenant_id: str
    bill_group_id: str
    entity_id: str | None
    email: str
    sealed: str
    locale: str
    occurred_at: datetime
    expires_at: datetime
    source: SourceRecord

    @property
    def key(self) -> str:
        """The delivery's `_id`: (tenant, event id), like every tenant document."""
        return tenant_key(self.tenant_id, self.event_id)


@dataclass(frozen=True)
class Delivery:
    """The delivery record (`deliveries`, `_id` = `[tenant_id, event_id]`): the claim, the
    lease and the outcome of one email at once."""

    request: SigninEmail
    state: DeliveryState
    lease_owner: str | None
    lease_until: datetime | None
    attempts: int
    first_attempt_at: datetime | None
    due_at: datetime | None
    created_at: datetime

    @property
    def event_id(self) -> str:
        return self.request.event_id

    @property
    def key(self) -> str:
        return self.request.key


@dataclass(frozen=True)
class DeliveryStatus:
    """What an operator (or the benchmark) may see of a delivery: no address, no secret."""

    event_id: str
    state: DeliveryState
    attempts: int
    sent_at: datetime | None
    reason: str | None
    last_error: str | None
