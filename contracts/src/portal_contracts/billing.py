"""Version-1 payloads of the upstream billing system's state events.

Each is the full state of one aggregate at `aggregate_version`; consumers keep the newest.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from portal_contracts.envelope import Identifier
from portal_contracts.money import CurrencyCode
from portal_contracts.numbers import Count, Int64

ShortText = Annotated[str, StringConstraints(max_length=200)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Logo(_Model):
    url: Annotated[str, StringConstraints(max_length=2048)] = Field(
        description="Public https (or local dev http) URL of the logo image."
    )
    alt: ShortText = ""
    width: int | None = Field(default=None, ge=1, le=4096)
    height: int | None = Field(default=None, ge=1, le=4096)


class EntityState(_Model):
    entity_id: Identifier
    name: ShortText
    logo: Logo | None = None
    support_email: ShortText | None = None


class ContractStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class BillingFrequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMI_ANNUAL = "semi_annual"
    ANNUAL = "annual"


class Address(_Model):
    line1: ShortText
    line2: ShortText | None = None
    city: ShortText
    region: ShortText | None = None
    postal_code: ShortText | None = None
    country: CountryCode


class Contact(_Model):
    name: ShortText
    email: ShortText | None = None
    phone: ShortText | None = None
    address: Address | None = None


class BillingProfile(_Model):
    po_number: ShortText | None = None
    vat_number: ShortText | None = None
    registration_number: ShortText | None = None


class BillGroupState(_Model):
    bill_group_id: Identifier
    account_id: Identifier
    account_name: ShortText
    entity_id: Identifier
    name: ShortText = Field(description="The bill group's display name.")
    currency: CurrencyCode
    contract_status: ContractStatus
    billing_frequency: BillingFrequency
    auto_pay: bool
    next_billing_date: date | None = None
    billing_profile: BillingProfile = BillingProfile()
    billing_contact: Contact | None = None
    shipping_contact: Contact | None = None
    default_payment_method_id: Identifier | None = None


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAUSED = "paused"
    PAST_DUE = "past_due"
    CANCELLED = "cancelled"


class BillingPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    ONE_TIME = "one_time"


class SubscriptionItem(_Model):
    product_name: ShortText
    quantity: Count
    unit_price_minor: Int64
    currency: CurrencyCode
    period: BillingPeriod


class SubscriptionState(_Model):
    subscription_id: Identifier
    bill_group_id: Identifier
    name: ShortText
    status: SubscriptionStatus
    start_date: date
    end_date: date | None = None
    items: tuple[SubscriptionItem, ...] = ()


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    OVERDUE = "overdue"
    PAID = "paid"
    VOID = "void"


class InvoiceLine(_Model):
    description: ShortText
    quantity: Count
    unit_amount_minor: Int64
    amount_minor: Int64


class DocumentRef(_Model):
    """Where the invoice PDF lives; only the portal's gateway streams it to the customer."""

    bucket: Annotated[str, StringConstraints(min_length=3, max_length=63)]
    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    content_type: ShortText = "application/pdf"
    filename: ShortText
    size_bytes: Count | None = None


class InvoiceState(_Model):
    invoice_id: Identifier
    bill_group_id: Identifier
    number: ShortText
    status: InvoiceStatus
    issue_date: date
    due_date: date
    currency: CurrencyCode
    subtotal_minor: Int64
    tax_minor: Int64
    total_minor: Int64
    amount_due_minor: Int64
    amount_paid_minor: Int64
    lines: tuple[InvoiceLine, ...] = ()
    document: DocumentRef | None = None


class PaymentMethodType(StrEnum):
    CARD = "card"
    BANK_ACCOUNT = "bank_account"


class PaymentMethodStatus(StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"


class PaymentMethodState(_Model):
    payment_method_id: Identifier
    bill_group_id: Identifier
    type: PaymentMethodType
    brand: ShortText = Field(description="Card brand, or the bank's name for bank accounts.")
    last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
    exp_month: int | None = Field(default=None, ge=1, le=12)
    exp_year: int | None = Field(default=None, ge=2000, le=2200)
    holder_name: ShortText | None = None
    status: PaymentMethodStatus = PaymentMethodStatus.ACTIVE


class ChangeOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ChangeResult(_Model):
    change_id: Identifier
    bill_group_id: Identifier
    outcome: ChangeOutcome
    reason: ShortText | None = None
