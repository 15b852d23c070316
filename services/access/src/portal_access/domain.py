"""Pure rules of portal access: value normalisation, rule overlap, secrets and expiry.

Nothing here does I/O; storage and routes call these functions and act on their answers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import idna

from portal_contracts.portal import RuleKind

SIGNIN_LIFETIME = timedelta(minutes=15)
PREVIEW_LIFETIME = timedelta(minutes=10)
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
MAX_CODE_ATTEMPTS = 5

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read aloud or retyped from a phone stays unambiguous.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 10

_SEPARATORS = re.compile(r"[\s,;]")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 5321 dot-atom without quoting: what real mailboxes of business customers use.
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


class RuleValueError(ValueError):
    """A rule value or an email address that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    kind: RuleKind
    value: str


@dataclass(frozen=True)
class Conflict:
    """The existing rule a candidate would overlap, and a sentence a person can act on."""

    rule: Rule
    message: str


def _reject_lists(raw: str, what: str) -> str:
    value = raw.strip()
    if not value:
        raise RuleValueError(f"{what} is empty")
    if _SEPARATORS.search(value):
        raise RuleValueError(
            f"{what} must be a single value without commas, spaces or semicolons; "
            "add one rule per address or domain"
        )
    return value


def normalise_domain(raw: str) -> str:
    """Trimmed, lower case, IDNA (punycode) form of one domain name."""
    value = _reject_lists(raw, "the domain")
    if "@" in value:
        raise RuleValueError(
            "a domain rule takes a domain such as company.com, without '@' or a mailbox"
        )
    if value.endswith("."):
        value = value[:-1]
    try:
        ascii_domain = idna.encode(value, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise RuleValueError(f"{raw.strip()!r} is not a valid domain name") from exc
    ascii_domain = ascii_domain.lower()
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > 253:
        raise RuleValueError(
            f"{raw.strip()!r} is not a valid domain name (expected something like company.com)"
        )
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise RuleValueError(f"{raw.strip()!r} is not a valid domain name")
    return ascii_domain


def normalise_email(raw: str) -> str:
    """Trimmed, lower-cased local part, IDNA domain; one address only."""
    value = _reject_lists(raw, "the email address")
    if value.count("@") != 1:
        if value.count("@") > 1:
            raise RuleValueError("one email address per rule: the value holds several '@'")
        raise RuleValueError(f"{value!r} is not an email address (no '@')")
    local, domain = value.rsplit("@", 1)
    # Mail systems treat local parts case-insensitively in practice; one canonical form keeps
    # `Jane@x.com` and `jane@x.com` from becoming two rules or two identities.
    local = local.lower()
    if not local or len(local) > 64 or not _LOCAL_PART.match(local):
        raise RuleValueError(f"{value!r} is not a valid email address")
    return f"{local}@{normalise_domain(domain)}"


def normalise(kind: RuleKind, raw: str) -> str:
    return normalise_domain(raw) if kind is RuleKind.DOMAIN else normalise_email(raw)


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1]


def covers(rule: Rule, email: str) -> bool:
    """Exactly that address, or exactly that domain: never sub-domains or look-alikes."""
    if rule.kind is RuleKind.EMAIL:
        return rule.value == email
    return email_domain(email) == rule.value


def covering_rule(rules: Iterable[Rule], email: str) -> Rule | None:
    return next((r for r in rules if covers(r, email)), None)


def _describe(rule: Rule) -> str:
    return f"{rule.kind.value} rule {rule.rule_id} ({rule.value})"


def find_conflict(rules: Iterable[Rule], kind: RuleKind, value: str) -> Conflict | None:
    """The rule that `value` (already normalised) would duplicate or overlap, if any."""
    for rule in rules:
        if rule.kind is kind and rule.value == value:
            return Conflict(rule, f"{value} is already granted by {_describe(rule)}")
        if (
            kind is RuleKind.EMAIL
            and rule.kind is RuleKind.DOMAIN
            and email_domain(value) == rule.value
        ):
            return Conflict(
                rule, f"{value} is already covered by {_describe(rule)}; no email rule needed"
            )
        if (
            kind is RuleKind.DOMAIN
            and rule.kind is RuleKind.EMAIL
            and email_domain(rule.value) == value
        ):
            return Conflict(
                rule,
                f"the domain {value} would cover the existing {_describe(rule)}; "
                "remove that rule first",
            )
    return None


def overlapping(a: Rule, b: Rule) -> bool:
    """Whether two rules grant some address in common (used to state the invariant)."""
    if a.kind is RuleKind.DOMAIN and b.kind is RuleKind.DOMAIN:
        return a.value == b.value
    if a.kind is RuleKind.EMAIL and b.kind is RuleKind.EMAIL:
        return a.value == b.value
    domain, email = (a, b) if a.kind is RuleKind.DOMAIN else (b, a)
    return email_domain(email.value) == domain.value


# --- secrets ---------------------------------------------------------------------------


def new_secret() -> str:
    """256 random bits, URL-safe: sign-in tokens, session tokens, preview tokens, API keys."""
    return secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str:
    """People type codes with spaces, dashes and in lower case."""
    return re.sub(r"[\s-]", "", raw).upper()


def hash_secret(secret: str) -> str:
    """Lookup hash of a high-entropy secret (no salt needed at 256 bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_code(challenge_id: str, code: str) -> str:
    """Codes are short, so their hash is bound to the challenge they belong to."""
    return hmac.new(challenge_id.encode(), code.encode(), hashlib.sha256).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# --- sessions and limits ---------------------------------------------------------------


@dataclass(frozen=True)
class SessionTimes:
    idle_expires_at: datetime
    expires_at: datetime


def session_times(started: datetime) -> SessionTimes:
    return SessionTimes(started + SESSION_IDLE, started + SESSION_ABSOLUTE)


def refreshed_idle(now: datetime, expires_at: datetime) -> datetime:
    return min(now + SESSION_IDLE, expires_at)


@dataclass(frozen=True)
class Window:
    key: str
    resets_at: datetime


def rate_window(now: datetime, seconds: int) -> Window:
    """Fixed window containing `now`: all replicas agree on its key without talking."""
    epoch = int(now.timestamp())
    start = epoch - epoch % seconds
    return Window(str(start), datetime.fromtimestamp(start + seconds, tz=now.tzinfo))


def retry_after_seconds(now: datetime, resets_at: datetime) -> int:
    return max(1, int((resets_at - now).total_seconds() + 0.999))
