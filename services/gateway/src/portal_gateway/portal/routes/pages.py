"""The signed-in customer's pages (server-rendered; every page works without JavaScript).

Thin edges: each reads the form or path, calls one use case of `PortalService`, and renders a
view model of `schemas`. A refused form is shown again with its messages; every other typed
error is mapped to a page in `portal_gateway.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from portal_contracts.urls import portal_path
from portal_gateway.clients.models import Session
from portal_gateway.errors import FormInvalidError, NotFoundError, UpstreamError
from portal_gateway.portal.domain.idempotency import FORM_FIELD
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
from portal_gateway.portal.service import INVOICE_STATUSES, Download, PortalService
from portal_gateway.portal.submission import Submitted, idempotency_key
from portal_gateway.security import clear_session_cookie, portal_key_cookie
from portal_gateway.settings import Settings
from portal_gateway.signin.service import SigninService
from portal_gateway.web import page

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
R = Request[Any, Any, Any]
Portal = NamedDependency[PortalService]
Customer = NamedDependency[Session]
T = TypeVar("T")


def require(part: T | None) -> T:
    """A part of the page billing-view must send for that page (else its answer is wrong)."""
    if part is None:
        raise UpstreamError("billing-view page without its data")
    return part


def key_of(form: dict[str, str]) -> str | None:
    """The form's idempotency key (rendered into it as a hidden field)."""
    return idempotency_key(form.get(FORM_FIELD))


def after_change(submitted: Submitted) -> Redirect:
    return Redirect(f"/portal/changes/{submitted.change_id}", status_code=303)


def download(document: Download) -> Stream:
    headers = {
        "content-disposition": f'attachment; filename="{document.filename}"',
        "cache-control": "private, no-store",
    }
    return Stream(document.chunks, media_type=document.content_type, headers=headers)


