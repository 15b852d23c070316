"""MongoDB: the client, the read model's collections, their indexes and their keys.

Only the feature repositories (`*/repository.py`) use the collections; this module knows
their names, keys and indexes so that every repository and the start-up agree on them.
Each service owns its database; billing-view's holds the read model of upstream billing
state (one collection per aggregate kind) and the customers' changes.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from billing_view.settings import Settings

# A raw MongoDB document: used inside repositories only, never across their boundary.
Doc = dict[str, Any]
Client = AsyncMongoClient[Doc]

ENTITIES = "entities"
BILL_GROUPS = "bill_groups"
SUBSCRIPTIONS = "subscriptions"
INVOICES = "invoices"
PAYMENT_METHODS = "payment_methods"
CHANGES = "changes"

_TB = [("tenant_id", ASCENDING), ("bill_group_id", ASCENDING)]
# The invoice list order: newest first (issue_date, number, id desc).
NEWEST = [
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
        IndexModel([*_TB, *NEWEST], name="bg_newest"),
        IndexModel([*_TB, ("current.status", ASCENDING), *NEWEST], name="bg_status_newest"),
    ],
    CHANGES: [
        IndexModel([*_TB, ("requested_at", DESCENDING)], name="bg_requested"),
        IndexModel([*_TB, ("status", ASCENDING)], name="bg_status"),
    ],
}


def doc_id(tenant_id: str, aggregate_id: str) -> str:
    # The tenant is part of the key: two tenants may reuse the same upstream ids.
    return f"{tenant_id}|{aggregate_id}"


def client_for(settings: Settings) -> Client:
    return AsyncMongoClient(settings.mongodb_uri, tz_aware=True, connect=False)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    # One index per command: FerretDB v1.24 panics on a multi-index createIndexes whose
    # indexes all exist already (every restart of the service).
    for collection, indexes in INDEXES.items():
        for index in indexes:
            await db[collection].create_indexes([index])


async def first_occupied(db: AsyncDatabase[Doc]) -> str | None:
    """The first read-model collection that holds a document, or None."""
    for collection in INDEXES:
        if await db[collection].estimated_document_count():
            return collection
    return None
