"""Named, deterministic scenarios: the same ids, versions and event ids on every run.

Re-seeding therefore publishes events the projections already hold (same versions), which
they skip as stale: `seed` is idempotent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from billing_simulator.pdf import text_pdf
from portal_contracts import billing
from portal_contracts.codec import make_event
from portal_contracts.envelope import Envelope

TENANT = "demo"
# Fixed base so that event ids and timestamps are the same on every run.
_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
_NAMESPACE = uuid.UUID("6b0d6a52-4c7e-4f41-9a3e-0d5f7f0c2b11")
INVOICES_PER_BILL_GROUP = 24


def event_for(
    payload: BaseModel,
    *,
    tenant_id: str,
    aggregate_id: str,
    version: int | None,
    seq: int,
) -> Envelope[Any]:
    """An envelope whose id and time follow from what it says, so re-runs repeat it exactly."""
    event = make_event(
        payload,
        tenant_id=tenant_id,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        occurred_at=_EPOCH + timedelta(seconds=seq),
    )
    name = f"{tenant_id}/{event.type}/{aggregate_id}/{version}/{seq}"
    return event.model_copy(update={"event_id": uuid.uuid5(_NAMESPACE, name)})


@dataclass(frozen=True)
class Asset:
    bucket: str
    key: str
    body: bytes
    content_type: str


@dataclass(frozen=True)
class BillGroupInfo:
    tenant_id: str
    bill_group_id: str
    account_id: str
    name: str
    account_name: str
    entity_id: str
    currency: str
    contract_status: str
    customer_domain: str
    customer_email: str
    # What the billing summary must show: amount due of open + overdue invoices per currency.
    expected_outstanding: dict[str, int]
    expected_auto_pay_active: bool

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Scenario:
    name: str
    tenant_id: str
    events: list[Envelope[Any]] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    bill_groups: list[BillGroupInfo] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)

    def add(self, payload: BaseModel, aggregate_id: str, version: int | None) -> None:
        self.events.append(
            event_for(
                payload,
                tenant_id=self.tenant_id,
                aggregate_id=aggregate_id,
                version=version,
                seq=len(self.events),
            )
        )

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "tenant_id": self.tenant_id,
            "entities": self.entities,
            "bill_groups": [bg.as_json() for bg in self.bill_groups],
            "events": len(self.events),
            "documents": sum(1 for a in self.assets if a.content_type == "application/pdf"),
        }


def _logo_svg(name: str, colour: str) -> bytes:
    initials = "".join(word[0] for word in name.split()[:2]).upper()
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="48" viewBox="0 0 160 48">'
        f'<rect width="48" height="48" rx="8" fill="{colour}"/>'
        f'<text x="24" y="31" font-family="sans-serif" font-size="18" fill="#fff" '
        f'text-anchor="middle">{initials}</text>'
        f'<text x="58" y="30" font-family="sans-serif" font-size="14" fill="#222">{name}</text>'
        "</svg>"
    ).encode()


_ENTITIES = (
    ("ent_northwind", "Northwind Cloud", "#1f6feb", "billing@northwind.example"),
    ("ent_contoso", "Contoso Telecom", "#b42318", "accounts@contoso.example"),
)

# bill group, account, customer, domain, entity, currency, contract, frequency, auto_pay,
# invoice currencies (multi-currency bill groups invoice in several), default method kind.
_BILL_GROUPS = (
    ("bg_globex", "acc_globex", "Globex Corporation", "globex.example", "ent_northwind",
     "EUR", "active", "monthly", True, ("EUR",), "card"),
    ("bg_initech", "acc_initech", "Initech", "initech.example", "ent_northwind",
     "USD", "active", "quarterly", True, ("USD",), "expired_card"),
    ("bg_umbrella", "acc_umbrella", "Umbrella Corporation", "umbrella.example", "ent_northwind",
     "GBP", "inactive", "annual", False, ("GBP",), "card"),
    ("bg_hooli", "acc_hooli", "Hooli", "hooli.example", "ent_contoso",
     "USD", "active", "monthly", True, ("USD", "EUR", "GBP"), "bank_account"),
    ("bg_stark", "acc_stark", "Stark Industries", "stark.example", "ent_contoso",
     "EUR", "active", "semi_annual", False, ("EUR",), "card"),
)  # fmt: skip

_SUB_STATUSES = tuple(billing.SubscriptionStatus)
_COUNTRY = {"EUR": "DE", "USD": "US", "GBP": "GB"}


def _invoice_status(index: int) -> billing.InvoiceStatus:
    """Newest first: one draft, two open, two overdue, two void, the rest paid."""
    order = ["draft", "open", "open", "overdue", "overdue", "void", "void"]
    return billing.InvoiceStatus(order[index] if index < len(order) else "paid")


def _month_start(months_back: int, today: date = date(2026, 11, 1)) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months_back, 12)
    return date(year, month + 1, 1)


def invoice_state(
    bill_group_id: str,
    seq: int,
    *,
    status: billing.InvoiceStatus,
    issue_date: date,
    currency: str,
    documents_bucket: str,
    prefix: str,
    tenant_id: str = TENANT,
) -> tuple[billing.InvoiceState, Asset]:
    """One invoice with its PDF; the amounts follow from `seq`, so they never change."""
    quantity = 5 + seq % 7
    unit = 1900 + 100 * (seq % 5)
    subtotal = quantity * unit
    tax = subtotal * 19 // 100
    total = subtotal + tax
    paid = total if status == billing.InvoiceStatus.PAID else 0
    due = 0 if status in (billing.InvoiceStatus.PAID, billing.InvoiceStatus.VOID) else total
    number = f"{prefix}-{issue_date.year}-{seq:04d}"
    invoice_id = f"inv_{bill_group_id.removeprefix('bg_')}_{seq:04d}"
    pdf = text_pdf(
        [
            f"Invoice {number}",
            f"Bill group {bill_group_id}",
            f"Issued {issue_date.isoformat()}",
            f"Seats x {quantity} at {unit / 100:.2f} {currency}",
            f"Total {total / 100:.2f} {currency}",
        ],
        title=f"Invoice {number}",
    )
    key = f"{tenant_id}/{bill_group_id}/{invoice_id}.pdf"
    state = billing.InvoiceState(
        invoice_id=invoice_id,
        bill_group_id=bill_group_id,
        number=number,
        status=status,
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=30),
        currency=currency,
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=total,
        amount_due_minor=due,
        amount_paid_minor=paid,
        lines=(
            billing.InvoiceLine(
                description=f"Seats x {quantity}",
                quantity=quantity,
                unit_amount_minor=unit,
                amount_minor=subtotal,
            ),
        ),
        document=billing.DocumentRef(
            bucket=documents_bucket,
            key=key,
            filename=f"{number}.pdf",
            size_bytes=len(pdf),
        ),
    )
    return state, Asset(documents_bucket, key, pdf, "application/pdf")


def demo(
    aws_endpoint_url: str = "http://127.0.0.1:5055",
    documents_bucket: str = "invoice-documents",
    logos_bucket: str = "brand-assets",
    *,
    tenant_id: str = TENANT,
    label: str = "",
) -> Scenario:
    """Tenant `demo`: 2 branded entities, 5 bill groups, 24 invoices each, every status.

    Another `tenant_id` gets the very same ids (tenants share id spaces upstream); `label`
    prefixes its names so that a page or an email shows whose copy it is."""
    scenario = Scenario("demo", tenant_id)
    for entity_id, plain_name, colour, support in _ENTITIES:
        name = f"{label} {plain_name}".strip()
        key = f"{tenant_id}/{entity_id}.svg"
        scenario.assets.append(Asset(logos_bucket, key, _logo_svg(name, colour), "image/svg+xml"))
        logo = billing.Logo(
            url=f"{aws_endpoint_url.rstrip('/')}/{logos_bucket}/{key}",
            alt=name,
            width=160,
            height=48,
        )
        entity = billing.EntityState(
            entity_id=entity_id, name=name, logo=logo, support_email=support
        )
        scenario.add(entity, entity_id, 1)
        scenario.entities.append({"entity_id": entity_id, "name": name, "logo_url": logo.url})

    for index, row in enumerate(_BILL_GROUPS):
        (bg_id, account_id, plain_customer, domain, entity_id, currency, contract, frequency,
         auto_pay, invoice_currencies, default_kind) = row  # fmt: skip
        customer = f"{label} {plain_customer}".strip()
        short = bg_id.removeprefix("bg_")
        methods = [
            billing.PaymentMethodState(
                payment_method_id=f"pm_{short}_visa",
                bill_group_id=bg_id,
                type=billing.PaymentMethodType.CARD,
                brand="Visa",
                last4=f"{4242 + index:04d}",
                exp_month=4,
                exp_year=2030,
                holder_name=f"{customer} AP",
            ),
            billing.PaymentMethodState(
                payment_method_id=f"pm_{short}_bank",
                bill_group_id=bg_id,
                type=billing.PaymentMethodType.BANK_ACCOUNT,
                brand="Deutsche Bank" if currency == "EUR" else "First National",
                last4=f"{3000 + index:04d}",
                holder_name=customer,
            ),
            billing.PaymentMethodState(
                payment_method_id=f"pm_{short}_old_mc",
                bill_group_id=bg_id,
                type=billing.PaymentMethodType.CARD,
                brand="Mastercard",
                last4=f"{5100 + index:04d}",
                exp_month=2,
                exp_year=2024,
                holder_name=f"{customer} AP",
            ),
        ]
        default_id = {
            "card": methods[0].payment_method_id,
            "bank_account": methods[1].payment_method_id,
            "expired_card": methods[2].payment_method_id,
        }[default_kind]
        contact = billing.Contact(
            name=f"{customer} Accounts Payable",
            email=f"ap@{domain}",
            phone="+49 30 1234567",
            address=billing.Address(
                line1=f"{index + 1} Main Street",
                city="Berlin" if currency == "EUR" else "Springfield",
                postal_code=f"1{index:04d}",
                country=_COUNTRY[currency],
            ),
        )
        bill_group = billing.BillGroupState(
            bill_group_id=bg_id,
            account_id=account_id,
            account_name=customer,
            entity_id=entity_id,
            name=f"{customer} — main",
            currency=currency,
            contract_status=billing.ContractStatus(contract),
            billing_frequency=billing.BillingFrequency(frequency),
            auto_pay=auto_pay,
            next_billing_date=None if contract == "inactive" else date(2026, 12, 1),
            billing_profile=billing.BillingProfile(
                po_number=f"PO-{1000 + index}",
                vat_number="DE136695976" if currency == "EUR" else None,
                registration_number=f"HRB {20000 + index}",
            ),
            billing_contact=contact,
            shipping_contact=contact.model_copy(update={"name": f"{customer} Receiving"}),
            default_payment_method_id=default_id,
        )
        # An older version first: the projection must end on version 2.
        scenario.add(bill_group.model_copy(update={"auto_pay": not auto_pay}), bg_id, 1)
        scenario.add(bill_group, bg_id, 2)
        for method in methods:
            scenario.add(method, method.payment_method_id, 1)
        removed = methods[0].model_copy(
            update={"payment_method_id": f"pm_{short}_removed", "last4": "0005"}
        )
        scenario.add(removed, removed.payment_method_id, 1)
        scenario.add(
            removed.model_copy(update={"status": billing.PaymentMethodStatus.REMOVED}),
            removed.payment_method_id,
            2,
        )
        for s, sub_status in enumerate((*_SUB_STATUSES[index % 2 :][:3], _SUB_STATUSES[-1])):
            subscription = billing.SubscriptionState(
                subscription_id=f"sub_{short}_{s + 1}",
                bill_group_id=bg_id,
                name=("Platform Pro", "Support Plus", "Data Add-on", "Legacy Plan")[s],
                status=sub_status,
                start_date=date(2025, 1 + s, 1),
                end_date=date(2026, 6, 30) if sub_status == "cancelled" else None,
                items=(
                    billing.SubscriptionItem(
                        product_name="Seats",
                        quantity=10 + s,
                        unit_price_minor=1900,
                        currency=currency,
                        period=billing.BillingPeriod.MONTH,
                    ),
                ),
            )
            scenario.add(subscription, subscription.subscription_id, 1)
        outstanding: dict[str, int] = {}
        for i in range(INVOICES_PER_BILL_GROUP):
            status = _invoice_status(i)
            inv_currency = invoice_currencies[i % len(invoice_currencies)]
            state, asset = invoice_state(
                bg_id,
                INVOICES_PER_BILL_GROUP - i,
                status=status,
                issue_date=_month_start(i),
                currency=inv_currency,
                documents_bucket=documents_bucket,
                prefix=short[:3].upper(),
                tenant_id=tenant_id,
            )
            scenario.assets.append(asset)
            if status == billing.InvoiceStatus.DRAFT:
                scenario.add(state, state.invoice_id, 1)
            else:
                # Every issued invoice was open first: history the projection must not undo.
                opened = state.model_copy(
                    update={
                        "status": billing.InvoiceStatus.OPEN,
                        "amount_due_minor": state.total_minor,
                        "amount_paid_minor": 0,
                    }
                )
                scenario.add(opened, state.invoice_id, 1)
                if status != billing.InvoiceStatus.OPEN:
                    scenario.add(state, state.invoice_id, 2)
            if status in (billing.InvoiceStatus.OPEN, billing.InvoiceStatus.OVERDUE):
                outstanding[inv_currency] = (
                    outstanding.get(inv_currency, 0) + state.amount_due_minor
                )
        scenario.bill_groups.append(
            BillGroupInfo(
                tenant_id=tenant_id,
                bill_group_id=bg_id,
                account_id=account_id,
                name=bill_group.name,
                account_name=customer,
                entity_id=entity_id,
                currency=currency,
                contract_status=contract,
                customer_domain=domain,
                customer_email=f"ap@{domain}",
                expected_outstanding=dict(sorted(outstanding.items())),
                expected_auto_pay_active=auto_pay and default_kind != "expired_card",
            )
        )
    return scenario


def new_invoice(
    bill_group_id: str,
    seq: int,
    *,
    tenant_id: str = TENANT,
    currency: str = "EUR",
    status: billing.InvoiceStatus = billing.InvoiceStatus.OPEN,
    issue_date: date | None = None,
    documents_bucket: str = "invoice-documents",
) -> tuple[Envelope[Any], Asset]:
    """A further invoice for a bill group (e2e tests publish one and watch it appear)."""
    state, asset = invoice_state(
        bill_group_id,
        seq,
        status=status,
        issue_date=issue_date or date(2026, 11, 24),
        currency=currency,
        documents_bucket=documents_bucket,
        prefix="NEW",
        tenant_id=tenant_id,
    )
    event = event_for(
        state, tenant_id=tenant_id, aggregate_id=state.invoice_id, version=1, seq=100_000 + seq
    )
    return event, asset
