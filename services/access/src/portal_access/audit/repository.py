"""The `audit` collection per (tenant, bill group), newest first.

Written right after the state change (not in the same document): a crash in between loses the
audit line, never the change.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING

from portal_access.audit.models import AuditEntry
from portal_access.db import Doc, Mongo


class AuditRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._log = mongo.collection("audit")

    async def ensure_indexes(self) -> None:
        await self._log.create_index(
            [("tenant_id", ASCENDING), ("bill_group_id", ASCENDING), ("at", DESCENDING)]
        )

    async def record(self, entry: AuditEntry) -> None:
        await self._log.insert_one(
            {
                "tenant_id": entry.tenant_id,
                "bill_group_id": entry.bill_group_id,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "detail": dict(entry.detail),
            }
        )

    async def latest(self, tenant_id: str, bill_group_id: str, limit: int) -> list[AuditEntry]:
        cursor = (
            self._log.find({"tenant_id": tenant_id, "bill_group_id": bill_group_id}, {"_id": 0})
            .sort("at", DESCENDING)
            .limit(limit)
        )
        return [_entry(doc) for doc in await cursor.to_list()]


def _entry(doc: Doc) -> AuditEntry:
    return AuditEntry(
        tenant_id=doc["tenant_id"],
        bill_group_id=doc["bill_group_id"],
        actor=doc["actor"],
        action=doc["action"],
        at=doc["at"],
        detail=dict(doc.get("detail") or {}),
    )
