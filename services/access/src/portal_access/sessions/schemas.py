"""Sessions on the wire: the internal API's session answers and the admin session list."""

from __future__ import annotations

from pydantic import Field

from portal_access.sessions.models import Session, StartedSession
from portal_access.wire import Body, Reply, Timestamp, iso


class SessionToken(Body):
    session_token: str = Field(min_length=1, max_length=128)


class SessionStartedReply(Reply):
    """A new session: the token is shown this once (the gateway puts it in a cookie)."""

    session_token: str
    session_id: str
    tenant_id: str
    bill_group_id: str
    email: str
    read_only: bool
    expires_at: Timestamp

    @classmethod
    def of(cls, started: StartedSession) -> SessionStartedReply:
        s = started.session
        return cls(
            session_token=started.token,
            session_id=s.session_id,
            tenant_id=s.tenant_id,
            bill_group_id=s.bill_group_id,
            email=s.email,
            read_only=s.read_only,
            expires_at=iso(s.expires_at),
        )


class SessionReply(Reply):
    """A valid session, its idle expiry moved on by this use."""

    session_id: str
    tenant_id: str
    bill_group_id: str
    email: str
    read_only: bool
    idle_expires_at: Timestamp
    expires_at: Timestamp


class SessionItem(Reply):
    session_id: str
    email: str
    read_only: bool
    rule_id: str | None
    started_at: Timestamp
    last_seen_at: Timestamp
    idle_expires_at: Timestamp
    expires_at: Timestamp

    @classmethod
    def of(cls, s: Session) -> SessionItem:
        return cls(
            session_id=s.session_id,
            email=s.email,
            read_only=s.read_only,
            rule_id=s.rule_id,
            started_at=iso(s.created_at),
            last_seen_at=iso(s.last_seen_at),
            idle_expires_at=iso(min(s.idle_expires_at, s.expires_at)),
            expires_at=iso(s.expires_at),
        )


class SessionList(Reply):
    items: list[SessionItem]


class RevokedReply(Reply):
    revoked: int
