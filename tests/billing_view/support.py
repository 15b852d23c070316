"""Helpers shared by billing-view's tests: records without Kafka, read-model comparisons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billing_view.projector import Projector
from billing_view.storage import Storage
from portal_contracts.codec import encode
from portal_contracts.envelope import Envelope


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def records(events: list[Envelope[Any]]) -> list[FakeRecord]:
    return [FakeRecord("t", 0, i, e.aggregate_id.encode(), encode(e)) for i, e in enumerate(events)]


class Parked(list[tuple[FakeRecord, BaseException]]):
    async def __call__(self, record: Any, error: BaseException, attempts: int) -> None:
        self.append((record, error))


def projector(storage: Storage) -> tuple[Projector, Parked]:
    parked = Parked()
    return Projector(storage, parked, max_attempts=2, retry_base_seconds=0.01), parked


def tenant_view(snapshot: dict[str, dict[str, dict[str, Any]]], tenant: str) -> dict[str, Any]:
    """One tenant's documents with the tenant taken out, so two tenants' builds compare."""
    view: dict[str, Any] = {}
    for collection, docs in snapshot.items():
        view[collection] = {
            key.split("|", 1)[1]: {k: v for k, v in doc.items() if k not in ("_id", "tenant_id")}
            for key, doc in docs.items()
            if doc.get("tenant_id") == tenant
        }
    return view
