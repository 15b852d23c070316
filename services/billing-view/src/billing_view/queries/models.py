"""Typed read-model documents the queries read.

A state document is `{_id, tenant_id, <id>, bill_group_id, current: {version, …, state}}`;
the queries need only its `state`, which is the upstream payload exactly as the contract
defines it, so the repository hands out the contract models themselves
(`portal_contracts.billing.*State`). `InvoiceListing` is the one subset: an invoice as the
list reads it, without its lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict

from portal_contracts.billing import (
    BillGroupState,
    DocumentRef,
    EntityState,
    InvoiceState,
    InvoiceStatus,
    PaymentMethodState,
    SubscriptionState,
)

__all__ = [
    "BillGroupState",
    "EntityState",
    "InvoiceListing",
    "InvoiceState",
    "PaymentMethodState",
    "QueryPlan",
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


@dataclass(frozen=True)
class QueryPlan:
    """What the server says about how it runs a query (`explain`), reduced to what we check.

    FerretDB v1 reports only whether the filter was pushed down to its SQL backend; MongoDB
    reports its winning plan (IXSCAN / IDHACK with the index's name).
    """

    ferretdb: bool
    filter_pushdown: bool | None = None
    winning_plan: str = ""
