"""Reading and clearing the outbox embedded in portal, challenge and session documents.

Writing entries is part of each feature's own single-document write (see `stored_entry`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from portal_access.db import Doc, Mongo
from portal_access.outbox.models import OUTBOX_COLLECTIONS, Hint, OutboxEntry, Owed

_OUTBOX_FIELDS = {"outbox": 1, "has_outbox": 1}
SWEEP_LIMIT = 500


class StoredEntry(TypedDict):
    """An outbox entry as stored in a document's `outbox` array."""

    event_id: str
    type: str
    topic: str
    key: str
    body: str
    headers: dict[str, str]


def stored_entry(entry: OutboxEntry) -> StoredEntry:
    """The stored form (field order matters: `$pull` matches the exact element)."""
    return {
        "event_id": entry.event_id,
        "type": entry.type,
        "topic": entry.topic,
        "key": entry.key,
        "body": entry.body,
        "headers": dict(entry.headers),
    }


def _entry(doc: Doc) -> OutboxEntry:
    return OutboxEntry(
        event_id=doc["event_id"],
        type=doc["type"],
        topic=doc["topic"],
        key=doc["key"],
        body=doc["body"],
        headers={str(k): str(v) for k, v in doc["headers"].items()},
    )


class OutboxRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._mongo = mongo

    async def ensure_indexes(self) -> None:
        for name in OUTBOX_COLLECTIONS:
            await self._mongo.collection(name).create_index("has_outbox")

    async def owed(self, only: Sequence[Hint] | None = None) -> list[Owed]:
        """Documents with owed events: the hinted ones (by `_id`), or a sweep of all."""
        found: list[Owed] = []
        if only is None:
            for name in OUTBOX_COLLECTIONS:
                cursor = self._mongo.collection(name).find({"has_outbox": True}, _OUTBOX_FIELDS)
                async for doc in cursor.limit(SWEEP_LIMIT):
                    found.append(_owed(name, doc))
            return found
        for hint in dict.fromkeys(only):
            hinted = await self._mongo.collection(hint.collection).find_one(
                {"_id": hint.doc_id}, _OUTBOX_FIELDS
            )
            if hinted is not None:
                found.append(_owed(hint.collection, hinted))
        return found

    async def mark_sent(self, owed: Owed) -> None:
        """Remove the published entries, keeping any added since they were read."""
        collection = self._mongo.collection(owed.collection)
        entries = [stored_entry(e) for e in owed.entries]
        async with self._mongo.lock(owed.collection):
            # Common case, one write: nothing was added since the read.
            done = await collection.update_one(
                {"_id": owed.doc_id, "outbox": entries},
                {"$set": {"outbox": [], "has_outbox": False}},
            )
            if done.matched_count == 1:
                return
            for entry in entries:
                # FerretDB v1 pulls only an exactly equal element: pass back what was read.
                await collection.update_one({"_id": owed.doc_id}, {"$pull": {"outbox": entry}})


def _owed(collection: str, doc: Doc) -> Owed:
    return Owed(collection, doc["_id"], tuple(_entry(e) for e in doc.get("outbox", [])))
