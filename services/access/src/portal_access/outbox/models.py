"""An outbox entry: an envelope ready to publish, and the document that owes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.registry import spec_for_model
from portal_kit.tracing import correlation_id, trace_headers

# The collections whose documents carry an outbox.
PORTALS, CHALLENGES, SESSIONS = "portals", "challenges", "sessions"
OUTBOX_COLLECTIONS = (PORTALS, CHALLENGES, SESSIONS)

# The `_id` of a document with an outbox: a string (a token hash), or (tenant, bill group) for
# a portal (stored as `db.bill_group_key`). Hashable, so hints can be deduplicated.
DocId = str | tuple[str, str]


@dataclass(frozen=True)
class OutboxEntry:
    event_id: str
    type: str
    topic: str
    key: str
    body: str
    headers: dict[str, str]


def outbox_entry(payload: BaseModel, *, tenant_id: str, bill_group_id: str) -> OutboxEntry:
    """An envelope ready to publish: topic from the contracts registry, key = bill group id.

    Made while a request or an event is handled: the envelope carries its correlation id, the
    headers its trace context (when tracing is on), so that the relay's publish, however late
    and in whichever replica, continues that trace."""
    event = make_event(
        payload, tenant_id=tenant_id, aggregate_id=bill_group_id, correlation_id=correlation_id()
    )
    return OutboxEntry(
        event_id=str(event.event_id),
        type=event.type,
        topic=spec_for_model(type(payload)).topic.value,
        key=bill_group_id,
        body=encode(event).decode(),
        headers={**headers_for(event), **trace_headers()},
    )


@dataclass(frozen=True)
class Hint:
    """A document that this process just gave owed events."""

    collection: str
    doc_id: DocId


@dataclass(frozen=True)
class Owed:
    """The owed entries of one document, as read."""

    collection: str
    doc_id: DocId
    entries: tuple[OutboxEntry, ...]


@dataclass(frozen=True)
class Backlog:
    """Documents that owe events, and when the oldest owed event happened (None: nothing)."""

    documents: int
    oldest: datetime | None
