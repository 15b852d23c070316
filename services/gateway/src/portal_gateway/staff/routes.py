"""The staff console pages under /staff: thin edges over `StaffConsole`. The staff session
lives in a signed cookie (`domain`), refreshed on every page; typed errors become the
console's own pages in `portal_gateway.errors`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from portal_gateway.errors import (
    FormInvalidError,
    NotFoundError,
    StaffNotSignedInError,
    StaffRefusedError,
)
from portal_gateway.settings import Settings
from portal_gateway.staff import domain
from portal_gateway.staff.domain import StaffSession
from portal_gateway.staff.schemas import EnterPage, RefusedPage, RotatePage
from portal_gateway.staff.service import StaffConsole, link_params
from portal_gateway.web import page

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
R = Request[Any, Any, Any]


@dataclass(frozen=True)
class StaffCookies:
    """The staff session cookie: signed with a key derived from the gateway's CSRF secret."""

    key: str
    idle_seconds: int
    max_seconds: int
    secure: bool
    # The admin-API-key sign-in page exists only for local development.
    sign_in_page_enabled: bool

    def cookie(self, session: StaffSession) -> Cookie:
        return Cookie(
            key=domain.COOKIE_NAME,
            value=domain.encode(session, self.key),
            path=domain.COOKIE_PATH,
            max_age=self.idle_seconds,
            httponly=True,
            secure=self.secure,
            # Strict is possible because the signed link lands on a confirmation page whose
            # button POSTs from our own origin: the cookie is never needed on a cross-site hop.
            samesite="strict",
        )

    def session_of(self, request: R) -> StaffSession | None:
        return domain.decode(
            request.cookies.get(domain.COOKIE_NAME),
            self.key,
            now=int(time.time()),
            idle_seconds=self.idle_seconds,
            max_seconds=self.max_seconds,
        )


def provide_staff(request: R, staff_cookies: NamedDependency[StaffCookies]) -> StaffSession:
    session = staff_cookies.session_of(request)
    if session is None:
        raise StaffNotSignedInError
    return domain.touched(session, int(time.time()))


@dataclass(frozen=True)
class Screens:
    """Renders one request's console page, and refreshes the staff cookie on every answer."""

    request: R
    settings: Settings
    cookies: StaffCookies

    def render(
        self,
        template: str,
        view: DataclassInstance | None = None,
        status_code: int = 200,
        staff: StaffSession | None = None,
        **context: Any,
    ) -> Template:
        response = page(
            self.request,
            self.settings,
            f"staff/{template}",
            status_code,
            view,
            staff=staff,
            **context,
        )
        if staff is not None:
            response.cookies.append(self.cookies.cookie(staff))
        return response

    def redirect(self, staff: StaffSession, target: str) -> Redirect:
        response = Redirect(target, status_code=303)
        response.cookies.append(self.cookies.cookie(staff))
        return response

    def back(self, staff: StaffSession, bill_group_id: str, done: str) -> Redirect:
        """Back to the bill group page, with the notice of what was just done."""
        return self.redirect(
            staff, f"/staff/bill-groups/{quote(bill_group_id, safe='')}?done={done}"
        )


def provide_screens(
    request: R,
    settings: NamedDependency[Settings],
    staff_cookies: NamedDependency[StaffCookies],
) -> Screens:
    return Screens(request, settings, staff_cookies)


Ui = NamedDependency[Screens]
Console = NamedDependency[StaffConsole]
Staff = NamedDependency[StaffSession]
BillGroup = FromPath[str]


