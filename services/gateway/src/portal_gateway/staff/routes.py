"""The staff console pages under /staff. Every action goes through access's admin API as the
staff member (internal token + X-Tenant-Id + X-Actor), so access audits each one under the
identity from the signed link."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from portal_gateway.clients import NotFoundError, UpstreamError
from portal_gateway.deps import Gateway
from portal_gateway.staff import session as cookies
from portal_gateway.staff.client import CredentialsRejectedError, RefusedError, StaffAccessClient
from portal_gateway.staff.session import Scope, StaffSession
from portal_gateway.staff.settings import StaffSettings
from portal_gateway.staff.views import (
    KINDS,
    NOTICES,
    audit_rows,
    contract_view,
    rule_form_errors,
    rule_rows,
    session_rows,
)
from portal_gateway.web import page

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
R = Request[Any, Any, Any]
LINK_FIELDS = ("tenant", "bill_group", "account", "staff", "exp", "nonce", "sig")


class StaffConsole:
    """The console's collaborators, made once per app from the gateway's HTTP clients."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = StaffSettings()
        self.key = cookies.derive_key(gateway.settings.csrf_secret)
        self.access = StaffAccessClient(gateway.access.http, gateway.admin_http)
        self.cookie_secure = gateway.settings.cookie_secure
        # The admin-API-key sign-in page exists only for local development.
        self.sign_in_page_enabled = gateway.settings.environment == "local"

    def cookie(self, session: StaffSession) -> Cookie:
        return Cookie(
            key=cookies.COOKIE_NAME,
            value=cookies.encode(session, self.key),
            path=cookies.COOKIE_PATH,
            max_age=self.settings.staff_session_idle_minutes * 60,
            httponly=True,
            secure=self.cookie_secure,
            # Strict is possible because the signed link lands on a confirmation page whose
            # button POSTs from our own origin: the cookie is never needed on a cross-site hop.
            samesite="strict",
        )

    def session_of(self, request: R) -> StaffSession | None:
        return cookies.decode(
            request.cookies.get(cookies.COOKIE_NAME),
            self.key,
            now=int(time.time()),
            idle_seconds=self.settings.staff_session_idle_minutes * 60,
            max_seconds=self.settings.staff_session_max_hours * 3600,
        )


class NotSignedInError(Exception):
    """No valid staff session for a page that needs one."""


def provide_console(state: State, gateway: Gateway) -> StaffConsole:
    console: StaffConsole | None = getattr(state, "staff_console", None)
    if console is None or console.gateway is not gateway:
        console = StaffConsole(gateway)
        state.staff_console = console
    return console


def provide_staff(request: R, console: StaffConsole) -> StaffSession:
    session = console.session_of(request)
    if session is None:
        raise NotSignedInError
    return cookies.touched(session, int(time.time()))


def _render(
    request: R,
    console: StaffConsole,
    template: str,
    status_code: int = 200,
    staff: StaffSession | None = None,
    **context: Any,
) -> Template:
    response = page(
        request, console.gateway.settings, f"staff/{template}", status_code, staff=staff, **context
    )
    if staff is not None:
        response.cookies.append(console.cookie(staff))
    return response


def _redirect(console: StaffConsole, staff: StaffSession, target: str) -> Redirect:
    response = Redirect(target, status_code=303)
    response.cookies.append(console.cookie(staff))
    return response


def _signed_out_page(request: R, status_code: int) -> Response[Any]:
    console = provide_console(request.app.state, request.app.state.gateway)
    response = _render(request, console, "signed_out.html", status_code=status_code)
    response.cookies.append(
        Cookie(key=cookies.COOKIE_NAME, value="", path=cookies.COOKIE_PATH, max_age=0)
    )
    return response


def _handle_signed_out(request: R, _: Exception) -> Response[Any]:
    return _signed_out_page(request, 401)


def _handle_not_found(request: R, _: Exception) -> Response[Any]:
    console = provide_console(request.app.state, request.app.state.gateway)
    return _render(
        request,
        console,
        "problem.html",
        status_code=404,
        heading="Not found",
        message="This bill group or account does not exist, or this staff link does not cover it.",
    )


def _handle_upstream(request: R, _: Exception) -> Response[Any]:
    console = provide_console(request.app.state, request.app.state.gateway)
    return _render(
        request,
        console,
        "problem.html",
        status_code=503,
        heading="The console is unavailable",
        message="The access service did not answer. Nothing was changed; try again shortly.",
    )


def _handle_refused(request: R, exc: Exception) -> Response[Any]:
    console = provide_console(request.app.state, request.app.state.gateway)
    assert isinstance(exc, RefusedError)
    return _render(
        request, console, "problem.html", exc.status, heading="Not possible", message=exc.message
    )


def _safe(segment: str) -> str:
    return quote(segment, safe="")


def _back(bill_group_id: str, done: str) -> str:
    return f"/staff/bill-groups/{_safe(bill_group_id)}?done={done}"


