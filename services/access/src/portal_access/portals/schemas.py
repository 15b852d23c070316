"""Portals on the wire: admin requests and answers, and the internal portal lookups."""

from __future__ import annotations

from pydantic import Field

from portal_access.audit.models import AuditDetail, AuditEntry
from portal_access.portals.models import Portal, StoredRule
from portal_access.wire import Body, Reply, Timestamp, iso
from portal_contracts.portal import RuleKind


class PortalSwitch(Body):
    enabled: bool


class RuleIn(Body):
    kind: RuleKind
    value: str = Field(max_length=320)


class PreviewRedeem(Body):
    preview_token: str = Field(min_length=1, max_length=128)


class RuleReply(Reply):
    id: str
    kind: RuleKind
    value: str
    created_at: Timestamp
    created_by: str

    @classmethod
    def of(cls, rule: StoredRule) -> RuleReply:
        return cls(
            id=rule.id,
            kind=rule.kind,
            value=rule.value,
            created_at=iso(rule.created_at),
            created_by=rule.created_by,
        )


class PortalReply(Reply):
    bill_group_id: str
    tenant_id: str
    account_id: str | None
    name: str | None
    enabled: bool
    contract_status: str | None
    usable: bool
    reason: str | None = Field(description="portal_disabled or contract_inactive; null when usable")
    portal_url: str
    rules: list[RuleReply]

    @classmethod
    def of(cls, portal: Portal, portal_url: str) -> PortalReply:
        usable = portal.usability
        return cls(
            bill_group_id=portal.bill_group_id,
            tenant_id=portal.tenant_id,
            account_id=portal.account_id,
            name=portal.name,
            enabled=portal.enabled,
            contract_status=portal.contract_status,
            usable=usable.usable,
            reason=usable.reason,
            portal_url=portal_url,
            rules=[RuleReply.of(r) for r in portal.rules],
        )


class PortalLinkReply(Reply):
    portal_url: str


class PreviewReply(Reply):
    preview_url: str
    expires_at: Timestamp


class AuditItem(Reply):
    at: Timestamp
    actor: str
    action: str
    detail: AuditDetail

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditItem:
        return cls(at=iso(entry.at), actor=entry.actor, action=entry.action, detail=entry.detail)


class AuditList(Reply):
    items: list[AuditItem]


class PortalStatusReply(Reply):
    tenant_id: str
    bill_group_id: str
    usable: bool
    reason: str | None


class AccountPortalItem(Reply):
    bill_group_id: str
    name: str | None
    contract_status: str | None
    enabled: bool
    usable: bool
    reason: str | None
    rule_count: int

    @classmethod
    def of(cls, portal: Portal) -> AccountPortalItem:
        usable = portal.usability
        return cls(
            bill_group_id=portal.bill_group_id,
            name=portal.name,
            contract_status=portal.contract_status,
            enabled=portal.enabled,
            usable=usable.usable,
            reason=usable.reason,
            rule_count=len(portal.rules),
        )


class AccountPortalsReply(Reply):
    account_id: str
    account_name: str | None
    items: list[AccountPortalItem]
