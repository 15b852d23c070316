"""The notifier's MongoDB database: one client per process, one database per service.

Each feature's `repository.py` is the only code that reads or writes its collections.
Written for MongoDB's semantics (production; mongo-java-server locally): every write that
must be atomic is one single-document write (conditional updates, `find_one_and_update`,
unique `_id`), no transactions; every per-email read and write is by `_id`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

# A raw BSON document; it never leaves a repository.
Document = dict[str, Any]
Client = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]

DUPLICATE_KEY = 11000


def mongo_client(uri: str, *, connect: bool = True) -> Client:
    """tz-aware, so dates come back as aware UTC datetimes."""
    return AsyncMongoClient(uri, tz_aware=True, connect=connect)


def aware(value: datetime) -> datetime:
    """BSON dates come back naive (UTC) unless the client is tz-aware; normalise both."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def maybe_aware(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None
