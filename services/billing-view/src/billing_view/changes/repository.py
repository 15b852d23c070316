"""The customer changes' writes: the only code writing changes into the read model.

A change lives in its bill group's portal view document (`chg.k<change id>`), so the pages
read it with everything else by `_id`. It is recorded when its request is consumed and
settled when upstream's verdict is; the two arrive on different topics, in any order, any
number of times: both are idempotent single-document updates of the same view.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from billing_view import db
from billing_view.changes.domain import ChangeRequest
from billing_view.changes.models import ChangeKey, ChangeValue
from billing_view.db import CHANGE_KEYS, READ_MODEL, Doc
from billing_view.projection.writes import CHANGES


def _json(value: ChangeValue | None) -> object:
    return None if value is None else value.model_dump(mode="json")


def _path(change_id: str) -> str:
    return f"{CHANGES}.{db.field(change_id)}"


def _get(doc: Doc | None, path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _view(tenant_id: str, bill_group_id: str) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "bill_group_id": bill_group_id}


class ChangeRepository:
    def __init__(self, database: AsyncDatabase[Doc]) -> None:
        self._col = database[READ_MODEL]

    async def record(self, change: ChangeRequest, before: ChangeValue | None) -> None:
        """Idempotent: a redelivered request never resets a settled status or its `before`.

        Written only while the change has no request yet (`kind` absent); a verdict that
        arrived first keeps its status (the request never sets one)."""
        path = _path(change.change_id)
        request = {
            "change_id": change.change_id,
            "kind": change.kind,
            "actor_email": change.actor_email,
            "after": _json(change.after),
            "before": _json(before),
            "requested_at": change.requested_at,
        }
        key = db.view_id(change.tenant_id, change.bill_group_id)
        held = await self._col.find_one({"_id": key}, {f"{path}.kind": 1})
        if _get(held, f"{path}.kind") is not None:
            return  # recorded before: a redelivery changes nothing
        # Filtered by `_id` alone (served by its index everywhere); one writer per bill group
        # (its partition), so nothing records the same change between the read and the write.
        await self._col.update_one(
            {"_id": key},
            {
                "$set": {f"{path}.{k}": v for k, v in request.items()},
                "$setOnInsert": _view(change.tenant_id, change.bill_group_id),
            },
            upsert=True,
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
        path = _path(change_id)
        verdict = {
            "change_id": change_id,
            "status": status,
            "reason": reason,
            "settled_at": settled_at,
        }
        await self._col.update_one(
            {"_id": db.view_id(tenant_id, bill_group_id)},
            {
                "$set": {f"{path}.{k}": v for k, v in verdict.items()},
                "$setOnInsert": _view(tenant_id, bill_group_id),
            },
            upsert=True,
        )


# A released lease: any repeat may take the key over at once.
_RELEASED = datetime(1970, 1, 1, tzinfo=UTC)
# How long a repeat is recognised (as Stripe's keys): MongoDB's TTL monitor then deletes the
# key, so the collection holds one day of submits instead of every submit ever made.
KEY_RETENTION = timedelta(days=1)


def _key(doc: Doc, *, publish: bool) -> ChangeKey:
    return ChangeKey(
        change_id=doc["change_id"],
        fingerprint=doc["fingerprint"],
        published=bool(doc["published"]),
        publish=publish,
    )


class ChangeKeyRepository:
    """Idempotency keys of customer changes (`change_keys`, `_id` = `db.change_key_id`).

    - The first submit inserts its key: the unique `_id` admits exactly one of concurrent
      first submits; the winner holds the lease to publish.
    - A repeat takes the lease over only while the key is unpublished, its lease has run out
      and the body is the same (one findAndModify on `_id` with those conditions: of
      concurrent repeats exactly one matches); otherwise it reads the key as it stands.
    """

    def __init__(self, database: AsyncDatabase[Doc]) -> None:
        self._col = database[CHANGE_KEYS]

    async def ensure_indexes(self) -> None:
        # A TTL index, never read through: every lookup is by `_id`.
        await self._col.create_index(
            "created_at", expireAfterSeconds=int(KEY_RETENTION.total_seconds())
        )

    async def claim(
        self,
        tenant_id: str,
        bill_group_id: str,
        key: str,
        fingerprint: str,
        change_id: str,
        now: datetime,
        lease_until: datetime,
    ) -> ChangeKey:
        key_id = db.change_key_id(tenant_id, bill_group_id, key)
        doc = {
            "_id": key_id,
            "change_id": change_id,
            "fingerprint": fingerprint,
            "published": False,
            "lease_until": lease_until,
            "created_at": now,
        }
        for _ in range(2):
            claimed = await self._claim_once(key_id, doc, fingerprint, now, lease_until)
            if claimed is not None:
                return claimed
        raise LookupError(f"change key {key_id} vanished twice while claimed")

    async def _claim_once(
        self, key_id: str, doc: Doc, fingerprint: str, now: datetime, lease_until: datetime
    ) -> ChangeKey | None:
        """None: the key expired between the insert and the read (TTL): claim it anew."""
        try:
            await self._col.insert_one(dict(doc))
            return _key(doc, publish=True)
        except DuplicateKeyError:
            pass
        taken = await self._col.find_one_and_update(
            {
                "_id": key_id,
                "published": False,
                "fingerprint": fingerprint,
                "lease_until": {"$lt": now},
            },
            {"$set": {"lease_until": lease_until}},
            return_document=ReturnDocument.AFTER,
        )
        if taken is not None:
            return _key(taken, publish=True)
        held = await self._col.find_one({"_id": key_id})
        return None if held is None else _key(held, publish=False)

    async def settle(
        self, tenant_id: str, bill_group_id: str, key: str, published: bool, now: datetime
    ) -> None:
        """Published: repeats answer the change and never publish it again. Not published
        (the publish failed): the lease is released, so a repeat publishes at once."""
        key_id = db.change_key_id(tenant_id, bill_group_id, key)
        if published:
            update: Doc = {"$set": {"published": True, "published_at": now}}
            await self._col.find_one_and_update({"_id": key_id}, update)
        else:
            release: Doc = {"$set": {"lease_until": _RELEASED}}
            await self._col.find_one_and_update({"_id": key_id, "published": False}, release)
