"""Pure: random secrets, public ids and the hashes they are stored as (no I/O)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    """256 random bits, URL-safe: sign-in tokens, session tokens, preview tokens, API keys."""
    return secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def hash_secret(secret: str) -> str:
    """Lookup hash of a high-entropy secret (no salt needed at 256 bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
