"""Pure rules of the billing read model: no I/O, so every rule is tested in isolation.

- how an upstream state event becomes a read-model document (and when it is invalid);
- how a customer change becomes an activity item, and when upstream state has caught up;
- the billing summary (outstanding per currency, auto-pay status);
- the invoice list cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal_contracts import billing, portal
from portal_contracts.envelope import Envelope
from portal_contracts.registry import EventType

# Collections of the read model and the payload id field that names each aggregate.
ENTITIES = "entities"
BILL_GROUPS = "bill_groups"
SUBSCRIPTIONS = "subscriptions"
INVOICES = "invoices"
PAYMENT_METHODS = "payment_methods"
CHANGES = "changes"

STATE_COLLECTIONS: dict[str, tuple[str, str]] = {
    EventType.ENTITY_STATE.value: (ENTITIES, "entity_id"),
    EventType.BILL_GROUP_STATE.value: (BILL_GROUPS, "bill_group_id"),
    EventType.SUBSCRIPTION_STATE.value: (SUBSCRIPTIONS, "subscription_id"),
    EventType.INVOICE_STATE.value: (INVOICES, "invoice_id"),
    EventType.PAYMENT_METHOD_STATE.value: (PAYMENT_METHODS, "payment_method_id"),
}

OPEN_STATUSES = frozenset({billing.InvoiceStatus.OPEN.value, billing.InvoiceStatus.OVERDUE.value})


class InvalidEventError(ValueError):
    """A well-formed event that the read model cannot accept (it goes to the dead letters)."""


def doc_id(tenant_id: str, aggregate_id: str) -> str:
    # The tenant is part of the key: two tenants may reuse the same upstream ids.
    return f"{tenant_id}|{aggregate_id}"


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


# --- customer changes and the activity history ------------------------------------------

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
    kind: str
    actor_email: str
    after: dict[str, Any]
    requested_at: str


def change_request(event: Envelope[Any]) -> ChangeRequest:
    """What a customer asked for; `before` is taken from the read model when it is recorded."""
    payload = event.payload
    if payload.bill_group_id != event.aggregate_id:
        raise InvalidEventError("aggregate_id must be the change's bill group id")
    after: dict[str, Any]
    if isinstance(payload, portal.BillingProfileChangeRequested):
        kind = "billing_profile"
        after = payload.billing_profile.model_dump(mode="json")
    elif isinstance(payload, portal.ContactChangeRequested):
        kind = f"{payload.role.value}_contact"
        after = payload.contact.model_dump(mode="json")
    elif isinstance(payload, portal.DefaultPaymentMethodChangeRequested):
        kind = "default_payment_method"
        after = {"payment_method_id": payload.payment_method_id}
    elif isinstance(payload, portal.PaymentMethodAddRequested):
        kind = "payment_method_added"
        # The vault token stays upstream's business: the history shows what the customer sees.
        after = payload.model_dump(
            mode="json", exclude={"change_id", "bill_group_id", "actor_email", "vault_token"}
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


def before_value(kind: str, bill_group_state: Mapping[str, Any] | None) -> Any:
    """The value a change replaces, as the read model holds it when the change arrives."""
    if bill_group_state is None or kind == "payment_method_added":
        return None
    if kind == "billing_profile":
        return bill_group_state.get("billing_profile")
    if kind in ("billing_contact", "shipping_contact"):
        return bill_group_state.get(kind)
    if kind == "default_payment_method":
        return {"payment_method_id": bill_group_state.get("default_payment_method_id")}
    return None


def caught_up(
    kind: str,
    after: Mapping[str, Any] | None,
    bill_group_state: Mapping[str, Any] | None,
    payment_method_ids: Iterable[str],
) -> bool:
    """True when upstream state already shows what the customer asked for."""
    if after is None or bill_group_state is None:
        return False
    if kind == "billing_profile":
        return bool(_drop_none(bill_group_state.get("billing_profile")) == _drop_none(after))
    if kind in ("billing_contact", "shipping_contact"):
        return bool(_drop_none(bill_group_state.get(kind)) == _drop_none(after))
    if kind == "default_payment_method":
        return bill_group_state.get("default_payment_method_id") == after.get("payment_method_id")
    if kind == "payment_method_added":
        return after.get("payment_method_id") in set(payment_method_ids)
    return False


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def activity_status(
    change: Mapping[str, Any],
    bill_group_state: Mapping[str, Any] | None,
    payment_method_ids: Iterable[str],
) -> str:
    """A change result decides; without one, upstream state catching up settles it."""
    status = str(change.get("status", "pending"))
    if status == "pending" and caught_up(
        str(change.get("kind")), change.get("after"), bill_group_state, payment_method_ids
    ):
        return "accepted"
    return status


# --- the billing summary -----------------------------------------------------------------


def outstanding(invoices: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Amount due of open and overdue invoices per currency; draft, paid and void don't count."""
    totals: dict[str, int] = {}
    for invoice in invoices:
        if invoice["status"] in OPEN_STATUSES:
            currency = invoice["currency"]
            totals[currency] = totals.get(currency, 0) + int(invoice["amount_due_minor"])
    return [{"currency": c, "amount_minor": totals[c]} for c in sorted(totals)]


