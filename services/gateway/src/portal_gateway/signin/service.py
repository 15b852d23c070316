"""Sign-in use cases over access: they return typed records or raise typed errors, which the
sign-in pages render (`routes`)."""

from __future__ import annotations

import time
from collections.abc import Callable
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


# Bounded memory for the recently shown sign-in pages.
MAX_RECENT = 10_000


class SigninService:
    """`recent_seconds`: how long the sign-in page just shown for a portal key is reused for
    the pages that follow it (the answer to "send me a link"); 0 turns that off."""

    def __init__(
        self,
        access: SigninAccess,
        billing: BrandingReader,
        sessions: SessionForgetter | None = None,
        recent_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.access = access
        self.billing = billing
        self.sessions = sessions
        self.recent_seconds = recent_seconds
        self.clock = clock
        self._recent: dict[str, tuple[float, PortalEntry]] = {}

    async def entry(self, portal_key: str) -> PortalEntry:
        """The portal of a link, asked of access every time (a rotated key stops working at
        once); NotFoundError for an unknown or rotated key."""
        portal = await self.access.portal(portal_key)
        try:
            branding = await self.billing.branding(portal.tenant_id, portal.bill_group_id)
        except NotFoundError:
            branding = Branding()
        entry = PortalEntry(portal, branding)
        if self.recent_seconds > 0:
            if len(self._recent) >= MAX_RECENT:
                self._recent.clear()
            self._recent[portal_key] = (self.clock() + self.recent_seconds, entry)
        return entry

    async def recent_entry(self, portal_key: str) -> PortalEntry:
        """The entry shown for this key within `recent_seconds`, else a fresh one. Only for
        pages whose own access call decides on the key (the sign-in request: access refuses
        a rotated key itself), so a reused entry only ever supplies the branding shown."""
        held = self._recent.get(portal_key)
        if held is not None and held[0] > self.clock():
            return held[1]
        return await self.entry(portal_key)

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
