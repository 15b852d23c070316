"""Admin idempotency keys (`idempotency_keys`, `_id` = `{t: tenant, k: key}`, TTL on
`expires_at`).

MongoDB semantics relied on: the unique `_id` admits exactly one of concurrent first calls
(the one that runs); a running call whose lease ran out is taken over by one findAndModify
conditioned on `state`, `fingerprint` and `lease_until`, so exactly one repeat runs it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bson import Binary
from pymongo.errors import DuplicateKeyError

from portal_access.db import Doc, Mongo, expire_after, update_by_id
from portal_access.idempotency.models import Claim, StoredAnswer

COLLECTION = "idempotency_keys"


def _answer(doc: Doc) -> StoredAnswer:
    answer = doc["answer"]
    return StoredAnswer(
        status=int(answer["status"]),
        content_type=answer.get("content_type"),
        location=answer.get("location"),
        body=bytes(answer["body"]),
    )


class IdempotencyRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._keys = mongo.collection(COLLECTION)

    async def ensure_indexes(self) -> None:
        await expire_after(self._keys, timedelta(0))

    async def claim(
        self,
        tenant_id: str,
        key: str,
        fingerprint: str,
        lease_until: datetime,
        expires_at: datetime,
        now: datetime,
    ) -> Claim:
        key_id = {"t": tenant_id, "k": key}
        running = {"state": "running", "lease_until": lease_until, "expires_at": expires_at}
        for _ in range(2):
            try:
                await self._keys.insert_one({"_id": key_id, "fingerprint": fingerprint, **running})
                return Claim("run")
            except DuplicateKeyError:
                pass
            taken = await update_by_id(
                self._keys,
                {
                    "_id": key_id,
                    "state": "running",
                    "fingerprint": fingerprint,
                    "lease_until": {"$lt": now},
                },
                {"$set": running},
            )
            if taken:
                return Claim("run")
            held = await self._keys.find_one({"_id": key_id})
            if held is None:
                continue  # expired and deleted in between: insert again
            if held["fingerprint"] != fingerprint:
                return Claim("mismatch")
            if held["state"] == "done":
                return Claim("replay", _answer(held))
            return Claim("running")
        return Claim("running")

    async def complete(
        self, tenant_id: str, key: str, fingerprint: str, answer: StoredAnswer
    ) -> None:
        stored = {
            "status": answer.status,
            "content_type": answer.content_type,
            "location": answer.location,
            "body": Binary(answer.body),
        }
        await update_by_id(
            self._keys,
            {"_id": {"t": tenant_id, "k": key}, "fingerprint": fingerprint},
            {"$set": {"state": "done", "answer": stored}},
        )

    async def release(self, tenant_id: str, key: str, fingerprint: str) -> None:
        """The call failed without an answer worth keeping (5xx, crash): a retry runs it."""
        await self._keys.delete_one(
            {"_id": {"t": tenant_id, "k": key}, "fingerprint": fingerprint, "state": "running"}
        )
