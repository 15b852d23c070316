"""MongoDB: the client, the service's database, and the conventions every repository keeps.

Only repositories (`*/repository.py`) use this module; every one of them converts documents to
typed models before they leave it. Written for MongoDB's semantics (production runs MongoDB;
the local stack's mongo-java-server speaks the same protocol):

- a single-document write is atomic: `$inc`, `$push` and an update conditioned on the
  document's current state (`rev`, `version`, `consumed_at`, a counter below its limit) are
  exact however many replicas race, so no lock is held anywhere;
- a unique index (`_id` included) admits exactly one of concurrent inserts;
- no transactions: writes that must go together are ONE document write (state and the events
  it owes: the embedded outbox);
- expiry: a TTL index (`expireAfterSeconds` on `expires_at`) deletes what no longer matters,
  and the code checks every expiry itself (TTL deletion runs about once a minute, and the
  local stand-in never runs it);
- keys: a document about an upstream object is keyed by the tenant too (`bill_group_key`),
  since two tenants may reuse an upstream id; a document keyed by a secret's hash or an id we
  generate (256 random bits, 96 for public ids) is globally unique. Every request on a
  customer's path reads by `_id`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from portal_access.settings import Settings

# A raw MongoDB document: never leaves a repository.
Doc = dict[str, Any]

# Used and expired documents stay this long after their expiry (for "expired" vs "unknown"
# answers and for owed events a Kafka outage held back), then their TTL index deletes them.
RETENTION = timedelta(days=1)


def mongo_client(settings: Settings, *, connect: bool = True) -> AsyncMongoClient[Doc]:
    return AsyncMongoClient(settings.mongodb_uri, tz_aware=True, connect=connect)


def bill_group_key(tenant_id: str, bill_group_id: str) -> Doc:
    """The `_id` of a bill group's document: `{"t": tenant, "b": bill group}`.

    A subdocument, not a joined string (ids may contain any separator). MongoDB compares an
    embedded `_id` field by field in this order, so build it only here; sharded on `{_id: 1}`
    its ranges follow (tenant, bill group)."""
    return {"t": tenant_id, "b": bill_group_id}


async def expire_after(
    collection: AsyncCollection[Doc], after: timedelta, field: str = "expires_at"
) -> None:
    """A TTL index: MongoDB deletes a document `after` its `field` date has passed."""
    await collection.create_index(field, expireAfterSeconds=int(after.total_seconds()))


async def update_by_id(
    collection: AsyncCollection[Doc], query: Doc, update: Doc, *, upsert: bool = False
) -> bool:
    """One atomic update of the document `query["_id"]` names, if it still meets the rest of
    `query` (or, with `upsert`, inserted): True when it matched or was inserted.

    Sent as `findAndModify` returning only `_id`: on MongoDB exactly as atomic as `update`,
    and the local stand-in serves it from the `_id` index, whereas its `update` command scans
    the whole collection when a condition accompanies `_id`."""
    found = await collection.find_one_and_update(
        query,
        update,
        projection={"_id": 1},
        upsert=upsert,
        return_document=ReturnDocument.AFTER,
    )
    return found is not None


class Mongo:
    """The service's database."""

    def __init__(self, client: AsyncMongoClient[Doc], database: str) -> None:
        self.client = client
        self.database = client[database]

    def collection(self, name: str) -> AsyncCollection[Doc]:
        return self.database[name]
