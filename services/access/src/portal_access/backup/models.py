"""What a dump holds per collection, and what a dump or a restore did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# An index as `listIndexes` describes it (`key`, `name`, `unique`, `expireAfterSeconds`, ...):
# kept whole, so that any option MongoDB has survives the round trip.
IndexSpec = dict[str, Any]


@dataclass(frozen=True)
class CollectionMetadata:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    indexes: tuple[IndexSpec, ...] = ()


@dataclass(frozen=True)
class CollectionCopied:
    name: str
    documents: int
    indexes: int
