"""Response models of the query API (docs/internal-apis.md, billing-view section).

The upstream states travel as the contract models (`portal_contracts.billing.*State`); what
the API adds or leaves out has its own model here, fields in the order of the wire JSON.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from billing_view.changes.schemas import ActivityItem
from billing_view.queries.models import AccountBillGroup, InvoiceListing
from portal_contracts.billing import (
    BillingFrequency,
    BillingProfile,
    Contact,
    ContractStatus,
    Logo,
    PaymentMethodState,
    SubscriptionState,
)


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BillGroupView(_Schema):
    """The bill group as upstream holds it (pending changes NOT merged), without entity_id."""

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


class EntityView(_Schema):
    """The billing entity's branding; name and logo are null until its state has arrived."""

    entity_id: str
    name: str | None
    logo: Logo | None


class PaymentMethodView(PaymentMethodState):
    is_default: bool
    expired: bool


class OutstandingAmount(_Schema):
    currency: str
    amount_minor: int


class Summary(_Schema):
    next_billing_date: date | None
    outstanding: list[OutstandingAmount]
    billing_frequency: BillingFrequency
    auto_pay_active: bool
    default_payment_method: PaymentMethodView | None


class Overview(_Schema):
    bill_group: BillGroupView
    entity: EntityView
    summary: Summary
    pending_changes: list[ActivityItem]


class Branding(_Schema):
    entity: EntityView
    bill_group_name: str
    account_name: str


class SubscriptionList(_Schema):
    items: list[SubscriptionState]


class PaymentMethodList(_Schema):
    items: list[PaymentMethodView]


class InvoicePage(_Schema):
    items: list[InvoiceListing]
    next_cursor: str | None


class AccountBillGroups(_Schema):
    items: list[AccountBillGroup]


class PortalPage(_Schema):
    """Everything one portal page shows, in one answer: the branding, and the page's parts
    (only those of the page asked for are set)."""

    branding: Branding
    overview: Overview | None = None
    payment_methods: list[PaymentMethodView] | None = None
    subscriptions: list[SubscriptionState] | None = None
    invoices: InvoicePage | None = None
    activity: list[ActivityItem] | None = None
    change: ActivityItem | None = None
