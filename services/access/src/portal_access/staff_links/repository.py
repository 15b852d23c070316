"""MongoDB for staff links: per-tenant signing secrets and used nonces (issue 9).

- `staff_link_secrets._id` = tenant id: the newest secrets, newest first, rotated with one
  atomic `$push` (`$position: 0`, `$slice`), so two concurrent rotations both land in order.
- `staff_link_nonces._id` = `{"t": tenant, "n": nonce}`: single use is the unique `_id` (of
  concurrent redeems exactly one insert wins); a TTL index on `expires_at` deletes a nonce
  once its link could no longer verify anyway (the signature's expiry is checked in code).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from portal_access.db import Doc, Mongo, expire_after

# A tenant keeps its newest secrets so links signed before a rotation still verify.
KEEP_SECRETS = 2


def _nonce_key(tenant_id: str, nonce: str) -> Doc:
    return {"t": tenant_id, "n": nonce}


class StaffLinkRepository:
    def __init__(self, mongo: Mongo) -> None:
        # HMAC needs the secret itself (a hash cannot verify), so it is stored as issued.
        self._secrets = mongo.collection("staff_link_secrets")
        self._nonces = mongo.collection("staff_link_nonces")

    async def ensure_indexes(self) -> None:
        await expire_after(self._nonces, timedelta(0))

    async def secrets_of(self, tenant_id: str) -> list[str]:
        doc = await self._secrets.find_one({"_id": tenant_id})
        return [str(s["secret"]) for s in (doc or {}).get("secrets", [])]

    async def add_secret(self, tenant_id: str, secret: str, now: datetime) -> None:
        """Newest first; the oldest beyond KEEP_SECRETS stops verifying."""
        await self._secrets.update_one(
            {"_id": tenant_id},
            {
                "$push": {
                    "secrets": {
                        "$each": [{"secret": secret, "created_at": now}],
                        "$position": 0,
                        "$slice": KEEP_SECRETS,
                    }
                }
            },
            upsert=True,
        )

    async def used(self, tenant_id: str, nonce: str) -> bool:
        found = await self._nonces.find_one({"_id": _nonce_key(tenant_id, nonce)}, {"_id": 1})
        return found is not None

    async def consume(
        self, tenant_id: str, nonce: str, staff_email: str, now: datetime, expires_at: datetime
    ) -> bool:
        """True for the first use of this nonce, False for every later one."""
        try:
            await self._nonces.insert_one(
                {
                    "_id": _nonce_key(tenant_id, nonce),
                    # Also as fields: the unique (tenant_id, nonce) index of earlier releases
                    # stays satisfied where it still exists.
                    "tenant_id": tenant_id,
                    "nonce": nonce,
                    "staff_email": staff_email,
                    "used_at": now,
                    "expires_at": expires_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True
