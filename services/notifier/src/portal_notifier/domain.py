"""Pure rules of the notifier: branding fallback, sender choice, SES error classes, backoff.

Nothing here does I/O, so every rule is unit-tested exhaustively.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class Branding:
    """What the email shows about who sends it and to whom it is addressed."""

    entity_name: str
    logo_url: str | None
    logo_alt: str
    bill_group_name: str | None
    account_name: str | None
    neutral: bool


@dataclass(frozen=True)
class EntityView:
    name: str
    logo_url: str | None
    logo_alt: str


@dataclass(frozen=True)
class BillGroupView:
    name: str
    account_name: str
    entity_id: str


def resolve_branding(
    entity: EntityView | None,
    bill_group: BillGroupView | None,
    *,
    neutral_name: str,
    neutral_logo_url: str | None,
) -> Branding:
    """The entity's branding when the projection knows it, else the platform's neutral one.

    A sign-in email must never wait for (or fail on) branding that has not arrived yet: the
    customer is waiting for the code, and an unbranded email is better than none.
    """
    account_name = bill_group.account_name if bill_group else None
    group_name = bill_group.name if bill_group else None
    if entity is None:
        return Branding(
            entity_name=neutral_name,
            logo_url=neutral_logo_url,
            logo_alt=neutral_name,
            bill_group_name=group_name,
            account_name=account_name,
            neutral=True,
        )
    return Branding(
        entity_name=entity.name,
        logo_url=entity.logo_url,
        logo_alt=entity.logo_alt or entity.name,
        bill_group_name=group_name,
        account_name=account_name,
        neutral=False,
    )


def choose_sender(
    senders: Mapping[str, str], default: str, *, tenant_id: str, entity_id: str | None
) -> str:
    """Most specific first: `tenant/entity`, then `tenant`, then the platform default."""
    if entity_id is not None:
        specific = senders.get(f"{tenant_id}/{entity_id}")
        if specific:
            return specific
    return senders.get(tenant_id) or default


class Failure(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


# SES (and its HTTP front) answers these when it is busy or briefly unwell: try again later.
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "InternalServerErrorException",
    }
)


def classify_ses_error(code: str | None, http_status: int | None) -> Failure:
    """Throttling and 5xx are worth retrying; any other answer will not change on retry
    (message rejected, bad address, unverified sender, suppressed, paused account)."""
    if code in _TRANSIENT_CODES:
        return Failure.TRANSIENT
    if http_status is None or http_status >= 500 or http_status == 429:
        return Failure.TRANSIENT
    return Failure.PERMANENT


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    cap_seconds: float
    max_attempts: int
    window_seconds: float


def backoff_seconds(policy: RetryPolicy, attempt: int, jitter: float) -> float:
    """Delay before attempt `attempt + 1`, "equal jitter" style.

    `jitter` is a uniform random number in [0, 1): replicas retrying the same throttled
    account then spread out instead of hitting SES in lock-step. The delay grows
    exponentially with the attempt number but never beyond the cap.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2.0 ** min(attempt - 1, 62))
    # Never zero: half the ceiling is guaranteed so a retry storm cannot degenerate to a spin.
    return ceiling / 2.0 + (ceiling / 2.0) * jitter


def give_up_at(policy: RetryPolicy, first_attempt_at: datetime, expires_at: datetime) -> datetime:
    """Retrying is bounded in time, and pointless once the link itself has expired."""
    return min(first_attempt_at + timedelta(seconds=policy.window_seconds), expires_at)


def next_retry(
    policy: RetryPolicy,
    *,
    attempts: int,
    now: datetime,
    first_attempt_at: datetime,
    expires_at: datetime,
    jitter: float,
) -> datetime | None:
    """When to try again after `attempts` transient failures, or None to give up."""
    if attempts >= policy.max_attempts:
        return None
    due = now + timedelta(seconds=backoff_seconds(policy, attempts, jitter))
    if due >= give_up_at(policy, first_attempt_at, expires_at):
        return None
    return due


def normalize_email(address: str) -> str:
    """Suppression entries match case-insensitively, as mailbox providers do in practice."""
    return address.strip().lower()


def lifetime_minutes(occurred_at: datetime, expires_at: datetime) -> int:
    """What the email promises ("valid for 15 minutes"), rounded and never below one."""
    seconds = (expires_at - occurred_at).total_seconds()
    return max(1, round(seconds / 60))


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its (first or next) attempt at `due_at`
    SENDING = "sending"  # claimed by `lease_owner` until `lease_until`
    SENT = "sent"  # SES accepted it: never send again
    FAILED = "failed"  # permanent failure, reported
    SUPPRESSED = "suppressed"  # recipient on the suppression list, reported


TERMINAL = frozenset({DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.SUPPRESSED})


def claimable(
    state: DeliveryState, *, due_at: datetime | None, lease_until: datetime | None, now: datetime
) -> bool:
    """May a replica take this delivery now? A parked one once due; one being sent only
    when its owner's lease ran out (the owner died mid-attempt); a final one never."""
    if state is DeliveryState.PENDING:
        return due_at is None or due_at <= now
    if state is DeliveryState.SENDING:
        return lease_until is not None and lease_until < now
    return False
