"""Use cases of customer changes: record a request, settle it, show the activity history."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from billing_view.changes import domain
from billing_view.changes.models import ChangeKey, ChangeRecord, ChangeValue
from billing_view.changes.schemas import ActivityItem, ActivityPage
from billing_view.errors import not_found
from billing_view.queries.models import Part, PortalView
from portal_contracts.billing import BillGroupState
from portal_contracts.envelope import Envelope

# What a change's status depends on: the bill group, its payment methods, the changes.
ACTIVITY_PARTS: tuple[Part, ...] = ("payment_methods", "changes")


class BillingState(Protocol):
    """The portal view a change is read from and compared with (the queries' repository)."""

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupState | None: ...
    async def view(
        self, tenant_id: str, bill_group_id: str, parts: Iterable[Part] = ()
    ) -> PortalView | None: ...


class ChangeRepositoryPort(Protocol):
    """What the use cases need of `ChangeRepository` (tests give an in-memory one)."""

    async def record(self, change: domain.ChangeRequest, before: ChangeValue | None) -> None: ...
    async def settle(
        self,
        tenant_id: str,
        bill_group_id: str,
        change_id: str,
        status: str,
        reason: str | None,
        settled_at: str,
    ) -> None: ...


def activity_item(
    change: ChangeRecord, bill_group: BillGroupState | None, payment_method_ids: list[str]
) -> ActivityItem:
    return ActivityItem(
        change_id=change.change_id,
        kind=change.kind,
        actor_email=change.actor_email,
        before=change.before,
        after=change.after,
        status=domain.activity_status(change, bill_group, payment_method_ids),
        reason=change.reason,
        requested_at=change.requested_at,
        settled_at=change.settled_at,
    )


def activity(view: PortalView, limit: int) -> list[ActivityItem]:
    """The view's changes, newest first (the view holds them in that order)."""
    ids = view.payment_method_ids
    return [activity_item(r, view.bill_group, ids) for r in view.changes[:limit]]


def pending(view: PortalView) -> list[ActivityItem]:
    """Changes still pending: neither settled nor already visible in upstream state."""
    ids = view.payment_method_ids
    items = [activity_item(r, view.bill_group, ids) for r in view.changes if r.status == "pending"]
    return [item for item in items if item.status == "pending"]


def change(view: PortalView, change_id: str) -> ActivityItem:
    for record in view.changes:
        if record.change_id == change_id:
            return activity_item(record, view.bill_group, view.payment_method_ids)
    raise not_found("change (yet)")


class ChangeService:
    def __init__(self, changes: ChangeRepositoryPort, state: BillingState) -> None:
        self._changes = changes
        self._state = state

    # --- from the consumer ------------------------------------------------------------

    async def record(self, event: Envelope[Any]) -> None:
        """A `customer_change.*` event: shown as pending at once (read-your-writes)."""
        request = domain.change_request(event)
        bill_group = await self._state.bill_group(request.tenant_id, request.bill_group_id)
        await self._changes.record(request, domain.before_value(request.kind, bill_group))

    async def settle(self, event: Envelope[Any]) -> None:
        """A `change.result` event: upstream's verdict (it may arrive before the request)."""
        result = event.payload
        await self._changes.settle(
            event.tenant_id,
            result.bill_group_id,
            result.change_id,
            result.outcome.value,
            result.reason,
            event.occurred_at.isoformat(),
        )

    # --- for the API ------------------------------------------------------------------

    async def _view(self, tenant_id: str, bill_group_id: str, what: str) -> PortalView:
        view = await self._state.view(tenant_id, bill_group_id, ACTIVITY_PARTS)
        if view is None:
            raise not_found(what)
        return view

    async def activity(self, tenant_id: str, bill_group_id: str, limit: int) -> ActivityPage:
        view = await self._view(tenant_id, bill_group_id, "bill group")
        return ActivityPage(items=activity(view, limit))

    async def change(self, tenant_id: str, bill_group_id: str, change_id: str) -> ActivityItem:
        view = await self._view(tenant_id, bill_group_id, "change (yet)")
        return change(view, change_id)


class ChangeKeyPort(Protocol):
    """What `ChangeKeyService` needs of `ChangeKeyRepository`."""

    async def claim(
        self,
        tenant_id: str,
        bill_group_id: str,
        key: str,
        fingerprint: str,
        change_id: str,
        now: datetime,
        lease_until: datetime,
    ) -> ChangeKey: ...
    async def settle(
        self, tenant_id: str, bill_group_id: str, key: str, published: bool, now: datetime
    ) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class ChangeKeyService:
    """Idempotency keys of customer changes, for the gateway (every replica shares them):
    a repeated submit gets the first submit's change id, and exactly one caller at a time
    is told to publish it. Whether the bodies match is the caller's rule (it knows them)."""

    def __init__(self, keys: ChangeKeyPort, clock: Callable[[], datetime] = utc_now) -> None:
        self._keys = keys
        self._now = clock

    async def claim(
        self, tenant_id: str, bill_group_id: str, key: str, fingerprint: str, change_id: str
    ) -> ChangeKey:
        now = self._now()
        return await self._keys.claim(
            tenant_id, bill_group_id, key, fingerprint, change_id, now, now + domain.KEY_LEASE
        )

    async def settle(self, tenant_id: str, bill_group_id: str, key: str, published: bool) -> None:
        await self._keys.settle(tenant_id, bill_group_id, key, published, self._now())
