"""What the staff pages show, computed from access's answers (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def when(value: Any) -> str:
    """A timestamp from access as `2026-11-24 21:05 UTC` (staff compare these with logs)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class RuleRow:
    rule_id: str
    kind: str
    kind_label: str
    value: str
    added_by: str
    added_at: str


def rule_rows(portal: dict[str, Any]) -> list[RuleRow]:
    rows = []
    for rule in portal.get("rules") or []:
        kind = str(rule.get("kind", ""))
        rows.append(
            RuleRow(
                rule_id=str(rule.get("id", "")),
                kind=kind,
                kind_label=KINDS.get(kind, kind),
                value=str(rule.get("value", "")),
                added_by=str(rule.get("created_by") or "—"),
                added_at=when(rule.get("created_at")),
            )
        )
    return rows


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    email: str
    started: str
    last_seen: str
    read_only: bool


def session_rows(answer: dict[str, Any]) -> list[SessionRow]:
    return [
        SessionRow(
            session_id=str(s.get("session_id", "")),
            email=str(s.get("email", "")),
            started=when(s.get("started_at")),
            last_seen=when(s.get("last_seen_at")),
            read_only=bool(s.get("read_only")),
        )
        for s in answer.get("items") or []
    ]


@dataclass(frozen=True)
class AuditRow:
    at: str
    actor: str
    action: str
    detail: str


def _detail(detail: dict[str, Any]) -> str:
    parts = []
    kind, value = detail.get("kind"), detail.get("value")
    if kind and value:
        parts.append(f"{KINDS.get(str(kind), kind)} {value}")
    ended = detail.get("sessions_ended", detail.get("revoked"))
    if ended:
        parts.append(f"{ended} session{'' if ended == 1 else 's'} ended")
    return "; ".join(parts)


def _action(action: str, detail: dict[str, Any]) -> str:
    if action == "sessions.revoked":
        return "ended a customer session" if detail.get("session_id") else "ended all sessions"
    return _ACTIONS.get(action, action.replace("_", " ").replace(".", " "))


def audit_rows(answer: dict[str, Any]) -> list[AuditRow]:
    rows = []
    for entry in answer.get("items") or []:
        detail = entry.get("detail") if isinstance(entry.get("detail"), dict) else {}
        rows.append(
            AuditRow(
                at=when(entry.get("at")),
                actor=str(entry.get("actor") or "—"),
                action=_action(str(entry.get("action", "")), detail),
                detail=_detail(detail),
            )
        )
    return rows


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
