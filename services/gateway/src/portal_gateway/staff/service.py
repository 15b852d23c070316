"""Staff console use cases. Every action goes through access's admin API as the staff member
(internal token + X-Tenant-Id + X-Actor), so access audits each one under the identity from
the signed link. They raise typed errors (`portal_gateway.errors`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from portal_gateway.clients.access import NewRule, StaffCredentials
from portal_gateway.clients.http import RefusedError
from portal_gateway.clients.models import (
    AccountPortals,
    AdminPortal,
    AdminSessions,
    AuditLog,
    Grant,
    PreviewLink,
)
from portal_gateway.errors import (
    FormInvalidError,
    NotFoundError,
    StaffNotSignedInError,
    StaffRefusedError,
    UpstreamError,
)
from portal_gateway.staff import domain
from portal_gateway.staff.domain import Scope, StaffSession
from portal_gateway.staff.schemas import AccountPage, BillGroupPage

T = TypeVar("T")
NOT_FOUND = "This bill group or account is not covered by this staff session."
LINK_FIELDS = ("tenant", "bill_group", "account", "staff", "exp", "nonce", "sig")


@dataclass(frozen=True)
class Keyed:
    """A staff member's credentials for one submitted form: access runs the change once per
    the form's idempotency key (a double click rotates the link once)."""

    session: StaffSession
    idempotency_key: str | None

    @property
    def tenant_id(self) -> str | None:
        return self.session.tenant_id

    @property
    def actor(self) -> str:
        return self.session.actor

    @property
    def api_key(self) -> str | None:
        return self.session.api_key


class StaffAccess(Protocol):
    """What the console needs of access (`clients.access.AccessClient`)."""

    async def redeem_staff_link(self, params: dict[str, str], *, consume: bool) -> Grant: ...
    async def account_portals(self, tenant_id: str, account_id: str) -> AccountPortals: ...
    async def admin_portal(self, staff: StaffCredentials, bill_group_id: str) -> AdminPortal: ...
    async def admin_switch(
        self, staff: StaffCredentials, bill_group_id: str, enabled: bool
    ) -> AdminPortal: ...
    async def admin_add_rule(
        self, staff: StaffCredentials, bill_group_id: str, rule: NewRule
    ) -> None: ...
    async def admin_remove_rule(
        self, staff: StaffCredentials, bill_group_id: str, rule_id: str
    ) -> None: ...
    async def admin_rotate_link(self, staff: StaffCredentials, bill_group_id: str) -> None: ...
    async def admin_preview(self, staff: StaffCredentials, bill_group_id: str) -> PreviewLink: ...
    async def admin_sessions(
        self, staff: StaffCredentials, bill_group_id: str
    ) -> AdminSessions: ...
    async def admin_revoke_sessions(
        self, staff: StaffCredentials, bill_group_id: str, session_id: str | None = None
    ) -> None: ...
    async def admin_audit(self, staff: StaffCredentials, bill_group_id: str) -> AuditLog: ...


def _refused(exc: RefusedError) -> StaffRefusedError:
    message = exc.refusal.message or "That was refused."
    return StaffRefusedError(exc.status, exc.refusal.error, message)


async def _as_staff(call: Awaitable[T]) -> T:
    """An admin API call whose refusal is shown to the staff member as access worded it."""
    try:
        return await call
    except RefusedError as exc:
        raise _refused(exc) from exc


def link_params(values: dict[str, str]) -> dict[str, str]:
    """Only the fields a staff link is made of, whatever else the query or form holds."""
    return {k: str(v) for k, v in values.items() if k in LINK_FIELDS}


