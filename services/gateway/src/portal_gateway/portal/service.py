"""The signed-in customer's use cases, shared by the HTML pages and the JSON API.

They read billing-view, validate changes with the pure rules of `domain`, publish them and
wait briefly until billing-view shows them (read-your-writes). They raise typed errors
(`portal_gateway.errors`) and return typed records (`models`); the collaborators are ports,
so unit tests run them against in-memory fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from pydantic import BaseModel

from portal_contracts.portal import (
    BillingProfileChangeRequested,
    ContactChangeRequested,
    ContactRole,
    DefaultPaymentMethodChangeRequested,
    PaymentMethodAddRequested,
)
from portal_gateway.clients.http import quote_segment
from portal_gateway.clients.models import Session
from portal_gateway.errors import (
    FormInvalidError,
    NotFoundError,
    ReadOnlySessionError,
)
from portal_gateway.portal.domain.change_ids import PREFIX, ChangeIds
from portal_gateway.portal.domain.download import safe_filename
from portal_gateway.portal.domain.forms import (
    parse_bank_account,
    parse_billing_profile,
    parse_card,
    parse_contact,
)
from portal_gateway.portal.domain.vault import PaymentVault, VaultRejectedError
from portal_gateway.portal.models import (
    ActivityItem,
    Branding,
    Invoice,
    InvoicePage,
    Overview,
    PaymentMethod,
    PortalPage,
    Subscription,
)
from portal_gateway.portal.submission import (
    Change,
    ChangeKeys,
    ChangePublisher,
    ChangeSubmitter,
    Submitted,
)

# A draft is the merchant's work in progress, not a bill: customers see issued invoices only
# (the summary's outstanding balance ignores drafts for the same reason).
INVOICE_STATUSES = ("open", "overdue", "paid", "void")
NOT_FOUND = "We could not find that."


class BillingReader(Protocol):
    """What the use cases read of billing-view (`clients.billing.BillingViewClient`)."""

    async def page(
        self,
        tenant_id: str,
        bill_group_id: str,
        page: str,
        params: dict[str, str | int] | None = None,
    ) -> PortalPage: ...
    async def overview(self, tenant_id: str, bill_group_id: str) -> Overview: ...
    async def branding(self, tenant_id: str, bill_group_id: str) -> Branding: ...
    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> list[Subscription]: ...
    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> list[PaymentMethod]: ...
    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> PaymentMethod: ...
    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: str | None,
        limit: int,
        cursor: str | None,
    ) -> InvoicePage: ...
    async def invoice(self, tenant_id: str, bill_group_id: str, invoice_id: str) -> Invoice: ...
    async def activity(
        self, tenant_id: str, bill_group_id: str, limit: int = 50
    ) -> list[ActivityItem]: ...
    async def change(self, tenant_id: str, bill_group_id: str, change_id: str) -> ActivityItem: ...


class DocumentStore(Protocol):
    """Opens a stored document; fails (NotFoundError/UpstreamError) before the first byte."""

    async def open(self, bucket: str, key: str) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True)
class Download:
    chunks: AsyncIterator[bytes]
    filename: str
    content_type: str


def require_writable(session: Session) -> None:
    if session.read_only:
        raise ReadOnlySessionError


class PortalService:
    def __init__(
        self,
        billing: BillingReader,
        publisher: ChangePublisher,
        vault: PaymentVault,
        documents: DocumentStore,
        change_visible_wait_seconds: float = 3.0,
        *,
        keys: ChangeKeys,
        change_ids: ChangeIds,
    ) -> None:
        self.billing = billing
        self.vault = vault
        self.documents = documents
        self.change_ids = change_ids
        self.changes = ChangeSubmitter(
            billing, publisher, keys, change_ids, change_visible_wait_seconds
        )

    # --- reads -------------------------------------------------------------------------

    async def page(self, session: Session, name: str) -> PortalPage:
        """Everything one HTML page shows (branding included), in one billing-view call."""
        return await self.billing.page(session.tenant_id, session.bill_group_id, name)

    async def invoices_page(
        self, session: Session, status: str | None, cursor: str | None, limit: int = 20
    ) -> PortalPage:
        params: dict[str, str | int] = {
            "status": status if status in INVOICE_STATUSES else ",".join(INVOICE_STATUSES),
            "limit": max(1, min(limit, 100)),
        }
        if cursor:
            params["cursor"] = cursor
        return await self.billing.page(session.tenant_id, session.bill_group_id, "invoices", params)

    async def change_page(self, session: Session, change_id: str) -> PortalPage:
        """The change (None while billing-view has not caught up with it) and the branding;
        NotFoundError for an id billing-view does not know and that was not minted for this
        bill group (invented, or another bill group's or tenant's)."""
        name = f"changes/{quote_segment(change_id)}"
        data = await self.billing.page(session.tenant_id, session.bill_group_id, name)
        if data.change is None and not self.change_ids.minted_for(
            session.tenant_id, session.bill_group_id, change_id
        ):
            raise NotFoundError(NOT_FOUND)
        return data

    async def branding(self, session: Session) -> Branding:
        return (await self.page(session, "branding")).branding

    async def overview(self, session: Session) -> Overview:
        return await self.billing.overview(session.tenant_id, session.bill_group_id)

    async def subscriptions(self, session: Session) -> list[Subscription]:
        return await self.billing.subscriptions(session.tenant_id, session.bill_group_id)

    async def payment_methods(self, session: Session) -> list[PaymentMethod]:
        return await self.billing.payment_methods(session.tenant_id, session.bill_group_id)

    async def invoices(
        self, session: Session, status: str | None, cursor: str | None, limit: int = 20
    ) -> InvoicePage:
        statuses = status if status in INVOICE_STATUSES else ",".join(INVOICE_STATUSES)
        return await self.billing.invoices(
            session.tenant_id, session.bill_group_id, statuses, max(1, min(limit, 100)), cursor
        )

    async def invoice(self, session: Session, invoice_id: str) -> Invoice:
        invoice = await self.billing.invoice(session.tenant_id, session.bill_group_id, invoice_id)
        if invoice.status not in INVOICE_STATUSES:
            raise NotFoundError(NOT_FOUND)
        return invoice

    async def invoice_document(self, session: Session, invoice_id: str) -> Download:
        # billing-view answers 404 for an invoice of another bill group, before S3 is touched.
        invoice = await self.invoice(session, invoice_id)
        document = invoice.document
        if document is None:
            raise NotFoundError(NOT_FOUND)
        chunks = await self.documents.open(document.bucket, document.key)
        filename = safe_filename(document.filename or "", f"invoice-{invoice_id}")
        return Download(chunks, filename, document.content_type or "application/pdf")

    async def activity(self, session: Session) -> list[ActivityItem]:
        return await self.billing.activity(session.tenant_id, session.bill_group_id)

    async def change(self, session: Session, change_id: str) -> ActivityItem:
        return await self.billing.change(session.tenant_id, session.bill_group_id, change_id)

    async def change_if_visible(self, session: Session, change_id: str) -> ActivityItem | None:
        """The change, or None while billing-view has not caught up with it yet."""
        try:
            return await self.change(session, change_id)
        except NotFoundError:
            return None

    # --- changes: `key` is the submit's idempotency key (None: every submit is new) ---------

    async def change_billing_profile(
        self, session: Session, form: Mapping[str, str], key: str | None = None
    ) -> Submitted:
        require_writable(session)
        overview = await self.overview(session)
        contact = overview.bill_group.billing_contact
        country = contact.address.country if contact and contact.address else None
        parsed = parse_billing_profile(form, country)
        profile = parsed.value
        if profile is None or parsed.errors:
            raise FormInvalidError(parsed.errors)

        async def build(change_id: str) -> BaseModel:
            return BillingProfileChangeRequested(
                change_id=change_id,
                bill_group_id=session.bill_group_id,
                actor_email=session.email,
                billing_profile=profile,
            )

        return await self.changes.submit(session, Change("billing_profile", form, key), build)

    async def change_contact(
        self, session: Session, role: str, form: Mapping[str, str], key: str | None = None
    ) -> Submitted:
        require_writable(session)
        try:
            contact_role = ContactRole(role)
        except ValueError as exc:
            raise FormInvalidError({"role": "Choose the billing or the shipping contact."}) from exc
        parsed = parse_contact(form)
        contact = parsed.value
        if contact is None or parsed.errors:
            raise FormInvalidError(parsed.errors)

        async def build(change_id: str) -> BaseModel:
            return ContactChangeRequested(
                change_id=change_id,
                bill_group_id=session.bill_group_id,
                actor_email=session.email,
                role=contact_role,
                contact=contact,
            )

        return await self.changes.submit(session, Change(f"contact:{role}", form, key), build)

    async def change_default_payment_method(
        self, session: Session, payment_method_id: str, key: str | None = None
    ) -> Submitted:
        require_writable(session)
        # Raises NotFoundError for a method of another bill group: the page answers 404.
        method = await self.billing.payment_method(
            session.tenant_id, session.bill_group_id, payment_method_id
        )
        if method.expired:
            raise FormInvalidError({"payment_method_id": "An expired card cannot be the default."})

        async def build(change_id: str) -> BaseModel:
            return DefaultPaymentMethodChangeRequested(
                change_id=change_id,
                bill_group_id=session.bill_group_id,
                actor_email=session.email,
                payment_method_id=payment_method_id,
            )

        fields = {"payment_method_id": payment_method_id}
        return await self.changes.submit(
            session, Change("default_payment_method", fields, key), build
        )

    async def add_payment_method(
        self,
        session: Session,
        form: Mapping[str, str],
        today: date | None = None,
        key: str | None = None,
    ) -> Submitted:
        require_writable(session)
        kind = form.get("type", "card")
        parsed = parse_card(form) if kind == "card" else parse_bank_account(form)
        details = parsed.value
        if details is None or parsed.errors:
            raise FormInvalidError(parsed.errors)
        on = today or datetime.now(UTC).date()

        async def build(change_id: str) -> BaseModel:
            try:
                vaulted = await self.vault.tokenize(details, on)
            except VaultRejectedError as exc:
                raise FormInvalidError({exc.field: exc.message}) from exc
            return PaymentMethodAddRequested(
                change_id=change_id,
                bill_group_id=session.bill_group_id,
                actor_email=session.email,
                # From the change id: a repeat that publishes the change adds the same method.
                payment_method_id=f"pm_{change_id.removeprefix(PREFIX)}",
                vault_token=vaulted.token,
                type=vaulted.type,
                brand=vaulted.brand,
                last4=vaulted.last4,
                exp_month=vaulted.exp_month,
                exp_year=vaulted.exp_year,
                holder_name=vaulted.holder_name,
                make_default=form.get("make_default") in ("on", "true", "1"),
            )

        return await self.changes.submit(session, Change("payment_method", form, key), build)
