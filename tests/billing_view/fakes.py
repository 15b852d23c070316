"""In-memory repositories for the use-case tests: the same ports, no database.

They keep the semantics the use cases rely on (scoping by tenant and bill group, newest
first, a verdict arriving before its request, version-gated state writes), nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from billing_view.changes.domain import ChangeRequest
from billing_view.changes.models import ChangeRecord, ChangeValue
from billing_view.projection.domain import StateWrite, newest_per_item
from billing_view.projection.models import WriteOutcome
from billing_view.projection.writes import apply_in_memory, upserts
from billing_view.queries.domain import OPEN_STATUSES
from billing_view.queries.models import (
    AccountBillGroup,
    BillGroupState,
    EntityState,
    InvoiceEntry,
    InvoiceListing,
    InvoiceState,
    Part,
    PaymentMethodState,
    PortalView,
    SubscriptionState,
)

Key = tuple[str, str]


def listing(invoice: InvoiceState) -> InvoiceListing:
    return InvoiceListing.model_validate(invoice.model_dump(exclude={"lines"}))


def entry(invoice: InvoiceState) -> InvoiceEntry:
    return InvoiceEntry(
        invoice_id=invoice.invoice_id,
        status=invoice.status.value,
        issue_date=invoice.issue_date.isoformat(),
        number=invoice.number,
        currency=invoice.currency,
        amount_due_minor=invoice.amount_due_minor if invoice.status in OPEN_STATUSES else 0,
    )


@dataclass
class InMemoryChanges:
    """The changes' writes: one partial record per (tenant, change id), as in the view."""

    docs: dict[Key, dict[str, Any]] = field(default_factory=dict)

    async def record(self, change: ChangeRequest, before: ChangeValue | None) -> None:
        doc = self.docs.setdefault(
            (change.tenant_id, change.change_id),
            {
                "tenant_id": change.tenant_id,
                "bill_group_id": change.bill_group_id,
                "change_id": change.change_id,
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

    def records(self, tenant_id: str, bill_group_id: str) -> list[ChangeRecord]:
        """Those with a request, newest first (what a portal view holds)."""
        found = [
            ChangeRecord.model_validate(d)
            for d in self.docs.values()
            if d["tenant_id"] == tenant_id and d["bill_group_id"] == bill_group_id and "kind" in d
        ]
        return sorted(found, key=lambda r: (r.requested_at, r.change_id), reverse=True)


@dataclass
class InMemoryBilling:
    """The queries' repository (and the changes' view of upstream state); its changes are
    `changes` (give them to the ChangeService under test)."""

    bill_groups: dict[Key, BillGroupState] = field(default_factory=dict)
    entities: dict[Key, EntityState] = field(default_factory=dict)
    subscription_list: dict[Key, list[SubscriptionState]] = field(default_factory=dict)
    methods: dict[Key, list[PaymentMethodState]] = field(default_factory=dict)
    invoice_list: dict[Key, list[InvoiceState]] = field(default_factory=dict)
    changes: InMemoryChanges = field(default_factory=InMemoryChanges)
    reads: list[str] = field(default_factory=list)

    def add_bill_group(self, tenant: str, state: BillGroupState) -> None:
        self.bill_groups[(tenant, state.bill_group_id)] = state

    async def view(
        self, tenant_id: str, bill_group_id: str, parts: Iterable[Part] = ()
    ) -> PortalView | None:
        self.reads.append("view")
        key = (tenant_id, bill_group_id)
        bill_group = self.bill_groups.get(key)
        if bill_group is None:
            return None
        wanted = set(parts)
        methods = sorted(self.methods.get(key, []), key=lambda m: m.payment_method_id)
        subs = sorted(
            self.subscription_list.get(key, []), key=lambda s: (s.start_date, s.subscription_id)
        )
        return PortalView(
            bill_group=bill_group,
            payment_methods=methods if "payment_methods" in wanted else [],
            subscriptions=subs if "subscriptions" in wanted else [],
            invoices=[entry(i) for i in self.invoice_list.get(key, [])]
            if "invoices" in wanted
            else [],
            changes=self.changes.records(tenant_id, bill_group_id) if "changes" in wanted else [],
        )

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupState | None:
        return self.bill_groups.get((tenant_id, bill_group_id))

    async def entity(self, tenant_id: str, entity_id: str) -> EntityState | None:
        self.reads.append("entity")
        return self.entities.get((tenant_id, entity_id))

    async def invoice(
        self, tenant_id: str, bill_group_id: str, invoice_id: str
    ) -> InvoiceState | None:
        for invoice in self.invoice_list.get((tenant_id, bill_group_id), []):
            if invoice.invoice_id == invoice_id:
                return invoice
        return None

    async def invoice_listings(
        self, tenant_id: str, bill_group_id: str, invoice_ids: list[str]
    ) -> list[InvoiceListing]:
        self.reads.append("invoices")
        by_id = {i.invoice_id: i for i in self.invoice_list.get((tenant_id, bill_group_id), [])}
        return [listing(by_id[i]) for i in invoice_ids if i in by_id]

    async def account_bill_groups(self, tenant_id: str, account_id: str) -> list[AccountBillGroup]:
        found = [
            AccountBillGroup(
                bill_group_id=b.bill_group_id,
                name=b.name,
                contract_status=b.contract_status,
                currency=b.currency,
            )
            for (tenant, _), b in self.bill_groups.items()
            if tenant == tenant_id and b.account_id == account_id
        ]
        return sorted(found, key=lambda b: b.bill_group_id)


@dataclass
class InMemoryStates:
    """The projection's state writes: the same version-gated upserts, applied in memory."""

    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[tuple[str, str, str], int] = field(default_factory=dict)
    failures: list[BaseException] = field(default_factory=list)
    poison: set[tuple[str, str, str]] = field(default_factory=set)
    batch_calls: int = 0

    def _fail(self, writes: Sequence[StateWrite]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if any(w.key in self.poison for w in writes):
            raise RuntimeError("this document cannot be written")

    async def apply_states(self, writes: Sequence[StateWrite]) -> WriteOutcome:
        self.batch_calls += 1
        self._fail(writes)
        applied = sum([self._write(w) for w in newest_per_item(writes)])
        return WriteOutcome(applied=applied, stale=len(writes) - applied)

    async def apply_one(self, write: StateWrite) -> int:
        self._fail([write])
        return self._write(write)

    def _write(self, write: StateWrite) -> int:
        first, *rest = upserts(write)
        applied = apply_in_memory(self.docs, first)
        for upsert in rest:
            apply_in_memory(self.docs, upsert)
        if applied:
            self.versions[write.key] = write.version
        return int(applied)
