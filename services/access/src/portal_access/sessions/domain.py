"""Pure session rules: 30 minutes idle, 12 hours absolute, and what "live" means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)


@dataclass(frozen=True)
class SessionTimes:
    idle_expires_at: datetime
    expires_at: datetime


def session_times(started: datetime) -> SessionTimes:
    return SessionTimes(started + SESSION_IDLE, started + SESSION_ABSOLUTE)


def refreshed_idle(now: datetime, expires_at: datetime) -> datetime:
    """The idle expiry after a use at `now`: never past the absolute expiry."""
    return min(now + SESSION_IDLE, expires_at)


def is_live(
    now: datetime, revoked_at: datetime | None, idle_expires_at: datetime, expires_at: datetime
) -> bool:
    """Not revoked, used within the idle time, and within the absolute lifetime."""
    return revoked_at is None and idle_expires_at > now and expires_at > now


def invalid_reason(known: bool, revoked: bool) -> str:
    """Why a session token does not validate: `unknown`, `revoked` or `expired`."""
    if not known:
        return "unknown"
    return "revoked" if revoked else "expired"
