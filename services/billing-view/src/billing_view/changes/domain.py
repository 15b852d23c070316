"""Pure rules of customer changes and the activity history: no I/O.

- how a `customer_change.*` event becomes a change request (and when it is invalid);
- what value a change replaces, as the read model holds it when the change arrives;
- when upstream state has caught up with a change (it then reads `accepted` even before
  its `change.result` arrives).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from billing_view.changes.models import (
    AddedPaymentMethod,
    ChangeKind,
    ChangeRecord,
    ChangeStatus,
    ChangeValue,
    PaymentMethodRef,
)
from billing_view.errors import InvalidEventError
from portal_contracts import portal
from portal_contracts.billing import BillGroupState, BillingProfile, Contact
from portal_contracts.envelope import Envelope
from portal_contracts.registry import EventType

# How long the caller that claimed a key may take to publish its change before a repeat with
# the same key publishes it instead (the first crashed): beyond the gateway's publish timeout.
KEY_LEASE = timedelta(seconds=30)

CUSTOMER_CHANGE_TYPES = frozenset(
    {
        EventType.BILLING_PROFILE_CHANGE_REQUESTED.value,
        EventType.CONTACT_CHANGE_REQUESTED.value,
        EventType.DEFAULT_PAYMENT_METHOD_CHANGE_REQUESTED.value,
        EventType.PAYMENT_METHOD_ADD_REQUESTED.value,
    }
)


@dataclass(frozen=True)
class ChangeRequest:
    tenant_id: str
    bill_group_id: str
    change_id: str
    kind: ChangeKind
    actor_email: str
    after: ChangeValue
    requested_at: str


def is_change_request(event_type: str) -> bool:
    return event_type in CUSTOMER_CHANGE_TYPES


def is_change_result(event_type: str) -> bool:
    return event_type == EventType.CHANGE_RESULT.value


def change_request(event: Envelope[Any]) -> ChangeRequest:
    """What a customer asked for; `before` is taken from the read model when it is recorded."""
    payload = event.payload
    if payload.bill_group_id != event.aggregate_id:
        raise InvalidEventError("aggregate_id must be the change's bill group id")
    kind: ChangeKind
    after: ChangeValue
    if isinstance(payload, portal.BillingProfileChangeRequested):
        kind, after = "billing_profile", payload.billing_profile
    elif isinstance(payload, portal.ContactChangeRequested):
        kind = (
            "billing_contact" if payload.role is portal.ContactRole.BILLING else "shipping_contact"
        )
        after = payload.contact
    elif isinstance(payload, portal.DefaultPaymentMethodChangeRequested):
        kind, after = (
            "default_payment_method",
            PaymentMethodRef(payment_method_id=payload.payment_method_id),
        )
    elif isinstance(payload, portal.PaymentMethodAddRequested):
        kind = "payment_method_added"
        # The vault token stays upstream's business: the history shows what the customer sees.
        after = AddedPaymentMethod.model_validate(
            payload.model_dump(exclude={"change_id", "bill_group_id", "actor_email", "vault_token"})
        )
    else:
        raise InvalidEventError(f"{event.type} is not a customer change")
    return ChangeRequest(
        tenant_id=event.tenant_id,
        bill_group_id=payload.bill_group_id,
        change_id=payload.change_id,
        kind=kind,
        actor_email=payload.actor_email,
        after=after,
        requested_at=event.occurred_at.isoformat(),
    )


def before_value(kind: ChangeKind, bill_group: BillGroupState | None) -> ChangeValue | None:
    """The value a change replaces, as the read model holds it when the change arrives."""
    if bill_group is None or kind == "payment_method_added":
        return None
    if kind == "billing_profile":
        return bill_group.billing_profile
    if kind == "billing_contact":
        return bill_group.billing_contact
    if kind == "shipping_contact":
        return bill_group.shipping_contact
    return PaymentMethodRef(payment_method_id=bill_group.default_payment_method_id)


def _same(held: BillingProfile | Contact | None, asked: ChangeValue) -> bool:
    """Equal once unset (null) fields are left out on both sides."""
    if held is None:
        return False
    return held.model_dump(mode="json", exclude_none=True) == asked.model_dump(
        mode="json", exclude_none=True
    )


def caught_up(
    kind: ChangeKind,
    after: ChangeValue | None,
    bill_group: BillGroupState | None,
    payment_method_ids: Iterable[str],
) -> bool:
    """True when upstream state already shows what the customer asked for."""
    if after is None or bill_group is None:
        return False
    if kind == "billing_profile":
        return _same(bill_group.billing_profile, after)
    if kind == "billing_contact":
        return _same(bill_group.billing_contact, after)
    if kind == "shipping_contact":
        return _same(bill_group.shipping_contact, after)
    if kind == "default_payment_method":
        return isinstance(after, PaymentMethodRef) and (
            bill_group.default_payment_method_id == after.payment_method_id
        )
    return isinstance(after, AddedPaymentMethod) and after.payment_method_id in set(
        payment_method_ids
    )


def activity_status(
    change: ChangeRecord, bill_group: BillGroupState | None, payment_method_ids: Iterable[str]
) -> ChangeStatus:
    """A change result decides; without one, upstream state catching up settles it."""
    if change.status == "pending" and caught_up(
        change.kind, change.after, bill_group, payment_method_ids
    ):
        return "accepted"
    return change.status
