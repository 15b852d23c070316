"""MongoDB for staff links: per-tenant signing secrets and used nonces (issue 9).

Same FerretDB v1 rules as the rest (no TTL indexes: used nonces are purged here once they can
no longer verify anyway).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from portal_access.db import Mongo

# A tenant keeps its newest secrets so links signed before a rotation still verify.
KEEP_SECRETS = 2


class StaffLinkRepository:
    def __init__(self, mongo: Mongo) -> None:
        # HMAC needs the secret itself (a hash cannot verify), so it is stored as issued.
        self._secrets = mongo.collection("staff_link_secrets")
        self._nonces = mongo.collection("staff_link_nonces")

    async def ensure_indexes(self) -> None:
        # Single use: the unique key is what makes two concurrent redeems end with one winner.
        await self._nonces.create_index(
            [("tenant_id", ASCENDING), ("nonce", ASCENDING)], unique=True
        )
        await self._nonces.create_index("purge_at")

    async def secrets_of(self, tenant_id: str) -> list[str]:
        doc = await self._secrets.find_one({"_id": tenant_id})
        return [str(s["secret"]) for s in (doc or {}).get("secrets", [])]

    async def add_secret(self, tenant_id: str, secret: str, now: datetime) -> None:
        """Newest first; the oldest beyond KEEP_SECRETS stops verifying."""
        doc = await self._secrets.find_one({"_id": tenant_id})
        kept = (doc or {}).get("secrets", [])[: KEEP_SECRETS - 1]
        await self._secrets.update_one(
            {"_id": tenant_id},
            {"$set": {"secrets": [{"secret": secret, "created_at": now}, *kept]}},
            upsert=True,
        )

    async def used(self, tenant_id: str, nonce: str) -> bool:
        return await self._nonces.find_one({"tenant_id": tenant_id, "nonce": nonce}) is not None

    async def consume(
        self, tenant_id: str, nonce: str, staff_email: str, now: datetime, purge_at: datetime
    ) -> bool:
        """True for the first use of this nonce, False for every later one."""
        try:
            await self._nonces.insert_one(
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
        await self._nonces.delete_many({"purge_at": {"$lt": now - timedelta(minutes=1)}})
        return True
