"""Public JSON API under /api/portal/v1: the same session, reads and writes as the pages.

Mutating calls need the CSRF header (`x-csrftoken`, value of the `csrftoken` cookie), as a
browser form would send the hidden field.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar import Controller, Request, get, post
from litestar.response import Response, Stream
from pydantic import BaseModel, Field

from portal_gateway.clients import Session
from portal_gateway.deps import Gateway
from portal_gateway.portal import Submitted
from portal_gateway.routes.downloads import invoice_pdf
from portal_gateway.security import clear_session_cookie


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


class ChangeAccepted(BaseModel):
    change_id: str
    status: str
    change: dict[str, Any] | None


def _form(model: BaseModel) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in model.model_dump(exclude_none=True).items():
        if isinstance(value, dict):
            flat.update({k: str(v) for k, v in value.items() if v is not None})
        elif isinstance(value, bool):
            flat[key] = "true" if value else ""
        else:
            flat[key] = str(value)
    return flat


def _accepted(submitted: Submitted) -> Response[ChangeAccepted]:
    status = str((submitted.item or {}).get("status", "pending"))
    return Response(
        ChangeAccepted(change_id=submitted.change_id, status=status, change=submitted.item),
        status_code=202,
        headers={"location": f"/api/portal/v1/changes/{submitted.change_id}"},
    )


class PortalApi(Controller):
    path = "/api/portal/v1"
    tags = ["portal"]

    @get("/session")
    async def whoami(self, session: Session) -> dict[str, Any]:
        """The signed-in customer: tenant, bill group, email, read-only (preview) flag."""
        return {
            "tenant_id": session.tenant_id,
            "bill_group_id": session.bill_group_id,
            "email": session.email,
            "read_only": session.read_only,
            "expires_at": session.expires_at,
        }

    @get("/overview")
    async def overview(self, gateway: Gateway, session: Session) -> dict[str, Any]:
        return await gateway.portal.overview(session)

    @get("/subscriptions")
    async def subscriptions(self, gateway: Gateway, session: Session) -> dict[str, Any]:
        return {"items": await gateway.portal.subscriptions(session)}

    @get("/payment-methods")
    async def payment_methods(self, gateway: Gateway, session: Session) -> dict[str, Any]:
        return {"items": await gateway.portal.payment_methods(session)}

    @get("/invoices")
    async def invoices(
        self,
        gateway: Gateway,
        session: Session,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        return await gateway.portal.invoices(session, status, cursor, limit)

    @get("/invoices/{invoice_id:str}")
    async def invoice(self, gateway: Gateway, session: Session, invoice_id: str) -> dict[str, Any]:
        return await gateway.portal.invoice(session, invoice_id)

    @get("/invoices/{invoice_id:str}/pdf", media_type="application/pdf")
    async def invoice_pdf(self, gateway: Gateway, session: Session, invoice_id: str) -> Stream:
        return await invoice_pdf(gateway, session, invoice_id)

    @get("/activity")
    async def activity(self, gateway: Gateway, session: Session) -> dict[str, Any]:
        return {"items": await gateway.portal.activity(session)}

    @get("/changes/{change_id:str}")
    async def change(self, gateway: Gateway, session: Session, change_id: str) -> dict[str, Any]:
        return await gateway.portal.change(session, change_id)

    @post("/billing-profile", status_code=202)
    async def change_billing_profile(
        self, gateway: Gateway, session: Session, data: BillingProfileIn
    ) -> Response[ChangeAccepted]:
        return _accepted(await gateway.portal.change_billing_profile(session, _form(data)))

    @post("/contacts/{role:str}", status_code=202)
    async def change_contact(
        self, gateway: Gateway, session: Session, role: str, data: ContactIn
    ) -> Response[ChangeAccepted]:
        return _accepted(await gateway.portal.change_contact(session, role, _form(data)))

    @post("/default-payment-method", status_code=202)
    async def change_default_payment_method(
        self, gateway: Gateway, session: Session, data: DefaultPaymentMethodIn
    ) -> Response[ChangeAccepted]:
        return _accepted(
            await gateway.portal.change_default_payment_method(session, data.payment_method_id)
        )

    @post("/payment-methods", status_code=202)
    async def add_payment_method(
        self, gateway: Gateway, session: Session, data: PaymentMethodIn
    ) -> Response[ChangeAccepted]:
        return _accepted(await gateway.portal.add_payment_method(session, _form(data)))

    @post("/signout", status_code=204)
    async def signout(
        self, request: Request[Any, Any, Any], gateway: Gateway, session: Session
    ) -> Response[None]:
        await gateway.access.signout(session.session_token)
        response: Response[None] = Response(None, status_code=204)
        clear_session_cookie(response, gateway.settings.cookie_secure)
        return response