class StaffPages(Controller):
    path = "/staff"
    include_in_schema = False
    dependencies = {
        "console": Provide(provide_console, sync_to_thread=False),
        "staff": Provide(provide_staff, sync_to_thread=False),
    }
    exception_handlers = {
        NotSignedInError: _handle_signed_out,
        CredentialsRejectedError: _handle_signed_out,
        NotFoundError: _handle_not_found,
        UpstreamError: _handle_upstream,
        RefusedError: _handle_refused,
    }

    # --- arriving ---------------------------------------------------------------------

    @get("/enter")
    async def enter_check(self, request: R, console: StaffConsole) -> Template:
        params = {k: v for k, v in request.query_params.items() if k in LINK_FIELDS}
        try:
            grant = await console.access.redeem(params, consume=False)
        except RefusedError as refusal:
            return _render(request, console, "refused.html", refusal.status, refusal=refusal)
        return _render(request, console, "enter.html", grant=grant, params=params)

    @post("/enter", status_code=303)
    async def enter(self, request: R, console: StaffConsole, data: Form) -> Response[Any]:
        params = {k: str(v) for k, v in data.items() if k in LINK_FIELDS}
        try:
            grant = await console.access.redeem(params, consume=True)
        except RefusedError as refusal:
            return _render(request, console, "refused.html", refusal.status, refusal=refusal)
        now = int(time.time())
        staff = StaffSession(
            tenant_id=grant.tenant_id,
            scope=grant.scope,
            scope_id=grant.scope_id,
            actor=grant.staff_email,
            issued_at=now,
            last_seen=now,
        )
        return _redirect(console, staff, staff.home)

    @get("/sign-in")
    async def sign_in_form(self, request: R, console: StaffConsole) -> Template:
        if not console.sign_in_page_enabled:
            raise NotFoundError("page")
        return _render(request, console, "sign_in.html", errors={}, values={})

    @post("/sign-in", status_code=303)
    async def sign_in(self, request: R, console: StaffConsole, data: Form) -> Response[Any]:
        """Local development only: the admin API key is the credential and the actor."""
        if not console.sign_in_page_enabled:
            raise NotFoundError("page")
        api_key = str(data.get("api_key", "")).strip()
        bill_group_id = str(data.get("bill_group_id", "")).strip()
        errors = {}
        if not api_key:
            errors["api_key"] = "Enter an admin API key."
        if not bill_group_id:
            errors["bill_group_id"] = "Enter the bill group id, like bg_…"
        now = int(time.time())
        staff = StaffSession(
            None, Scope.BILL_GROUP, bill_group_id, "admin API key", now, now, api_key
        )
        if not errors:
            try:
                await console.access.admin(staff, "GET", bill_group_id)
            except (CredentialsRejectedError, RefusedError):
                errors["api_key"] = "This admin API key is not valid."
            except NotFoundError:
                errors["bill_group_id"] = "No bill group with this id for this API key's tenant."
        if errors:
            values = {"bill_group_id": bill_group_id}
            return _render(request, console, "sign_in.html", 400, errors=errors, values=values)
        return _redirect(console, staff, staff.home)

    @post("/sign-out", status_code=200)
    async def sign_out(self, request: R, console: StaffConsole) -> Response[Any]:
        return _signed_out_page(request, 200)

    @get("")
    async def home(self, staff: StaffSession, console: StaffConsole) -> Redirect:
        return _redirect(console, staff, staff.home)

    # --- account ----------------------------------------------------------------------

    @get("/accounts/{account_id:str}")
    async def account(
        self, request: R, console: StaffConsole, staff: StaffSession, account_id: str
    ) -> Template:
        if not staff.allows_account(account_id) or staff.tenant_id is None:
            raise NotFoundError("account")
        answer = await console.access.account_portals(staff.tenant_id, account_id)
        items = [
            {**item, "contract": contract_view(item.get("contract_status"))}
            for item in answer.get("items") or []
        ]
        return _render(
            request,
            console,
            "account.html",
            staff=staff,
            account_id=account_id,
            account_name=answer.get("account_name"),
            items=items,
        )

    # --- bill group -------------------------------------------------------------------

    async def _allowed(
        self, console: StaffConsole, staff: StaffSession, bill_group_id: str
    ) -> None:
        if staff.scope is Scope.BILL_GROUP:
            if bill_group_id != staff.scope_id:
                raise NotFoundError("bill group")
            return
        if staff.tenant_id is None:
            raise NotFoundError("bill group")
        answer = await console.access.account_portals(staff.tenant_id, staff.scope_id)
        if bill_group_id not in {str(i.get("bill_group_id")) for i in answer.get("items") or []}:
            raise NotFoundError("bill group")

    async def _bill_group_page(
        self,
        request: R,
        console: StaffConsole,
        staff: StaffSession,
        bill_group_id: str,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        notice: str | None = None,
    ) -> Template:
        portal, sessions, audit = await asyncio.gather(
            console.access.admin(staff, "GET", bill_group_id),
            console.access.admin(staff, "GET", bill_group_id, "/sessions"),
            console.access.admin(staff, "GET", bill_group_id, "/audit"),
        )
        return _render(
            request,
            console,
            "bill_group.html",
            status_code,
            staff=staff,
            bill_group_id=bill_group_id,
            portal=portal,
            contract=contract_view(portal.get("contract_status")),
            rules=rule_rows(portal),
            sessions=session_rows(sessions),
            audit=audit_rows(audit),
            kinds=KINDS,
            errors=errors or {},
            values=values or {"kind": "domain"},
            notice=NOTICES.get(notice or ""),
        )

    @get("/bill-groups/{bill_group_id:str}")
    async def bill_group(
        self,
        request: R,
        console: StaffConsole,
        staff: StaffSession,
        bill_group_id: str,
        done: str | None = None,
    ) -> Template:
        await self._allowed(console, staff, bill_group_id)
        return await self._bill_group_page(request, console, staff, bill_group_id, notice=done)

    @post("/bill-groups/{bill_group_id:str}/switch", status_code=303)
    async def switch(
        self, console: StaffConsole, staff: StaffSession, bill_group_id: str, data: Form
    ) -> Redirect:
        await self._allowed(console, staff, bill_group_id)
        enabled = data.get("enabled") == "true"
        await console.access.admin(staff, "PUT", bill_group_id, json={"enabled": enabled})
        done = "enabled" if enabled else "disabled"
        return _redirect(console, staff, _back(bill_group_id, done))

    @post("/bill-groups/{bill_group_id:str}/rules", status_code=303)
    async def add_rule(
        self,
        request: R,
        console: StaffConsole,
        staff: StaffSession,
        bill_group_id: str,
        data: Form,
    ) -> Response[Any]:
        await self._allowed(console, staff, bill_group_id)
        kind = str(data.get("kind", ""))
        value = str(data.get("value", ""))
        values = {"kind": kind, "value": value}
        errors = rule_form_errors(kind, value)
        status = 400
        if not errors:
            try:
                await console.access.admin(
                    staff, "POST", bill_group_id, "/rules", json={"kind": kind, "value": value}
                )
            except RefusedError as refusal:
                # access's message names the covering rule or says what is wrong: show it as is.
                errors, status = {"value": refusal.message}, refusal.status
        if errors:
            return await self._bill_group_page(
                request, console, staff, bill_group_id, status, errors, values
            )
        return _redirect(console, staff, _back(bill_group_id, "rule_added"))

    @post("/bill-groups/{bill_group_id:str}/rules/{rule_id:str}/remove", status_code=303)
    async def remove_rule(
        self, console: StaffConsole, staff: StaffSession, bill_group_id: str, rule_id: str
    ) -> Redirect:
        await self._allowed(console, staff, bill_group_id)
        await console.access.admin(staff, "DELETE", bill_group_id, f"/rules/{_safe(rule_id)}")
        return _redirect(console, staff, _back(bill_group_id, "rule_removed"))

    @get("/bill-groups/{bill_group_id:str}/rotate")
    async def rotate_confirm(
        self, request: R, console: StaffConsole, staff: StaffSession, bill_group_id: str
    ) -> Template:
        await self._allowed(console, staff, bill_group_id)
        return _render(request, console, "rotate.html", staff=staff, bill_group_id=bill_group_id)

    @post("/bill-groups/{bill_group_id:str}/rotate", status_code=303)
    async def rotate(
        self, console: StaffConsole, staff: StaffSession, bill_group_id: str
    ) -> Redirect:
        await self._allowed(console, staff, bill_group_id)
        await console.access.admin(staff, "POST", bill_group_id, "/link/rotate")
        return _redirect(console, staff, _back(bill_group_id, "rotated"))

    @post("/bill-groups/{bill_group_id:str}/preview", status_code=303)
    async def preview(
        self, console: StaffConsole, staff: StaffSession, bill_group_id: str
    ) -> Redirect:
        await self._allowed(console, staff, bill_group_id)
        answer = await console.access.admin(staff, "POST", bill_group_id, "/preview")
        url = str(answer.get("preview_url") or "")
        # Only ever send the browser to our own portal's preview path, never elsewhere.
        target = urlsplit(url).path
        if not target.startswith("/p/") or "/preview/" not in target:
            raise UpstreamError("preview answer without a preview path")
        return _redirect(console, staff, target)

    @post("/bill-groups/{bill_group_id:str}/sessions/{session_id:str}/revoke", status_code=303)
    async def revoke_session(
        self, console: StaffConsole, staff: StaffSession, bill_group_id: str, session_id: str
    ) -> Redirect:
        await self._allowed(console, staff, bill_group_id)
        await console.access.admin(staff, "DELETE", bill_group_id, f"/sessions/{_safe(session_id)}")
        target = _back(bill_group_id, "session_revoked")
        return _redirect(console, staff, target)

    @post("/bill-groups/{bill_group_id:str}/sessions/revoke-all", status_code=303)
    async def revoke_all(
        self, console: StaffConsole, staff: StaffSession, bill_group_id: str
    ) -> Redirect:
        await self._allowed(console, staff, bill_group_id)
        await console.access.admin(staff, "DELETE", bill_group_id, "/sessions")
        target = _back(bill_group_id, "sessions_revoked")
        return _redirect(console, staff, target)
