"""Pure rules of the staff console (no I/O): the staff session cookie, and how access's
answers read to a staff member.

The staff session is a short-lived, HMAC-signed cookie.

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
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from portal_gateway.portal.domain.idempotency import FORM_FIELD, parse_key

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

    @property
    def idempotency_key(self) -> str | None:
        """A session names no change: its calls carry no key (`service.Keyed` adds a form's)."""
        return None

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


def form_key(form: Mapping[str, str]) -> str | None:
    """A console form's idempotency key; a malformed (tampered) one only loses the dedupe."""
    try:
        return parse_key(form.get(FORM_FIELD))
    except ValueError:
        return None


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


# --- what the pages say ---------------------------------------------------------------------

KINDS = {"domain": "Domain", "email": "Individual email"}

# Flash notices after a POST-redirect-GET: a fixed set of codes in the query string, so a
# crafted URL can only ever show one of these sentences.
NOTICES = {
    "enabled": "The customer portal is switched on.",
    "disabled": "The customer portal is switched off. Customers cannot sign in.",
    "rule_added": "The access rule was added.",
    "rule_removed": "The access rule was removed, and the sessions it allowed have ended.",
    "rotated": "A new portal link was made. The old link no longer works.",
    "session_revoked": "The customer session was ended.",
    "sessions_revoked": "All customer sessions were ended.",
}

_ACTIONS = {
    "portal.enabled": "switched the portal on",
    "portal.disabled": "switched the portal off",
    "rule.added": "added an access rule",
    "rule.removed": "removed an access rule",
    "link.rotated": "rotated the portal link",
    "preview.created": "made a preview link",
    "preview.opened": "opened the preview",
    "console.opened": "opened the staff console",
}


@dataclass(frozen=True)
class ContractView:
    status: str
    active: bool
    explanation: str


def contract_view(status: str | None) -> ContractView:
    value = (status or "unknown").lower()
    if value == "active":
        return ContractView(value, True, "Customers can use the portal while it is switched on.")
    if value == "unknown":
        why = (
            "The billing platform has not told the portal about this bill group's contract "
            "yet, so customers cannot use the portal."
        )
    else:
        why = (
            f"The contract is {value.replace('_', ' ')}: the portal only works while the "
            "contract is active, so customers cannot sign in and open sessions have ended. "
            "Rules and the link are kept for when it becomes active again."
        )
    return ContractView(value, False, why)


def when(value: str | None) -> str:
    """A timestamp from access as `2026-11-24 21:05 UTC` (staff compare these with logs)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind)


def audit_detail(kind: str | None, value: str | None, ended: int | None) -> str:
    parts = []
    if kind and value:
        parts.append(f"{kind_label(kind)} {value}")
    if ended:
        parts.append(f"{ended} session{'' if ended == 1 else 's'} ended")
    return "; ".join(parts)


def audit_action(action: str, session_id: str | None) -> str:
    if action == "sessions.revoked":
        return "ended a customer session" if session_id else "ended all sessions"
    return _ACTIONS.get(action, action.replace("_", " ").replace(".", " "))


def rule_form_errors(kind: str, value: str) -> dict[str, str]:
    """Only what the gateway can tell without asking: every other refusal is access's."""
    errors = {}
    if kind not in KINDS:
        errors["kind"] = "Choose whether the rule is for a domain or an individual email."
    if not value.strip():
        errors["value"] = (
            "Enter a domain, like company.com"
            if kind == "domain"
            else "Enter one email address, like name@company.com"
        )
    return errors


def sign_in_errors(api_key: str, bill_group_id: str) -> dict[str, str]:
    errors = {}
    if not api_key:
        errors["api_key"] = "Enter an admin API key."
    if not bill_group_id:
        errors["bill_group_id"] = "Enter the bill group id, like bg_…"
    return errors


def is_preview_path(path: str) -> bool:
    """Only ever send the browser to our own portal's preview path, never elsewhere."""
    return path.startswith("/p/") and "/preview/" in path
