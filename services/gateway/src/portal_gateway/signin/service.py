"""Sign-in use cases over access: they return typed records or raise typed errors, which the
sign-in pages render (`routes`)."""

from __future__ import annotations

from typing import Protocol

from portal_gateway.clients.http import RefusedError
from portal_gateway.clients.models import PortalInfo, Session, SigninPending
from portal_gateway.errors import FormInvalidError, NotFoundError
from portal_gateway.portal.models import Branding
from portal_gateway.signin import domain
from portal_gateway.signin.schemas import PortalEntry
from portal_kit.errors import GoneError, RateLimitedError

LINK_USED = "This link has expired or was already used."


class SigninAccess(Protocol):
    """What signing in needs of access (`clients.access.AccessClient`)."""

    async def portal(self, portal_key: str) -> PortalInfo: ...
    async def request_signin(
        self, portal_key: str, email: str, client_ip: str
    ) -> SigninPending: ...
    async def verify_link(self, token: str) -> Session: ...
    async def verify_code(self, pending_id: str, code: str) -> Session: ...
    async def redeem_preview(self, preview_token: str) -> Session: ...
    async def signout(self, session_token: str) -> None: ...


class BrandingReader(Protocol):
    async def branding(self, tenant_id: str, bill_group_id: str) -> Branding: ...


class SessionForgetter(Protocol):
    def forget(self, session_token: str) -> None: ...


class SigninService:
    def __init__(
        self,
        access: SigninAccess,
        billing: BrandingReader,
        sessions: SessionForgetter | None = None,
    ) -> None:
        self.access = access
        self.billing = billing
        self.sessions = sessions

    async def entry(self, portal_key: str) -> PortalEntry:
        """The portal of a link; NotFoundError for an unknown or rotated key."""
        portal = await self.access.portal(portal_key)
        try:
            branding = await self.billing.branding(portal.tenant_id, portal.bill_group_id)
        except NotFoundError:
            branding = Branding()
        return PortalEntry(portal, branding)

    async def request_link(self, portal_key: str, email: str, client_ip: str) -> str:
        """Asks access to email a link and code; the pending id, the same answer whether or
        not the address has access. FormInvalidError/RateLimitedError name the `email` field."""
        if not domain.looks_like_email(email):
            raise FormInvalidError({"email": domain.ENTER_EMAIL}, status=400)
        try:
            pending = await self.access.request_signin(portal_key, email, client_ip)
        except RefusedError as exc:
            if exc.status == 429:
                retry = exc.refusal.retry_after_seconds
                message = domain.rate_limited_message(retry)
                raise RateLimitedError(
                    message, retry_after_seconds=retry or 900, fields={"email": message}
                ) from exc
            message = exc.refusal.message or domain.CHECK_EMAIL
            raise FormInvalidError({"email": message}, status=400) from exc
        return pending.pending_id

    async def verify_code(self, pending_id: str, code: str) -> Session:
        """FormInvalidError names the `code` field; GoneError/RateLimitedError end the try."""
        try:
            return await self.access.verify_code(pending_id[:200], domain.normalise_code(code))
        except RefusedError as exc:
            if exc.status == 400:
                message = domain.wrong_code_message(exc.refusal.attempts_left)
                raise FormInvalidError({"code": message}, status=400) from exc
            if exc.status == 410:
                raise GoneError(LINK_USED) from exc
            raise RateLimitedError(LINK_USED, retry_after_seconds=900) from exc

    async def verify_link(self, token: str) -> Session:
        try:
            return await self.access.verify_link(token)
        except (RefusedError, NotFoundError) as exc:
            raise GoneError(LINK_USED) from exc

    async def redeem_preview(self, preview_token: str) -> Session:
        try:
            return await self.access.redeem_preview(preview_token)
        except (RefusedError, NotFoundError) as exc:
            raise GoneError(LINK_USED) from exc

    async def signout(self, session: Session) -> None:
        await self.access.signout(session.session_token)
        if self.sessions is not None:
            # This replica stops serving it at once (others within SESSION_CACHE_SECONDS).
            self.sessions.forget(session.session_token)