@dataclass(frozen=True)
class Pages:
    """Renders one request's signed-in page: the seller's branding and the session banner."""

    request: R
    settings: Settings
    portal: PortalService
    session: Session

    async def render(
        self,
        template: str,
        view: DataclassInstance | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> Template:
        if "branding" not in context:
            context["branding"] = await self.portal.branding(self.session)
        return page(
            self.request,
            self.settings,
            template,
            status_code,
            view,
            session=self.session,
            **context,
        )

    async def details(
        self,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        """The billing details page, with the saved profile unless a form is shown again."""
        data = await self.portal.page(self.session, "billing-details")
        overview, methods = require(data.overview), require(data.payment_methods)
        if values is None:
            profile = overview.bill_group.billing_profile.model_dump(exclude_none=True)
            values = {k: str(v) for k, v in profile.items()}
        view = BillingDetailsPage(overview, methods)
        return await self.render(
            "billing_details.html",
            view,
            status_code,
            errors=errors or {},
            values=values,
            branding=data.branding,
        )


def provide_pages(
    request: R,
    settings: NamedDependency[Settings],
    portal: Portal,
    session: Customer,
) -> Pages:
    return Pages(request, settings, portal, session)


Page = NamedDependency[Pages]


class PortalPages(Controller):
    path = "/portal"
    include_in_schema = False
    dependencies = {"pages": Provide(provide_pages, sync_to_thread=False)}

    @get("")
    async def overview(self, pages: Page, portal: Portal, session: Customer) -> Template:
        data = await portal.page(session, "overview")
        overview = require(data.overview)
        view = OverviewPage(overview, overview.summary.default_payment_method)
        return await pages.render("overview.html", view, branding=data.branding)

    @get("/billing-details")
    async def billing_details(self, pages: Page) -> Template:
        return await pages.details()

    @post("/billing-details", response_model=None)
    async def save_billing_details(
        self, pages: Page, portal: Portal, session: Customer, data: Form
    ) -> Template | Redirect:
        try:
            submitted = await portal.change_billing_profile(session, data, key_of(data))
            return after_change(submitted)
        except FormInvalidError as exc:
            return await pages.details(400, exc.errors, dict(data))

    @post("/default-payment-method", response_model=None)
    async def save_default_method(
        self, pages: Page, portal: Portal, session: Customer, data: Form
    ) -> Template | Redirect:
        method_id = str(data.get("payment_method_id", ""))
        try:
            submitted = await portal.change_default_payment_method(session, method_id, key_of(data))
            return after_change(submitted)
        except FormInvalidError as exc:
            return await pages.details(400, exc.errors)

    @get("/subscriptions")
    async def subscriptions(self, pages: Page, portal: Portal, session: Customer) -> Template:
        data = await portal.page(session, "subscriptions")
        view = SubscriptionsPage(require(data.subscriptions))
        return await pages.render("subscriptions.html", view, branding=data.branding)

    @get("/contacts")
    async def contacts(self, pages: Page, portal: Portal, session: Customer) -> Template:
        data = await portal.page(session, "contacts")
        view = ContactsPage.of(require(data.overview))
        return await pages.render("contacts.html", view, branding=data.branding)

    @get("/contacts/{role:str}/edit")
    async def edit_contact(
        self, pages: Page, portal: Portal, session: Customer, role: FromPath[str]
    ) -> Template:
        if role not in CONTACT_ROLES:
            raise NotFoundError("We could not find that.")
        data = await portal.page(session, "contacts")
        contacts = ContactsPage.of(require(data.overview)).contacts
        values = contact_values(contacts[role])
        return await pages.render(
            "contact_edit.html", ContactEditPage(role), values=values, branding=data.branding
        )

    @post("/contacts/{role:str}", response_model=None)
    async def save_contact(
        self,
        pages: Page,
        portal: Portal,
        session: Customer,
        role: FromPath[str],
        data: Form,
    ) -> Template | Redirect:
        if role not in CONTACT_ROLES:
            raise NotFoundError("We could not find that.")
        try:
            return after_change(await portal.change_contact(session, role, data, key_of(data)))
        except FormInvalidError as exc:
            return await pages.render(
                "contact_edit.html",
                ContactEditPage(role),
                400,
                values=dict(data),
                errors=exc.errors,
            )

    @get("/payment-methods")
    async def payment_methods(self, pages: Page, portal: Portal, session: Customer) -> Template:
        data = await portal.page(session, "payment-methods")
        view = PaymentMethodsPage(require(data.payment_methods))
        return await pages.render("payment_methods.html", view, branding=data.branding)

    @get("/payment-methods/new")
    async def new_payment_method(self, pages: Page, type: FromQuery[str] = "card") -> Template:
        view = NewPaymentMethodPage.of(type)
        return await pages.render("payment_method_new.html", view, values={})

    @post("/payment-methods", response_model=None)
    async def add_payment_method(
        self, pages: Page, portal: Portal, session: Customer, data: Form
    ) -> Template | Redirect:
        try:
            return after_change(await portal.add_payment_method(session, data, key=key_of(data)))
        except FormInvalidError as exc:
            # Never echo card or account numbers back into the page.
            safe = {k: v for k, v in data.items() if k in ECHOED_PAYMENT_FIELDS}
            view = NewPaymentMethodPage.of(data.get("type"))
            return await pages.render(
                "payment_method_new.html", view, 400, values=safe, errors=exc.errors
            )

    @post("/payment-methods/{payment_method_id:str}/default", response_model=None)
    async def make_default(
        self,
        pages: Page,
        portal: Portal,
        session: Customer,
        payment_method_id: FromPath[str],
        data: Form,
    ) -> Template | Redirect:
        try:
            submitted = await portal.change_default_payment_method(
                session, payment_method_id, key_of(data)
            )
        except FormInvalidError as exc:
            shown = await portal.page(session, "payment-methods")
            view = PaymentMethodsPage(require(shown.payment_methods))
            return await pages.render(
                "payment_methods.html", view, 400, errors=exc.errors, branding=shown.branding
            )
        return after_change(submitted)

    @get("/invoices")
    async def invoices(
        self,
        pages: Page,
        portal: Portal,
        session: Customer,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        data = await portal.invoices_page(session, status, cursor)
        result = require(data.invoices)
        view = InvoicesPage(
            invoices=result.items,
            next_cursor=result.next_cursor,
            status=status if status in INVOICE_STATUSES else "",
            statuses=INVOICE_STATUSES,
        )
        return await pages.render("invoices.html", view, branding=data.branding)

    @get("/invoices/{invoice_id:str}/pdf")
    async def invoice_pdf(
        self, portal: Portal, session: Customer, invoice_id: FromPath[str]
    ) -> Stream:
        return download(await portal.invoice_document(session, invoice_id))

    @get("/activity")
    async def activity(self, pages: Page, portal: Portal, session: Customer) -> Template:
        data = await portal.page(session, "activity")
        items = [ActivityEntry.of(item) for item in require(data.activity)]
        return await pages.render("activity.html", ActivityPage(items), branding=data.branding)

    @get("/changes/{change_id:str}")
    async def change(
        self,
        pages: Page,
        portal: Portal,
        session: Customer,
        change_id: FromPath[str],
    ) -> Template:
        # Published, but billing-view may not have caught up yet: then it shows as pending.
        data = await portal.change_page(session, change_id)
        view = ChangePage(change_id, data.change)
        return await pages.render("change.html", view, branding=data.branding)

    @post("/signout")
    async def signout(
        self,
        request: R,
        settings: NamedDependency[Settings],
        signin: NamedDependency[SigninService],
        session: Customer,
    ) -> Redirect:
        await signin.signout(session)
        portal_key = portal_key_cookie(request.cookies)
        target = f"{portal_path(portal_key)}?reason=signed_out" if portal_key else "/signed-out"
        response = Redirect(target, status_code=303)
        clear_session_cookie(response, settings.cookie_secure)
        return response
