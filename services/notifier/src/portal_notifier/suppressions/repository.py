"""The suppression list in MongoDB (`suppressions`, `_id` = lower-cased address): the only
module of this feature that talks to the database.

Not tenant-keyed on purpose: the list belongs to the platform's SES sending account (an
address that bounces or complains does so whichever tenant's email it was), as SES's own
account-level suppression list does. An entry may carry `expires_at`: a TTL index removes
it on MongoDB, and the read checks the time itself (the local stand-in never expires).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING

from portal_notifier.db import Database, maybe_aware
from portal_notifier.suppressions.domain import active, normalize_email
from portal_notifier.suppressions.models import Suppression


class SuppressionRepository:
    def __init__(self, db: Database) -> None:
        self._suppressions = db["suppressions"]

    async def ensure_indexes(self) -> None:
        await self._suppressions.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)

    async def is_suppressed(self, address: str, now: datetime) -> bool:
        found = await self._suppressions.find_one(
            {"_id": normalize_email(address)}, {"expires_at": 1}
        )
        return found is not None and active(maybe_aware(found.get("expires_at")), now)

    async def suppressed_among(self, addresses: Sequence[str], now: datetime) -> set[str]:
        """Those of `addresses` (as given) that are suppressed now; one query by `_id`."""
        keys = {normalize_email(a) for a in addresses}
        if not keys:
            return set()
        docs = await self._suppressions.find(
            {"_id": {"$in": sorted(keys)}}, {"expires_at": 1}
        ).to_list()
        held = {str(d["_id"]) for d in docs if active(maybe_aware(d.get("expires_at")), now)}
        return {a for a in addresses if normalize_email(a) in held}

    async def add(
        self, address: str, reason: str, now: datetime, expires_at: datetime | None = None
    ) -> bool:
        """True when the address was not on the list (or its entry had expired); an entry
        in force keeps its first reason and expiry."""
        key = normalize_email(address)
        entry = {"reason": reason, "added_at": now, "expires_at": expires_at}
        # Replace an expired entry the TTL monitor has not removed yet (or never will).
        replaced = await self._suppressions.update_one(
            {"_id": key, "expires_at": {"$lte": now}}, {"$set": entry}
        )
        if replaced.matched_count:
            return True
        result = await self._suppressions.update_one(
            {"_id": key}, {"$setOnInsert": entry}, upsert=True
        )
        return result.upserted_id is not None

    async def remove(self, address: str) -> bool:
        result = await self._suppressions.delete_one({"_id": normalize_email(address)})
        return result.deleted_count == 1

    async def entries(self, now: datetime, limit: int = 1000) -> list[Suppression]:
        docs = await self._suppressions.find().sort("_id", ASCENDING).limit(limit).to_list()
        found = [
            Suppression(
                address=str(doc["_id"]),
                reason=str(doc.get("reason", "")),
                added_at=maybe_aware(doc.get("added_at")),
                expires_at=maybe_aware(doc.get("expires_at")),
            )
            for doc in docs
        ]
        return [entry for entry in found if active(entry.expires_at, now)]
