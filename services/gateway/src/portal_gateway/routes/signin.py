"""Sign-in at the portal link: request a link or code, verify it, or redeem a staff preview."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from portal_gateway.clients import ApiError, NotFoundError, Portal, Session
from portal_gateway.deps import Gateway
from portal_gateway.security import session_cookies
from portal_gateway.web import page

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

REASONS = {
    "expired": "Your session has ended. Sign in again to continue.",
    "signed_out": "You have signed out.",
    "revoked": "Your access to this portal has changed. Sign in again to continue.",
}
UNUSABLE = {
    "portal_disabled": "This billing portal is switched off. Contact your supplier for help.",
    "contract_inactive": "This billing portal is not available at the moment, because the "
    "account has no active contract. Contact your supplier for help.",
}


def _minutes(seconds: Any) -> int:
    try:
        return max(1, -(-int(seconds) // 60))
    except (TypeError, ValueError):
        return 15


class SigninController(Controller):
    path = "/p/{portal_key:str}"
    include_in_schema = False

    async def _portal(self, gateway: Gateway, portal_key: str) -> tuple[Portal, dict[str, Any]]:
        portal = await gateway.access.portal(portal_key)
        try:
            branding = await gateway.billing.branding(portal.tenant_id, portal.bill_group_id)
        except NotFoundError:
            branding = {}
        return portal, branding

    def _unknown(self, request: Request[Any, Any, Any], gateway: Gateway) -> Template:
        return page(request, gateway.settings, "portal_unknown.html", status_code=404)

    def _signed_in(self, gateway: Gateway, session: Session, portal_key: str) -> Redirect:
        response = Redirect("/portal", status_code=303)
        response.cookies.extend(
            session_cookies(session, portal_key, gateway.settings.cookie_secure)
        )
        return response

    def _expired(
        self, request: Request[Any, Any, Any], gateway: Gateway, portal_key: str, status: int
    ) -> Template:
        return page(
            request,
            gateway.settings,
            "link_expired.html",
            status_code=status,
            portal_key=portal_key,
        )

    @get("")
    async def signin_form(
        self,
        request: Request[Any, Any, Any],
        gateway: Gateway,
        portal_key: str,
        reason: str | None = None,
    ) -> Template:
        try:
            portal, branding = await self._portal(gateway, portal_key)
        except NotFoundError:
            return self._unknown(request, gateway)
        if not portal.usable:
            message = UNUSABLE.get(portal.reason or "", UNUSABLE["portal_disabled"])
            return page(
                request,
                gateway.settings,
                "portal_unavailable.html",
                status_code=403,
                branding=branding,
                message=message,
            )
        return page(
            request,
            gateway.settings,
            "signin.html",
            branding=branding,
            portal_key=portal_key,
            notice=REASONS.get(reason or ""),
        )

    @post("/signin", status_code=200)
    async def request_link(
        self, request: Request[Any, Any, Any], gateway: Gateway, portal_key: str, data: Form
    ) -> Template:
        email = " ".join(str(data.get("email", "")).split())
        try:
            portal, branding = await self._portal(gateway, portal_key)
        except NotFoundError:
            return self._unknown(request, gateway)

        def refused(status: int, message: str) -> Template:
            return page(
                request,
                gateway.settings,
                "signin.html",
                status_code=status,
                branding=branding,
                portal_key=portal_key,
                values={"email": email},
                errors={"email": message},
            )

        local, at, domain = email.partition("@")
        if not (local and at and "." in domain and " " not in email and len(email) <= 254):
            return refused(400, "Enter an email address like name@company.com.")
        client_ip = request.client.host if request.client else "unknown"
        try:
            pending_id = await gateway.access.request_signin(portal_key, email, client_ip)
        except ApiError as exc:
            if exc.status == 429:
                minutes = _minutes(exc.body.get("retry_after_seconds"))
                return refused(
                    429,
                    "Too many sign-in requests. Try again in "
                    f"{minutes} minute{'s' if minutes != 1 else ''}.",
                )
            return refused(400, str(exc.body.get("message") or "Check the email address."))
        return page(
            request,
            gateway.settings,
            "check_email.html",
            branding=branding,
            portal_key=portal_key,
            pending_id=pending_id,
            email=email,
            usable=portal.usable,
        )

    @post("/code", status_code=200, response_model=None)
    async def verify_code(
        self, request: Request[Any, Any, Any], gateway: Gateway, portal_key: str, data: Form
    ) -> Template | Redirect:
        pending_id = str(data.get("pending_id", ""))[:200]
        code = "".join(str(data.get("code", "")).split())[:32]
        try:
            session = await gateway.access.verify_code(pending_id, code)
        except ApiError as exc:
            if exc.status == 400:
                _, branding = await self._portal(gateway, portal_key)
                left = exc.body.get("attempts_left")
                message = "That code is not right."
                if isinstance(left, int):
                    message += f" {left} attempt{'s' if left != 1 else ''} left."
                return page(
                    request,
                    gateway.settings,
                    "check_email.html",
                    status_code=400,
                    branding=branding,
                    portal_key=portal_key,
                    pending_id=pending_id,
                    errors={"code": message},
                )
            return self._expired(request, gateway, portal_key, 410 if exc.status == 410 else 429)
        except NotFoundError:
            return self._unknown(request, gateway)
        return self._signed_in(gateway, session, portal_key)

    @get("/verify/{token:str}")
    async def verify_page(
        self, request: Request[Any, Any, Any], gateway: Gateway, portal_key: str, token: str
    ) -> Template:
        return await self._confirm_page(request, gateway, portal_key, preview=False)

    @post("/verify/{token:str}", status_code=200, response_model=None)
    async def verify_link(
        self, request: Request[Any, Any, Any], gateway: Gateway, portal_key: str, token: str
    ) -> Template | Redirect:
        try:
            session = await gateway.access.verify_link(token)
        except (ApiError, NotFoundError):
            return self._expired(request, gateway, portal_key, 410)
        return self._signed_in(gateway, session, portal_key)

    @get("/preview/{preview_token:str}")
    async def preview_page(
        self,
        request: Request[Any, Any, Any],
        gateway: Gateway,
        portal_key: str,
        preview_token: str,
    ) -> Template:
        return await self._confirm_page(request, gateway, portal_key, preview=True)

    async def _confirm_page(
        self, request: Request[Any, Any, Any], gateway: Gateway, portal_key: str, *, preview: bool
    ) -> Template:
        # Showing this page must not use the token: mail scanners fetch links with GET; the
        # page's button POSTs it.
        try:
            _, branding = await self._portal(gateway, portal_key)
        except NotFoundError:
            return self._unknown(request, gateway)
        return page(
            request,
            gateway.settings,
            "verify.html",
            branding=branding,
            action=request.url.path,
            preview=preview,
        )

    @post("/preview/{preview_token:str}", status_code=200, response_model=None)
    async def redeem_preview(
        self,
        request: Request[Any, Any, Any],
        gateway: Gateway,
        portal_key: str,
        preview_token: str,
    ) -> Template | Redirect:
        try:
            session = await gateway.access.redeem_preview(preview_token)
        except (ApiError, NotFoundError):
            return self._expired(request, gateway, portal_key, 410)
        return self._signed_in(gateway, session, portal_key)
