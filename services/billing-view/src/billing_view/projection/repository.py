"""The projection's writes of upstream state: the only code writing state into the read model.

A batch is ONE unordered `bulk_write` of version-gated upserts (`projection.writes`): each
statement is an atomic single-document update by `_id` that changes the document only if it
holds an older version of the item. A statement whose item is already as new or newer
misses its filter and its upsert collides with the existing `_id`: MongoDB reports a
duplicate-key error for that statement alone and carries on with the others (unordered).
Two replicas creating the same document at once (an account's list, fed from several
partitions) can also collide once, so collided statements are sent once more: a document
exists by then, and a second collision means the write is stale.
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
# (item in the batch, position among the item's upserts, the upsert)
Statement = tuple[int, int, Upsert]


class StateRepository:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[READ_MODEL]

    async def apply_states(self, writes: Sequence[StateWrite]) -> WriteOutcome:
        """Apply the newest version of each item in one bulk write, each gated on its version."""
        newest = newest_per_item(writes)
        statements: list[Statement] = [
            (item, position, upsert)
            for item, write in enumerate(newest)
            for position, upsert in enumerate(upserts(write))
        ]
        collided = await self._bulk(statements)
        if collided:
            collided = await self._bulk(collided)
        # An item counts as applied when its own statement (the first) was not stale.
        stale_items = {item for item, position, _ in collided if position == 0}
        applied = len(newest) - len(stale_items)
        return WriteOutcome(applied=applied, stale=len(writes) - applied)

    async def apply_one(self, write: StateWrite) -> int:
        outcome = await self.apply_states([write])
        return outcome.applied

    async def _bulk(self, statements: list[Statement]) -> list[Statement]:
        """Sends the statements as one unordered bulk write; returns those that collided."""
        if not statements:
            return []
        requests = [UpdateOne(u.filter, u.update, upsert=True) for _, _, u in statements]
        try:
            await self._col.bulk_write(requests, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return [statements[int(e["index"])] for e in errors]
        return []
