"""Helpers shared by billing-view's tests: records without Kafka, a projector over any
database, read-model comparisons."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from billing_view.app import projector_for
from billing_view.projection.service import INVALID, Projector
from billing_view.settings import Settings
from portal_contracts.codec import encode
from portal_contracts.envelope import Envelope
from portal_kit.consumer import Backoff, ConsumerPolicy
from portal_kit.deadletter import SourceRecord
from portal_localstack.testing import Isolation, StackHandle


def records(events: list[Envelope[Any]]) -> list[SourceRecord]:
    return [
        SourceRecord("t", 0, i, e.aggregate_id.encode(), encode(e)) for i, e in enumerate(events)
    ]


class Parked(list[tuple[SourceRecord, BaseException]]):
    """A dead-letter publisher that keeps what it is given."""

    async def __call__(self, record: SourceRecord, error: BaseException, attempts: int) -> None:
        self.append((record, error))


async def healthy() -> bool:
    return True


def policy(dead_letter: Any, max_attempts: int = 2) -> ConsumerPolicy:
    return ConsumerPolicy(
        group="test",
        dead_letter=dead_letter,
        healthy=healthy,
        invalid=INVALID,
        max_attempts=max_attempts,
        backoff=Backoff(base_seconds=0.01, cap_seconds=0.05),
    )


def projector(db: AsyncDatabase[dict[str, Any]]) -> tuple[Projector, Parked]:
    parked = Parked()
    return projector_for(db, policy(parked)), parked


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


def stack_settings(stack: StackHandle, isolation: Isolation) -> Settings:
    """billing-view on the session's stack, in this test's topics and database, retrying a
    failing record without waiting (dead-letter tests need not sit through backoff)."""
    return Settings(
        kafka_bootstrap=stack.endpoints.kafka_bootstrap,
        mongodb_uri=stack.endpoints.mongodb_uri,
        mongodb_database=isolation.database("billing-view"),
        topic_prefix=isolation.topic_prefix,
        retry_base_seconds=0.01,
    )
