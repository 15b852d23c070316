"""The documents an upstream state becomes: one or two version-gated updates by `_id`.

Pure (no I/O): the repository sends these, `billing-view documents` prints them. Every item
(a bill group's state, each payment method, subscription and invoice entry in a portal
view, an invoice, an entity, a bill group in its account's list) is a subdocument whose
FIRST field is its version `v` (`db.version_key`), and it is written with `$max` on its
path, filtered by `_id` alone: MongoDB compares subdocuments field by field, so the item
with the higher version wins, atomically and in any order (equal versions fall through to
the content, which still picks the same winner in any order). The filter is `_id` alone on
purpose: it is served by the `_id` index everywhere (mongo-java-server scans the collection
for an update filter with any further condition). `Item` builds every item, so the
version-first rule lives here and nowhere else. States are stored as their contract JSON
text (`s`), so every contract-valid value is storable (BSON has no integer beyond 64 bits)
and reads decode with pydantic's JSON parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from billing_view import db
from billing_view.projection.domain import StateWrite
from billing_view.queries.domain import OPEN_STATUSES
from portal_contracts.billing import (
    BillGroupState,
    EntityState,
    InvoiceLine,
    InvoiceState,
    PaymentMethodState,
    SubscriptionState,
)

# Fields of a portal view document (`db.view_id`).
BILL_GROUP = "bg"  # {v, s}: the bill group's state
PAYMENT_METHODS = "pm"  # {k<id>: {v, s}}
SUBSCRIPTIONS = "sub"  # {k<id>: {v, s}}
INVOICES = "inv"  # {k<id>: {v, i, st, d, n, c, a}}: the list's keys and the summary's inputs
CHANGES = "chg"  # {k<change id>: change record}
# Field of an account document (`db.account_id`).
ACCOUNT_BILL_GROUPS = "bgs"  # {k<bill group id>: {v, s}}


_LINES: TypeAdapter[tuple[InvoiceLine, ...]] = TypeAdapter(tuple[InvoiceLine, ...])

# Field of an invoice or entity document holding its item.
STATE = "state"


def item(version: str, **fields: Any) -> dict[str, Any]:
    """An item: its version FIRST (what `$max` compares before anything else)."""
    return {"v": version, **fields}


@dataclass(frozen=True)
class Upsert:
    """`update_one({_id}, {$max: {path: item}, $setOnInsert}, upsert=True)`."""

    id: str
    path: str
    item: dict[str, Any]
    on_insert: dict[str, Any]

    @property
    def filter(self) -> dict[str, Any]:
        return {"_id": self.id}

    @property
    def update(self) -> dict[str, Any]:
        return {"$max": {self.path: self.item}, "$setOnInsert": self.on_insert}


def _invoice_entry(invoice: InvoiceState, version: str) -> dict[str, Any]:
    """The invoice as its bill group's view indexes it: sort keys, status, amount due."""
    return item(
        version,
        i=invoice.invoice_id,
        st=invoice.status.value,
        d=invoice.issue_date.isoformat(),
        n=invoice.number,
        c=invoice.currency,
        # Text: the contract's integers are unbounded. Only open/overdue amounts are read.
        a=str(invoice.amount_due_minor) if invoice.status.value in OPEN_STATUSES else "0",
    )


def _view(tenant_id: str, bill_group_id: str) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "bill_group_id": bill_group_id}


def _in_view(write: StateWrite, bill_group_id: str, field: str, value: dict[str, Any]) -> Upsert:
    path = f"{field}.{db.field(write.aggregate_id)}"
    on_insert = _view(write.tenant_id, bill_group_id)
    return Upsert(db.view_id(write.tenant_id, bill_group_id), path, value, on_insert)


def upserts(write: StateWrite) -> list[Upsert]:
    """The writes of one state; the first is the item itself, the second (if any) its entry
    in another document (an invoice in its view, a bill group in its account's list)."""
    v = db.version_key(write.version)
    state = write.state
    tenant = write.tenant_id
    if isinstance(state, EntityState):
        entity = {"tenant_id": tenant, "entity_id": state.entity_id}
        key = db.entity_id(tenant, state.entity_id)
        return [Upsert(key, STATE, item(v, s=state.model_dump_json()), entity)]
    if isinstance(state, BillGroupState):
        listed = json.dumps(
            {
                "bill_group_id": state.bill_group_id,
                "name": state.name,
                "contract_status": state.contract_status.value,
                "currency": state.currency,
            }
        )
        account = {"tenant_id": tenant, "account_id": state.account_id}
        return [
            Upsert(
                db.view_id(tenant, state.bill_group_id),
                BILL_GROUP,
                item(v, s=state.model_dump_json()),
                _view(tenant, state.bill_group_id),
            ),
            Upsert(
                db.account_id(tenant, state.account_id),
                f"{ACCOUNT_BILL_GROUPS}.{db.field(state.bill_group_id)}",
                item(v, s=listed),
                account,
            ),
        ]
    if isinstance(state, PaymentMethodState):
        value = item(v, s=state.model_dump_json())
        return [_in_view(write, state.bill_group_id, PAYMENT_METHODS, value)]
    if isinstance(state, SubscriptionState):
        value = item(v, s=state.model_dump_json())
        return [_in_view(write, state.bill_group_id, SUBSCRIPTIONS, value)]
    assert isinstance(state, InvoiceState), write.kind
    bg = state.bill_group_id
    document = item(
        v,
        s=state.model_dump_json(exclude={"lines"}),
        l=_LINES.dump_json(state.lines).decode(),
    )
    on_insert = {**_view(tenant, bg), "invoice_id": state.invoice_id}
    return [
        Upsert(db.invoice_id(tenant, bg, state.invoice_id), STATE, document, on_insert),
        _in_view(write, bg, INVOICES, _invoice_entry(state, v)),
    ]


def _get(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def _order(value: dict[str, Any]) -> list[tuple[str, Any]]:
    """How MongoDB orders two items (all fields text): field by field, name then value."""
    return list(value.items())


def apply_in_memory(documents: dict[str, dict[str, Any]], upsert: Upsert) -> bool:
    """What MongoDB does with the upsert, on a dict of documents by `_id` (the documents
    CLI and the tests' in-memory writer); False when it changed nothing (stale)."""
    doc = documents.get(upsert.id)
    if doc is None:
        doc = documents[upsert.id] = {"_id": upsert.id, **upsert.on_insert}
    held = _get(doc, upsert.path)
    if isinstance(held, dict) and _order(held) >= _order(upsert.item):
        return False
    _set(doc, upsert.path, upsert.item)
    return True
