"""The suppression list in MongoDB (`suppressions`, `_id` = lower-cased address): the only
module of this feature that talks to the database."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING

from portal_notifier.db import Database, maybe_aware
from portal_notifier.suppressions.domain import normalize_email
from portal_notifier.suppressions.models import Suppression


class SuppressionRepository:
    def __init__(self, db: Database) -> None:
        self._suppressions = db["suppressions"]

    async def is_suppressed(self, address: str) -> bool:
        found = await self._suppressions.find_one({"_id": normalize_email(address)})
        return found is not None

    async def add(self, address: str, reason: str, now: datetime) -> bool:
        """True when the address was not on the list yet (a first reason is kept)."""
        result = await self._suppressions.update_one(
            {"_id": normalize_email(address)},
            {"$setOnInsert": {"reason": reason, "added_at": now}},
            upsert=True,
        )
        return result.upserted_id is not None

    async def remove(self, address: str) -> bool:
        result = await self._suppressions.delete_one({"_id": normalize_email(address)})
        return result.deleted_count == 1

    async def entries(self, limit: int = 1000) -> list[Suppression]:
        docs = await self._suppressions.find().sort("_id", ASCENDING).limit(limit).to_list()
        return [
            Suppression(
                address=str(doc["_id"]),
                reason=str(doc.get("reason", "")),
                added_at=maybe_aware(doc.get("added_at")),
            )
            for doc in docs
        ]