def is_expired(payment_method: Mapping[str, Any], today: date) -> bool:
    """A card is valid through the last day of its expiry month; bank accounts don't expire."""
    month, year = payment_method.get("exp_month"), payment_method.get("exp_year")
    if month is None or year is None:
        return False
    return (int(year), int(month)) < (today.year, today.month)


def usable(payment_method: Mapping[str, Any] | None, today: date) -> bool:
    return (
        payment_method is not None
        and payment_method.get("status") == billing.PaymentMethodStatus.ACTIVE.value
        and not is_expired(payment_method, today)
    )


def default_payment_method(
    bill_group_state: Mapping[str, Any], payment_methods: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    default_id = bill_group_state.get("default_payment_method_id")
    if default_id is None:
        return None
    for method in payment_methods:
        if method["payment_method_id"] == default_id:
            return method
    return None


def auto_pay_active(
    bill_group_state: Mapping[str, Any],
    payment_methods: Iterable[Mapping[str, Any]],
    today: date,
) -> bool:
    """On only when auto-pay is enabled AND the default method exists, is active, not expired."""
    if not bill_group_state.get("auto_pay"):
        return False
    return usable(default_payment_method(bill_group_state, payment_methods), today)


def payment_method_view(
    payment_method: Mapping[str, Any], bill_group_state: Mapping[str, Any] | None, today: date
) -> dict[str, Any]:
    default_id = (
        None if bill_group_state is None else bill_group_state.get("default_payment_method_id")
    )
    return {
        **payment_method,
        "is_default": payment_method["payment_method_id"] == default_id,
        "expired": is_expired(payment_method, today),
    }


def summary(
    bill_group_state: Mapping[str, Any],
    invoices: Iterable[Mapping[str, Any]],
    payment_methods: Iterable[Mapping[str, Any]],
    today: date,
) -> dict[str, Any]:
    methods = list(payment_methods)
    default = default_payment_method(bill_group_state, methods)
    if default is not None and default.get("status") != billing.PaymentMethodStatus.ACTIVE.value:
        default = None
    return {
        "next_billing_date": bill_group_state.get("next_billing_date"),
        "outstanding": outstanding(invoices),
        "billing_frequency": bill_group_state.get("billing_frequency"),
        "auto_pay_active": auto_pay_active(bill_group_state, methods, today),
        "default_payment_method": (
            None if default is None else payment_method_view(default, bill_group_state, today)
        ),
    }


# --- invoice list cursor -----------------------------------------------------------------


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class InvoiceCursor:
    """Position after the last invoice of a page (the list is issue_date, number, id desc)."""

    issue_date: str
    number: str
    invoice_id: str

    def encode(self) -> str:
        raw = json.dumps([self.issue_date, self.number, self.invoice_id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> InvoiceCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            values = json.loads(raw)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursorError("cursor is not one this service issued") from exc
        if (
            not isinstance(values, list)
            or len(values) != 3
            or not all(isinstance(v, str) for v in values)
        ):
            raise InvalidCursorError("cursor is not one this service issued")
        return cls(values[0], values[1], values[2])
