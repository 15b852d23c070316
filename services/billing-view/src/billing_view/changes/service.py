"""Use cases of customer changes: record a request, settle it, show the activity history."""

from __future__ import annotations

from typing import Any, Protocol

from billing_view.changes import domain
from billing_view.changes.models import ChangeRecord, ChangeValue
from billing_view.changes.schemas import ActivityItem, ActivityPage
from billing_view.errors import not_found
from portal_contracts.billing import BillGroupState, PaymentMethodState
from portal_contracts.envelope import Envelope


class BillingState(Protocol):
    """The upstream state a change is compared with (the queries' repository serves it)."""

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupState | None: ...

    async def payment_methods(
        self, tenant_id: str, bill_group_id: str
    ) -> list[PaymentMethodState]: ...


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
    async def history(
        self, tenant_id: str, bill_group_id: str, limit: int
    ) -> list[ChangeRecord]: ...
    async def pending(self, tenant_id: str, bill_group_id: str) -> list[ChangeRecord]: ...
    async def one(
        self, tenant_id: str, bill_group_id: str, change_id: str
    ) -> ChangeRecord | None: ...


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

    async def _method_ids(self, tenant_id: str, bill_group_id: str) -> list[str]:
        methods = await self._state.payment_methods(tenant_id, bill_group_id)
        return [m.payment_method_id for m in methods]

    async def activity(self, tenant_id: str, bill_group_id: str, limit: int) -> ActivityPage:
        bill_group = await self._state.bill_group(tenant_id, bill_group_id)
        if bill_group is None:
            raise not_found("bill group")
        ids = await self._method_ids(tenant_id, bill_group_id)
        records = await self._changes.history(tenant_id, bill_group_id, limit)
        return ActivityPage(items=[activity_item(r, bill_group, ids) for r in records])

    async def change(self, tenant_id: str, bill_group_id: str, change_id: str) -> ActivityItem:
        record = await self._changes.one(tenant_id, bill_group_id, change_id)
        if record is None:
            raise not_found("change (yet)")
        bill_group = await self._state.bill_group(tenant_id, bill_group_id)
        ids = await self._method_ids(tenant_id, bill_group_id)
        return activity_item(record, bill_group, ids)

    async def pending(
        self,
        tenant_id: str,
        bill_group: BillGroupState,
        payment_methods: list[PaymentMethodState],
    ) -> list[ActivityItem]:
        """Changes still pending: neither settled nor already visible in upstream state."""
        ids = [m.payment_method_id for m in payment_methods]
        records = await self._changes.pending(tenant_id, bill_group.bill_group_id)
        items = [activity_item(r, bill_group, ids) for r in records]
        return [item for item in items if item.status == "pending"]
