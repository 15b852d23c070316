"""MongoDB: the client, the read model's one collection, its document keys.

Only the feature repositories (`*/repository.py`) use the collection; this module knows its
name and how every document's `_id` is built, so that every repository agrees on them.

The read model is ONE collection of documents shaped for the portal's pages, each read by
`_id` alone (see README "Read model"):

| `_id`                                  | document                                      |
|----------------------------------------|-----------------------------------------------|
| `{tenant}|b|{bill_group}`              | the bill group's portal view                  |
| `{tenant}|b|{bill_group}|i|{invoice}`   | one invoice (listing + lines)                 |
| `{tenant}|e|{entity}`                  | one billing entity (branding)                 |
| `{tenant}|a|{account}`                 | an account's bill groups (staff console)      |

Every read is by `_id`, so the read model has no secondary index (MongoDB indexes `_id`
itself); the one index created at start is `change_keys`' TTL index, which expires the
idempotency keys of customer changes and is never read through. Keys start with the tenant,
then the bill group, so a range-sharded `_id` keeps a tenant's and a bill group's documents
together and every read targets one shard.
"""

from __future__ import annotations

import re
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from billing_view.settings import Settings

# A raw MongoDB document: used inside repositories only, never across their boundary.
Doc = dict[str, Any]
Client = AsyncMongoClient[Doc]

READ_MODEL = "read_model"
COLLECTIONS = (READ_MODEL,)
# Not derived from the topics (a rebuild never has them): the idempotency keys of customer
# changes, `_id` = `change_key_id(...)`, read by `_id` alone like the read model.
CHANGE_KEYS = "change_keys"

# Characters that may not appear raw in a key component or a field name: the key separator,
# MongoDB's path separator and operator prefix, NUL, and the escape character itself.
_ESCAPES = str.maketrans({"%": "%25", "|": "%7C", ".": "%2E", "$": "%24", "\x00": "%00"})
_SPECIAL = re.compile("[%|.$\x00]")


def escape(value: str) -> str:
    """An id as a key component or field name: injective, no '|', '.', '$' or NUL."""
    if _SPECIAL.search(value) is None:
        return value
    return value.translate(_ESCAPES)


def field(value: str) -> str:
    """An id as the name of a field in an embedded map (never empty, never `$`-led)."""
    return "k" + escape(value)


def version_key(version: int) -> str:
    """`aggregate_version` (any int >= 0, unbounded) as text that sorts like the number:
    the digit count, zero-padded, then the digits. BSON has no integer beyond 64 bits."""
    digits = str(version)
    return f"{len(digits):05d}:{digits}"


def view_id(tenant_id: str, bill_group_id: str) -> str:
    return f"{escape(tenant_id)}|b|{escape(bill_group_id)}"


def change_key_id(tenant_id: str, bill_group_id: str, key: str) -> str:
    return f"{view_id(tenant_id, bill_group_id)}|k|{escape(key)}"


def invoice_id(tenant_id: str, bill_group_id: str, invoice: str) -> str:
    return f"{view_id(tenant_id, bill_group_id)}|i|{escape(invoice)}"


def entity_id(tenant_id: str, entity: str) -> str:
    return f"{escape(tenant_id)}|e|{escape(entity)}"


def account_id(tenant_id: str, account: str) -> str:
    return f"{escape(tenant_id)}|a|{escape(account)}"


def client_for(settings: Settings) -> Client:
    return AsyncMongoClient(settings.mongodb_uri, tz_aware=True, connect=False)


async def first_occupied(db: AsyncDatabase[Doc]) -> str | None:
    """The first read-model collection that holds a document, or None."""
    for collection in COLLECTIONS:
        if await db[collection].estimated_document_count():
            return collection
    return None
