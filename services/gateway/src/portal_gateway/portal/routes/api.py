"""Public JSON API under /api/portal/v1: the same session, reads and writes as the pages.

Every handler answers with a typed schema, so the OpenAPI document carries the real shapes.
Mutating calls need the CSRF header (`x-csrftoken`, value of the `csrftoken` cookie), as a
browser form would send the hidden field. Errors: `{error, message, fields?}`.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath, FromQuery, HeaderParameter
from litestar.response import Response, Stream

from portal_gateway.api_docs.documents import WRITE_SECURITY
from portal_gateway.clients.models import Session
from portal_gateway.portal.domain.idempotency import HEADER
from portal_gateway.portal.models import (
    Activity,
    ActivityItem,
    Invoice,
    InvoicePage,
    Overview,
    PaymentMethods,
    Subscriptions,
)
from portal_gateway.portal.routes.pages import download
from portal_gateway.portal.schemas import (
    BillingProfileIn,
    ChangeAccepted,
    ContactIn,
    DefaultPaymentMethodIn,
    PaymentMethodIn,
    SessionOut,
    as_form,
)
from portal_gateway.portal.service import PortalService
from portal_gateway.portal.submission import Submitted, idempotency_key
from portal_gateway.security import clear_session_cookie
from portal_gateway.settings import Settings
from portal_gateway.signin.service import SigninService
from portal_kit.errors import error_response

API_PATH = "/api/portal/v1"
Portal = NamedDependency[PortalService]
Customer = NamedDependency[Session]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=HEADER,
        required=False,
        description="Optional, recommended: a repeat with the same key (a retry after a "
        "timeout, a double click) answers the first request's change and changes nothing "
        "again; the same key with a different body answers 422 `idempotency_key_reused`. "
        "1-128 printable characters, e.g. a UUID.",
    ),
]


_UNAVAILABLE = error_response(
    "A dependency did not answer (`unavailable`); try again after `Retry-After` seconds."
)
READ_ERRORS: dict[int, ResponseSpec] = {
    400: error_response("A parameter is not valid (`invalid`, with `fields`)."),
    401: error_response("Not signed in (`not_signed_in`): sign in through the portal link."),
    404: error_response("Not found in the session's bill group (`not_found`)."),
    503: _UNAVAILABLE,
}
LIST_ERRORS: dict[int, ResponseSpec] = {
    **READ_ERRORS,
    400: error_response(
        "A query parameter is not valid, or the `cursor` was not issued by this API "
        "(`invalid`, with `fields`)."
    ),
}
SIGNOUT_ERRORS: dict[int, ResponseSpec] = {
    400: READ_ERRORS[400],
    401: READ_ERRORS[401],
    403: error_response(
        "The `x-csrftoken` header is missing or wrong (`forbidden`), or a browser sent the "
        "request from another site (`cross_site`)."
    ),
    503: _UNAVAILABLE,
}
WRITE_ERRORS: dict[int, ResponseSpec] = {
    **READ_ERRORS,
    400: error_response("The body or a header is not valid (`invalid`, with `fields`)."),
    403: error_response(
        "The `x-csrftoken` header is missing or wrong (`forbidden`), a browser sent the "
        "request from another site (`cross_site`), or the session is a read-only preview "
        "(`read_only`)."
    ),
    413: error_response("The body is too large (`too_large`)."),
    422: error_response(
        "A rule refused a value (`invalid`, one message per field in `fields`), or the "
        "`Idempotency-Key` was used before for a different change (`idempotency_key_reused`)."
    ),
    503: error_response(
        "Nothing was changed (`not_saved` / `unavailable`); try again after `Retry-After` seconds."
    ),
}


def accepted(submitted: Submitted) -> Response[ChangeAccepted]:
    body = ChangeAccepted(
        change_id=submitted.change_id, status=submitted.status, change=submitted.item
    )
    location = f"{API_PATH}/changes/{submitted.change_id}"
    return Response(body, status_code=202, headers={"location": location})


class PortalApi(Controller):
    path = API_PATH
    tags = ["portal"]

    @get("/session", summary="Who is signed in", responses=READ_ERRORS)
    async def whoami(self, session: Customer) -> SessionOut:
        """The signed-in customer: tenant, bill group, email, read-only (preview) flag."""
        return SessionOut.of(session)

    @get("/overview", summary="Bill group, entity, summary, pending changes", responses=READ_ERRORS)
    async def overview(self, portal: Portal, session: Customer) -> Overview:
        return await portal.overview(session)

    @get("/subscriptions", summary="Subscriptions", responses=READ_ERRORS)
    async def subscriptions(self, portal: Portal, session: Customer) -> Subscriptions:
        return Subscriptions(items=await portal.subscriptions(session))

    @get("/payment-methods", summary="Payment methods", responses=READ_ERRORS)
    async def payment_methods(self, portal: Portal, session: Customer) -> PaymentMethods:
        return PaymentMethods(items=await portal.payment_methods(session))

    @get("/invoices", summary="Invoices, newest first (paged)", responses=LIST_ERRORS)
    async def invoices(
        self,
        portal: Portal,
        session: Customer,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
    ) -> InvoicePage:
        return await portal.invoices(session, status, cursor, limit)

    @get("/invoices/{invoice_id:str}", summary="One invoice with its lines", responses=READ_ERRORS)
    async def invoice(
        self,
        portal: Portal,
        session: Customer,
        invoice_id: FromPath[str],
    ) -> Invoice:
        return await portal.invoice(session, invoice_id)

    @get(
        "/invoices/{invoice_id:str}/pdf",
        media_type="application/pdf",
        summary="An invoice's PDF",
        responses=READ_ERRORS,
    )
    async def invoice_pdf(
        self,
        portal: Portal,
        session: Customer,
        invoice_id: FromPath[str],
    ) -> Stream:
        return download(await portal.invoice_document(session, invoice_id))

    @get("/activity", summary="The customer changes and what became of them", responses=READ_ERRORS)
    async def activity(self, portal: Portal, session: Customer) -> Activity:
        return Activity(items=await portal.activity(session))

    @get("/changes/{change_id:str}", summary="One change and its status", responses=READ_ERRORS)
    async def change(
        self,
        portal: Portal,
        session: Customer,
        change_id: FromPath[str],
    ) -> ActivityItem:
        return await portal.change(session, change_id)

    @post(
        "/billing-profile",
        status_code=202,
        summary="Change the billing profile",
        responses=WRITE_ERRORS,
        security=WRITE_SECURITY,
    )
    async def change_billing_profile(
        self,
        portal: Portal,
        session: Customer,
        data: Annotated[BillingProfileIn, Body()],
        idempotency: IdempotencyKey = None,
    ) -> Response[ChangeAccepted]:
        key = idempotency_key(idempotency, HEADER)
        return accepted(await portal.change_billing_profile(session, as_form(data), key))

    @post(
        "/contacts/{role:str}",
        status_code=202,
        summary="Change a contact",
        responses=WRITE_ERRORS,
        security=WRITE_SECURITY,
    )
    async def change_contact(
        self,
        portal: Portal,
        session: Customer,
        role: FromPath[str],
        data: Annotated[ContactIn, Body()],
        idempotency: IdempotencyKey = None,
    ) -> Response[ChangeAccepted]:
        key = idempotency_key(idempotency, HEADER)
        return accepted(await portal.change_contact(session, role, as_form(data), key))

    @post(
        "/default-payment-method",
        status_code=202,
        summary="Choose the default payment method",
        responses=WRITE_ERRORS,
        security=WRITE_SECURITY,
    )
    async def change_default_payment_method(
        self,
        portal: Portal,
        session: Customer,
        data: Annotated[DefaultPaymentMethodIn, Body()],
        idempotency: IdempotencyKey = None,
    ) -> Response[ChangeAccepted]:
        key = idempotency_key(idempotency, HEADER)
        method_id = data.payment_method_id
        return accepted(await portal.change_default_payment_method(session, method_id, key))

    @post(
        "/payment-methods",
        status_code=202,
        summary="Add a payment method",
        responses=WRITE_ERRORS,
        security=WRITE_SECURITY,
    )
    async def add_payment_method(
        self,
        portal: Portal,
        session: Customer,
        data: Annotated[PaymentMethodIn, Body()],
        idempotency: IdempotencyKey = None,
    ) -> Response[ChangeAccepted]:
        key = idempotency_key(idempotency, HEADER)
        return accepted(await portal.add_payment_method(session, as_form(data), key=key))

    @post(
        "/signout",
        status_code=204,
        summary="End the session",
        responses=SIGNOUT_ERRORS,
        security=WRITE_SECURITY,
    )
    async def signout(
        self,
        settings: NamedDependency[Settings],
        signin: NamedDependency[SigninService],
        session: Customer,
    ) -> Response[None]:
        await signin.signout(session)
        response: Response[None] = Response(None, status_code=204)
        clear_session_cookie(response, settings.cookie_secure)
        return response
