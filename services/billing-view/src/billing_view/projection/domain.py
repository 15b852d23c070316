"""Pure rules of the projection: how an upstream state event becomes a version-gated write.

No I/O. Upstream events are *state* events ("this is the invoice now, at version N"): the
read model keeps, per item, the newest version it has seen, so replays, duplicates and
reordering all end on the same read model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from billing_view.errors import InvalidEventError
from portal_contracts.billing import (
    BillGroupState,
    EntityState,
    InvoiceState,
    PaymentMethodState,
    SubscriptionState,
)
from portal_contracts.envelope import Envelope
from portal_contracts.registry import EventType


class Kind(StrEnum):
    ENTITY = "entity"
    BILL_GROUP = "bill_group"
    SUBSCRIPTION = "subscription"
    INVOICE = "invoice"
    PAYMENT_METHOD = "payment_method"


State = EntityState | BillGroupState | SubscriptionState | InvoiceState | PaymentMethodState

# Kind of each upstream state event and the payload id field that names its aggregate.
STATE_KINDS: dict[str, tuple[Kind, str]] = {
    EventType.ENTITY_STATE.value: (Kind.ENTITY, "entity_id"),
    EventType.BILL_GROUP_STATE.value: (Kind.BILL_GROUP, "bill_group_id"),
    EventType.SUBSCRIPTION_STATE.value: (Kind.SUBSCRIPTION, "subscription_id"),
    EventType.INVOICE_STATE.value: (Kind.INVOICE, "invoice_id"),
    EventType.PAYMENT_METHOD_STATE.value: (Kind.PAYMENT_METHOD, "payment_method_id"),
}


@dataclass(frozen=True)
class StateWrite:
    """One upstream state at one version: written only where the read model holds an older
    version of the same item (or none)."""

    kind: Kind
    tenant_id: str
    aggregate_id: str
    version: int
    state: State

    @property
    def key(self) -> tuple[str, str, str]:
        """The item this state replaces: kind, tenant, aggregate id."""
        return (self.kind.value, self.tenant_id, self.aggregate_id)


def is_state_event(event_type: str) -> bool:
    return event_type in STATE_KINDS


def state_write(event: Envelope[Any]) -> StateWrite:
    """The write an upstream state event stands for; raises InvalidEventError if inconsistent."""
    target = STATE_KINDS.get(event.type)
    if target is None:
        raise InvalidEventError(f"{event.type} is not an upstream state event")
    kind, id_field = target
    if event.aggregate_version is None:
        raise InvalidEventError(f"{event.type} without aggregate_version cannot be ordered")
    payload = event.payload
    aggregate_id = getattr(payload, id_field)
    if aggregate_id != event.aggregate_id:
        raise InvalidEventError(
            f"aggregate_id {event.aggregate_id!r} does not match payload {id_field} "
            f"{aggregate_id!r}"
        )
    return StateWrite(kind, event.tenant_id, aggregate_id, event.aggregate_version, payload)


def newest_per_item(writes: Iterable[StateWrite]) -> list[StateWrite]:
    """Within one batch only the newest version of an item can win: write just that one."""
    newest: dict[tuple[str, str, str], StateWrite] = {}
    for write in writes:
        current = newest.get(write.key)
        if current is None or write.version > current.version:
            newest[write.key] = write
    return list(newest.values())
