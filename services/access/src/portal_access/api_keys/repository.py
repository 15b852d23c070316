"""The `api_keys` collection: one document per key, found by the hash of the key."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING

from portal_access.api_keys.models import ApiKey
from portal_access.db import Doc, Mongo


class ApiKeyRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._keys = mongo.collection("api_keys")

    async def ensure_indexes(self) -> None:
        await self._keys.create_index("key_hash", unique=True)

    async def add(self, key: ApiKey) -> None:
        await self._keys.insert_one(
            {
                "_id": key.key_id,
                "tenant_id": key.tenant_id,
                "name": key.name,
                "key_hash": key.key_hash,
                "created_at": key.created_at,
                "revoked_at": key.revoked_at,
            }
        )

    async def active_by_hash(self, key_hash: str) -> ApiKey | None:
        doc = await self._keys.find_one({"key_hash": key_hash, "revoked_at": None})
        return None if doc is None else _key(doc)

    async def revoke(self, tenant_id: str, key_id: str, now: datetime) -> bool:
        result = await self._keys.update_one(
            {"_id": key_id, "tenant_id": tenant_id, "revoked_at": None},
            {"$set": {"revoked_at": now}},
        )
        return result.modified_count == 1

    async def of_tenant(self, tenant_id: str) -> list[ApiKey]:
        cursor = self._keys.find({"tenant_id": tenant_id}, {"key_hash": 0}).sort(
            "created_at", ASCENDING
        )
        return [_key(doc) for doc in await cursor.to_list()]


def _key(doc: Doc) -> ApiKey:
    return ApiKey(
        key_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        name=doc["name"],
        created_at=doc["created_at"],
        revoked_at=doc.get("revoked_at"),
        key_hash=doc.get("key_hash"),
    )
