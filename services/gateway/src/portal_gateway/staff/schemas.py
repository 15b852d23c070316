"""View models of the staff console pages, made from access's typed answers."""

from __future__ import annotations

from dataclasses import dataclass

from portal_gateway.clients.models import (
    AccountPortal,
    AccountPortals,
    AdminPortal,
    AdminSessions,
    AuditLog,
    Grant,
)
from portal_gateway.staff import domain
from portal_gateway.staff.domain import ContractView, contract_view


@dataclass(frozen=True)
class RuleRow:
    rule_id: str
    kind: str
    kind_label: str
    value: str
    added_by: str
    added_at: str


def rule_rows(portal: AdminPortal) -> list[RuleRow]:
    return [
        RuleRow(
            rule_id=rule.id,
            kind=rule.kind,
            kind_label=domain.kind_label(rule.kind),
            value=rule.value,
            added_by=rule.created_by or "—",
            added_at=domain.when(rule.created_at),
        )
        for rule in portal.rules
    ]


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    email: str
    started: str
    last_seen: str
    read_only: bool


def session_rows(answer: AdminSessions) -> list[SessionRow]:
    return [
        SessionRow(
            session_id=s.session_id,
            email=s.email,
            started=domain.when(s.started_at),
            last_seen=domain.when(s.last_seen_at),
            read_only=s.read_only,
        )
        for s in answer.items
    ]


@dataclass(frozen=True)
class AuditRow:
    at: str
    actor: str
    action: str
    detail: str


def audit_rows(answer: AuditLog) -> list[AuditRow]:
    rows = []
    for entry in answer.items:
        detail = entry.detail
        ended = None
        if detail is not None:
            ended = detail.sessions_ended if detail.sessions_ended is not None else detail.revoked
        rows.append(
            AuditRow(
                at=domain.when(entry.at),
                actor=entry.actor or "—",
                action=domain.audit_action(entry.action, detail.session_id if detail else None),
                detail=(domain.audit_detail(detail.kind, detail.value, ended) if detail else ""),
            )
        )
    return rows


@dataclass(frozen=True)
class EnterPage:
    grant: Grant
    params: dict[str, str]


@dataclass(frozen=True)
class RefusedPage:
    message: str


@dataclass(frozen=True)
class AccountRow:
    bill_group_id: str
    name: str | None
    enabled: bool
    rule_count: int
    contract: ContractView

    @classmethod
    def of(cls, item: AccountPortal) -> AccountRow:
        return cls(
            item.bill_group_id,
            item.name,
            item.enabled,
            item.rule_count,
            contract_view(item.contract_status),
        )


@dataclass(frozen=True)
class AccountPage:
    account_id: str
    account_name: str | None
    items: list[AccountRow]

    @classmethod
    def of(cls, account_id: str, answer: AccountPortals) -> AccountPage:
        return cls(account_id, answer.account_name, [AccountRow.of(i) for i in answer.items])


@dataclass(frozen=True)
class BillGroupPage:
    bill_group_id: str
    portal: AdminPortal
    contract: ContractView
    rules: list[RuleRow]
    sessions: list[SessionRow]
    audit: list[AuditRow]
    kinds: dict[str, str]
    notice: str | None

    @classmethod
    def of(
        cls,
        bill_group_id: str,
        portal: AdminPortal,
        sessions: AdminSessions,
        audit: AuditLog,
        notice: str | None,
    ) -> BillGroupPage:
        return cls(
            bill_group_id=bill_group_id,
            portal=portal,
            contract=contract_view(portal.contract_status),
            rules=rule_rows(portal),
            sessions=session_rows(sessions),
            audit=audit_rows(audit),
            kinds=domain.KINDS,
            notice=domain.NOTICES.get(notice or ""),
        )


@dataclass(frozen=True)
class RotatePage:
    bill_group_id: str
