"""Events owed by a state change, embedded in the changed document, and their relay to Kafka.

A state change and the events it owes are one MongoDB update (`$push` onto the document's
`outbox` together with the `$set` of the state), so an event exists exactly when its state
change does. The relay publishes with acks=all, then pulls the entry by `event_id`; a crash
between the two publishes it once more with the same `event_id` (consumers deduplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter
from pydantic import BaseModel

from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.registry import spec_for_model

log = logging.getLogger(__name__)

RELAYED = Counter("access_outbox_relayed_total", "Outbox events published to Kafka", ["type"])
RELAY_ERRORS = Counter("access_outbox_relay_errors_total", "Failed outbox relay passes")


def outbox_entry(payload: BaseModel, *, tenant_id: str, bill_group_id: str) -> dict[str, Any]:
    """An envelope ready to publish: topic from the contracts registry, key = bill group id."""
    event = make_event(payload, tenant_id=tenant_id, aggregate_id=bill_group_id)
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "topic": spec_for_model(type(payload)).topic.value,
        "key": bill_group_id,
        "body": encode(event).decode(),
        "headers": headers_for(event),
    }


Publish = Callable[[dict[str, Any]], Awaitable[None]]
Drain = Callable[[Publish], Awaitable[int]]


class Relay:
    """Publishes owed events; woken at once by local writes, polls for everything else."""

    def __init__(self, drain: Drain, publish: Publish, poll_seconds: float) -> None:
        self._drain = drain
        self._publish = publish
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._drain(self._publish)
            except Exception:
                # Kafka or MongoDB away: the entries stay owed and the next pass retries.
                RELAY_ERRORS.inc()
                log.exception("outbox relay pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
