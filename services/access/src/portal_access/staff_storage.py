"""MongoDB for staff links: per-tenant signing secrets and used nonces (issue 9).

Kept apart from storage.py so the staff-link pieces stay one unit; same FerretDB v1 rules
(no TTL indexes: used nonces are purged here once they can no longer verify anyway).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

Doc = dict[str, Any]

# A tenant keeps its newest secrets so links signed before a rotation still verify.
KEEP_SECRETS = 2


class StaffLinkStore:
    def __init__(self, client: AsyncMongoClient[Doc], database: str) -> None:
        db = client[database]
        # HMAC needs the secret itself (a hash cannot verify), so it is stored as issued.
        self.secrets: AsyncCollection[Doc] = db["staff_link_secrets"]
        self.nonces: AsyncCollection[Doc] = db["staff_link_nonces"]
        self._indexed = False

    async def ensure_indexes(self) -> None:
        if self._indexed:
            return
        # Single use: the unique key is what makes two concurrent redeems end with one winner.
        await self.nonces.create_index(
            [("tenant_id", ASCENDING), ("nonce", ASCENDING)], unique=True
        )
        await self.nonces.create_index("purge_at")
        self._indexed = True

    async def secrets_of(self, tenant_id: str) -> list[str]:
        doc = await self.secrets.find_one({"_id": tenant_id})
        return [s["secret"] for s in (doc or {}).get("secrets", [])]

    async def add_secret(self, tenant_id: str, secret: str, now: datetime) -> None:
        """Newest first; the oldest beyond KEEP_SECRETS stops verifying."""
        doc = await self.secrets.find_one({"_id": tenant_id})
        kept = (doc or {}).get("secrets", [])[: KEEP_SECRETS - 1]
        await self.secrets.update_one(
            {"_id": tenant_id},
            {"$set": {"secrets": [{"secret": secret, "created_at": now}, *kept]}},
            upsert=True,
        )

    async def used(self, tenant_id: str, nonce: str) -> bool:
        return await self.nonces.find_one({"tenant_id": tenant_id, "nonce": nonce}) is not None

    async def consume(
        self, tenant_id: str, nonce: str, staff_email: str, now: datetime, purge_at: datetime
    ) -> bool:
        """True for the first use of this nonce, False for every later one."""
        await self.ensure_indexes()
        try:
            await self.nonces.insert_one(
                {
                    "tenant_id": tenant_id,
                    "nonce": nonce,
                    "staff_email": staff_email,
                    "used_at": now,
                    "purge_at": purge_at,
                }
            )
        except DuplicateKeyError:
            return False
        await self.nonces.delete_many({"purge_at": {"$lt": now - timedelta(minutes=1)}})
        return True
