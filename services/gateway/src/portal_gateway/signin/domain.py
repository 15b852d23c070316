"""Pure rules of signing in: what a person reads, and which email shapes are worth asking."""

from __future__ import annotations

REASONS = {
    "expired": "Your session has ended. Sign in again to continue.",
    "signed_out": "You have signed out.",
    "revoked": "Your access to this portal has changed. Sign in again to continue.",
}
UNUSABLE = {
    "portal_disabled": "This billing portal is switched off. Contact your supplier for help.",
    "contract_inactive": "This billing portal is not available at the moment, because the "
    "account has no active contract. Contact your supplier for help.",
}
ENTER_EMAIL = "Enter an email address like name@company.com."
CHECK_EMAIL = "Check the email address."


def notice(reason: str | None) -> str | None:
    """Why the sign-in page is shown (`?reason=`), only ever one of the fixed sentences."""
    return REASONS.get(reason or "")


def unusable_message(reason: str | None) -> str:
    return UNUSABLE.get(reason or "", UNUSABLE["portal_disabled"])


def normalise_email(raw: str) -> str:
    return " ".join(raw.split())


def looks_like_email(email: str) -> bool:
    local, at, domain = email.partition("@")
    return bool(local and at and "." in domain and " " not in email and len(email) <= 254)


def normalise_code(raw: str) -> str:
    return "".join(raw.split())[:32]


def minutes(seconds: int | None) -> int:
    """A Retry-After in whole minutes, rounded up (15 when access did not say)."""
    if seconds is None:
        return 15
    return max(1, -(-int(seconds) // 60))


def rate_limited_message(retry_after_seconds: int | None) -> str:
    count = minutes(retry_after_seconds)
    return f"Too many sign-in requests. Try again in {count} minute{'s' if count != 1 else ''}."


def wrong_code_message(attempts_left: int | None) -> str:
    message = "That code is not right."
    if attempts_left is not None:
        message += f" {attempts_left} attempt{'s' if attempts_left != 1 else ''} left."
    return message
