"""Dump the access database to a directory, and restore it from one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from bson.raw_bson import RawBSONDocument

from portal_access.backup import layout
from portal_access.backup.models import CollectionCopied
from portal_access.backup.repository import DatabaseRepository
from portal_kit.errors import ConflictError, NotFoundError

BATCH = 1000


class BackupService:
    def __init__(self, database: DatabaseRepository, batch: int = BATCH) -> None:
        self._db = database
        self._batch = batch

    async def dump(self, root: Path) -> list[CollectionCopied]:
        """Every collection to `<root>/<database>/`, one after the other: each document is
        as one atomic write left it, but writes between two collections' reads are not
        frozen (stop access first, or take the production backup, for one instant)."""
        directory = layout.database_dir(root, self._db.name)
        if directory.exists() and any(directory.iterdir()):
            # Two dumps mixed in one directory would restore as neither.
            raise ConflictError(f"{directory} already holds a dump")
        directory.mkdir(parents=True, exist_ok=True)
        copied: list[CollectionCopied] = []
        for collection in await self._db.collections():
            layout.write_metadata(directory, collection)
            count = 0
            with layout.documents_path(directory, collection.name).open("wb") as out:
                async for raw in self._db.documents(collection.name):
                    out.write(raw)
                    count += 1
            copied.append(CollectionCopied(collection.name, count, len(collection.indexes)))
        return copied

    async def restore(
        self, root: Path, *, source: str | None = None, drop: bool = False
    ) -> list[CollectionCopied]:
        """The dump of database `source` (default: this one) into this database: per
        collection its options and indexes first (a unique index then refuses a duplicate
        at once), then its documents in bulk. Refuses a database that holds documents unless
        `drop`, which drops the whole database first, so it ends as exactly the dump."""
        directory = layout.database_dir(root, source or self._db.name)
        names = layout.collections_in(directory) if directory.is_dir() else []
        if not names:
            raise NotFoundError(f"no dump of database {source or self._db.name} in {root}")
        if not drop and await self._db.holds_documents():
            raise ConflictError(
                f"database {self._db.name} holds documents: restore with --drop to replace them"
            )
        if drop:
            await self._db.drop()
        restored: list[CollectionCopied] = []
        for name in names:
            indexes = await self._db.create(layout.read_metadata(directory, name))
            count = 0
            for batch in _batches(layout.read_documents(directory, name), self._batch):
                await self._db.insert(name, batch)
                count += len(batch)
            restored.append(CollectionCopied(name, count, indexes))
        return restored


def _batches(documents: Iterable[RawBSONDocument], size: int) -> Iterator[list[RawBSONDocument]]:
    batch: list[RawBSONDocument] = []
    for document in documents:
        batch.append(document)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
