"""Signed staff links: how the billing platform sends its staff into the staff console
(issue 9). The pure link format is `staff_links.domain`; the names below are what the
console tests and tools import."""

from portal_access.staff_links.domain import (
    CLOCK_SKEW_SECONDS,
    MAX_LIFETIME_SECONDS,
    Refusal,
    Scope,
    StaffGrant,
    StaffLinkError,
    issue,
    link,
    new_secret,
    verify,
)

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "MAX_LIFETIME_SECONDS",
    "Refusal",
    "Scope",
    "StaffGrant",
    "StaffLinkError",
    "issue",
    "link",
    "new_secret",
    "verify",
]
