"""Pure rules of portal access: value normalisation, exact matching, rule overlap, and
when a portal is usable. Nothing here does I/O; the portal and sign-in use cases act on
these answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import idna

from portal_contracts import urls
from portal_contracts.portal import RuleKind

PREVIEW_LIFETIME = timedelta(minutes=10)

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


@dataclass(frozen=True)
class Usability:
    usable: bool
    reason: str | None


def usability(enabled: bool, contract_status: str | None) -> Usability:
    """A portal lets customers in only while it is switched on AND the contract is active."""
    if not enabled:
        return Usability(False, "portal_disabled")
    if contract_status != "active":
        return Usability(False, "contract_inactive")
    return Usability(True, None)


@dataclass(frozen=True)
class PortalUrls:
    """The portal's public URLs (the scheme is shared with the gateway in contracts)."""

    base_url: str

    def portal(self, portal_key: str) -> str:
        return urls.portal_url(self.base_url, portal_key)

    def verify(self, portal_key: str, token: str) -> str:
        return urls.verify_url(self.base_url, portal_key, token)

    def preview(self, portal_key: str, token: str) -> str:
        return urls.preview_url(self.base_url, portal_key, token)
