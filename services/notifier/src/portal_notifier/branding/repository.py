"""The branding projection in MongoDB (`entities`, `bill_groups`): the only module of this
feature that talks to the database. Version-gated: replays and reordering change nothing."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.db import Database, Document
from portal_notifier.keys import tenant_key as _key


async def _apply_versioned(
    collection: AsyncCollection[Document], key: str, version: int, fields: Document
) -> bool:
    """Apply only if newer than what is held.

    The filter matches only an older document; when a newer one exists the upsert tries to
    insert a second document with the same `_id`, which MongoDB refuses.
    """
    try:
        result = await collection.update_one(
            {"_id": key, "version": {"$lt": version}},
            {"$set": {**fields, "version": version}},
            upsert=True,
        )
    except DuplicateKeyError:
        return False
    return bool(result.modified_count or result.upserted_id is not None)


class BrandingRepository:
    def __init__(self, db: Database) -> None:
        self._entities = db["entities"]
        self._bill_groups = db["bill_groups"]

    async def apply_entity(
        self, tenant_id: str, entity_id: str, version: int, view: EntityView
    ) -> bool:
        return await _apply_versioned(
            self._entities,
            _key(tenant_id, entity_id),
            version,
            {
                "tenant_id": tenant_id,
                "entity_id": entity_id,
                "name": view.name,
                "logo_url": view.logo_url,
                "logo_alt": view.logo_alt,
            },
        )

    async def apply_bill_group(
        self, tenant_id: str, bill_group_id: str, version: int, view: BillGroupView
    ) -> bool:
        return await _apply_versioned(
            self._bill_groups,
            _key(tenant_id, bill_group_id),
            version,
            {
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "name": view.name,
                "account_name": view.account_name,
                "entity_id": view.entity_id,
            },
        )

    async def entity(self, tenant_id: str, entity_id: str) -> EntityView | None:
        doc = await self._entities.find_one({"_id": _key(tenant_id, entity_id)})
        if doc is None:
            return None
        return EntityView(doc["name"], doc.get("logo_url"), doc.get("logo_alt") or "")

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupView | None:
        doc = await self._bill_groups.find_one({"_id": _key(tenant_id, bill_group_id)})
        if doc is None:
            return None
        return BillGroupView(doc["name"], doc["account_name"], doc["entity_id"])