class StaffPages(Controller):
    path = "/staff"
    include_in_schema = False
    dependencies = {"ui": Provide(provide_screens, sync_to_thread=False)}

    # --- arriving ------------------------------------------------------------------------

    @get("/enter")
    async def enter_check(self, request: R, ui: Ui, console: Console) -> Template:
        params = link_params(dict(request.query_params.items()))
        try:
            grant = await console.check_link(params)
        except StaffRefusedError as refusal:
            return ui.render("refused.html", RefusedPage(refusal.message), refusal.status)
        return ui.render("enter.html", EnterPage(grant, params))

    @post("/enter", status_code=303)
    async def enter(self, ui: Ui, console: Console, data: Form) -> Response[Any]:
        try:
            staff = await console.enter(link_params(data), int(time.time()))
        except StaffRefusedError as refusal:
            return ui.render("refused.html", RefusedPage(refusal.message), refusal.status)
        return ui.redirect(staff, staff.home)

    @get("/sign-in")
    async def sign_in_form(self, ui: Ui) -> Template:
        if not ui.cookies.sign_in_page_enabled:
            raise NotFoundError("page")
        return ui.render("sign_in.html", errors={}, values={})

    @post("/sign-in", status_code=303)
    async def sign_in(self, ui: Ui, console: Console, data: Form) -> Response[Any]:
        """Local development only: the admin API key is the credential and the actor."""
        if not ui.cookies.sign_in_page_enabled:
            raise NotFoundError("page")
        api_key = str(data.get("api_key", "")).strip()
        bill_group_id = str(data.get("bill_group_id", "")).strip()
        try:
            staff = await console.sign_in_with_key(api_key, bill_group_id, int(time.time()))
        except FormInvalidError as exc:
            values = {"bill_group_id": bill_group_id}
            return ui.render("sign_in.html", None, exc.status, errors=exc.errors, values=values)
        return ui.redirect(staff, staff.home)

    @post("/sign-out", status_code=200)
    async def sign_out(self, ui: Ui) -> Response[Any]:
        response = ui.render("signed_out.html")
        response.cookies.append(
            Cookie(key=domain.COOKIE_NAME, value="", path=domain.COOKIE_PATH, max_age=0)
        )
        return response

    @get("")
    async def home(self, ui: Ui, staff: Staff) -> Redirect:
        return ui.redirect(staff, staff.home)

    # --- account and bill group ----------------------------------------------------------

    @get("/accounts/{account_id:str}")
    async def account(
        self, ui: Ui, console: Console, staff: Staff, account_id: FromPath[str]
    ) -> Template:
        view = await console.account(staff, account_id)
        return ui.render("account.html", view, staff=staff)

    @get("/bill-groups/{bill_group_id:str}")
    async def bill_group(
        self,
        ui: Ui,
        console: Console,
        staff: Staff,
        bill_group_id: BillGroup,
        done: FromQuery[str | None] = None,
    ) -> Template:
        await console.ensure_allowed(staff, bill_group_id)
        view = await console.bill_group(staff, bill_group_id, notice=done)
        values = {"kind": "domain"}
        return ui.render("bill_group.html", view, staff=staff, errors={}, values=values)

    @post("/bill-groups/{bill_group_id:str}/switch", status_code=303)
    async def switch(
        self, ui: Ui, console: Console, staff: Staff, bill_group_id: BillGroup, data: Form
    ) -> Redirect:
        enabled = data.get("enabled") == "true"
        done = await console.switch(staff, bill_group_id, enabled, domain.form_key(data))
        return ui.back(staff, bill_group_id, done)

    @post("/bill-groups/{bill_group_id:str}/rules", status_code=303)
    async def add_rule(
        self, ui: Ui, console: Console, staff: Staff, bill_group_id: BillGroup, data: Form
    ) -> Response[Any]:
        kind, value = str(data.get("kind", "")), str(data.get("value", ""))
        try:
            done = await console.add_rule(staff, bill_group_id, kind, value, domain.form_key(data))
        except FormInvalidError as exc:
            view = await console.bill_group(staff, bill_group_id)
            values = {"kind": kind, "value": value}
            return ui.render(
                "bill_group.html", view, exc.status, staff, errors=exc.errors, values=values
            )
        return ui.back(staff, bill_group_id, done)

    @post("/bill-groups/{bill_group_id:str}/rules/{rule_id:str}/remove", status_code=303)
    async def remove_rule(
        self,
        ui: Ui,
        console: Console,
        staff: Staff,
        bill_group_id: BillGroup,
        rule_id: FromPath[str],
        data: Form,
    ) -> Redirect:
        done = await console.remove_rule(staff, bill_group_id, rule_id, domain.form_key(data))
        return ui.back(staff, bill_group_id, done)

    @get("/bill-groups/{bill_group_id:str}/rotate")
    async def rotate_confirm(
        self, ui: Ui, console: Console, staff: Staff, bill_group_id: BillGroup
    ) -> Template:
        await console.ensure_allowed(staff, bill_group_id)
        return ui.render("rotate.html", RotatePage(bill_group_id), staff=staff)

    @post("/bill-groups/{bill_group_id:str}/rotate", status_code=303)
    async def rotate(
        self, ui: Ui, console: Console, staff: Staff, bill_group_id: BillGroup, data: Form
    ) -> Redirect:
        done = await console.rotate_link(staff, bill_group_id, domain.form_key(data))
        return ui.back(staff, bill_group_id, done)

    @post("/bill-groups/{bill_group_id:str}/preview", status_code=303)
    async def preview(
        self, ui: Ui, console: Console, staff: Staff, bill_group_id: BillGroup, data: Form
    ) -> Redirect:
        target = await console.preview_path(staff, bill_group_id, domain.form_key(data))
        return ui.redirect(staff, target)

    @post("/bill-groups/{bill_group_id:str}/sessions/{session_id:str}/revoke", status_code=303)
    async def revoke_session(
        self,
        ui: Ui,
        console: Console,
        staff: Staff,
        bill_group_id: BillGroup,
        session_id: FromPath[str],
        data: Form,
    ) -> Redirect:
        key = domain.form_key(data)
        done = await console.revoke_session(staff, bill_group_id, session_id, key)
        return ui.back(staff, bill_group_id, done)

    @post("/bill-groups/{bill_group_id:str}/sessions/revoke-all", status_code=303)
    async def revoke_all(
        self, ui: Ui, console: Console, staff: Staff, bill_group_id: BillGroup, data: Form
    ) -> Redirect:
        done = await console.revoke_session(staff, bill_group_id, key=domain.form_key(data))
        return ui.back(staff, bill_group_id, done)
