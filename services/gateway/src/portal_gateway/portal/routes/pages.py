"""The signed-in customer's pages (server-rendered; every page works without JavaScript).

Thin edges: each reads the form or path, calls one use case of `PortalService`, and renders a
view model. A refused form is shown again with its messages; every other typed error is
mapped to a page in `portal_gateway.errors`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Stream, Template

from portal_contracts.urls import portal_path
from portal_gateway.clients.models import Session
from portal_gateway.errors import FormInvalidError, NotFoundError
from portal_gateway.portal.schemas import (
    CONTACT_ROLES,
    ECHOED_PAYMENT_FIELDS,
    ActivityEntry,
    ActivityPage,
    BillingDetailsPage,
    ChangePage,
    ContactEditPage,
    ContactsPage,
    InvoicesPage,
    NewPaymentMethodPage,
    OverviewPage,
    PaymentMethodsPage,
    SubscriptionsPage,
    contact_values,
)
from portal_gateway.portal.service import INVOICE_STATUSES, Download, PortalService, Submitted
from portal_gateway.security import clear_session_cookie, portal_key_cookie
from portal_gateway.settings import Settings
from portal_gateway.signin.service import SigninService
from portal_gateway.web import page

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
R = Request[Any, Any, Any]


def after_change(submitted: Submitted) -> Redirect:
    return Redirect(f"/portal/changes/{submitted.change_id}", status_code=303)


def download(document: Download) -> Stream:
    headers = {
        "content-disposition": f'attachment; filename="{document.filename}"',
        "cache-control": "private, no-store",
    }
    return Stream(document.chunks, media_type=document.content_type, headers=headers)


class PortalPages(Controller):
    path = "/portal"
    include_in_schema = False

    async def _page(
        self,
        request: R,
        settings: Settings,
        portal: PortalService,
        session: Session,
        template: str,
        view: DataclassInstance | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> Template:
        if "branding" not in context:
            context["branding"] = await portal.branding(session)
        return page(request, settings, template, status_code, view, session=session, **context)

    @get("")
    async def overview(
        self, request: R, settings: Settings, portal: PortalService, session: Session
    ) -> Template:
        overview = await portal.overview(session)
        view = OverviewPage(overview, overview.summary.default_payment_method)
        return await self._page(
            request, settings, portal, session, "overview.html", view, branding=overview.branding
        )

    @get("/billing-details")
    async def billing_details(
        self, request: R, settings: Settings, portal: PortalService, session: Session
    ) -> Template:
        return await self._details(request, settings, portal, session)

    async def _details(
        self,
        request: R,
        settings: Settings,
        portal: PortalService,
        session: Session,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        overview, methods = await asyncio.gather(
            portal.overview(session), portal.payment_methods(session)
        )
        if values is None:
            profile = overview.bill_group.billing_profile.model_dump(exclude_none=True)
            values = {k: str(v) for k, v in profile.items()}
        view = BillingDetailsPage(overview, methods)
        return await self._page(
            request,
            settings,
            portal,
            session,
            "billing_details.html",
            view,
            status_code,
            errors=errors or {},
            values=values,
        )

    @post("/billing-details", response_model=None)
    async def save_billing_details(
        self, request: R, settings: Settings, portal: PortalService, session: Session, data: Form
    ) -> Template | Redirect:
        try:
            submitted = await portal.change_billing_profile(session, data)
        except FormInvalidError as exc:
            return await self._details(
                request, settings, portal, session, 400, exc.errors, dict(data)
            )
        return after_change(submitted)

    @post("/default-payment-method", response_model=None)
    async def save_default_method(
        self, request: R, settings: Settings, portal: PortalService, session: Session, data: Form
    ) -> Template | Redirect:
        method_id = str(data.get("payment_method_id", ""))
        try:
            submitted = await portal.change_default_payment_method(session, method_id)
        except FormInvalidError as exc:
            return await self._details(request, settings, portal, session, 400, exc.errors)
        return after_change(submitted)

    @get("/subscriptions")
    async def subscriptions(
        self, request: R, settings: Settings, portal: PortalService, session: Session
    ) -> Template:
        view = SubscriptionsPage(await portal.subscriptions(session))
        return await self._page(request, settings, portal, session, "subscriptions.html", view)

    @get("/contacts")
    async def contacts(
        self, request: R, settings: Settings, portal: PortalService, session: Session
    ) -> Template:
        view = ContactsPage.of(await portal.overview(session))
        return await self._page(request, settings, portal, session, "contacts.html", view)

    @get("/contacts/{role:str}/edit")
    async def edit_contact(
        self, request: R, settings: Settings, portal: PortalService, session: Session, role: str
    ) -> Template:
        if role not in CONTACT_ROLES:
            raise NotFoundError("We could not find that.")
        contacts = ContactsPage.of(await portal.overview(session)).contacts
        values = contact_values(contacts[role])
        view = ContactEditPage(role)
        return await self._page(
            request, settings, portal, session, "contact_edit.html", view, values=values
        )

    @post("/contacts/{role:str}", response_model=None)
    async def save_contact(
        self,
        request: R,
        settings: Settings,
        portal: PortalService,
        session: Session,
        role: str,
        data: Form,
    ) -> Template | Redirect:
        if role not in CONTACT_ROLES:
            raise NotFoundError("We could not find that.")
        try:
            submitted = await portal.change_contact(session, role, data)
        except FormInvalidError as exc:
            view = ContactEditPage(role)
            return await self._page(
                request,
                settings,
                portal,
                session,
                "contact_edit.html",
                view,
                400,
                values=dict(data),
                errors=exc.errors,
            )
        return after_change(submitted)

    @get("/payment-methods")
    async def payment_methods(
        self, request: R, settings: Settings, portal: PortalService, session: Session
    ) -> Template:
        view = PaymentMethodsPage(await portal.payment_methods(session))
        return await self._page(request, settings, portal, session, "payment_methods.html", view)

    @get("/payment-methods/new")
    async def new_payment_method(
        self,
        request: R,
        settings: Settings,
        portal: PortalService,
        session: Session,
        type: str = "card",
    ) -> Template:
        view = NewPaymentMethodPage.of(type)
        return await self._page(
            request, settings, portal, session, "payment_method_new.html", view, values={}
        )

    @post("/payment-methods", response_model=None)
    async def add_payment_method(
        self, request: R, settings: Settings, portal: PortalService, session: Session, data: Form
    ) -> Template | Redirect:
        try:
            submitted = await portal.add_payment_method(session, data)
        except FormInvalidError as exc:
            # Never echo card or account numbers back into the page.
            safe = {k: v for k, v in data.items() if k in ECHOED_PAYMENT_FIELDS}
            view = NewPaymentMethodPage.of(data.get("type"))
            return await self._page(
                request,
                settings,
                portal,
                session,
                "payment_method_new.html",
                view,
                400,
                values=safe,
                errors=exc.errors,
            )
        return after_change(submitted)

    @post("/payment-methods/{payment_method_id:str}/default", response_model=None)
    async def make_default(
        self,
        request: R,
        settings: Settings,
        portal: PortalService,
        session: Session,
        payment_method_id: str,
    ) -> Template | Redirect:
        try:
            submitted = await portal.change_default_payment_method(session, payment_method_id)
        except FormInvalidError as exc:
            view = PaymentMethodsPage(await portal.payment_methods(session))
            return await self._page(
                request,
                settings,
                portal,
                session,
                "payment_methods.html",
                view,
                400,
                errors=exc.errors,
            )
        return after_change(submitted)

    @get("/invoices")
    async def invoices(
        self,
        request: R,
        settings: Settings,
        portal: PortalService,
        session: Session,
        status: str | None = None,
        cursor: str | None = None,
    ) -> Template:
        result = await portal.invoices(session, status, cursor)
        view = InvoicesPage(
            invoices=result.items,
            next_cursor=result.next_cursor,
            status=status if status in INVOICE_STATUSES else "",
            statuses=INVOICE_STATUSES,
        )
        return await self._page(request, settings, portal, session, "invoices.html", view)

    @get("/invoices/{invoice_id:str}/pdf")
    async def invoice_pdf(self, portal: PortalService, session: Session, invoice_id: str) -> Stream:
        return download(await portal.invoice_document(session, invoice_id))

    @get("/activity")
    async def activity(
        self, request: R, settings: Settings, portal: PortalService, session: Session
    ) -> Template:
        items = [ActivityEntry.of(item) for item in await portal.activity(session)]
        return await self._page(
            request, settings, portal, session, "activity.html", ActivityPage(items)
        )

    @get("/changes/{change_id:str}")
    async def change(
        self,
        request: R,
        settings: Settings,
        portal: PortalService,
        session: Session,
        change_id: str,
    ) -> Template:
        # Published, but billing-view may not have caught up yet: then it shows as pending.
        view = ChangePage(change_id, await portal.change_if_visible(session, change_id))
        return await self._page(request, settings, portal, session, "change.html", view)

    @post("/signout")
    async def signout(
        self, request: R, settings: Settings, signin: SigninService, session: Session
    ) -> Redirect:
        await signin.signout(session)
        portal_key = portal_key_cookie(request.cookies)
        target = f"{portal_path(portal_key)}?reason=signed_out" if portal_key else "/signed-out"
        response = Redirect(target, status_code=303)
        clear_session_cookie(response, settings.cookie_secure)
        return response
