"""The dump on disk, in `mongodump`'s directory layout (no `--gzip`, no `--archive`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from portal_access.backup.models import CollectionMetadata

_RAW: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)
_BSON = ".bson"
_METADATA = ".metadata.json"


def database_dir(root: Path, database: str) -> Path:
    return root / database


def write_metadata(directory: Path, metadata: CollectionMetadata) -> None:
    document: dict[str, Any] = {
        "indexes": list(metadata.indexes),
        "collectionName": metadata.name,
        "type": "collection",
        "options": metadata.options,
    }
    text = json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS)
    (directory / f"{metadata.name}{_METADATA}").write_text(text)


def documents_path(directory: Path, name: str) -> Path:
    """Where a collection's documents go: their BSON, one after the other."""
    return directory / f"{name}{_BSON}"


def collections_in(directory: Path) -> list[str]:
    """Every collection with a `.bson` file, in name order (metadata alone is not a dump)."""
    return sorted(p.name.removesuffix(_BSON) for p in directory.glob(f"*{_BSON}"))


def read_metadata(directory: Path, name: str) -> CollectionMetadata:
    path = directory / f"{name}{_METADATA}"
    if not path.exists():
        return CollectionMetadata(name)
    document = json_util.loads(path.read_text())
    return CollectionMetadata(
        name,
        options=dict(document.get("options") or {}),
        indexes=tuple(dict(spec) for spec in document.get("indexes") or ()),
    )


def read_documents(directory: Path, name: str) -> Iterator[RawBSONDocument]:
    with documents_path(directory, name).open("rb") as source:
        yield from bson.decode_file_iter(source, _RAW)