class StaffConsole:
    def __init__(self, access: StaffAccess) -> None:
        self.access = access

    # --- arriving ------------------------------------------------------------------------

    async def check_link(self, params: dict[str, str]) -> Grant:
        """Verifies a staff link without using it up (the confirmation page)."""
        return await _as_staff(self.access.redeem_staff_link(params, consume=False))

    async def enter(self, params: dict[str, str], now: int) -> StaffSession:
        grant = await _as_staff(self.access.redeem_staff_link(params, consume=True))
        return StaffSession(
            tenant_id=grant.tenant_id,
            scope=grant.scope,
            scope_id=grant.scope_id,
            actor=grant.staff_email,
            issued_at=now,
            last_seen=now,
        )

    async def sign_in_with_key(self, api_key: str, bill_group_id: str, now: int) -> StaffSession:
        """Local development only: the admin API key is the credential and the actor."""
        errors = domain.sign_in_errors(api_key, bill_group_id)
        staff = StaffSession(
            None, Scope.BILL_GROUP, bill_group_id, "admin API key", now, now, api_key
        )
        if not errors:
            try:
                await self.access.admin_portal(staff, bill_group_id)
            except (StaffNotSignedInError, RefusedError):
                errors["api_key"] = "This admin API key is not valid."
            except NotFoundError:
                errors["bill_group_id"] = "No bill group with this id for this API key's tenant."
        if errors:
            raise FormInvalidError(errors, status=400)
        return staff

    # --- reading -------------------------------------------------------------------------

    async def account(self, staff: StaffSession, account_id: str) -> AccountPage:
        if not staff.allows_account(account_id) or staff.tenant_id is None:
            raise NotFoundError(NOT_FOUND)
        answer = await self.access.account_portals(staff.tenant_id, account_id)
        return AccountPage.of(account_id, answer)

    async def ensure_allowed(self, staff: StaffSession, bill_group_id: str) -> None:
        """NotFoundError unless the session covers this bill group (directly or by account)."""
        if staff.scope is Scope.BILL_GROUP:
            if bill_group_id != staff.scope_id:
                raise NotFoundError(NOT_FOUND)
            return
        if staff.tenant_id is None:
            raise NotFoundError(NOT_FOUND)
        answer = await self.access.account_portals(staff.tenant_id, staff.scope_id)
        if bill_group_id not in {item.bill_group_id for item in answer.items}:
            raise NotFoundError(NOT_FOUND)

    async def bill_group(
        self, staff: StaffSession, bill_group_id: str, notice: str | None = None
    ) -> BillGroupPage:
        portal, sessions, audit = await asyncio.gather(
            _as_staff(self.access.admin_portal(staff, bill_group_id)),
            _as_staff(self.access.admin_sessions(staff, bill_group_id)),
            _as_staff(self.access.admin_audit(staff, bill_group_id)),
        )
        return BillGroupPage.of(bill_group_id, portal, sessions, audit, notice)

    # --- changing (each returns the notice code of the page it leads back to) -----------

    # `key`: the submitted form's idempotency key (None: every submit is a change).

    async def switch(
        self, staff: StaffSession, bill_group_id: str, enabled: bool, key: str | None = None
    ) -> str:
        await self.ensure_allowed(staff, bill_group_id)
        await _as_staff(self.access.admin_switch(Keyed(staff, key), bill_group_id, enabled))
        return "enabled" if enabled else "disabled"

    async def add_rule(
        self, staff: StaffSession, bill_group_id: str, kind: str, value: str, key: str | None = None
    ) -> str:
        """FormInvalidError names the field; access's message (naming a covering rule, or
        saying what is wrong) is shown as it is, with access's status."""
        await self.ensure_allowed(staff, bill_group_id)
        errors = domain.rule_form_errors(kind, value)
        if errors:
            raise FormInvalidError(errors, status=400)
        try:
            rule = NewRule(kind=kind, value=value)
            await self.access.admin_add_rule(Keyed(staff, key), bill_group_id, rule)
        except RefusedError as exc:
            message = exc.refusal.message or "That was refused."
            raise FormInvalidError({"value": message}, status=exc.status) from exc
        return "rule_added"

    async def remove_rule(
        self, staff: StaffSession, bill_group_id: str, rule_id: str, key: str | None = None
    ) -> str:
        await self.ensure_allowed(staff, bill_group_id)
        await _as_staff(self.access.admin_remove_rule(Keyed(staff, key), bill_group_id, rule_id))
        return "rule_removed"

    async def rotate_link(
        self, staff: StaffSession, bill_group_id: str, key: str | None = None
    ) -> str:
        await self.ensure_allowed(staff, bill_group_id)
        await _as_staff(self.access.admin_rotate_link(Keyed(staff, key), bill_group_id))
        return "rotated"

    async def preview_path(
        self, staff: StaffSession, bill_group_id: str, key: str | None = None
    ) -> str:
        """The path of a fresh preview link (always our own portal's preview path)."""
        await self.ensure_allowed(staff, bill_group_id)
        answer = await _as_staff(self.access.admin_preview(Keyed(staff, key), bill_group_id))
        target = urlsplit(answer.preview_url).path
        if not domain.is_preview_path(target):
            raise UpstreamError("preview answer without a preview path")
        return target

    async def revoke_session(
        self,
        staff: StaffSession,
        bill_group_id: str,
        session_id: str | None = None,
        key: str | None = None,
    ) -> str:
        """Ends one customer session, or all of them when `session_id` is None."""
        await self.ensure_allowed(staff, bill_group_id)
        revoke = self.access.admin_revoke_sessions(Keyed(staff, key), bill_group_id, session_id)
        await _as_staff(revoke)
        return "sessions_revoked" if session_id is None else "session_revoked"
