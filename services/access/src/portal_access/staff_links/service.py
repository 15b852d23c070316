"""Redeem a signed staff link for the gateway's staff console (issue 9).

`consume: false` only checks (the console's confirmation page), so a link previewer's GET
cannot use up a single-use link. Refusals: 403 malformed | bad_signature | too_long_lived |
unknown_scope, 410 expired | reused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from portal_access.audit.models import AuditEntry
from portal_access.portals.models import Portal
from portal_access.staff_links import domain
from portal_access.staff_links.domain import Refusal, Scope, StaffGrant, StaffLinkError
from portal_access.staff_links.schemas import StaffGrantReply
from portal_kit.errors import ForbiddenError, GoneError, PortalError
from portal_kit.observability import mask_email

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class StaffLinks(Protocol):
    async def secrets_of(self, tenant_id: str) -> list[str]: ...
    async def used(self, tenant_id: str, nonce: str) -> bool: ...
    async def consume(
        self, tenant_id: str, nonce: str, staff_email: str, now: datetime, expires_at: datetime
    ) -> bool: ...


class ScopeLookup(Protocol):
    async def get(self, tenant_id: str, bill_group_id: str) -> Portal | None: ...
    async def of_account(self, tenant_id: str, account_id: str) -> list[Portal]: ...


class AuditRecorder(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...


def refused(reason: Refusal) -> PortalError:
    """Gone for links that were good once; Forbidden for links that never were."""
    error = GoneError if reason.http_status == 410 else ForbiddenError
    return error(reason.message, code=reason.value)


class StaffLinkService:
    def __init__(
        self, links: StaffLinks, portals: ScopeLookup, audit: AuditRecorder, clock: Clock
    ) -> None:
        self._links = links
        self._portals = portals
        self._audit = audit
        self._now = clock

    async def redeem(self, params: dict[str, str], consume: bool) -> StaffGrantReply:
        now = self._now()
        try:
            grant = await self._verify(params, now, consume)
        except StaffLinkError as refusal:
            log.info(
                "staff link refused",
                extra={"reason": refusal.reason.value, "tenant_id": params.get("tenant", "")[:128]},
            )
            raise refused(refusal.reason) from None
        if consume:
            log.info(
                "staff link redeemed",
                extra={
                    "tenant_id": grant.tenant_id,
                    "scope": grant.scope.value,
                    "scope_id": grant.scope_id,
                    "staff": mask_email(grant.staff_email),
                },
            )
        return StaffGrantReply(
            tenant_id=grant.tenant_id,
            scope=grant.scope,
            scope_id=grant.scope_id,
            staff_email=grant.staff_email,
            expires_at=datetime.fromtimestamp(grant.expires_at, UTC).isoformat(),
        )

    async def _verify(self, params: dict[str, str], now: datetime, consume: bool) -> StaffGrant:
        tenant_id = params.get("tenant", "")
        secrets = await self._links.secrets_of(tenant_id) if tenant_id else []
        grant = domain.verify(params, secrets, int(now.timestamp()))
        if grant.scope is Scope.BILL_GROUP:
            exists = await self._portals.get(grant.tenant_id, grant.scope_id) is not None
        else:
            exists = bool(await self._portals.of_account(grant.tenant_id, grant.scope_id))
        if not exists:
            raise StaffLinkError(Refusal.UNKNOWN_SCOPE)
        if not consume:
            if await self._links.used(grant.tenant_id, grant.nonce):
                raise StaffLinkError(Refusal.REUSED)
            return grant
        # Kept until the link could no longer verify anyway; a replay after that is "expired".
        keep_until = datetime.fromtimestamp(
            grant.expires_at + domain.CLOCK_SKEW_SECONDS, UTC
        ) + timedelta(minutes=5)
        if not await self._links.consume(
            grant.tenant_id, grant.nonce, grant.staff_email, now, keep_until
        ):
            raise StaffLinkError(Refusal.REUSED)
        if grant.scope is Scope.BILL_GROUP:
            await self._audit.record(
                AuditEntry(
                    grant.tenant_id, grant.scope_id, grant.staff_email, "console.opened", now
                )
            )
        return grant
