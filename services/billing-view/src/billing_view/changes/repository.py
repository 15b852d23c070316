"""The customer changes' documents: the only code talking to the `changes` collection.

A change is recorded when its request is consumed and settled when upstream's verdict is;
the two arrive on different topics, in any order, any number of times: both writes are
idempotent upserts of the same document (`{tenant}|{change_id}`).
"""

from __future__ import annotations

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from billing_view.changes.domain import ChangeRequest
from billing_view.changes.models import ChangeRecord, ChangeValue
from billing_view.db import CHANGES, Doc, doc_id

# Verdicts that arrived before their request carry no request yet: never handed out.
_HAS_REQUEST: Doc = {"kind": {"$exists": True}}


def _json(value: ChangeValue | None) -> object:
    return None if value is None else value.model_dump(mode="json")


def _record(doc: Doc) -> ChangeRecord:
    return ChangeRecord.model_validate({k: v for k, v in doc.items() if k != "_id"})


class ChangeRepository:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    async def record(self, change: ChangeRequest, before: ChangeValue | None) -> None:
        """Idempotent: a redelivered request never resets a settled status or its `before`."""
        request = {
            "kind": change.kind,
            "actor_email": change.actor_email,
            "after": _json(change.after),
            "requested_at": change.requested_at,
        }
        key = doc_id(change.tenant_id, change.change_id)
        await self._db[CHANGES].update_one(
            {"_id": key},
            {
                "$setOnInsert": {
                    "tenant_id": change.tenant_id,
                    "bill_group_id": change.bill_group_id,
                    "change_id": change.change_id,
                    "status": "pending",
                    "reason": None,
                    "settled_at": None,
                    "before": _json(before),
                    **request,
                }
            },
            upsert=True,
        )
        # The verdict may have arrived first (another topic): fill in the request once.
        await self._db[CHANGES].update_one(
            {"_id": key, "kind": {"$exists": False}},
            {"$set": {**request, "before": _json(before)}},
        )

    async def settle(
        self,
        tenant_id: str,
        bill_group_id: str,
        change_id: str,
        status: str,
        reason: str | None,
        settled_at: str,
    ) -> None:
        await self._db[CHANGES].update_one(
            {"_id": doc_id(tenant_id, change_id)},
            {
                "$set": {"status": status, "reason": reason, "settled_at": settled_at},
                "$setOnInsert": {
                    "tenant_id": tenant_id,
                    "bill_group_id": bill_group_id,
                    "change_id": change_id,
                },
            },
            upsert=True,
        )

    async def history(self, tenant_id: str, bill_group_id: str, limit: int) -> list[ChangeRecord]:
        """Newest first (requested_at, change_id desc)."""
        cursor = (
            self._db[CHANGES]
            .find({"tenant_id": tenant_id, "bill_group_id": bill_group_id, **_HAS_REQUEST})
            .sort([("requested_at", DESCENDING), ("change_id", DESCENDING)])
            .limit(limit)
        )
        return [_record(d) for d in await cursor.to_list()]

    async def pending(self, tenant_id: str, bill_group_id: str) -> list[ChangeRecord]:
        """Those still without a verdict, newest first."""
        cursor = self._db[CHANGES].find(
            {
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "status": "pending",
                **_HAS_REQUEST,
            }
        )
        records = [_record(d) for d in await cursor.to_list()]
        return sorted(records, key=lambda r: (r.requested_at, r.change_id), reverse=True)

    async def one(self, tenant_id: str, bill_group_id: str, change_id: str) -> ChangeRecord | None:
        """By key, only in this tenant AND bill group, and only once its request is consumed."""
        doc = await self._db[CHANGES].find_one(
            {
                "_id": doc_id(tenant_id, change_id),
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
            }
        )
        return None if doc is None or "kind" not in doc else _record(doc)
