"""Pure rules of the projection: how an upstream state event becomes a version-gated write.

No I/O. Upstream events are *state* events ("this is the invoice now, at version N"): the
read model keeps, per document, the newest version it has seen, so replays, duplicates and
reordering all end on the same read model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from billing_view.db import (
    BILL_GROUPS,
    ENTITIES,
    INVOICES,
    PAYMENT_METHODS,
    SUBSCRIPTIONS,
    doc_id,
)
from billing_view.errors import InvalidEventError
from portal_contracts.envelope import Envelope
from portal_contracts.registry import EventType

# Collection of each upstream state event and the payload id field that names its aggregate.
STATE_COLLECTIONS: dict[str, tuple[str, str]] = {
    EventType.ENTITY_STATE.value: (ENTITIES, "entity_id"),
    EventType.BILL_GROUP_STATE.value: (BILL_GROUPS, "bill_group_id"),
    EventType.SUBSCRIPTION_STATE.value: (SUBSCRIPTIONS, "subscription_id"),
    EventType.INVOICE_STATE.value: (INVOICES, "invoice_id"),
    EventType.PAYMENT_METHOD_STATE.value: (PAYMENT_METHODS, "payment_method_id"),
}


@dataclass(frozen=True)
class StateWrite:
    """One version-gated write of a document.

    `keys` never change for a document (tenant, its own id, its bill group); `current` is
    everything that does, with `version` as its FIRST field: stored with `$max`, a newer
    `current` replaces an older one in one atomic, order-independent write (documents
    compare field by field, so the version decides; equal versions fall through to
    `occurred_at` and the content, which still picks the same winner in any order).
    """

    collection: str
    id: str
    version: int
    keys: dict[str, Any]
    current: dict[str, Any]

    def document(self) -> dict[str, Any]:
        return {"_id": self.id, **self.keys, "current": self.current}


def is_state_event(event_type: str) -> bool:
    return event_type in STATE_COLLECTIONS


def state_write(event: Envelope[Any]) -> StateWrite:
    """The document an upstream state event stands for; raises InvalidEventError if inconsistent."""
    target = STATE_COLLECTIONS.get(event.type)
    if target is None:
        raise InvalidEventError(f"{event.type} is not an upstream state event")
    collection, id_field = target
    if event.aggregate_version is None:
        raise InvalidEventError(f"{event.type} without aggregate_version cannot be ordered")
    payload = event.payload.model_dump(mode="json")
    aggregate_id = payload[id_field]
    if aggregate_id != event.aggregate_id:
        raise InvalidEventError(
            f"aggregate_id {event.aggregate_id!r} does not match payload {id_field} "
            f"{aggregate_id!r}"
        )
    keys: dict[str, Any] = {"tenant_id": event.tenant_id, id_field: aggregate_id}
    if collection != ENTITIES:
        keys["bill_group_id"] = payload["bill_group_id"]
    current: dict[str, Any] = {
        "version": event.aggregate_version,
        "occurred_at": event.occurred_at.isoformat(),
    }
    # The fields the queries filter and sort on, beside the state (indexable paths).
    if collection == BILL_GROUPS:
        current["account_id"] = payload["account_id"]
    elif collection == INVOICES:
        current["status"] = payload["status"]
        current["issue_date"] = payload["issue_date"]
        current["number"] = payload["number"]
    elif collection in (PAYMENT_METHODS, SUBSCRIPTIONS):
        current["status"] = payload["status"]
    current["state"] = payload
    return StateWrite(
        collection, doc_id(event.tenant_id, aggregate_id), event.aggregate_version, keys, current
    )


def newest_per_document(writes: Iterable[StateWrite]) -> list[StateWrite]:
    """Within one batch only the newest version of a document can win: write just that one."""
    newest: dict[tuple[str, str], StateWrite] = {}
    for write in writes:
        key = (write.collection, write.id)
        current = newest.get(key)
        if current is None or write.version > current.version:
            newest[key] = write
    return list(newest.values())
