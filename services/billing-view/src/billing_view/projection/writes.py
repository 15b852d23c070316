"""The documents an upstream state becomes: one or two version-gated upserts by `_id`.

Pure (no I/O): the repository sends these, `billing-view documents` prints them. Every item
(the bill group's state, each payment method, subscription and invoice entry in a portal
view, an invoice, an entity, a bill group in its account's list) carries its own version
`v` (`db.version_key`); an upsert's filter is `{_id, <item>.v: {$not: {$gte: v}}}`, so it
changes the document only when the held version is older or absent. When the held version
is the same or newer, the filter misses and the upsert's insert collides with the existing
`_id` (duplicate key): that write is stale, and the read model is unchanged. States are
stored as their contract JSON text (`s`), so every contract-valid value is storable (BSON
has no integer beyond 64 bits) and reads decode with pydantic's JSON parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from billing_view import db
from billing_view.projection.domain import StateWrite
from billing_view.queries.domain import OPEN_STATUSES
from portal_contracts.billing import (
    BillGroupState,
    EntityState,
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


@dataclass(frozen=True)
class Upsert:
    """`update_one(filter, update, upsert=True)` gated on the item's version at `gate`."""

    id: str
    gate: str
    fields: dict[str, Any]
    on_insert: dict[str, Any]
    version: str

    @property
    def filter(self) -> dict[str, Any]:
        return {"_id": self.id, self.gate: {"$not": {"$gte": self.version}}}

    @property
    def update(self) -> dict[str, Any]:
        return {"$set": self.fields, "$setOnInsert": self.on_insert}


def _invoice_entry(invoice: InvoiceState, version: str) -> dict[str, Any]:
    """The invoice as its bill group's view indexes it: sort keys, status, amount due."""
    return {
        "v": version,
        "i": invoice.invoice_id,
        "st": invoice.status.value,
        "d": invoice.issue_date.isoformat(),
        "n": invoice.number,
        "c": invoice.currency,
        # Text: the contract's integers are unbounded. Only open/overdue amounts are read.
        "a": str(invoice.amount_due_minor) if invoice.status.value in OPEN_STATUSES else "0",
    }


def _view(tenant_id: str, bill_group_id: str) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "bill_group_id": bill_group_id}


def _in_view(write: StateWrite, bill_group_id: str, field: str, item: dict[str, Any]) -> Upsert:
    path = f"{field}.{db.field(write.aggregate_id)}"
    return Upsert(
        db.view_id(write.tenant_id, bill_group_id),
        f"{path}.v",
        {path: item},
        _view(write.tenant_id, bill_group_id),
        item["v"],
    )


def upserts(write: StateWrite) -> list[Upsert]:
    """The writes of one state; the first is the item itself (applied or stale)."""
    v = db.version_key(write.version)
    state = write.state
    tenant = write.tenant_id
    if isinstance(state, EntityState):
        entity = {"tenant_id": tenant, "entity_id": state.entity_id}
        return [
            Upsert(
                db.entity_id(tenant, state.entity_id),
                "v",
                {"v": v, "s": state.model_dump_json()},
                entity,
                v,
            )
        ]
    if isinstance(state, BillGroupState):
        listed = json.dumps(
            {
                "bill_group_id": state.bill_group_id,
                "name": state.name,
                "contract_status": state.contract_status.value,
                "currency": state.currency,
            }
        )
        path = f"{ACCOUNT_BILL_GROUPS}.{db.field(state.bill_group_id)}"
        return [
            Upsert(
                db.view_id(tenant, state.bill_group_id),
                f"{BILL_GROUP}.v",
                {BILL_GROUP: {"v": v, "s": state.model_dump_json()}},
                _view(tenant, state.bill_group_id),
                v,
            ),
            Upsert(
                db.account_id(tenant, state.account_id),
                f"{path}.v",
                {path: {"v": v, "s": listed}},
                {"tenant_id": tenant, "account_id": state.account_id},
                v,
            ),
        ]
    if isinstance(state, PaymentMethodState):
        item = {"v": v, "s": state.model_dump_json()}
        return [_in_view(write, state.bill_group_id, PAYMENT_METHODS, item)]
    if isinstance(state, SubscriptionState):
        item = {"v": v, "s": state.model_dump_json()}
        return [_in_view(write, state.bill_group_id, SUBSCRIPTIONS, item)]
    assert isinstance(state, InvoiceState), write.kind
    bg = state.bill_group_id
    document = {
        "v": v,
        "s": state.model_dump_json(exclude={"lines"}),
        "l": json.dumps([line.model_dump(mode="json") for line in state.lines]),
    }
    return [
        Upsert(
            db.invoice_id(tenant, bg, state.invoice_id),
            "v",
            document,
            {**_view(tenant, bg), "invoice_id": state.invoice_id},
            v,
        ),
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


def apply_in_memory(documents: dict[str, dict[str, Any]], upsert: Upsert) -> bool:
    """What MongoDB does with the upsert, on a dict of documents by `_id` (the documents
    CLI and the tests' in-memory writer); False when it is stale."""
    doc = documents.get(upsert.id)
    if doc is not None:
        held = _get(doc, upsert.gate)
        if isinstance(held, str) and held >= upsert.version:
            return False
    else:
        doc = documents[upsert.id] = {"_id": upsert.id, **upsert.on_insert}
    for path, value in upsert.fields.items():
        _set(doc, path, value)
    return True
