"""Reading and clearing the outbox embedded in portal, challenge and session documents.

Writing entries is part of each feature's own single-document write (see `stored_entry`): the
state and the events it owes are one atomic MongoDB update, so an event exists exactly when
its state change does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from portal_access.db import Doc, Mongo, bill_group_key, update_by_id
from portal_access.outbox.models import (
    OUTBOX_COLLECTIONS,
    Backlog,
    DocId,
    Hint,
    OutboxEntry,
    Owed,
)

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


def _mongo_id(doc_id: DocId) -> object:
    return bill_group_key(*doc_id) if isinstance(doc_id, tuple) else doc_id


def _doc_id(raw: object) -> DocId:
    if isinstance(raw, dict):
        return (str(raw["t"]), str(raw["b"]))
    return str(raw)


class OutboxRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._mongo = mongo

    async def ensure_indexes(self) -> None:
        # The sweep's filter (a background pass, never on a customer's path).
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
                {"_id": _mongo_id(hint.doc_id)}, _OUTBOX_FIELDS
            )
            if hinted is not None:
                found.append(_owed(hint.collection, hinted))
        return found

    async def backlog(self) -> Backlog:
        """What is owed right now, for the metrics (an operator path): the documents with owed
        events (a count on the `has_outbox` index) and the oldest `occurred_at` among the
        first entries of up to `SWEEP_LIMIT` of them per collection (entries are appended,
        so a document's first entry is its oldest)."""
        documents = 0
        oldest: datetime | None = None
        for name in OUTBOX_COLLECTIONS:
            collection = self._mongo.collection(name)
            documents += await collection.count_documents({"has_outbox": True})
            # Inclusion of one field keeps the other documents' fields out of the answer.
            first_entry = {"has_outbox": 1, "outbox": {"$slice": 1}}
            cursor = collection.find({"has_outbox": True}, first_entry).limit(SWEEP_LIMIT)
            async for doc in cursor:
                for entry in doc.get("outbox", [])[:1]:
                    occurred = datetime.fromisoformat(json.loads(entry["body"])["occurred_at"])
                    oldest = occurred if oldest is None else min(oldest, occurred)
        return Backlog(documents, oldest)

    async def mark_sent(self, owed: Owed) -> None:
        """Remove the published entries, keeping any added since they were read.

        Common case, one conditional write: the outbox still holds exactly what was read. Else
        `$pull` the published ones by `event_id`, then clear the flag only where the outbox is
        empty at that instant (a concurrent `$push` sets it again in its own atomic write)."""
        collection = self._mongo.collection(owed.collection)
        doc_id = _mongo_id(owed.doc_id)
        if await update_by_id(
            collection,
            {"_id": doc_id, "outbox": [stored_entry(e) for e in owed.entries]},
            {"$set": {"outbox": [], "has_outbox": False}},
        ):
            return
        sent = [e.event_id for e in owed.entries]
        await collection.update_one(
            {"_id": doc_id}, {"$pull": {"outbox": {"event_id": {"$in": sent}}}}
        )
        await update_by_id(
            collection, {"_id": doc_id, "outbox": {"$size": 0}}, {"$set": {"has_outbox": False}}
        )


def _owed(collection: str, doc: Doc) -> Owed:
    return Owed(collection, _doc_id(doc["_id"]), tuple(_entry(e) for e in doc.get("outbox", [])))
