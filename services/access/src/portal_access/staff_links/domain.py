"""Signed staff links: how the billing platform sends its staff into the staff console.

A link names a tenant, ONE scope (a bill group or an account), the staff member's email, an
expiry (unix seconds) and a random nonce, and carries an HMAC-SHA256 over exactly those
fields made with the tenant's staff-link secret. Pure functions only: the nonce's single use
is enforced by storage (unique index), the secrets come from storage too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

# A platform whose clock runs a little behind or ahead of ours still gets its links honoured;
# an hour-old leaked link does not.
CLOCK_SKEW_SECONDS = 60
# The console is for a task at hand: a link that lives for days is a credential lying around.
MAX_LIFETIME_SECONDS = 24 * 3600
SECRET_BYTES = 32
NONCE_BYTES = 16

# Used with fullmatch: `$` would let a trailing newline through.
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_EMAIL = re.compile(r"[^\s@,;]{1,64}@[a-z0-9.-]{1,255}")
_SIG = re.compile(r"[A-Za-z0-9_-]{43}")
# Plain digits only: int() would also take " 17", "17\n" or "1_7", letting an edited link
# verify as the original.
_EXP = re.compile(r"[0-9]{1,12}")


class Scope(StrEnum):
    BILL_GROUP = "bill_group"
    ACCOUNT = "account"


class Refusal(StrEnum):
    """Why a link is refused; `http_status` tells the console which page to show."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    TOO_LONG_LIVED = "too_long_lived"
    REUSED = "reused"
    UNKNOWN_SCOPE = "unknown_scope"

    @property
    def http_status(self) -> int:
        # Gone for links that were good once; Forbidden for links that never were.
        return 410 if self in (Refusal.EXPIRED, Refusal.REUSED) else 403

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Refusal.MALFORMED: "This staff link is incomplete or damaged. Open it again from the "
    "billing platform.",
    Refusal.BAD_SIGNATURE: "This staff link is not signed for this tenant, or it was changed "
    "after it was issued. Open it again from the billing platform.",
    Refusal.EXPIRED: "This staff link has expired. Open the customer portal settings again "
    "from the billing platform to get a fresh link.",
    Refusal.TOO_LONG_LIVED: "This staff link is valid for longer than the console allows "
    "(24 hours). Ask for a link with a shorter expiry.",
    Refusal.REUSED: "This staff link was already used. Each link opens the console once; "
    "open the customer portal settings again from the billing platform.",
    Refusal.UNKNOWN_SCOPE: "The bill group or account in this staff link does not exist for "
    "this tenant.",
}


class StaffLinkError(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class StaffGrant:
    """What a verified link allows: who, for which tenant, on which bill group or account."""

    tenant_id: str
    scope: Scope
    scope_id: str
    staff_email: str
    expires_at: int
    nonce: str


def new_secret() -> str:
    return _b64(secrets.token_bytes(SECRET_BYTES))


def new_nonce() -> str:
    return _b64(secrets.token_bytes(NONCE_BYTES))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def canonical(grant: StaffGrant) -> bytes:
    """The signed bytes. Every field is validated to hold no newline, so the join is
    unambiguous; the version prefix keeps a future format from verifying as this one."""
    return "\n".join(
        (
            "portal-staff-link/v1",
            grant.tenant_id,
            grant.scope.value,
            grant.scope_id,
            grant.staff_email,
            str(grant.expires_at),
            grant.nonce,
        )
    ).encode("utf-8")


def signature(grant: StaffGrant, secret: str) -> str:
    return _b64(hmac.new(secret.encode("ascii"), canonical(grant), hashlib.sha256).digest())


def issue(
    *,
    tenant_id: str,
    scope: Scope,
    scope_id: str,
    staff_email: str,
    now: int,
    minutes: int,
    secret: str,
    nonce: str | None = None,
) -> dict[str, str]:
    """The query parameters of a new link (what the billing platform would compute)."""
    if not 1 <= minutes * 60 <= MAX_LIFETIME_SECONDS:
        raise ValueError(f"minutes must be between 1 and {MAX_LIFETIME_SECONDS // 60}")
    grant = _checked(
        tenant_id,
        scope,
        scope_id,
        staff_email.strip().lower(),
        now + minutes * 60,
        nonce or new_nonce(),
    )
    params = {
        "tenant": grant.tenant_id,
        scope.value: grant.scope_id,
        "staff": grant.staff_email,
        "exp": str(grant.expires_at),
        "nonce": grant.nonce,
    }
    params["sig"] = signature(grant, secret)
    return params


def link(public_url: str, params: Mapping[str, str]) -> str:
    return f"{public_url.rstrip('/')}/staff/enter?{urlencode(params)}"


def parse(params: Mapping[str, str]) -> tuple[StaffGrant, str]:
    """The grant a link claims and its signature, or MALFORMED. Says nothing about validity."""
    has_group = bool(params.get("bill_group"))
    has_account = bool(params.get("account"))
    if has_group == has_account:
        raise StaffLinkError(Refusal.MALFORMED)
    scope = Scope.BILL_GROUP if has_group else Scope.ACCOUNT
    raw_expiry = params.get("exp", "")
    if not _EXP.fullmatch(raw_expiry):
        raise StaffLinkError(Refusal.MALFORMED)
    expires_at = int(raw_expiry)
    sig = params.get("sig", "")
    if not _SIG.fullmatch(sig):
        raise StaffLinkError(Refusal.MALFORMED)
    try:
        grant = _checked(
            params.get("tenant", ""),
            scope,
            params.get(scope.value, ""),
            params.get("staff", ""),
            expires_at,
            params.get("nonce", ""),
        )
    except ValueError:
        raise StaffLinkError(Refusal.MALFORMED) from None
    return grant, sig


def verify(params: Mapping[str, str], secrets_: Sequence[str], now: int) -> StaffGrant:
    """Checks signature (constant time, against every current secret of the tenant, so a
    secret can be rotated without breaking links already sent) and expiry. The caller must
    then consume the nonce exactly once."""
    grant, sig = parse(params)
    # Always compare against every secret: the time taken does not tell which one matched.
    matched = False
    for secret in secrets_:
        matched |= hmac.compare_digest(signature(grant, secret), sig)
    if not matched:
        raise StaffLinkError(Refusal.BAD_SIGNATURE)
    if now > grant.expires_at + CLOCK_SKEW_SECONDS:
        raise StaffLinkError(Refusal.EXPIRED)
    if grant.expires_at - now > MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        raise StaffLinkError(Refusal.TOO_LONG_LIVED)
    return grant


def _checked(
    tenant_id: str, scope: Scope, scope_id: str, staff_email: str, expires_at: int, nonce: str
) -> StaffGrant:
    if not _ID.fullmatch(tenant_id):
        raise ValueError("tenant id")
    if not _ID.fullmatch(scope_id):
        raise ValueError("scope id")
    if not _EMAIL.fullmatch(staff_email) or staff_email != staff_email.lower():
        raise ValueError("staff email")
    if not _NONCE.fullmatch(nonce):
        raise ValueError("nonce")
    if expires_at <= 0:
        raise ValueError("expiry")
    return StaffGrant(tenant_id, scope, scope_id, staff_email, expires_at, nonce)
