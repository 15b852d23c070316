"""Session use cases: open, validate (moving the idle expiry), sign out, list, revoke."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from portal_access import tokens
from portal_access.api_keys.models import Principal
from portal_access.audit.models import AuditEntry
from portal_access.errors import SessionInvalidError, not_found
from portal_access.outbox.models import SESSIONS, OutboxEntry
from portal_access.outbox.relay import Wake
from portal_access.portals.models import Portal
from portal_access.sessions import domain
from portal_access.sessions.models import Session, SessionScope, StartedSession
from portal_access.sessions.schemas import RevokedReply, SessionItem, SessionList, SessionReply
from portal_access.wire import iso

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Sessions(Protocol):
    async def add(self, session: Session, events: Sequence[OutboxEntry] = ()) -> None: ...
    async def get(self, token_hash: str) -> Session | None: ...
    async def touch(self, token_hash: str, now: datetime, idle_expires_at: datetime) -> None: ...
    async def revoke_one(self, token_hash: str, now: datetime, reason: str) -> None: ...
    async def revoke(self, scope: SessionScope, now: datetime, reason: str) -> int: ...
    async def active(self, tenant_id: str, bill_group_id: str, now: datetime) -> list[Session]: ...


class PortalLookup(Protocol):
    async def get(self, tenant_id: str, bill_group_id: str) -> Portal | None: ...


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...


class SessionService:
    def __init__(
        self, sessions: Sessions, portals: PortalLookup, audit: AuditLog, wake: Wake, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._portals = portals
        self._audit = audit
        self._wake = wake
        self._now = clock

    async def open(
        self,
        *,
        tenant_id: str,
        bill_group_id: str,
        email: str,
        rule_id: str | None,
        read_only: bool,
        events: Sequence[OutboxEntry] = (),
    ) -> StartedSession:
        """A new session, written together with the events it owes."""
        now = self._now()
        token = tokens.new_secret()
        times = domain.session_times(now)
        session = Session(
            token_hash=tokens.hash_secret(token),
            session_id=tokens.new_id("ses"),
            tenant_id=tenant_id,
            bill_group_id=bill_group_id,
            email=email,
            rule_id=rule_id,
            read_only=read_only,
            created_at=now,
            last_seen_at=now,
            idle_expires_at=times.idle_expires_at,
            expires_at=times.expires_at,
        )
        await self._sessions.add(session, events)
        if events:
            self._wake(SESSIONS, session.token_hash)
        return StartedSession(token, session)

    async def end(self, session: Session, reason: str) -> None:
        await self._sessions.revoke_one(session.token_hash, self._now(), reason)

    async def end_for(self, scope: SessionScope, reason: str) -> int:
        """Ends every live session in the scope (rule removed, portal off, contract ended)."""
        return await self._sessions.revoke(scope, self._now(), reason)

    async def validate(self, session_token: str) -> SessionReply:
        now = self._now()
        token_hash = tokens.hash_secret(session_token)
        session = await self._sessions.get(token_hash)
        if session is None or not domain.is_live(
            now, session.revoked_at, session.idle_expires_at, session.expires_at
        ):
            known = session is not None
            revoked = session is not None and session.revoked_at is not None
            raise SessionInvalidError(domain.invalid_reason(known, revoked))
        await self._sessions.touch(token_hash, now, now + domain.SESSION_IDLE)
        return SessionReply(
            session_id=session.session_id,
            tenant_id=session.tenant_id,
            bill_group_id=session.bill_group_id,
            email=session.email,
            read_only=session.read_only,
            idle_expires_at=iso(domain.refreshed_idle(now, session.expires_at)),
            expires_at=iso(session.expires_at),
        )

    async def signout(self, session_token: str) -> None:
        await self._sessions.revoke_one(
            tokens.hash_secret(session_token), self._now(), "signed_out"
        )

    async def active(self, who: Principal, bill_group_id: str) -> SessionList:
        await self._require_portal(who, bill_group_id)
        sessions = await self._sessions.active(who.tenant_id, bill_group_id, self._now())
        return SessionList(items=[SessionItem.of(s) for s in sessions])

    async def revoke_by_staff(
        self, who: Principal, bill_group_id: str, session_id: str | None
    ) -> RevokedReply:
        await self._require_portal(who, bill_group_id)
        scope = SessionScope(who.tenant_id, bill_group_id, session_id=session_id)
        revoked = await self._sessions.revoke(scope, self._now(), "revoked_by_staff")
        if session_id is not None and revoked == 0:
            raise not_found("active session")
        await self._audit.record(
            AuditEntry(
                tenant_id=who.tenant_id,
                bill_group_id=bill_group_id,
                actor=who.actor,
                action="sessions.revoked",
                at=self._now(),
                detail={"session_id": session_id, "revoked": revoked},
            )
        )
        return RevokedReply(revoked=revoked)

    async def _require_portal(self, who: Principal, bill_group_id: str) -> None:
        if await self._portals.get(who.tenant_id, bill_group_id) is None:
            raise not_found()
