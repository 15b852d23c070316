"""Typed documents of the customer changes: what was asked for, what it replaced, the verdict.

`before` and `after` hold one of the values a customer can change: a billing profile, a
contact, a default payment method (by id) or a newly added payment method (as the customer
sees it: never the vault token).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from portal_contracts.billing import BillingProfile, Contact, PaymentMethodType

ChangeKind = Literal[
    "billing_profile",
    "billing_contact",
    "shipping_contact",
    "default_payment_method",
    "payment_method_added",
]
ChangeStatus = Literal["pending", "accepted", "rejected"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PaymentMethodRef(_Model):
    """A default payment method change: the id asked for (or replaced; null when none was)."""

    payment_method_id: str | None


class AddedPaymentMethod(_Model):
    """A payment method the customer added, as the portal shows it (no vault token)."""

    payment_method_id: str
    type: PaymentMethodType
    brand: str
    last4: str
    exp_month: int | None = None
    exp_year: int | None = None
    holder_name: str | None = None
    make_default: bool = False


ChangeValue = BillingProfile | Contact | PaymentMethodRef | AddedPaymentMethod


class ChangeRecord(_Model):
    """A customer change whose request billing-view has consumed (its verdict may be pending).

    A verdict that arrives before its request is stored without the request fields; the
    repository never hands such a document out.
    """

    tenant_id: str
    bill_group_id: str
    change_id: str
    kind: ChangeKind
    actor_email: str
    before: ChangeValue | None = None
    after: ChangeValue | None = None
    status: ChangeStatus = "pending"
    reason: str | None = None
    requested_at: str
    settled_at: str | None = None


class ChangeKey(_Model):
    """An idempotency key of a bill group's customer change: the first submit's change id and
    body fingerprint. `publish` tells THIS caller to publish the change (it holds the lease:
    it made the key, or the previous holder's lease ran out before it published)."""

    change_id: str
    fingerprint: str
    published: bool
    publish: bool
