"""The whole access database as a backup sees it: collections, their options and indexes, and
their documents as raw BSON (never decoded, so every type and byte comes back as it was)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from portal_access.backup.models import CollectionMetadata, IndexSpec
from portal_access.db import Mongo

_RAW: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)
# What `listIndexes` reports that is not an option of `createIndexes`.
_NOT_OPTIONS = frozenset({"v", "key", "ns"})
_ID_INDEX = "_id_"


class DatabaseRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._db = mongo.database
        self.name = mongo.database.name

    def _raw(self, name: str) -> AsyncCollection[RawBSONDocument]:
        # get_collection's stub keeps the database's document type, whatever the codec says.
        return cast(
            "AsyncCollection[RawBSONDocument]", self._db.get_collection(name, codec_options=_RAW)
        )

    async def collections(self) -> list[CollectionMetadata]:
        """Every collection (views and `system.*` excepted), with its options and indexes."""
        found: list[CollectionMetadata] = []
        async for info in await self._db.list_collections():
            name = str(info["name"])
            if name.startswith("system.") or info.get("type", "collection") != "collection":
                continue
            indexes = [dict(spec) async for spec in await self._db[name].list_indexes()]
            found.append(CollectionMetadata(name, dict(info.get("options") or {}), tuple(indexes)))
        return sorted(found, key=lambda c: c.name)

    async def documents(self, name: str) -> AsyncIterator[bytes]:
        async for document in self._raw(name).find({}):
            yield bytes(document.raw)

    async def holds_documents(self) -> bool:
        for collection in await self.collections():
            if await self._db[collection.name].find_one({}, {"_id": 1}) is not None:
                return True
        return False

    async def drop(self) -> None:
        await self._db.client.drop_database(self.name)

    async def create(self, collection: CollectionMetadata) -> int:
        """The collection with its options, then its indexes (the `_id` one comes by itself);
        returns how many indexes it has."""
        if collection.name not in await self._db.list_collection_names():
            await self._db.create_collection(collection.name, **collection.options)
        models = [_index_model(spec) for spec in collection.indexes if spec["name"] != _ID_INDEX]
        if models:
            await self._db[collection.name].create_indexes(models)
        return len(models) + 1

    async def insert(self, name: str, documents: Sequence[RawBSONDocument]) -> None:
        await self._raw(name).insert_many(documents, ordered=True)


def _index_model(spec: IndexSpec) -> IndexModel:
    options: dict[str, Any] = {k: v for k, v in spec.items() if k not in _NOT_OPTIONS}
    return IndexModel(list(dict(spec["key"]).items()), **options)
