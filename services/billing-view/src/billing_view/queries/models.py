"""Typed read-model documents the queries read.

The read model stores each upstream state as its contract JSON; the repository hands out the
contract models themselves (`portal_contracts.billing.*State`). `PortalView` is a bill
group's portal view document (its state, payment methods, subscriptions, the index of its
invoices and its customer changes), `InvoiceListing` an invoice without its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from billing_view.changes.models import ChangeRecord
from portal_contracts.billing import (
    BillGroupState,
    ContractStatus,
    DocumentRef,
    EntityState,
    InvoiceState,
    InvoiceStatus,
    PaymentMethodState,
    SubscriptionState,
)

__all__ = [
    "AccountBillGroup",
    "BillGroupState",
    "EntityState",
    "InvoiceEntry",
    "InvoiceListing",
    "InvoiceState",
    "PaymentMethodState",
    "PortalView",
    "SubscriptionState",
]


class InvoiceListing(BaseModel):
    """An invoice in a list: everything of `InvoiceState` but its lines, in the same order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    invoice_id: str
    bill_group_id: str
    number: str
    status: InvoiceStatus
    issue_date: date
    due_date: date
    currency: str
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    amount_due_minor: int
    amount_paid_minor: int
    document: DocumentRef | None = None


class AccountBillGroup(BaseModel):
    """A bill group in its account's list (the staff console's account page)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bill_group_id: str
    name: str
    contract_status: ContractStatus
    currency: str


# The parts of a portal view a read can ask for besides the bill group's state.
Part = Literal["payment_methods", "subscriptions", "invoices", "changes"]


@dataclass(frozen=True)
class InvoiceEntry:
    """An invoice as its bill group's view indexes it: the list's keys, the summary's input.

    `amount_due_minor` is the amount due of an open or overdue invoice, 0 for any other."""

    invoice_id: str
    status: str
    issue_date: str
    number: str
    currency: str
    amount_due_minor: int

    @property
    def newest_first_key(self) -> tuple[str, str, str]:
        return (self.issue_date, self.number, self.invoice_id)


@dataclass(frozen=True)
class PortalView:
    """One bill group's portal view document (only the parts a read asked for are filled)."""

    bill_group: BillGroupState
    payment_methods: list[PaymentMethodState] = field(default_factory=list)
    subscriptions: list[SubscriptionState] = field(default_factory=list)
    invoices: list[InvoiceEntry] = field(default_factory=list)
    # Changes whose request has been consumed (a verdict alone is never shown).
    changes: list[ChangeRecord] = field(default_factory=list)

    @property
    def payment_method_ids(self) -> list[str]:
        return [m.payment_method_id for m in self.payment_methods]
