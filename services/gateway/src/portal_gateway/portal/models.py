"""The customer's billing records as billing-view serves them (docs/internal-apis.md): the
billing-view client decodes into these, use cases return them, the JSON API answers with them
(so the OpenAPI document shows their shapes) and page view models carry them.

Owned by the gateway (it never imports billing-view). Unknown extra members are ignored;
times stay the ISO 8601 text billing-view sends, dates are dates, money is integer minor units.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, JsonValue

from portal_contracts.billing import (
    BillingFrequency,
    BillingPeriod,
    ContractStatus,
    InvoiceStatus,
    PaymentMethodStatus,
    PaymentMethodType,
    SubscriptionStatus,
)


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Logo(Record):
    url: str
    alt: str = ""
    width: int | None = None
    height: int | None = None


class Entity(Record):
    entity_id: str
    name: str | None = None
    logo: Logo | None = None


class Branding(Record):
    """The seller's name and logo, on every page and the sign-in page."""

    entity: Entity | None = None
    bill_group_name: str | None = None
    account_name: str | None = None


class Address(Record):
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str | None = None
    country: str


class Contact(Record):
    name: str
    email: str | None = None
    phone: str | None = None
    address: Address | None = None


class BillingProfile(Record):
    po_number: str | None = None
    vat_number: str | None = None
    registration_number: str | None = None


class BillGroup(Record):
    bill_group_id: str
    account_id: str
    account_name: str
    name: str
    currency: str
    contract_status: ContractStatus
    billing_frequency: BillingFrequency
    auto_pay: bool
    next_billing_date: date | None = None
    billing_profile: BillingProfile = BillingProfile()
    billing_contact: Contact | None = None
    shipping_contact: Contact | None = None
    default_payment_method_id: str | None = None


class PaymentMethod(Record):
    payment_method_id: str
    bill_group_id: str
    type: PaymentMethodType
    brand: str
    last4: str
    exp_month: int | None = None
    exp_year: int | None = None
    holder_name: str | None = None
    status: PaymentMethodStatus = PaymentMethodStatus.ACTIVE
    is_default: bool = False
    expired: bool = False


class Amount(Record):
    currency: str
    amount_minor: int


class Summary(Record):
    next_billing_date: date | None = None
    outstanding: list[Amount] = []
    billing_frequency: BillingFrequency | None = None
    auto_pay_active: bool = False
    default_payment_method: PaymentMethod | None = None


class ActivityItem(Record):
    """One customer change and what became of it. `before`/`after` are the replaced and the
    requested value, whose shape depends on `kind` (a billing profile, a contact, a payment
    method id, a new payment method's public details)."""

    change_id: str
    kind: str
    actor_email: str
    before: dict[str, JsonValue] | None = None
    after: dict[str, JsonValue] | None = None
    status: str = "pending"
    reason: str | None = None
    requested_at: str
    settled_at: str | None = None


class Overview(Record):
    bill_group: BillGroup
    entity: Entity
    summary: Summary
    pending_changes: list[ActivityItem] = []

    @property
    def branding(self) -> Branding:
        return Branding(
            entity=self.entity,
            bill_group_name=self.bill_group.name,
            account_name=self.bill_group.account_name,
        )


class SubscriptionItem(Record):
    product_name: str
    quantity: int
    unit_price_minor: int
    currency: str
    period: BillingPeriod


class Subscription(Record):
    subscription_id: str
    bill_group_id: str
    name: str
    status: SubscriptionStatus
    start_date: date
    end_date: date | None = None
    items: list[SubscriptionItem] = []


class InvoiceLine(Record):
    description: str
    quantity: int
    unit_amount_minor: int
    amount_minor: int


class Document(Record):
    bucket: str
    key: str
    content_type: str = "application/pdf"
    filename: str
    size_bytes: int | None = None


class InvoiceListing(Record):
    """An invoice as the list shows it: everything but its lines."""

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
    document: Document | None = None


class Invoice(InvoiceListing):
    """One invoice in full, with its lines."""

    lines: list[InvoiceLine] = []


class InvoicePage(Record):
    items: list[InvoiceListing] = []
    next_cursor: str | None = None


class Subscriptions(Record):
    items: list[Subscription]


class PaymentMethods(Record):
    items: list[PaymentMethod]


class Activity(Record):
    items: list[ActivityItem]


class ChangeKey(Record):
    """billing-view's answer to a claim of an idempotency key: the key's change, the body
    fingerprint it was first sent with, and whether THIS caller publishes the change."""

    change_id: str
    fingerprint: str
    published: bool
    publish: bool


class ChangeKeyClaim(Record):
    key: str
    fingerprint: str
    change_id: str


class ChangeKeySettled(Record):
    key: str
    published: bool


class PortalPage(Record):
    """Everything one portal page shows, in ONE billing-view answer (`…/pages/{page}`):
    the branding and the page's parts (those the page does not show are null)."""

    branding: Branding
    overview: Overview | None = None
    payment_methods: list[PaymentMethod] | None = None
    subscriptions: list[Subscription] | None = None
    invoices: InvoicePage | None = None
    activity: list[ActivityItem] | None = None
    change: ActivityItem | None = None
