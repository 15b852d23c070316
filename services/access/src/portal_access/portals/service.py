"""Portal use cases: the contract projection, the switch, access rules, the link, the audit.

Admin changes are optimistic read → decide (pure rules) → write conditioned on the revision,
retried when another writer got in between; the events a change owes go in the same write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from portal_access import tokens
from portal_access.api_keys.models import Principal
from portal_access.audit.models import AuditDetail, AuditEntry
from portal_access.errors import (
    ConcurrentUpdateError,
    InvalidRuleValueError,
    RuleConflictError,
    not_found,
)
from portal_access.outbox.models import PORTALS, OutboxEntry, outbox_entry
from portal_access.outbox.relay import Wake
from portal_access.portals import domain
from portal_access.portals.models import (
    BillGroupFields,
    Portal,
    PortalChange,
    Projected,
    StoredRule,
)
from portal_access.portals.schemas import (
    AccountPortalItem,
    AccountPortalsReply,
    AuditItem,
    AuditList,
    PortalLinkReply,
    PortalReply,
    PortalStatusReply,
    RuleReply,
)
from portal_access.sessions.models import SessionScope
from portal_contracts.billing import BillGroupState
from portal_contracts.portal import (
    AccessGranted,
    AccessRevoked,
    PortalDisabled,
    PortalEnabled,
    PortalLinkRotated,
    RuleKind,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
COMMIT_TRIES = 5


class Portals(Protocol):
    async def project(
        self, tenant_id: str, version: int, fields: BillGroupFields, new_portal_key: str
    ) -> Projected: ...
    async def get(self, tenant_id: str, bill_group_id: str) -> Portal | None: ...
    async def by_key(self, portal_key: str) -> Portal | None: ...
    async def of_account(self, tenant_id: str, account_id: str) -> list[Portal]: ...
    async def commit(
        self, portal: Portal, change: PortalChange, events: Sequence[OutboxEntry]
    ) -> bool: ...


class SessionEnder(Protocol):
    async def end_for(self, scope: SessionScope, reason: str) -> int: ...


class Audit(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...
    async def latest(self, tenant_id: str, bill_group_id: str, limit: int) -> list[AuditEntry]: ...


# A decision on the portal as read: what to change, the events owed, and a result.
Decision = tuple[PortalChange, list[OutboxEntry], StoredRule | None]


class PortalService:
    def __init__(
        self,
        portals: Portals,
        sessions: SessionEnder,
        audit: Audit,
        urls: domain.PortalUrls,
        wake: Wake,
        clock: Clock,
    ) -> None:
        self._portals = portals
        self._sessions = sessions
        self._audit = audit
        self._urls = urls
        self._wake = wake
        self._now = clock

    # --- the contract projection (Kafka) ------------------------------------------------

    async def apply_bill_group(self, tenant_id: str, version: int, state: BillGroupState) -> bool:
        """Holds the newest bill group state; a contract no longer active ends its sessions
        (again when the same state is redelivered, so a failure in between loses nothing)."""
        fields = BillGroupFields(
            bill_group_id=state.bill_group_id,
            account_id=state.account_id,
            account_name=state.account_name,
            entity_id=state.entity_id,
            name=state.name,
            contract_status=state.contract_status.value,
        )
        projected = await self._portals.project(tenant_id, version, fields, tokens.new_secret())
        if (projected.applied or projected.redelivered) and not projected.contract_active:
            scope = SessionScope(tenant_id, state.bill_group_id)
            ended = await self._sessions.end_for(scope, "contract_inactive")
            if ended:
                log.info(
                    "contract ended: sessions revoked",
                    extra={"bill_group_id": state.bill_group_id, "sessions_ended": ended},
                )
        return projected.applied

    # --- admin ---------------------------------------------------------------------------

    async def portal(self, who: Principal, bill_group_id: str) -> Portal:
        portal = await self._portals.get(who.tenant_id, bill_group_id)
        if portal is None:
            raise not_found()
        return portal

    async def get(self, who: Principal, bill_group_id: str) -> PortalReply:
        return self._reply(await self.portal(who, bill_group_id))

    async def set_enabled(self, who: Principal, bill_group_id: str, enabled: bool) -> PortalReply:
        def decide(portal: Portal) -> Decision | None:
            if portal.enabled == enabled:
                return None
            model = PortalEnabled if enabled else PortalDisabled
            event = _event(portal, model(bill_group_id=bill_group_id, actor=who.actor))
            return PortalChange(enabled=enabled), [event], None

        portal, _ = await self._commit(who, bill_group_id, decide)
        if not enabled:
            scope = SessionScope(who.tenant_id, bill_group_id)
            await self._sessions.end_for(scope, "portal_disabled")
        await self._record(who, bill_group_id, "portal.enabled" if enabled else "portal.disabled")
        return self._reply(portal)

    async def add_rule(
        self, who: Principal, bill_group_id: str, kind: RuleKind, raw: str
    ) -> RuleReply:
        try:
            value = domain.normalise(kind, raw)
        except domain.RuleValueError as exc:
            raise InvalidRuleValueError(str(exc)) from exc
        now = self._now()

        def decide(portal: Portal) -> Decision:
            conflict = domain.find_conflict(portal.access_rules(), kind, value)
            if conflict is not None:
                existing = portal.stored_rule(conflict.rule.rule_id)
                shown = None if existing is None else RuleReply.of(existing).model_dump(mode="json")
                raise RuleConflictError(conflict.message, shown)
            rule = StoredRule(tokens.new_id("rul"), kind, value, now, who.actor)
            granted = AccessGranted(
                bill_group_id=bill_group_id,
                rule_id=rule.id,
                kind=kind,
                value=value,
                actor=who.actor,
            )
            return PortalChange(rules=(*portal.rules, rule)), [_event(portal, granted)], rule

        _, rule = await self._commit(who, bill_group_id, decide)
        assert rule is not None
        detail: AuditDetail = {"rule_id": rule.id, "kind": kind.value, "value": value}
        await self._record(who, bill_group_id, "rule.added", detail)
        return RuleReply.of(rule)

    async def remove_rule(self, who: Principal, bill_group_id: str, rule_id: str) -> None:
        scope = SessionScope(who.tenant_id, bill_group_id, rule_id=rule_id)
        portal = await self.portal(who, bill_group_id)
        if portal.stored_rule(rule_id) is None:
            raise not_found("rule")
        # Sessions end before the rule goes (a crash in between leaves the rule, which a retry
        # removes), and once more after it, for a sign-in that raced the removal.
        ended = await self._sessions.end_for(scope, "rule_removed")

        def decide(portal: Portal) -> Decision:
            removed = portal.stored_rule(rule_id)
            if removed is None:
                raise not_found("rule")
            revoked = AccessRevoked(
                bill_group_id=bill_group_id,
                rule_id=rule_id,
                kind=removed.kind,
                value=removed.value,
                actor=who.actor,
                sessions_ended=ended,
            )
            kept = tuple(r for r in portal.rules if r.id != rule_id)
            return PortalChange(rules=kept), [_event(portal, revoked)], removed

        _, removed = await self._commit(who, bill_group_id, decide)
        assert removed is not None
        ended += await self._sessions.end_for(scope, "rule_removed")
        detail: AuditDetail = {
            "rule_id": rule_id,
            "kind": removed.kind.value,
            "value": removed.value,
            "sessions_ended": ended,
        }
        await self._record(who, bill_group_id, "rule.removed", detail)

    async def rotate_link(self, who: Principal, bill_group_id: str) -> PortalLinkReply:
        def decide(portal: Portal) -> Decision:
            rotated = PortalLinkRotated(bill_group_id=bill_group_id, actor=who.actor)
            return PortalChange(portal_key=tokens.new_secret()), [_event(portal, rotated)], None

        portal, _ = await self._commit(who, bill_group_id, decide)
        await self._record(who, bill_group_id, "link.rotated")
        return PortalLinkReply(portal_url=self._urls.portal(portal.portal_key))

    async def audit(self, who: Principal, bill_group_id: str, limit: int) -> AuditList:
        await self.portal(who, bill_group_id)
        entries = await self._audit.latest(who.tenant_id, bill_group_id, limit)
        return AuditList(items=[AuditItem.of(e) for e in entries])

    # --- internal: the gateway's lookups ------------------------------------------------

    async def status(self, portal_key: str) -> PortalStatusReply:
        portal = await self._portals.by_key(portal_key)
        if portal is None:
            raise not_found("portal")
        usable = portal.usability
        return PortalStatusReply(
            tenant_id=portal.tenant_id,
            bill_group_id=portal.bill_group_id,
            usable=usable.usable,
            reason=usable.reason,
        )

    async def account_portals(self, tenant_id: str, account_id: str) -> AccountPortalsReply:
        """Staff console account page: every bill group's portal at a glance."""
        portals = await self._portals.of_account(tenant_id, account_id)
        return AccountPortalsReply(
            account_id=account_id,
            account_name=next((p.account_name for p in portals), None),
            items=[AccountPortalItem.of(p) for p in portals],
        )

    # --- helpers -------------------------------------------------------------------------

    def _reply(self, portal: Portal) -> PortalReply:
        return PortalReply.of(portal, self._urls.portal(portal.portal_key))

    async def _commit(
        self, who: Principal, bill_group_id: str, decide: Callable[[Portal], Decision | None]
    ) -> tuple[Portal, StoredRule | None]:
        """Optimistic read-decide-write: retried when another writer got in between."""
        for _ in range(COMMIT_TRIES):
            portal = await self.portal(who, bill_group_id)
            decided = decide(portal)
            if decided is None:
                return portal, None
            change, events, result = decided
            if await self._portals.commit(portal, change, events):
                if events:
                    self._wake(PORTALS, (portal.tenant_id, portal.bill_group_id))
                return _changed(portal, change), result
        raise ConcurrentUpdateError("the portal changed meanwhile; try again")

    async def _record(
        self, who: Principal, bill_group_id: str, action: str, detail: AuditDetail | None = None
    ) -> None:
        await self._audit.record(
            AuditEntry(who.tenant_id, bill_group_id, who.actor, action, self._now(), detail or {})
        )


def _event(portal: Portal, payload: BaseModel) -> OutboxEntry:
    return outbox_entry(payload, tenant_id=portal.tenant_id, bill_group_id=portal.bill_group_id)


def _changed(portal: Portal, change: PortalChange) -> Portal:
    return replace(
        portal,
        enabled=portal.enabled if change.enabled is None else change.enabled,
        rules=portal.rules if change.rules is None else change.rules,
        portal_key=portal.portal_key if change.portal_key is None else change.portal_key,
        rev=portal.rev + 1,
    )
