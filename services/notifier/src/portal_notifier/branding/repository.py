"""The branding projection in MongoDB (`entities`, `bill_groups`): the only module of this
feature that talks to the database. Version-gated: replays and reordering change nothing."""

from __future__ import annotations

from collections.abc import Sequence

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
    insert a second document with the same `_id`, which MongoDB refuses. As `findAndModify`
    by `_id` (nothing read back is used): mongo-java-server serves it from the `_id` index,
    whereas an `update` with a condition beside `_id` scans the collection there.
    """
    try:
        await collection.find_one_and_update(
            {"_id": key, "version": {"$lt": version}},
            {"$set": {**fields, "version": version}},
            projection={"_id": 1},
            upsert=True,
        )
    except DuplicateKeyError:
        return False
    return True


async def _by_id(
    collection: AsyncCollection[Document], keys: Sequence[tuple[str, str]]
) -> list[Document]:
    ids = list({_key(tenant_id, object_id) for tenant_id, object_id in keys})
    if not ids:
        return []
    if len(ids) == 1:
        found = await collection.find_one({"_id": ids[0]})
        return [] if found is None else [found]
    return await collection.find({"_id": {"$in": ids}}).to_list()


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

    async def entities(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], EntityView]:
        """(tenant, entity id) → view, for those the projection holds; one query by `_id`."""
        docs = await _by_id(self._entities, keys)
        return {
            (d["tenant_id"], d["entity_id"]): EntityView(
                d["name"], d.get("logo_url"), d.get("logo_alt") or ""
            )
            for d in docs
        }

    async def bill_groups(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], BillGroupView]:
        """(tenant, bill group id) → view, for those the projection holds; one query by `_id`."""
        docs = await _by_id(self._bill_groups, keys)
        return {
            (d["tenant_id"], d["bill_group_id"]): BillGroupView(
                d["name"], d["account_name"], d["entity_id"]
            )
            for d in docs
        }

    async def entity(self, tenant_id: str, entity_id: str) -> EntityView | None:
        return (await self.entities([(tenant_id, entity_id)])).get((tenant_id, entity_id))

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupView | None:
        key = (tenant_id, bill_group_id)
        return (await self.bill_groups([key])).get(key)
