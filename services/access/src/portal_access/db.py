"""MongoDB: the client, the service's database and the per-process write locks.

Only repositories (`*/repository.py`) use this module; every one of them converts documents to
typed models before they leave it. FerretDB v1 compatible: no transactions, TTL or partial
indexes; `$pull` only with the exact element.

FerretDB v1 (SQLite) does NOT apply concurrent updates of one document atomically (measured:
50 concurrent `$inc` of one field end at 5; a conditional `find_one_and_update` lets two
callers win). So:
- every guarantee that must hold across replicas (single-use tokens and codes, attempt
  limits) rests on inserts into unique indexes, atomic on every backend;
- rate-limit counters use `$inc` (atomic on MongoDB; on FerretDB a burst of concurrent
  requests may be undercounted, which only loosens the dev stack's limits);
- read-modify-write updates of shared documents (portal, session, challenge) are also
  serialised per process with the lock of their collection (`Mongo.lock`), which makes one
  replica correct on FerretDB; on MongoDB single-document operations are atomic by themselves.

Hot lookups go by `_id`: FerretDB v1 (SQLite) answers any other filter with a full scan.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from portal_access.settings import Settings

# A raw MongoDB document: never leaves a repository.
Doc = dict[str, Any]

# Used and expired documents stay this long after they stop mattering (FerretDB v1 has no TTL
# indexes, so housekeeping deletes them).
RETENTION = timedelta(days=1)


def mongo_client(settings: Settings, *, connect: bool = True) -> AsyncMongoClient[Doc]:
    return AsyncMongoClient(settings.mongodb_uri, tz_aware=True, connect=connect)


class Mongo:
    """The service's database and the locks its repositories share."""

    def __init__(self, client: AsyncMongoClient[Doc], database: str) -> None:
        self.client = client
        self.database = client[database]
        self._locks: dict[str, asyncio.Lock] = {}

    def collection(self, name: str) -> AsyncCollection[Doc]:
        return self.database[name]

    def lock(self, collection: str) -> asyncio.Lock:
        """Serialises this process's read-modify-write updates of one collection."""
        return self._locks.setdefault(collection, asyncio.Lock())
