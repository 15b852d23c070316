"""The projection's writes of upstream state: the only code writing state into the read model.

A batch is ONE unordered `bulk_write` of version-gated upserts (`projection.writes`): each
statement is an atomic single-document `$max` of a version-first item, filtered by `_id`
alone, so it changes the document only if it holds an older version of that item, in any
order, whatever another replica writes at the same time. Two replicas creating the same
document at once (an account's list is fed from several partitions) can collide on its
`_id`; collided statements are sent once more (they are idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from billing_view.db import READ_MODEL, Doc
from billing_view.projection.domain import StateWrite, newest_per_item
from billing_view.projection.models import WriteOutcome
from billing_view.projection.writes import Upsert, upserts

DUPLICATE_KEY = 11000


class StateRepository:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[READ_MODEL]

    async def apply_states(self, writes: Sequence[StateWrite]) -> WriteOutcome:
        """Apply the newest version of each item in one bulk write, each gated on its version.

        MongoDB reports how many statements changed a document, not which: an event whose
        state also writes an entry elsewhere (invoice, bill group) counts once per document,
        so `applied` is the changed statements capped at the batch's items."""
        newest = newest_per_item(writes)
        statements = [upsert for write in newest for upsert in upserts(write)]
        changed = await self._bulk(statements)
        applied = min(len(newest), changed)
        return WriteOutcome(applied=applied, stale=len(writes) - applied)

    async def apply_one(self, write: StateWrite) -> int:
        outcome = await self.apply_states([write])
        return outcome.applied

    async def _bulk(self, statements: list[Upsert]) -> int:
        """Sends the statements as one unordered bulk write; returns how many changed."""
        requests = [UpdateOne(u.filter, u.update, upsert=True) for u in statements]
        try:
            result = await self._col.bulk_write(requests, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            done = int(exc.details.get("nModified", 0)) + int(exc.details.get("nUpserted", 0))
            again = [statements[int(e["index"])] for e in errors]
            return done + await self._bulk(again)
        return result.modified_count + result.upserted_count
