"""access's answers, as the gateway reads them (docs/internal-apis.md). Owned here: the
gateway never imports access; unknown extra members are ignored, missing ones are an error."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from portal_gateway.staff.domain import Scope


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Refusal(Answer):
    """access's `{error, message?, ...}` body of a refusal."""

    error: str = "error"
    message: str | None = None
    retry_after_seconds: int | None = None
    attempts_left: int | None = None


# --- customers: portals, sign-in, sessions ------------------------------------------------


class PortalInfo(Answer):
    tenant_id: str
    bill_group_id: str
    usable: bool
    reason: str | None = None


class SigninPending(Answer):
    pending_id: str


class Session(Answer):
    """A customer session; `session_token` is the cookie value, never logged."""

    session_token: str
    tenant_id: str
    bill_group_id: str
    email: str
    read_only: bool
    expires_at: str


class ValidatedSession(Answer):
    """`sessions/validate` answers without the token (the caller has it)."""

    tenant_id: str
    bill_group_id: str
    email: str
    read_only: bool
    expires_at: str

    def with_token(self, token: str) -> Session:
        return Session(session_token=token, **self.model_dump())


# --- staff: links, accounts, the admin API -------------------------------------------------


class Grant(Answer):
    tenant_id: str
    scope: Scope
    scope_id: str
    staff_email: str


class AccountPortal(Answer):
    bill_group_id: str
    name: str | None = None
    contract_status: str | None = None
    enabled: bool = False
    usable: bool = False
    reason: str | None = None
    rule_count: int = 0


class AccountPortals(Answer):
    account_id: str | None = None
    account_name: str | None = None
    items: list[AccountPortal] = []


class AccessRule(Answer):
    id: str
    kind: str
    value: str
    created_at: str | None = None
    created_by: str | None = None


class AdminPortal(Answer):
    bill_group_id: str
    name: str | None = None
    enabled: bool
    contract_status: str | None = None
    usable: bool = False
    reason: str | None = None
    portal_url: str = ""
    rules: list[AccessRule] = []


class AdminSession(Answer):
    session_id: str
    email: str
    read_only: bool = False
    started_at: str | None = None
    last_seen_at: str | None = None


class AdminSessions(Answer):
    items: list[AdminSession] = []


class AuditDetail(Answer):
    kind: str | None = None
    value: str | None = None
    sessions_ended: int | None = None
    revoked: int | None = None
    session_id: str | None = None


class AuditEntry(Answer):
    at: str | None = None
    actor: str | None = None
    action: str = ""
    detail: AuditDetail | None = None


class AuditLog(Answer):
    items: list[AuditEntry] = []


class PreviewLink(Answer):
    preview_url: str = ""


@dataclass(frozen=True)
class Forwarded:
    """An admin API answer relayed as is."""

    status: int
    headers: dict[str, str]
    content: bytes
