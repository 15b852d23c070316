"""Pure rules of sign-in email delivery: who may claim a delivery, SES error classes, retry
backoff, the sender address, the promised lifetime. Nothing here does I/O, so every rule is
unit-tested exhaustively.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from portal_notifier.delivery.models import Delivery, DeliveryState, SigninEmail

TERMINAL = frozenset({DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.SUPPRESSED})


class Reason(StrEnum):
    """Why an email was given up (`notification.failed` reason, delivery `reason`)."""

    SES_REJECTED = "ses_rejected"
    SUPPRESSED = "suppressed"
    RETRIES_EXHAUSTED = "retries_exhausted"
    EXPIRED_BEFORE_SENDING = "expired_before_sending"
    UNREADABLE_SECRET = "unreadable_secret"  # noqa: S105 - a reason, not a secret


class DeliveryFailedError(Exception):
    """A sign-in email that will not be sent; carried into the dead-letter headers."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason


def final_state(reason: Reason) -> DeliveryState:
    """A suppressed recipient is its own outcome (not counted as a failure)."""
    return DeliveryState.SUPPRESSED if reason is Reason.SUPPRESSED else DeliveryState.FAILED


def born_claimed(
    request: SigninEmail, *, owner: str, now: datetime, lease_seconds: float
) -> Delivery:
    """A new delivery is recorded already claimed by the replica that consumed the event,
    so the happy path is two writes (the batch's insert, then `sent`) and a crash before SES
    accepted is found again by any replica's recovery pass once the lease runs out."""
    return Delivery(
        request=request,
        state=DeliveryState.SENDING,
        lease_owner=owner,
        lease_until=now + timedelta(seconds=lease_seconds),
        attempts=0,
        first_attempt_at=None,
        due_at=now,
        created_at=now,
    )


def claimable(
    state: DeliveryState, *, due_at: datetime | None, lease_until: datetime | None, now: datetime
) -> bool:
    """May a replica take this delivery now? A parked one once due; one being sent only
    when its owner's lease ran out (the owner died mid-attempt); a final one never.

    The repository's conditional claim (`find_one_and_update`) states the same rule as a
    MongoDB filter; the in-memory fake of the unit tests uses this function."""
    if state is DeliveryState.PENDING:
        return due_at is None or due_at <= now
    if state is DeliveryState.SENDING:
        return lease_until is not None and lease_until < now
    return False


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


class SesError(Exception):
    """A send that did not go through; `failure` says whether trying again can help."""

    def __init__(self, failure: Failure, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.failure = failure
        self.code = code


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


def lifetime_minutes(occurred_at: datetime, expires_at: datetime) -> int:
    """What the email promises ("valid for 15 minutes"), rounded and never below one."""
    seconds = (expires_at - occurred_at).total_seconds()
    return max(1, round(seconds / 60))
