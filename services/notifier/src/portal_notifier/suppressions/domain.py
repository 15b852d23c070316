"""Pure rules of the suppression list."""

from __future__ import annotations

from datetime import datetime


def normalize_email(address: str) -> str:
    """Suppression entries match case-insensitively, as mailbox providers do in practice."""
    return address.strip().lower()


def looks_like_email(address: str) -> bool:
    """The list holds addresses; anything without an `@` is a typo of the operator's."""
    return "@" in address


def active(expires_at: datetime | None, now: datetime) -> bool:
    """An entry without an expiry holds for good; one with an expiry until then (checked
    here, whether or not MongoDB's TTL monitor has removed it yet)."""
    return expires_at is None or now < expires_at
