"""The projection's writes of upstream state: the only code writing the state collections.

FerretDB v1 notes that shaped the write path (checked against v1.24.2):
- an `update` command with several statements stops at the first write error even when
  `ordered` is false, its reply then lacks `nModified` (PyMongo's `bulk_write` raises
  `KeyError`), and it is much slower than the same statements sent one at a time;
- only a filter that is exactly `{_id: <value>}` is pushed down to SQLite: any conditional
  filter scans the collection, and each statement is its own SQLite transaction, while
  `insert_many` writes a whole batch in one.
So the conditional write is `{_id}` + `$max: {current: {version, ...}}` (see
`projection.domain.StateWrite`): atomic, pushed down, and it never moves a document
backwards, whatever two replicas do. A batch inserts its documents in ordered windows; where
an insert meets an existing document, that one gets the `$max` write and the window goes on
after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from billing_view.db import Doc
from billing_view.projection.domain import StateWrite, newest_per_document
from billing_view.projection.models import WriteOutcome

DUPLICATE_KEY = 11000
# Documents per insert attempt: small enough that re-sending the rest of a window after an
# existing document is cheap, large enough that new documents go in a few round trips.
INSERT_WINDOW = 64


class StateRepository:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    async def apply_states(self, writes: Sequence[StateWrite]) -> WriteOutcome:
        """Apply the newest version of each document, each write conditional on its version."""
        by_collection: dict[str, list[StateWrite]] = defaultdict(list)
        for write in newest_per_document(writes):
            by_collection[write.collection].append(write)
        applied = 0
        for collection, group in by_collection.items():
            applied += await self._apply_collection(collection, group)
        return WriteOutcome(applied=applied, stale=len(writes) - applied)

    async def _apply_collection(self, name: str, writes: list[StateWrite]) -> int:
        """Insert first, in windows; a document that exists already gets the `$max` write.

        No read before the write: on FerretDB any filter but `{_id}` scans the collection,
        and an ordered `insert_many` stops exactly at the first existing document.
        """
        col = self._db[name]
        applied = 0
        start = 0
        while start < len(writes):
            window = writes[start : start + INSERT_WINDOW]
            try:
                await col.insert_many([w.document() for w in window], ordered=True)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if not errors or errors[0].get("code") != DUPLICATE_KEY:
                    raise
                index = int(errors[0]["index"])
                applied += index
                applied += await self.apply_one(window[index])
                start += index + 1
                continue
            applied += len(window)
            start += len(window)
        return applied

    async def apply_one(self, write: StateWrite) -> int:
        """ONE atomic conditional write: `$max` keeps whichever `current` is newer."""
        update = {"$max": {"current": write.current}, "$setOnInsert": write.keys}
        for _ in range(2):
            try:
                result = await self._db[write.collection].update_one(
                    {"_id": write.id}, update, upsert=True
                )
            except DuplicateKeyError:
                # Two upserts raced to create the document: the retry finds it and compares.
                continue
            return 1 if (result.upserted_id is not None or result.modified_count) else 0
        return 0
