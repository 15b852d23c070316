"""Pure rules of the suppression list."""

from __future__ import annotations


def normalize_email(address: str) -> str:
    """Suppression entries match case-insensitively, as mailbox providers do in practice."""
    return address.strip().lower()


def looks_like_email(address: str) -> bool:
    """The list holds addresses; anything without an `@` is a typo of the operator's."""
    return "@" in address
