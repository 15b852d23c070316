"""The signed-in customer's pages (server-rendered; every page works without JavaScript)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Stream, Template

from portal_gateway.clients import NotFoundError, Session
from portal_gateway.deps import Gateway
from portal_gateway.portal import INVOICE_STATUSES, FormInvalidError, Submitted
from portal_gateway.routes.downloads import invoice_pdf
from portal_gateway.security import clear_session_cookie, portal_key_cookie
from portal_gateway.web import page

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
R = Request[Any, Any, Any]


def _after_change(submitted: Submitted) -> Redirect:
    return Redirect(f"/portal/changes/{submitted.change_id}", status_code=303)


class PortalPages(Controller):
    path = "/portal"
    include_in_schema = False

    async def _page(
        self,
        request: R,
        gateway: Gateway,
        session: Session,
        template: str,
        status_code: int = 200,
        **context: Any,
    ) -> Template:
        if "branding" not in context:
            context["branding"] = await gateway.portal.branding(session)
        return page(request, gateway.settings, template, status_code, session=session, **context)

    @get("")
    async def overview(self, request: R, gateway: Gateway, session: Session) -> Template:
        overview = await gateway.portal.overview(session)
        return await self._page(
            request,
            gateway,
            session,
            "overview.html",
            branding={
                "entity": overview["entity"],
                "bill_group_name": overview["bill_group"].get("name"),
                "account_name": overview["bill_group"].get("account_name"),
            },
            overview=overview,
            default_method=overview["summary"].get("default_payment_method"),
        )

    @get("/billing-details")
    async def billing_details(self, request: R, gateway: Gateway, session: Session) -> Template:
        return await self._details(request, gateway, session)

    async def _details(
        self,
        request: R,
        gateway: Gateway,
        session: Session,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        overview, methods = await asyncio.gather(
            gateway.portal.overview(session), gateway.portal.payment_methods(session)
        )
        profile = overview["bill_group"].get("billing_profile") or {}
        return await self._page(
            request,
            gateway,
            session,
            "billing_details.html",
            status_code,
            overview=overview,
            methods=methods,
            errors=errors or {},
            values=values if values is not None else profile,
        )

    @post("/billing-details", response_model=None)
    async def save_billing_details(
        self, request: R, gateway: Gateway, session: Session, data: Form
    ) -> Template | Redirect:
        try:
            submitted = await gateway.portal.change_billing_profile(session, data)
        except FormInvalidError as exc:
            return await self._details(request, gateway, session, 400, exc.errors, dict(data))
        return _after_change(submitted)

    @post("/default-payment-method", response_model=None)
    async def save_default_method(
        self, request: R, gateway: Gateway, session: Session, data: Form
    ) -> Template | Redirect:
        try:
            submitted = await gateway.portal.change_default_payment_method(
                session, str(data.get("payment_method_id", ""))
            )
        except FormInvalidError as exc:
            return await self._details(request, gateway, session, 400, exc.errors)
        return _after_change(submitted)

    @get("/subscriptions")
    async def subscriptions(self, request: R, gateway: Gateway, session: Session) -> Template:
        items = await gateway.portal.subscriptions(session)
        return await self._page(
            request, gateway, session, "subscriptions.html", subscriptions=items
        )

    @get("/contacts")
    async def contacts(self, request: R, gateway: Gateway, session: Session) -> Template:
        overview = await gateway.portal.overview(session)
        return await self._page(request, gateway, session, "contacts.html", overview=overview)

    @get("/contacts/{role:str}/edit")
    async def edit_contact(
        self, request: R, gateway: Gateway, session: Session, role: str
    ) -> Template:
        if role not in ("billing", "shipping"):
            raise NotFoundError("contact role")
        overview = await gateway.portal.overview(session)
        contact = overview["bill_group"].get(f"{role}_contact") or {}
        values = {k: v for k, v in contact.items() if k != "address" and v is not None}
        values.update({k: v for k, v in (contact.get("address") or {}).items() if v is not None})
        return await self._page(
            request, gateway, session, "contact_edit.html", role=role, values=values
        )

    @post("/contacts/{role:str}", response_model=None)
    async def save_contact(
        self, request: R, gateway: Gateway, session: Session, role: str, data: Form
    ) -> Template | Redirect:
        if role not in ("billing", "shipping"):
            raise NotFoundError("contact role")
        try:
            submitted = await gateway.portal.change_contact(session, role, data)
        except FormInvalidError as exc:
            return await self._page(
                request,
                gateway,
                session,
                "contact_edit.html",
                400,
                role=role,
                values=dict(data),
                errors=exc.errors,
            )
        return _after_change(submitted)

    @get("/payment-methods")
    async def payment_methods(self, request: R, gateway: Gateway, session: Session) -> Template:
        methods = await gateway.portal.payment_methods(session)
        return await self._page(request, gateway, session, "payment_methods.html", methods=methods)

    @get("/payment-methods/new")
    async def new_payment_method(
        self, request: R, gateway: Gateway, session: Session, type: str = "card"
    ) -> Template:
        kind = "bank_account" if type == "bank_account" else "card"
        return await self._page(
            request, gateway, session, "payment_method_new.html", kind=kind, values={}
        )

    @post("/payment-methods", response_model=None)
    async def add_payment_method(
        self, request: R, gateway: Gateway, session: Session, data: Form
    ) -> Template | Redirect:
        try:
            submitted = await gateway.portal.add_payment_method(session, data)
        except FormInvalidError as exc:
            kind = "bank_account" if data.get("type") == "bank_account" else "card"
            # Never echo card or account numbers back into the page.
            safe = {
                k: v
                for k, v in data.items()
                if k in ("holder_name", "bank_name", "exp_month", "exp_year", "make_default")
            }
            return await self._page(
                request,
                gateway,
                session,
                "payment_method_new.html",
                400,
                kind=kind,
                values=safe,
                errors=exc.errors,
            )
        return _after_change(submitted)

    @post("/payment-methods/{payment_method_id:str}/default", response_model=None)
    async def make_default(
        self, request: R, gateway: Gateway, session: Session, payment_method_id: str
    ) -> Template | Redirect:
        try:
            submitted = await gateway.portal.change_default_payment_method(
                session, payment_method_id
            )
        except FormInvalidError as exc:
            methods = await gateway.portal.payment_methods(session)
            return await self._page(
                request,
                gateway,
                session,
                "payment_methods.html",
                400,
                methods=methods,
                errors=exc.errors,
            )
        return _after_change(submitted)

    @get("/invoices")
    async def invoices(
        self,
        request: R,
        gateway: Gateway,
        session: Session,
        status: str | None = None,
        cursor: str | None = None,
    ) -> Template:
        result = await gateway.portal.invoices(session, status, cursor)
        return await self._page(
            request,
            gateway,
            session,
            "invoices.html",
            invoices=result.get("items", []),
            next_cursor=result.get("next_cursor"),
            status=status if status in INVOICE_STATUSES else "",
            statuses=INVOICE_STATUSES,
        )

    @get("/invoices/{invoice_id:str}/pdf")
    async def invoice_pdf(self, gateway: Gateway, session: Session, invoice_id: str) -> Stream:
        return await invoice_pdf(gateway, session, invoice_id)

    @get("/activity")
    async def activity(self, request: R, gateway: Gateway, session: Session) -> Template:
        items = await gateway.portal.activity(session)
        return await self._page(request, gateway, session, "activity.html", items=items)

    @get("/changes/{change_id:str}")
    async def change(
        self, request: R, gateway: Gateway, session: Session, change_id: str
    ) -> Template:
        try:
            item: dict[str, Any] | None = await gateway.portal.change(session, change_id)
        except NotFoundError:
            # Published, but billing-view has not caught up yet: show it as pending.
            item = None
        return await self._page(
            request, gateway, session, "change.html", change_id=change_id, item=item
        )

    @post("/signout")
    async def signout(self, request: R, gateway: Gateway, session: Session) -> Redirect:
        await gateway.access.signout(session.session_token)
        portal_key = portal_key_cookie(request.cookies)
        target = f"/p/{portal_key}?reason=signed_out" if portal_key else "/signed-out"
        response = Redirect(target, status_code=303)
        clear_session_cookie(response, gateway.settings.cookie_secure)
        return response
