"""The customer's reads and writes, shared by the HTML pages and the JSON API."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from portal_contracts.portal import (
    BillingProfileChangeRequested,
    ContactChangeRequested,
    ContactRole,
    DefaultPaymentMethodChangeRequested,
    PaymentMethodAddRequested,
)
from portal_gateway.changes import ChangePublisher, new_change_id, wait_until_visible
from portal_gateway.clients import BillingViewClient, NotFoundError, Session
from portal_gateway.domain.forms import (
    parse_bank_account,
    parse_billing_profile,
    parse_card,
    parse_contact,
)
from portal_gateway.domain.vault import PaymentVault, VaultRejectedError
from portal_gateway.security import require_writable
from portal_gateway.settings import Settings

# A draft is the merchant's work in progress, not a bill: customers see issued invoices only
# (the summary's outstanding balance ignores drafts for the same reason).
INVOICE_STATUSES = ("open", "overdue", "paid", "void")


class FormInvalidError(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid form")
        self.errors = errors


@dataclass(frozen=True)
class Submitted:
    change_id: str
    # billing-view's activity item, or None when it has not caught up within the wait.
    item: dict[str, Any] | None


class PortalService:
    def __init__(
        self,
        settings: Settings,
        billing: BillingViewClient,
        publisher: ChangePublisher,
        vault: PaymentVault,
    ) -> None:
        self.settings = settings
        self.billing = billing
        self.publisher = publisher
        self.vault = vault

    async def branding(self, session: Session) -> dict[str, Any]:
        return await self.billing.branding(session.tenant_id, session.bill_group_id)

    async def overview(self, session: Session) -> dict[str, Any]:
        return await self.billing.overview(session.tenant_id, session.bill_group_id)

    async def subscriptions(self, session: Session) -> list[dict[str, Any]]:
        return await self.billing.subscriptions(session.tenant_id, session.bill_group_id)

    async def payment_methods(self, session: Session) -> list[dict[str, Any]]:
        return await self.billing.payment_methods(session.tenant_id, session.bill_group_id)

    async def invoices(
        self, session: Session, status: str | None, cursor: str | None, limit: int = 20
    ) -> dict[str, Any]:
        if status not in INVOICE_STATUSES:
            status = ",".join(INVOICE_STATUSES)
        return await self.billing.invoices(
            session.tenant_id, session.bill_group_id, status, max(1, min(limit, 100)), cursor
        )

    async def invoice(self, session: Session, invoice_id: str) -> dict[str, Any]:
        invoice = await self.billing.invoice(session.tenant_id, session.bill_group_id, invoice_id)
        if invoice.get("status") not in INVOICE_STATUSES:
            raise NotFoundError("invoice")
        return invoice

    async def activity(self, session: Session) -> list[dict[str, Any]]:
        return await self.billing.activity(session.tenant_id, session.bill_group_id)

    async def change(self, session: Session, change_id: str) -> dict[str, Any]:
        return await self.billing.change(session.tenant_id, session.bill_group_id, change_id)

    async def change_billing_profile(self, session: Session, form: Mapping[str, str]) -> Submitted:
        require_writable(session)
        overview = await self.overview(session)
        contact = overview["bill_group"].get("billing_contact") or {}
        country = (contact.get("address") or {}).get("country")
        parsed = parse_billing_profile(form, country)
        if parsed.value is None or parsed.errors:
            raise FormInvalidError(parsed.errors)
        change_id = new_change_id()
        return await self._publish(
            session,
            change_id,
            BillingProfileChangeRequested(
                change_id=change_id,
                bill_group_id=session.bill_group_id,
                actor_email=session.email,
                billing_profile=parsed.value,
            ),
        )

    async def change_contact(
        self, session: Session, role: str, form: Mapping[str, str]
    ) -> Submitted:
        require_writable(session)
        try:
            contact_role = ContactRole(role)
        except ValueError as exc:
            raise FormInvalidError({"role": "Choose the billing or the shipping contact."}) from exc
        parsed = parse_contact(form)
        if parsed.value is None or parsed.errors:
            raise FormInvalidError(parsed.errors)
        change_id = new_change_id()
        return await self._publish(
            session,
            change_id,
            ContactChangeRequested(
                change_id=change_id,
                bill_group_id=session.bill_group_id,
                actor_email=session.email,
                role=contact_role,
                contact=parsed.value,
            ),
        )

    async def change_default_payment_method(
        self, session: Session, payment_method_id: str
    ) -> Submitted:
        require_writable(session)
        # Raises NotFoundError for a method of another bill group: the page answers 404.
        method = await self.billing.payment_method(
            session.tenant_id, session.bill_group_id, payment_method_id
        )
        if method.get("expired"):
            raise FormInvalidError({"payment_method_id": "An expired card cannot be the default."})
        change_id = new_change_id()
        return await self._publish(
            session,
            change_id,
            DefaultPaymentMethodChangeRequested(
                change_id=change_id,
                bill_group_id=session.bill_group_id,
                actor_email=session.email,
                payment_method_id=payment_method_id,
            ),
        )

    async def add_payment_method(self, session: Session, form: Mapping[str, str]) -> Submitted:
        require_writable(session)
        kind = form.get("type", "card")
        parsed = parse_card(form) if kind == "card" else parse_bank_account(form)
        if parsed.value is None or parsed.errors:
            raise FormInvalidError(parsed.errors)
        try:
            vaulted = await self.vault.tokenize(parsed.value, datetime.now(UTC).date())
        except VaultRejectedError as exc:
            raise FormInvalidError({exc.field: exc.message}) from exc
        change_id = new_change_id()
        return await self._publish(
            session,
            change_id,
            PaymentMethodAddRequested(
                change_id=change_id,
                bill_group_id=session.bill_group_id,
                actor_email=session.email,
                payment_method_id=f"pm_{uuid.uuid4().hex}",
                vault_token=vaulted.token,
                type=vaulted.type,
                brand=vaulted.brand,
                last4=vaulted.last4,
                exp_month=vaulted.exp_month,
                exp_year=vaulted.exp_year,
                holder_name=vaulted.holder_name,
                make_default=form.get("make_default") in ("on", "true", "1"),
            ),
        )

    async def _publish(self, session: Session, change_id: str, payload: BaseModel) -> Submitted:
        await self.publisher.publish(session, payload)
        item = await wait_until_visible(
            self.billing, session, change_id, self.settings.change_visible_wait_seconds
        )
        return Submitted(change_id, item)
