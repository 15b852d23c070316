"""The portal document of a bill group, typed: contract projection, switch, link, rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal_access.portals.domain import Rule, Usability, usability
from portal_contracts.portal import RuleKind


@dataclass(frozen=True)
class StoredRule:
    id: str
    kind: RuleKind
    value: str
    created_at: datetime
    created_by: str

    @property
    def rule(self) -> Rule:
        return Rule(self.id, self.kind, self.value)


@dataclass(frozen=True)
class Portal:
    """One per (tenant, bill group), `rev` for optimistic concurrency."""

    bill_group_id: str
    tenant_id: str
    portal_key: str
    enabled: bool = False
    contract_status: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    entity_id: str | None = None
    name: str | None = None
    version: int = 0
    rules: tuple[StoredRule, ...] = ()
    rev: int = 0

    @property
    def usability(self) -> Usability:
        return usability(self.enabled, self.contract_status)

    def access_rules(self) -> list[Rule]:
        return [r.rule for r in self.rules]

    def stored_rule(self, rule_id: str) -> StoredRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


@dataclass(frozen=True)
class PortalChange:
    """What one admin change sets (None: left as it is)."""

    enabled: bool | None = None
    rules: tuple[StoredRule, ...] | None = None
    portal_key: str | None = None


@dataclass(frozen=True)
class BillGroupFields:
    """The part of an upstream bill group state that access keeps."""

    bill_group_id: str
    account_id: str
    account_name: str
    entity_id: str
    name: str
    contract_status: str


@dataclass(frozen=True)
class Projected:
    """`applied`: the state was newer and is now held. `redelivered`: this very version was
    already held (a retry after a failure part-way, or a duplicate)."""

    applied: bool
    redelivered: bool
    contract_active: bool
