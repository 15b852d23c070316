"""Sealing of the sign-in secret (format: `portal_kit.sealing`); never plaintext in Kafka.

access seals `{link, code}` with `SEAL_KEY` (a Fernet key: AES-128-CBC + HMAC-SHA256, with a
timestamp); only the notifier, which holds the same key, can open it. Keys rotate with
`SEAL_KEYS` (comma-separated, newest first): the first seals, all of them open.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import ValidationError

from portal_contracts.sealing import SignInSecret

# Dev-only key shared by access and the notifier so that the local stack works out of the box;
# both services refuse to start with it when ENVIRONMENT=production.
DEV_SEAL_KEY = "qdGYSI5lHNEAR7FRXikCJeqj8eCONbEiTn3p3VbO3fM="


class SealError(ValueError):
    """The sealed value was tampered with, expired, or sealed with an unknown key."""


def _fernet(keys: str) -> MultiFernet:
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise SealError("no sealing key configured")
    return MultiFernet([Fernet(k.encode()) for k in parts])


def seal(secret: SignInSecret, keys: str) -> str:
    return _fernet(keys).encrypt(secret.model_dump_json().encode()).decode()


def unseal(sealed: str, keys: str, ttl_seconds: int | None = None) -> SignInSecret:
    try:
        body = _fernet(keys).decrypt(sealed.encode(), ttl=ttl_seconds)
    except InvalidToken as exc:
        raise SealError("sealed value cannot be opened with the configured keys") from exc
    try:
        return SignInSecret.model_validate_json(body)
    except ValidationError as exc:
        raise SealError("sealed value does not hold a sign-in secret") from exc


def new_key() -> str:
    return Fernet.generate_key().decode()
