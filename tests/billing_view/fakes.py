"""In-memory repositories for the use-case tests: the same ports, no database.

They keep the semantics the use cases rely on (scoping by tenant and bill group, newest
first, a verdict arriving before its request, version-gated state writes), nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from billing_view.changes.domain import ChangeRequest
from billing_view.changes.models import ChangeRecord, ChangeValue
from billing_view.projection.domain import StateWrite, newest_per_document
from billing_view.projection.models import WriteOutcome
from billing_view.queries.domain import OPEN_STATUSES, InvoiceCursor
from billing_view.queries.models import (
    BillGroupState,
    EntityState,
    InvoiceListing,
    InvoiceState,
    PaymentMethodState,
    SubscriptionState,
)

Key = tuple[str, str]


def listing(invoice: InvoiceState) -> InvoiceListing:
    return InvoiceListing.model_validate(invoice.model_dump(exclude={"lines"}))


@dataclass
class InMemoryBilling:
    """The queries' repository (and the changes' view of upstream state)."""

    bill_groups: dict[Key, BillGroupState] = field(default_factory=dict)
    entities: dict[Key, EntityState] = field(default_factory=dict)
    subscription_list: dict[Key, list[SubscriptionState]] = field(default_factory=dict)
    methods: dict[Key, list[PaymentMethodState]] = field(default_factory=dict)
    invoice_list: dict[Key, list[InvoiceState]] = field(default_factory=dict)

    def add_bill_group(self, tenant: str, state: BillGroupState) -> None:
        self.bill_groups[(tenant, state.bill_group_id)] = state

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupState | None:
        return self.bill_groups.get((tenant_id, bill_group_id))

    async def entity(self, tenant_id: str, entity_id: str) -> EntityState | None:
        return self.entities.get((tenant_id, entity_id))

    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> list[SubscriptionState]:
        found = self.subscription_list.get((tenant_id, bill_group_id), [])
        return sorted(found, key=lambda s: (s.start_date, s.subscription_id))

    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> list[PaymentMethodState]:
        found = self.methods.get((tenant_id, bill_group_id), [])
        return sorted(found, key=lambda m: m.payment_method_id)

    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> PaymentMethodState | None:
        for method in self.methods.get((tenant_id, bill_group_id), []):
            if method.payment_method_id == payment_method_id:
                return method
        return None

    async def invoice(
        self, tenant_id: str, bill_group_id: str, invoice_id: str
    ) -> InvoiceState | None:
        for invoice in self.invoice_list.get((tenant_id, bill_group_id), []):
            if invoice.invoice_id == invoice_id:
                return invoice
        return None

    async def open_invoices(self, tenant_id: str, bill_group_id: str) -> list[InvoiceListing]:
        found = self.invoice_list.get((tenant_id, bill_group_id), [])
        return [listing(i) for i in found if i.status in OPEN_STATUSES]

    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: list[str] | None,
        after: InvoiceCursor | None,
        limit: int,
    ) -> list[InvoiceListing]:
        def key(i: InvoiceState) -> tuple[str, str, str]:
            return (i.issue_date.isoformat(), i.number, i.invoice_id)

        found = [
            i
            for i in self.invoice_list.get((tenant_id, bill_group_id), [])
            if (statuses is None or i.status in statuses)
            and (after is None or key(i) < (after.issue_date, after.number, after.invoice_id))
        ]
        return [listing(i) for i in sorted(found, key=key, reverse=True)[:limit]]

    async def account_bill_groups(self, tenant_id: str, account_id: str) -> list[BillGroupState]:
        found = [
            b
            for (tenant, _), b in self.bill_groups.items()
            if tenant == tenant_id and b.account_id == account_id
        ]
        return sorted(found, key=lambda b: b.bill_group_id)


@dataclass
class InMemoryChanges:
    """The changes' repository: one partial document per (tenant, change id)."""

    docs: dict[Key, dict[str, Any]] = field(default_factory=dict)

    async def record(self, change: ChangeRequest, before: ChangeValue | None) -> None:
        doc = self.docs.setdefault(
            (change.tenant_id, change.change_id),
            {
                "tenant_id": change.tenant_id,
                "bill_group_id": change.bill_group_id,
                "change_id": change.change_id,
                "status": "pending",
                "reason": None,
                "settled_at": None,
            },
        )
        if "kind" not in doc:
            doc.update(
                kind=change.kind,
                actor_email=change.actor_email,
                after=change.after,
                requested_at=change.requested_at,
                before=before,
            )

    async def settle(
        self,
        tenant_id: str,
        bill_group_id: str,
        change_id: str,
        status: str,
        reason: str | None,
        settled_at: str,
    ) -> None:
        doc = self.docs.setdefault(
            (tenant_id, change_id),
            {"tenant_id": tenant_id, "bill_group_id": bill_group_id, "change_id": change_id},
        )
        doc.update(status=status, reason=reason, settled_at=settled_at)

    def _records(self, tenant_id: str, bill_group_id: str) -> list[ChangeRecord]:
        found = [
            ChangeRecord.model_validate(d)
            for d in self.docs.values()
            if d["tenant_id"] == tenant_id and d["bill_group_id"] == bill_group_id and "kind" in d
        ]
        return sorted(found, key=lambda r: (r.requested_at, r.change_id), reverse=True)

    async def history(self, tenant_id: str, bill_group_id: str, limit: int) -> list[ChangeRecord]:
        return self._records(tenant_id, bill_group_id)[:limit]

    async def pending(self, tenant_id: str, bill_group_id: str) -> list[ChangeRecord]:
        return [r for r in self._records(tenant_id, bill_group_id) if r.status == "pending"]

    async def one(self, tenant_id: str, bill_group_id: str, change_id: str) -> ChangeRecord | None:
        for record in self._records(tenant_id, bill_group_id):
            if record.change_id == change_id:
                return record
        return None


@dataclass
class InMemoryStates:
    """The projection's state writes: per document the greatest `current` (as `$max`)."""

    docs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    failures: list[BaseException] = field(default_factory=list)
    poison: set[str] = field(default_factory=set)
    batch_calls: int = 0

    def _fail(self, writes: Sequence[StateWrite]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if any(w.id in self.poison for w in writes):
            raise RuntimeError("this document cannot be written")

    async def apply_states(self, writes: Sequence[StateWrite]) -> WriteOutcome:
        self.batch_calls += 1
        self._fail(writes)
        applied = sum([self._write(w) for w in newest_per_document(writes)])
        return WriteOutcome(applied=applied, stale=len(writes) - applied)

    async def apply_one(self, write: StateWrite) -> int:
        self._fail([write])
        return self._write(write)

    def _write(self, write: StateWrite) -> int:
        key = (write.collection, write.id)
        held = self.docs.get(key)
        if held is not None and held["current"]["version"] >= write.version:
            return 0
        self.docs[key] = write.document()
        return 1

    def versions(self, collection: str) -> dict[str, int]:
        return {i: d["current"]["version"] for (c, i), d in self.docs.items() if c == collection}
