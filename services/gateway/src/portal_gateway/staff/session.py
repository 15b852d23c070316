"""The staff session: a short-lived, HMAC-signed cookie (pure functions, no I/O).

Why a signed cookie rather than a session record: the gateway holds no database (design
rule), so a self-contained cookie lets any replica serve the console without another hop to
access per page. What that costs, and how it is bounded: a cookie cannot be revoked one by
one, so it lives at most `idle` minutes without use and `max_age` hours in all, is HttpOnly,
SameSite=Strict, Secure outside local dev, and path-scoped to /staff; rotating the gateway's
CSRF_SECRET (from which the signing key is derived) ends every staff session at once. The
cookie only says who the staff member is and what they may open: every action is still
authorised by access's admin API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from urllib.parse import quote

COOKIE_NAME = "staff_session"
COOKIE_PATH = "/staff"
_PREFIX = b"portal-staff-session/v1."


class Scope(StrEnum):
    BILL_GROUP = "bill_group"
    ACCOUNT = "account"


@dataclass(frozen=True)
class StaffSession:
    """Who the staff member is (`actor`, audited by access) and what they may open.

    `api_key` is set only for the local-dev sign-in page, where the admin API key itself is
    the credential and no tenant is known to the gateway; otherwise the gateway calls access
    with its internal token plus `tenant_id` and `actor`.
    """

    tenant_id: str | None
    scope: Scope
    scope_id: str
    actor: str
    issued_at: int
    last_seen: int
    api_key: str | None = None

    def allows_bill_group(self, bill_group_id: str, account_id: str | None) -> bool:
        if self.scope is Scope.BILL_GROUP:
            return bill_group_id == self.scope_id
        return account_id is not None and account_id == self.scope_id

    def allows_account(self, account_id: str) -> bool:
        return self.scope is Scope.ACCOUNT and account_id == self.scope_id

    @property
    def home(self) -> str:
        kind = "bill-groups" if self.scope is Scope.BILL_GROUP else "accounts"
        return f"/staff/{kind}/{quote(self.scope_id, safe='')}"


def derive_key(gateway_secret: str) -> str:
    """The cookie-signing key: HMAC of a fixed label under the gateway's secret, so the key
    is never the CSRF key itself and one leaked cookie MAC says nothing about CSRF tokens."""
    return hmac.new(gateway_secret.encode(), b"portal-staff-session-key/v1", "sha256").hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), _PREFIX + payload.encode("ascii"), hashlib.sha256)
    return _b64(digest.digest())


def encode(session: StaffSession, secret: str) -> str:
    body = json.dumps(asdict(session), separators=(",", ":"), sort_keys=True)
    payload = _b64(body.encode())
    return f"{payload}.{_mac(payload, secret)}"


def decode(
    value: str | None, secret: str, *, now: int, idle_seconds: int, max_seconds: int
) -> StaffSession | None:
    """The session in a cookie, or None when absent, forged, idle too long or too old."""
    if not value or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    if not hmac.compare_digest(_mac(payload, secret), mac):
        return None
    try:
        data = json.loads(_unb64(payload))
        session = StaffSession(
            tenant_id=data["tenant_id"],
            scope=Scope(data["scope"]),
            scope_id=str(data["scope_id"]),
            actor=str(data["actor"]),
            issued_at=int(data["issued_at"]),
            last_seen=int(data["last_seen"]),
            api_key=data.get("api_key"),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if now - session.last_seen > idle_seconds or now - session.issued_at > max_seconds:
        return None
    if session.last_seen > now + 60:
        # Signed in the future: only a clock jump between replicas explains it; refuse.
        return None
    return session


def touched(session: StaffSession, now: int) -> StaffSession:
    return replace(session, last_seen=now)
