"""In-memory fakes of the notifier's repositories and adapters, for unit tests of the use
cases (no servers). Each keeps the rules its real counterpart relies on the database for:
unique `_id`, version gating, fencing on the lease."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from portal_kit.deadletter import SourceRecord
from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.delivery.domain import DeliveryFailedError, SesError, claimable
from portal_notifier.delivery.models import Delivery, DeliveryState
from portal_notifier.suppressions.domain import active, normalize_email
from portal_notifier.suppressions.models import Suppression

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
# What the BSON encoder refuses (pymongo raises OverflowError before anything is sent).
_INT64_MAX = 2**63 - 1


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Outcome:
    message_id: str | None = None
    sent_at: datetime | None = None
    reason: str | None = None
    last_error: str | None = None


@dataclass
class FakeDeliveryStore:
    """Deliveries by key. `claim` is what the repository's conditional `find_one_and_update`
    does atomically: take it only if `claimable`; `claims` counts the takes per key."""

    deliveries: dict[str, Delivery] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    claims: dict[str, int] = field(default_factory=dict)

    async def record_many(self, deliveries: Sequence[Delivery]) -> dict[int, DeliveryState]:
        known: dict[int, DeliveryState] = {}
        for position, delivery in enumerate(deliveries):
            held = self.deliveries.get(delivery.key)
            if held is not None:
                known[position] = held.state
            else:
                self.deliveries[delivery.key] = delivery
                self.outcomes[delivery.key] = Outcome()
        return known

    async def claim(
        self, key: str, owner: str, now: datetime, lease_seconds: float
    ) -> Delivery | None:
        held = self.deliveries.get(key)
        if held is None or not claimable(
            held.state, due_at=held.due_at, lease_until=held.lease_until, now=now
        ):
            return None
        taken = replace(
            held,
            state=DeliveryState.SENDING,
            lease_owner=owner,
            lease_until=now + timedelta(seconds=lease_seconds),
        )
        self.deliveries[key] = taken
        self.claims[key] = self.claims.get(key, 0) + 1
        return taken

    async def due(self, now: datetime, limit: int) -> list[str]:
        parked = [
            d
            for d in self.deliveries.values()
            if d.state is DeliveryState.PENDING and d.due_at is not None and d.due_at <= now
        ]
        return [d.key for d in sorted(parked, key=lambda d: d.due_at or now)][:limit]

    async def abandoned(self, now: datetime, limit: int) -> list[str]:
        return [
            d.key
            for d in self.deliveries.values()
            if d.state is DeliveryState.SENDING
            and d.lease_until is not None
            and d.lease_until < now
        ][:limit]

    def _held(self, key: str, owner: str) -> Delivery | None:
        held = self.deliveries.get(key)
        if held is None or held.state is not DeliveryState.SENDING or held.lease_owner != owner:
            return None
        return held

    async def mark_sent(
        self, key: str, owner: str, message_id: str, now: datetime, attempts: int
    ) -> bool:
        held = self._held(key, owner)
        if held is None:
            return False
        self.deliveries[key] = replace(
            held, state=DeliveryState.SENT, attempts=attempts, lease_until=None
        )
        self.outcomes[key].message_id = message_id
        self.outcomes[key].sent_at = now
        return True

    async def reschedule(
        self,
        key: str,
        owner: str,
        *,
        attempts: int,
        first_attempt_at: datetime,
        due_at: datetime,
        error: str,
    ) -> bool:
        held = self._held(key, owner)
        if held is None:
            return False
        self.deliveries[key] = replace(
            held,
            state=DeliveryState.PENDING,
            attempts=attempts,
            first_attempt_at=first_attempt_at,
            due_at=due_at,
            lease_until=None,
        )
        self.outcomes[key].last_error = error
        return True

    async def finish(
        self, key: str, owner: str, state: DeliveryState, reason: str, attempts: int
    ) -> bool:
        held = self._held(key, owner)
        if held is None:
            return False
        self.deliveries[key] = replace(held, state=state, attempts=attempts, lease_until=None)
        self.outcomes[key].reason = reason
        return True


@dataclass
class FakeBrandingStore:
    entities_held: dict[tuple[str, str], tuple[int, EntityView]] = field(default_factory=dict)
    bill_groups_held: dict[tuple[str, str], tuple[int, BillGroupView]] = field(default_factory=dict)
    # Raised by the next reads/writes (a dependency outage, say), one per call.
    failures: list[BaseException] = field(default_factory=list)
    reads: int = 0

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def apply_entity(
        self, tenant_id: str, entity_id: str, version: int, view: EntityView
    ) -> bool:
        self._fail()
        if version > _INT64_MAX:
            raise OverflowError("MongoDB can only handle up to 8-byte ints")
        held = self.entities_held.get((tenant_id, entity_id))
        if held is not None and held[0] >= version:
            return False
        self.entities_held[(tenant_id, entity_id)] = (version, view)
        return True

    async def apply_bill_group(
        self, tenant_id: str, bill_group_id: str, version: int, view: BillGroupView
    ) -> bool:
        self._fail()
        if version > _INT64_MAX:
            raise OverflowError("MongoDB can only handle up to 8-byte ints")
        held = self.bill_groups_held.get((tenant_id, bill_group_id))
        if held is not None and held[0] >= version:
            return False
        self.bill_groups_held[(tenant_id, bill_group_id)] = (version, view)
        return True

    async def entities(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], EntityView]:
        # One query per call, none for nothing (as the repository does).
        self.reads += 1 if keys else 0
        return {k: self.entities_held[k][1] for k in keys if k in self.entities_held}

    async def bill_groups(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], BillGroupView]:
        self.reads += 1 if keys else 0
        return {k: self.bill_groups_held[k][1] for k in keys if k in self.bill_groups_held}


@dataclass
class FakeMailer:
    """SES: answers with the queued faults first, then accepts."""

    faults: list[SesError] = field(default_factory=list)
    sent: list[tuple[bytes, str, str]] = field(default_factory=list)
    calls: int = 0

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        self.calls += 1
        if self.faults:
            raise self.faults.pop(0)
        self.sent.append((raw, sender, recipient))
        return f"ses-{len(self.sent)}"


@dataclass
class FakeReporter:
    reports: list[tuple[str, str, int]] = field(default_factory=list)
    failures: int = 0

    async def report(self, delivery: Delivery, error: DeliveryFailedError, attempts: int) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("kafka away")
        self.reports.append((delivery.event_id, error.reason.value, attempts))


@dataclass
class FakeDeadLetter:
    parked: list[tuple[SourceRecord, str, int]] = field(default_factory=list)

    async def __call__(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        self.parked.append((record, type(error).__name__, attempts))


@dataclass
class FakeSuppressionStore:
    entries_by_address: dict[str, Suppression] = field(default_factory=dict)

    async def is_suppressed(self, address: str, now: datetime) -> bool:
        entry = self.entries_by_address.get(normalize_email(address))
        return entry is not None and active(entry.expires_at, now)

    async def suppressed_among(self, addresses: Sequence[str], now: datetime) -> set[str]:
        return {a for a in addresses if await self.is_suppressed(a, now)}

    async def add(
        self, address: str, reason: str, now: datetime, expires_at: datetime | None = None
    ) -> bool:
        key = normalize_email(address)
        held = self.entries_by_address.get(key)
        if held is not None and active(held.expires_at, now):
            return False
        self.entries_by_address[key] = Suppression(key, reason, now, expires_at)
        return True

    async def remove(self, address: str) -> bool:
        return self.entries_by_address.pop(normalize_email(address), None) is not None

    async def entries(self, now: datetime, limit: int = 1000) -> list[Suppression]:
        held = [e for e in self.entries_by_address.values() if active(e.expires_at, now)]
        return sorted(held, key=lambda s: s.address)[:limit]
