"""The `portals` collection: one document per bill group, with its rules and its outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from portal_access.db import Doc, Mongo
from portal_access.outbox.models import PORTALS, OutboxEntry
from portal_access.outbox.repository import stored_entry
from portal_access.portals.models import (
    BillGroupFields,
    Portal,
    PortalChange,
    Projected,
    StoredRule,
)
from portal_contracts.portal import RuleKind

_NO_OUTBOX = {"outbox": 0}


class PortalRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._mongo = mongo
        self._portals = mongo.collection(PORTALS)

    async def ensure_indexes(self) -> None:
        await self._portals.create_index("portal_key", unique=True)
        await self._portals.create_index([("tenant_id", ASCENDING), ("account_id", ASCENDING)])

    async def project(
        self, tenant_id: str, version: int, fields: BillGroupFields, new_portal_key: str
    ) -> Projected:
        """Apply a bill group state only if newer than what is held (replay-safe)."""
        state = {
            "account_id": fields.account_id,
            "account_name": fields.account_name,
            "entity_id": fields.entity_id,
            "name": fields.name,
            "contract_status": fields.contract_status,
        }
        active = fields.contract_status == "active"
        try:
            await self._portals.insert_one(
                {
                    "_id": fields.bill_group_id,
                    "tenant_id": tenant_id,
                    **state,
                    "version": version,
                    "enabled": False,
                    "portal_key": new_portal_key,
                    "rules": [],
                    "rev": 0,
                    "outbox": [],
                    "has_outbox": False,
                }
            )
            return Projected(applied=True, redelivered=False, contract_active=active)
        except DuplicateKeyError as exc:
            if "portal_key" in str(exc):
                raise
        async with self._mongo.lock(PORTALS):
            result = await self._portals.update_one(
                {"_id": fields.bill_group_id, "tenant_id": tenant_id, "version": {"$lt": version}},
                {"$set": {**state, "version": version}},
            )
        if result.modified_count == 1:
            return Projected(applied=True, redelivered=False, contract_active=active)
        held = await self._portals.find_one(
            {"_id": fields.bill_group_id, "tenant_id": tenant_id}, {"version": 1}
        )
        redelivered = held is not None and held.get("version") == version
        return Projected(applied=False, redelivered=redelivered, contract_active=active)

    async def get(self, tenant_id: str, bill_group_id: str) -> Portal | None:
        doc = await self._portals.find_one(
            {"_id": bill_group_id, "tenant_id": tenant_id}, _NO_OUTBOX
        )
        return None if doc is None else _portal(doc)

    async def by_key(self, portal_key: str) -> Portal | None:
        doc = await self._portals.find_one({"portal_key": portal_key}, _NO_OUTBOX)
        return None if doc is None else _portal(doc)

    async def of_account(self, tenant_id: str, account_id: str) -> list[Portal]:
        cursor = self._portals.find(
            {"tenant_id": tenant_id, "account_id": account_id}, _NO_OUTBOX
        ).sort("_id", ASCENDING)
        return [_portal(doc) for doc in await cursor.to_list()]

    async def commit(
        self, portal: Portal, change: PortalChange, events: Sequence[OutboxEntry]
    ) -> bool:
        """State and owed events in one write, only if nobody changed the portal meanwhile."""
        changes: Doc = {}
        if change.enabled is not None:
            changes["enabled"] = change.enabled
        if change.rules is not None:
            changes["rules"] = [_rule_doc(r) for r in change.rules]
        if change.portal_key is not None:
            changes["portal_key"] = change.portal_key
        update: Doc = {"$set": changes, "$inc": {"rev": 1}}
        if events:
            changes["has_outbox"] = True
            update["$push"] = {"outbox": {"$each": [stored_entry(e) for e in events]}}
        async with self._mongo.lock(PORTALS):
            result = await self._portals.update_one(
                {"_id": portal.bill_group_id, "tenant_id": portal.tenant_id, "rev": portal.rev},
                update,
            )
        return result.modified_count == 1


class StoredRuleDoc(TypedDict):
    id: str
    kind: str
    value: str
    created_at: datetime
    created_by: str


def _rule_doc(rule: StoredRule) -> StoredRuleDoc:
    return {
        "id": rule.id,
        "kind": rule.kind.value,
        "value": rule.value,
        "created_at": rule.created_at,
        "created_by": rule.created_by,
    }


def _portal(doc: Doc) -> Portal:
    return Portal(
        bill_group_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        portal_key=doc["portal_key"],
        enabled=bool(doc.get("enabled")),
        contract_status=doc.get("contract_status"),
        account_id=doc.get("account_id"),
        account_name=doc.get("account_name"),
        entity_id=doc.get("entity_id"),
        name=doc.get("name"),
        version=int(doc.get("version", 0)),
        rules=tuple(
            StoredRule(r["id"], RuleKind(r["kind"]), r["value"], r["created_at"], r["created_by"])
            for r in doc.get("rules", [])
        ),
        rev=int(doc.get("rev", 0)),
    )
