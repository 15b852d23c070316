"""A session as stored (`_id` = SHA-256 of the session token) and the scopes that end them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Session:
    token_hash: str
    session_id: str
    tenant_id: str
    bill_group_id: str
    email: str
    rule_id: str | None
    read_only: bool
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class SessionScope:
    """Which sessions of one bill group: all, those a rule let in, or one by its public id."""

    tenant_id: str
    bill_group_id: str
    rule_id: str | None = None
    session_id: str | None = None


@dataclass(frozen=True)
class StartedSession:
    """A new session and its token (the token is never stored)."""

    token: str
    session: Session
