"""Sign-in pages at the portal link (`portal_contracts.urls`): request a link or code, verify
it, or redeem a staff preview. Every refusal is a page of its own, rendered here."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from portal_contracts.urls import PORTAL_PATH, PREVIEW_SUFFIX, VERIFY_SUFFIX
from portal_gateway.clients.models import Session
from portal_gateway.errors import FormInvalidError, NotFoundError
from portal_gateway.security import session_cookies
from portal_gateway.settings import Settings
from portal_gateway.signin import domain
from portal_gateway.signin.schemas import (
    CheckEmailPage,
    LinkExpiredPage,
    SigninPage,
    UnavailablePage,
    VerifyPage,
)
from portal_gateway.signin.service import SigninService
from portal_gateway.web import page, route_path
from portal_kit.errors import GoneError, RateLimitedError

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
R = Request[Any, Any, Any]
Config = NamedDependency[Settings]
Signin = NamedDependency[SigninService]
Segment = FromPath[str]


def _unknown(request: R, settings: Settings) -> Template:
    return page(request, settings, "portal_unknown.html", 404)


def _expired(request: R, settings: Settings, portal_key: str, status: int) -> Template:
    return page(request, settings, "link_expired.html", status, LinkExpiredPage(portal_key))


def _signed_in(
    settings: Settings,
    session: Session,
    portal_key: str,
) -> Redirect:
    response = Redirect("/portal", status_code=303)
    response.cookies.extend(session_cookies(session, portal_key, settings.cookie_secure))
    return response


class SigninController(Controller):
    path = route_path(PORTAL_PATH)
    include_in_schema = False

    @get("")
    async def signin_form(
        self,
        request: R,
        settings: Config,
        signin: Signin,
        portal_key: Segment,
        reason: FromQuery[str | None] = None,
    ) -> Template:
        try:
            entry = await signin.entry(portal_key)
        except NotFoundError:
            return _unknown(request, settings)
        if not entry.portal.usable:
            unavailable = UnavailablePage(domain.unusable_message(entry.portal.reason))
            return page(
                request,
                settings,
                "portal_unavailable.html",
                403,
                unavailable,
                branding=entry.branding,
            )
        view = SigninPage(portal_key, domain.notice(reason))
        return page(request, settings, "signin.html", 200, view, branding=entry.branding)

    @post("/signin", status_code=200)
    async def request_link(
        self,
        request: R,
        settings: Config,
        signin: Signin,
        portal_key: Segment,
        data: Form,
    ) -> Template:
        email = domain.normalise_email(str(data.get("email", "")))
        try:
            # The page just shown for this key (its branding); access's answer to the
            # request below decides on the key itself.
            entry = await signin.recent_entry(portal_key)
        except NotFoundError:
            return _unknown(request, settings)
        client_ip = request.client.host if request.client else "unknown"
        try:
            pending_id = await signin.request_link(portal_key, email, client_ip)
        except NotFoundError:
            return _unknown(request, settings)  # rotated since the page was shown
        except (FormInvalidError, RateLimitedError) as exc:
            refused = page(
                request,
                settings,
                "signin.html",
                exc.status,
                SigninPage(portal_key),
                branding=entry.branding,
                values={"email": email},
                errors=exc.fields or {},
            )
            refused.headers.update(exc.headers())  # a 429's Retry-After
            return refused
        view = CheckEmailPage(portal_key, pending_id, email, entry.portal.usable)
        return page(request, settings, "check_email.html", 200, view, branding=entry.branding)

    @post("/code", status_code=200, response_model=None)
    async def verify_code(
        self,
        request: R,
        settings: Config,
        signin: Signin,
        portal_key: Segment,
        data: Form,
    ) -> Template | Redirect:
        pending_id = str(data.get("pending_id", ""))[:200]
        try:
            session = await signin.verify_code(pending_id, str(data.get("code", "")))
        except FormInvalidError as exc:
            entry = await signin.entry(portal_key)
            view = CheckEmailPage(portal_key, pending_id)
            return page(
                request,
                settings,
                "check_email.html",
                400,
                view,
                branding=entry.branding,
                errors=exc.errors,
            )
        except (GoneError, RateLimitedError) as exc:
            expired = _expired(request, settings, portal_key, exc.status)
            expired.headers.update(exc.headers())
            return expired
        return _signed_in(settings, session, portal_key)

    @get(route_path(VERIFY_SUFFIX))
    async def verify_page(
        self,
        request: R,
        settings: Config,
        signin: Signin,
        portal_key: Segment,
        token: Segment,
    ) -> Template:
        return await self._confirm_page(request, settings, signin, portal_key, preview=False)

    @post(route_path(VERIFY_SUFFIX), status_code=200, response_model=None)
    async def verify_link(
        self,
        request: R,
        settings: Config,
        signin: Signin,
        portal_key: Segment,
        token: Segment,
    ) -> Template | Redirect:
        try:
            session = await signin.verify_link(token)
        except GoneError:
            # A link of a rotated portal answers as its GET page does (access refused it:
            # the rotation cancelled it), not as merely expired.
            try:
                await signin.entry(portal_key)
            except NotFoundError:
                return _unknown(request, settings)
            return _expired(request, settings, portal_key, 410)
        return _signed_in(settings, session, portal_key)

    @get(route_path(PREVIEW_SUFFIX))
    async def preview_page(
        self,
        request: R,
        settings: Config,
        signin: Signin,
        portal_key: Segment,
        token: Segment,
    ) -> Template:
        return await self._confirm_page(request, settings, signin, portal_key, preview=True)

    @post(route_path(PREVIEW_SUFFIX), status_code=200, response_model=None)
    async def redeem_preview(
        self,
        request: R,
        settings: Config,
        signin: Signin,
        portal_key: Segment,
        token: Segment,
    ) -> Template | Redirect:
        try:
            session = await signin.redeem_preview(token)
        except GoneError:
            return _expired(request, settings, portal_key, 410)
        return _signed_in(settings, session, portal_key)

    async def _confirm_page(
        self,
        request: R,
        settings: Settings,
        signin: SigninService,
        portal_key: str,
        *,
        preview: bool,
    ) -> Template:
        # Showing this page must not use the token: mail scanners fetch links with GET; the
        # page's button POSTs it.
        try:
            entry = await signin.entry(portal_key)
        except NotFoundError:
            return _unknown(request, settings)
        view = VerifyPage(action=request.url.path, preview=preview)
        return page(request, settings, "verify.html", 200, view, branding=entry.branding)
