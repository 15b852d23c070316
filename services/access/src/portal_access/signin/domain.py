"""Pure sign-in rules: who gets a real challenge (the decoy policy), codes, lifetimes and the
fixed rate-limit windows. No I/O."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal_access.portals.domain import Rule, covering_rule

SIGNIN_LIFETIME = timedelta(minutes=15)
MAX_CODE_ATTEMPTS = 5

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read aloud or retyped from a phone stays unambiguous.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 10


def granting_rule(portal_usable: bool, rules: Iterable[Rule], email: str) -> Rule | None:
    """The decoy policy. The rule that lets `email` in, or None: then the request gets a
    decoy challenge — the same answer, the same work (secrets, sealing, inserts) and the same
    code-attempt behaviour as a real one, but it never verifies and owes no event — so neither
    the answer nor its timing tells whether the address has access (not allowed, portal off
    and contract inactive all look alike)."""
    return covering_rule(rules, email) if portal_usable else None


def is_live(expires_at: datetime, now: datetime) -> bool:
    return expires_at > now


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str:
    """People type codes with spaces, dashes and in lower case."""
    return re.sub(r"[\s-]", "", raw).upper()


def hash_code(challenge_id: str, code: str) -> str:
    """Codes are short, so their hash is bound to the challenge they belong to."""
    return hmac.new(challenge_id.encode(), code.encode(), hashlib.sha256).hexdigest()


# --- rate limits -------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start: int  # epoch seconds
    resets_at: datetime


def rate_window(now: datetime, seconds: int) -> Window:
    """Fixed window containing `now`: all replicas agree on it without talking."""
    epoch = int(now.timestamp())
    start = epoch - epoch % seconds
    return Window(start, datetime.fromtimestamp(start + seconds, tz=now.tzinfo))


def retry_after_seconds(now: datetime, resets_at: datetime) -> int:
    return max(1, int((resets_at - now).total_seconds() + 0.999))


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` sign-in requests per `seconds` for one `scope` (email, ip, portal)."""

    scope: str
    limit: int
    seconds: int


@dataclass(frozen=True)
class Bucket:
    """One counter of one limit in one window: one shared document per bucket.

    `tenant_id` is the portal's tenant for the per-portal limit (bill group ids repeat across
    tenants) and "" for the cross-tenant ones (an address or a client IP, wherever it asks)."""

    scope: str
    tenant_id: str
    key: str
    window: int
    resets_at: datetime
    limit: int


def buckets(now: datetime, keyed: Sequence[tuple[RateLimit, str, str]]) -> list[Bucket]:
    """The counters a request counts against, from (limit, tenant or "", key); every request
    counts, granted or not."""
    result = []
    for limit, tenant_id, key in keyed:
        window = rate_window(now, limit.seconds)
        result.append(
            Bucket(limit.scope, tenant_id, key, window.start, window.resets_at, limit.limit)
        )
    return result


def retry_after(now: datetime, counted: Sequence[tuple[Bucket, bool]]) -> int:
    """0 when every bucket let the request in; else seconds until the last refusing one
    resets."""
    return max(
        (retry_after_seconds(now, b.resets_at) for b, allowed in counted if not allowed),
        default=0,
    )
