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
# (collection, document id): a document that this process just gave owed events.
Hint = tuple[str, Any]
Drain = Callable[[Publish, list[Hint] | None], Awaitable[int]]
Wake = Callable[[str, Any], None]


class Relay:
    """Publishes owed events.

    A local write hands the relay its document at once (`wake`), so the common path reads
    that one document by `_id`. A sweep of every document with owed events runs every
    `sweep_seconds`: it catches what a crashed process left behind and the writes of other
    replicas whose relay is off.
    """

    def __init__(self, drain: Drain, publish: Publish, sweep_seconds: float) -> None:
        self._drain = drain
        self._publish = publish
        self._sweep = sweep_seconds
        self._hints: list[Hint] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self, collection: str, doc_id: Any) -> None:
        self._hints.append((collection, doc_id))
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
        loop = asyncio.get_running_loop()
        next_sweep = 0.0
        while True:
            self._wake.clear()
            hints, self._hints = self._hints, []
            sweep = loop.time() >= next_sweep
            try:
                await self._drain(self._publish, None if sweep else hints)
                if sweep:
                    next_sweep = loop.time() + self._sweep
            except Exception:
                # Kafka or MongoDB away: the entries stay owed and the next sweep retries.
                RELAY_ERRORS.inc()
                log.exception("outbox relay pass failed; retrying")
                next_sweep = 0.0
                await asyncio.sleep(min(1.0, self._sweep))
            timeout = max(0.0, next_sweep - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
