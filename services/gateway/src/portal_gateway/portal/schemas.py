"""Typed edges of the portal slice: the JSON API's request and response bodies, and the view
models the HTML pages render (their fields are the templates' variables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from portal_gateway.clients.models import Session
from portal_gateway.portal.domain.activity import changed_fields
from portal_gateway.portal.models import (
    ActivityItem,
    Contact,
    InvoiceListing,
    Overview,
    PaymentMethod,
    Subscription,
)

# --- JSON API: requests ----------------------------------------------------------------------


class BillingProfileIn(BaseModel):
    po_number: str | None = Field(default=None, max_length=200)
    vat_number: str | None = Field(default=None, max_length=200)
    registration_number: str | None = Field(default=None, max_length=200)


class AddressIn(BaseModel):
    line1: str = Field(max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(max_length=200)
    region: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=200)
    country: str = Field(min_length=2, max_length=2)


class ContactIn(BaseModel):
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=200)
    address: AddressIn | None = None


class DefaultPaymentMethodIn(BaseModel):
    payment_method_id: str = Field(min_length=1, max_length=128)


class PaymentMethodIn(BaseModel):
    """Card fields for `card`, bank fields for `bank_account`; numbers go only to the vault."""

    type: Literal["card", "bank_account"]
    number: str | None = Field(default=None, max_length=40)
    exp_month: int | None = None
    exp_year: int | None = None
    routing_number: str | None = Field(default=None, max_length=20)
    account_number: str | None = Field(default=None, max_length=40)
    holder_name: str | None = Field(default=None, max_length=200)
    bank_name: str | None = Field(default=None, max_length=200)
    make_default: bool = False


def as_form(model: BaseModel) -> dict[str, str]:
    """A JSON body as the fields of the equivalent HTML form: one set of rules for both."""
    flat: dict[str, str] = {}
    for key, value in model.model_dump(exclude_none=True).items():
        if isinstance(value, dict):
            flat.update({k: str(v) for k, v in value.items() if v is not None})
        elif isinstance(value, bool):
            flat[key] = "true" if value else ""
        else:
            flat[key] = str(value)
    return flat


# --- JSON API: responses ---------------------------------------------------------------------


class SessionOut(BaseModel):
    """The signed-in customer: tenant, bill group, email, read-only (preview) flag."""

    tenant_id: str
    bill_group_id: str
    email: str
    read_only: bool
    expires_at: str

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        return cls(**session.model_dump(exclude={"session_token"}))


class ChangeAccepted(BaseModel):
    change_id: str
    status: str
    change: ActivityItem | None


# --- HTML pages: view models -----------------------------------------------------------------

CONTACT_ROLES = ("billing", "shipping")
# Fields of the add-payment-method form that may be shown again: never card/account numbers.
ECHOED_PAYMENT_FIELDS = ("holder_name", "bank_name", "exp_month", "exp_year", "make_default")


@dataclass(frozen=True)
class OverviewPage:
    overview: Overview
    default_method: PaymentMethod | None


@dataclass(frozen=True)
class BillingDetailsPage:
    overview: Overview
    methods: list[PaymentMethod]


@dataclass(frozen=True)
class SubscriptionsPage:
    subscriptions: list[Subscription]


@dataclass(frozen=True)
class ContactsPage:
    contacts: dict[str, Contact | None]

    @classmethod
    def of(cls, overview: Overview) -> ContactsPage:
        bill_group = overview.bill_group
        return cls({"billing": bill_group.billing_contact, "shipping": bill_group.shipping_contact})


@dataclass(frozen=True)
class ContactEditPage:
    role: str


def contact_values(contact: Contact | None) -> dict[str, str]:
    """A contact as the edit form's field values (address fields flattened)."""
    if contact is None:
        return {}
    values = {
        k: str(v) for k, v in contact.model_dump(exclude={"address"}).items() if v is not None
    }
    if contact.address is not None:
        address = contact.address.model_dump()
        values.update({k: str(v) for k, v in address.items() if v is not None})
    return values


@dataclass(frozen=True)
class PaymentMethodsPage:
    methods: list[PaymentMethod]


@dataclass(frozen=True)
class NewPaymentMethodPage:
    kind: Literal["card", "bank_account"]

    @classmethod
    def of(cls, kind: str | None) -> NewPaymentMethodPage:
        return cls("bank_account" if kind == "bank_account" else "card")


@dataclass(frozen=True)
class InvoicesPage:
    invoices: list[InvoiceListing]
    next_cursor: str | None
    status: str
    statuses: tuple[str, ...]


@dataclass(frozen=True)
class ActivityEntry:
    """One change as the activity page words it: only the fields that changed."""

    kind: str
    status: str
    actor_email: str
    requested_at: str
    settled_at: str | None
    reason: str | None
    changes: list[tuple[str, str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, item: ActivityItem) -> ActivityEntry:
        return cls(
            kind=item.kind,
            status=item.status,
            actor_email=item.actor_email,
            requested_at=item.requested_at,
            settled_at=item.settled_at,
            reason=item.reason,
            changes=changed_fields(item.before, item.after),
        )


@dataclass(frozen=True)
class ActivityPage:
    items: list[ActivityEntry]


@dataclass(frozen=True)
class ChangePage:
    change_id: str
    item: ActivityItem | None
