"""The only module that talks to MongoDB: the read model's writes, queries and indexes.

FerretDB v1 notes that shaped the write path (checked against v1.24.2):
- an `update` command with several statements stops at the first write error even when
  `ordered` is false, its reply then lacks `nModified` (PyMongo's `bulk_write` raises
  `KeyError`), and it is much slower than the same statements sent one at a time;
- only a filter that is exactly `{_id: <value>}` is pushed down to SQLite: any conditional
  filter scans the collection, and each statement is its own SQLite transaction, while
  `insert_many` writes a whole batch in one.
So the conditional write is `{_id}` + `$max: {current: {version, ...}}` (see
`domain.StateWrite`): atomic, pushed down, and it never moves a document backwards, whatever
two replicas do. A batch inserts its documents in ordered windows; where an insert meets an
existing document, that one gets the `$max` write and the window goes on after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from billing_view import domain
from billing_view.domain import (
    BILL_GROUPS,
    CHANGES,
    ENTITIES,
    INVOICES,
    PAYMENT_METHODS,
    SUBSCRIPTIONS,
    ChangeRequest,
    InvoiceCursor,
    StateWrite,
)

Doc = dict[str, Any]

_TB = [("tenant_id", ASCENDING), ("bill_group_id", ASCENDING)]
_NEWEST = [
    ("current.issue_date", DESCENDING),
    ("current.number", DESCENDING),
    ("invoice_id", DESCENDING),
]

# Every query of the API is prefixed by (tenant_id, bill_group_id): shardable on that pair.
INDEXES: dict[str, list[IndexModel]] = {
    ENTITIES: [IndexModel([("tenant_id", ASCENDING), ("entity_id", ASCENDING)], name="entity")],
    BILL_GROUPS: [
        IndexModel(_TB, name="bill_group"),
        IndexModel([("tenant_id", ASCENDING), ("current.account_id", ASCENDING)], name="account"),
    ],
    SUBSCRIPTIONS: [IndexModel([*_TB, ("subscription_id", ASCENDING)], name="bg_subscription")],
    PAYMENT_METHODS: [IndexModel([*_TB, ("payment_method_id", ASCENDING)], name="bg_pm")],
    INVOICES: [
        IndexModel([*_TB, *_NEWEST], name="bg_newest"),
        IndexModel([*_TB, ("current.status", ASCENDING), *_NEWEST], name="bg_status_newest"),
    ],
    CHANGES: [
        IndexModel([*_TB, ("requested_at", DESCENDING)], name="bg_requested"),
        IndexModel([*_TB, ("status", ASCENDING)], name="bg_status"),
    ],
}

DUPLICATE_KEY = 11000
# Documents per insert attempt: small enough that re-sending the rest of a window after an
# existing document is cheap, large enough that new documents go in a few round trips.
INSERT_WINDOW = 64

# Written by the service when it applies an event, not part of the upstream facts.
VOLATILE_FIELDS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WriteOutcome:
    applied: int
    stale: int


class Storage:
    def __init__(self, client: AsyncMongoClient[Doc], database: str) -> None:
        self.client = client
        self.db: AsyncDatabase[Doc] = client[database]

    async def ensure_indexes(self) -> None:
        # One index per command: FerretDB v1.24 panics on a multi-index createIndexes whose
        # indexes all exist already (every restart of the service).
        for collection, indexes in INDEXES.items():
            for index in indexes:
                await self.db[collection].create_indexes([index])

    async def ping(self) -> bool:
        await self.client.admin.command("ping")
        return True

    # --- writes -----------------------------------------------------------------------

    async def apply_states(self, writes: Sequence[StateWrite]) -> WriteOutcome:
        """Apply the newest version of each document, each write conditional on its version."""
        by_collection: dict[str, list[StateWrite]] = defaultdict(list)
        for write in domain.newest_per_document(writes):
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
        col = self.db[name]
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
                result = await self.db[write.collection].update_one(
                    {"_id": write.id}, update, upsert=True
                )
            except DuplicateKeyError:
                # Two upserts raced to create the document: the retry finds it and compares.
                continue
            return 1 if (result.upserted_id is not None or result.modified_count) else 0
        return 0

    async def record_change(self, change: ChangeRequest) -> None:
        """Idempotent: a redelivered request never resets a settled status or its `before`."""
        bill_group = await self.bill_group(change.tenant_id, change.bill_group_id)
        before = domain.before_value(
            change.kind, None if bill_group is None else bill_group["current"]["state"]
        )
        request = {
            "kind": change.kind,
            "actor_email": change.actor_email,
            "after": change.after,
            "requested_at": change.requested_at,
        }
        key = domain.doc_id(change.tenant_id, change.change_id)
        await self.db[CHANGES].update_one(
            {"_id": key},
            {
                "$setOnInsert": {
                    "tenant_id": change.tenant_id,
                    "bill_group_id": change.bill_group_id,
                    "change_id": change.change_id,
                    "status": "pending",
                    "reason": None,
                    "settled_at": None,
                    "before": before,
                    **request,
                }
            },
            upsert=True,
        )
        # The verdict may have arrived first (another topic): fill in the request once.
        await self.db[CHANGES].update_one(
            {"_id": key, "kind": {"$exists": False}},
            {"$set": {**request, "before": before}},
        )

    async def settle_change(
        self,
        tenant_id: str,
        bill_group_id: str,
        change_id: str,
        status: str,
        reason: str | None,
        settled_at: str,
    ) -> None:
        await self.db[CHANGES].update_one(
            {"_id": domain.doc_id(tenant_id, change_id)},
            {
                "$set": {"status": status, "reason": reason, "settled_at": settled_at},
                "$setOnInsert": {
                    "tenant_id": tenant_id,
                    "bill_group_id": bill_group_id,
                    "change_id": change_id,
                },
            },
            upsert=True,
        )

    # --- queries (every one scoped by tenant and bill group) ----------------------------

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> Doc | None:
        return await self.db[BILL_GROUPS].find_one(
            {"_id": domain.doc_id(tenant_id, bill_group_id), "tenant_id": tenant_id}
        )

    async def entity(self, tenant_id: str, entity_id: str) -> Doc | None:
        return await self.db[ENTITIES].find_one(
            {"_id": domain.doc_id(tenant_id, entity_id), "tenant_id": tenant_id}
        )

    async def _scoped(
        self, collection: str, tenant_id: str, bill_group_id: str, **extra: Any
    ) -> list[Doc]:
        cursor = self.db[collection].find(
            {"tenant_id": tenant_id, "bill_group_id": bill_group_id, **extra}
        )
        return await cursor.to_list()

    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> list[Doc]:
        docs = await self._scoped(SUBSCRIPTIONS, tenant_id, bill_group_id)
        return sorted(
            docs, key=lambda d: (d["current"]["state"]["start_date"], d["subscription_id"])
        )

    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> list[Doc]:
        docs = await self._scoped(PAYMENT_METHODS, tenant_id, bill_group_id)
        return sorted(docs, key=lambda d: d["payment_method_id"])

    async def one(
        self, collection: str, tenant_id: str, bill_group_id: str, object_id: str
    ) -> Doc | None:
        """By key, and only if it belongs to this tenant AND bill group (else: not found)."""
        return await self.db[collection].find_one(
            {
                "_id": domain.doc_id(tenant_id, object_id),
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
            }
        )

    async def open_invoices(self, tenant_id: str, bill_group_id: str) -> list[Doc]:
        cursor = self.db[INVOICES].find(
            {
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "current.status": {"$in": sorted(domain.OPEN_STATUSES)},
            }
        )
        return await cursor.to_list()

    def invoice_query(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: list[str] | None,
        after: InvoiceCursor | None,
    ) -> Doc:
        query: Doc = {"tenant_id": tenant_id, "bill_group_id": bill_group_id}
        if statuses is not None:
            query["current.status"] = statuses[0] if len(statuses) == 1 else {"$in": statuses}
        if after is not None:
            query["$or"] = [
                {"current.issue_date": {"$lt": after.issue_date}},
                {"current.issue_date": after.issue_date, "current.number": {"$lt": after.number}},
                {
                    "current.issue_date": after.issue_date,
                    "current.number": after.number,
                    "invoice_id": {"$lt": after.invoice_id},
                },
            ]
        return query

    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: list[str] | None,
        after: InvoiceCursor | None,
        limit: int,
    ) -> list[Doc]:
        query = self.invoice_query(tenant_id, bill_group_id, statuses, after)
        cursor = (
            self.db[INVOICES].find(query, {"current.state.lines": 0}).sort(_NEWEST).limit(limit)
        )
        return await cursor.to_list()

    async def activity(self, tenant_id: str, bill_group_id: str, limit: int) -> list[Doc]:
        # Verdicts that arrived before their request carry no request yet: not shown.
        cursor = (
            self.db[CHANGES]
            .find(
                {"tenant_id": tenant_id, "bill_group_id": bill_group_id, "kind": {"$exists": True}}
            )
            .sort([("requested_at", DESCENDING), ("change_id", DESCENDING)])
            .limit(limit)
        )
        return await cursor.to_list()

    async def pending_changes(self, tenant_id: str, bill_group_id: str) -> list[Doc]:
        docs = await self._scoped(
            CHANGES, tenant_id, bill_group_id, status="pending", kind={"$exists": True}
        )
        return sorted(docs, key=lambda d: (d["requested_at"], d["change_id"]), reverse=True)

    async def change(self, tenant_id: str, bill_group_id: str, change_id: str) -> Doc | None:
        doc = await self.one(CHANGES, tenant_id, bill_group_id, change_id)
        return doc if doc is not None and "kind" in doc else None

    async def account_bill_groups(self, tenant_id: str, account_id: str) -> list[Doc]:
        cursor = self.db[BILL_GROUPS].find(
            {"tenant_id": tenant_id, "current.account_id": account_id}
        )
        docs = await cursor.to_list()
        return sorted(docs, key=lambda d: d["bill_group_id"])

    # --- whole read model --------------------------------------------------------------

    async def count(self, collection: str) -> int:
        return await self.db[collection].count_documents({})


def strip(doc: Doc, fields: Iterable[str] = ()) -> Doc:
    return {k: v for k, v in doc.items() if k not in {"_id", *fields}}
