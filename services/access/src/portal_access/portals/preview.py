"""Preview use cases: staff get a one-time, read-only view of the portal as customers see it
(audited when created and when opened)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from portal_access import tokens
from portal_access.api_keys.models import Principal
from portal_access.audit.models import AuditEntry
from portal_access.errors import ExpiredOrUsedError, not_found
from portal_access.portals.domain import PREVIEW_LIFETIME, PortalUrls
from portal_access.portals.models import Portal
from portal_access.portals.schemas import PreviewReply
from portal_access.sessions.models import StartedSession
from portal_access.signin.models import Challenge, ChallengeKind
from portal_access.wire import iso

Clock = Callable[[], datetime]
PREVIEW_EMAIL_PREFIX = "preview:"


class PortalLookup(Protocol):
    async def get(self, tenant_id: str, bill_group_id: str) -> Portal | None: ...


class SessionOpener(Protocol):
    async def open(
        self,
        *,
        tenant_id: str,
        bill_group_id: str,
        email: str,
        rule_id: str | None,
        read_only: bool,
    ) -> StartedSession: ...


class PreviewGrants(Protocol):
    async def add(self, challenge: Challenge) -> None: ...
    async def by_token(self, token_hash: str, kind: ChallengeKind) -> Challenge | None: ...
    async def consume(self, challenge: Challenge, now: datetime, method: str) -> bool: ...


class AuditRecorder(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...


class PreviewService:
    def __init__(
        self,
        portals: PortalLookup,
        grants: PreviewGrants,
        sessions: SessionOpener,
        audit: AuditRecorder,
        urls: PortalUrls,
        clock: Clock,
    ) -> None:
        self._portals = portals
        self._grants = grants
        self._sessions = sessions
        self._audit = audit
        self._urls = urls
        self._now = clock

    async def create(self, who: Principal, bill_group_id: str) -> PreviewReply:
        portal = await self._portals.get(who.tenant_id, bill_group_id)
        if portal is None:
            raise not_found()
        now = self._now()
        token = tokens.new_secret()
        grant = Challenge(
            challenge_id=tokens.new_id("prv"),
            token_hash=tokens.hash_secret(token),
            kind="preview",
            tenant_id=who.tenant_id,
            bill_group_id=bill_group_id,
            email=PREVIEW_EMAIL_PREFIX + who.actor,
            created_at=now,
            expires_at=now + PREVIEW_LIFETIME,
        )
        await self._grants.add(grant)
        await self._audit.record(
            AuditEntry(who.tenant_id, bill_group_id, who.actor, "preview.created", self._now())
        )
        return PreviewReply(
            preview_url=self._urls.preview(portal.portal_key, token),
            expires_at=iso(grant.expires_at),
        )

    async def redeem(self, preview_token: str) -> StartedSession:
        now = self._now()
        grant = await self._grants.by_token(tokens.hash_secret(preview_token), "preview")
        if grant is None or grant.expires_at <= now or grant.consumed_at is not None:
            raise ExpiredOrUsedError()
        if not await self._grants.consume(grant, now, "preview"):
            raise ExpiredOrUsedError()
        started = await self._sessions.open(
            tenant_id=grant.tenant_id,
            bill_group_id=grant.bill_group_id,
            email=grant.email,
            rule_id=None,
            read_only=True,
        )
        await self._audit.record(
            AuditEntry(
                tenant_id=grant.tenant_id,
                bill_group_id=grant.bill_group_id,
                actor=grant.email.removeprefix(PREVIEW_EMAIL_PREFIX),
                action="preview.opened",
                at=now,
                detail={"session_id": started.session.session_id},
            )
        )
        return started
