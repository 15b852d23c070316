"""The `portals` collection: one document per (tenant, bill group) with its rules and its
outbox, and `portal_keys`: the lookup of a portal link.

- `portals._id` = `{"t": tenant, "b": bill group}` (`db.bill_group_key`): a second tenant's
  bill group with the same id is another document. Every change is one atomic update
  conditioned on what was read (`version` for the projection, `rev` for admin changes), with
  the events it owes `$push`ed in the same write.
- `portal_keys._id` = SHA-256 of the portal key, pointing at the portal's `_id`: the
  customer's path reads the pointer and then the portal, both by `_id`. The pointer is an
  index, not the truth: it is written BEFORE the portal names the key and deleted only AFTER
  the portal stopped naming it, and a lookup accepts it only if the portal still holds that
  very key. So a crash between the two writes leaves at most a dead pointer (a 404), never a
  portal without a way in or a link that opens another portal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from portal_access import tokens
from portal_access.db import Doc, Mongo, bill_group_key, update_by_id
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

PORTAL_KEYS = "portal_keys"
_NO_OUTBOX = {"outbox": 0}


class PortalRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._portals = mongo.collection(PORTALS)
        self._keys = mongo.collection(PORTAL_KEYS)

    async def ensure_indexes(self) -> None:
        # The staff console's account page (not a customer's path).
        await self._portals.create_index([("tenant_id", ASCENDING), ("account_id", ASCENDING)])

    async def project(
        self, tenant_id: str, version: int, fields: BillGroupFields, new_portal_key: str
    ) -> Projected:
        """Apply a bill group state only if newer than what is held (replay-safe)."""
        key = bill_group_key(tenant_id, fields.bill_group_id)
        state = {
            "account_id": fields.account_id,
            "account_name": fields.account_name,
            "entity_id": fields.entity_id,
            "name": fields.name,
            "contract_status": fields.contract_status,
            "version": version,
        }
        active = fields.contract_status == "active"
        for _ in range(2):
            # Atomic: of two deliveries racing, only one finds the older version.
            if await update_by_id(
                self._portals, {"_id": key, "version": {"$lt": version}}, {"$set": state}
            ):
                return Projected(applied=True, redelivered=False, contract_active=active)
            held = await self._portals.find_one({"_id": key}, {"version": 1})
            if held is not None:
                redelivered = held.get("version") == version
                return Projected(applied=False, redelivered=redelivered, contract_active=active)
            if await self._create(key, tenant_id, fields.bill_group_id, state, new_portal_key):
                return Projected(applied=True, redelivered=False, contract_active=active)
            # Another replica created it meanwhile (the `_id` admits one insert): compare again.
        raise AssertionError("a portal that exists could not be read")

    async def _create(
        self, key: Doc, tenant_id: str, bill_group_id: str, state: Doc, portal_key: str
    ) -> bool:
        key_hash = tokens.hash_secret(portal_key)
        await self._keys.insert_one({"_id": key_hash, "portal": key})
        try:
            await self._portals.insert_one(
                {
                    "_id": key,
                    "tenant_id": tenant_id,
                    "bill_group_id": bill_group_id,
                    **state,
                    "enabled": False,
                    "portal_key": portal_key,
                    "rules": [],
                    "rev": 0,
                    "outbox": [],
                    "has_outbox": False,
                }
            )
        except DuplicateKeyError:
            await self._keys.delete_one({"_id": key_hash})
            return False
        return True

    async def get(self, tenant_id: str, bill_group_id: str) -> Portal | None:
        doc = await self._portals.find_one(
            {"_id": bill_group_key(tenant_id, bill_group_id)}, _NO_OUTBOX
        )
        return None if doc is None else _portal(doc)

    async def by_key(self, portal_key: str) -> Portal | None:
        """Two reads by `_id`: the key's pointer, then the portal that must still hold it."""
        pointer = await self._keys.find_one({"_id": tokens.hash_secret(portal_key)})
        if pointer is None:
            return None
        target = bill_group_key(pointer["portal"]["t"], pointer["portal"]["b"])
        doc = await self._portals.find_one({"_id": target}, _NO_OUTBOX)
        if doc is None or not tokens.same_secret(doc["portal_key"], portal_key):
            return None
        return _portal(doc)

    async def of_account(self, tenant_id: str, account_id: str) -> list[Portal]:
        cursor = self._portals.find(
            {"tenant_id": tenant_id, "account_id": account_id}, _NO_OUTBOX
        ).sort("bill_group_id", ASCENDING)
        return [_portal(doc) for doc in await cursor.to_list()]

    async def commit(
        self, portal: Portal, change: PortalChange, events: Sequence[OutboxEntry]
    ) -> bool:
        """State and owed events in one atomic write, only if nobody changed the portal since
        it was read (`rev`). A new link's pointer is written before and the old one deleted
        after (see the module docstring)."""
        key = bill_group_key(portal.tenant_id, portal.bill_group_id)
        changes: Doc = {}
        if change.enabled is not None:
            changes["enabled"] = change.enabled
        if change.rules is not None:
            changes["rules"] = [_rule_doc(r) for r in change.rules]
        if change.portal_key is not None:
            changes["portal_key"] = change.portal_key
            await self._keys.insert_one(
                {"_id": tokens.hash_secret(change.portal_key), "portal": key}
            )
        update: Doc = {"$set": changes, "$inc": {"rev": 1}}
        if events:
            changes["has_outbox"] = True
            update["$push"] = {"outbox": {"$each": [stored_entry(e) for e in events]}}
        committed = await update_by_id(self._portals, {"_id": key, "rev": portal.rev}, update)
        if change.portal_key is not None:
            unused = portal.portal_key if committed else change.portal_key
            await self._keys.delete_one({"_id": tokens.hash_secret(unused)})
        return committed


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
        bill_group_id=doc["_id"]["b"],
        tenant_id=doc["_id"]["t"],
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
