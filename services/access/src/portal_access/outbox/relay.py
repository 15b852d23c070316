"""The relay: publishes owed events through an injected publisher, then marks them sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from prometheus_client import Counter

from portal_access.outbox.models import DocId, Hint, OutboxEntry, Owed
from portal_contracts.registry import all_specs
from portal_contracts.topics import TOPICS
from portal_kit.background import BackgroundTask
from portal_kit.metrics import precreate

log = logging.getLogger(__name__)

RELAYED = Counter(
    "portal_access_outbox_relayed_total", "Outbox events published to Kafka", ["type"]
)
RELAY_ERRORS = Counter("portal_access_outbox_relay_errors_total", "Failed outbox relay passes")
# Every event type access publishes has its series from start.
precreate(
    RELAYED,
    *sorted({(s.event_type.value,) for s in all_specs() if "access" in TOPICS[s.topic].producers}),
)

Publish = Callable[[OutboxEntry], Awaitable[None]]
# (collection, document id): a document that this process just gave owed events.
Wake = Callable[[str, DocId], None]


class OwedEvents(Protocol):
    async def owed(self, only: Sequence[Hint] | None = None) -> list[Owed]: ...
    async def mark_sent(self, owed: Owed) -> None: ...


def no_relay(collection: str, doc_id: DocId) -> None:
    """This replica does not relay; another replica's sweep publishes what it owes."""


class Relay:
    """Publishes owed events.

    A local write hands the relay its document at once (`wake`), so the common path reads
    that one document by `_id`. A sweep of every document with owed events runs every
    `sweep_seconds`: it catches what a crashed process left behind and the writes of other
    replicas whose relay is off.
    """

    def __init__(self, outbox: OwedEvents, publish: Publish, sweep_seconds: float) -> None:
        self._outbox = outbox
        self._publish = publish
        self._sweep = sweep_seconds
        self._hints: list[Hint] = []
        self._wake = asyncio.Event()
        self._background = BackgroundTask("outbox-relay", self._run)

    def wake(self, collection: str, doc_id: DocId) -> None:
        self._hints.append(Hint(collection, doc_id))
        self._wake.set()

    async def drain(self, only: Sequence[Hint] | None = None) -> int:
        """Publish owed events, oldest first per document, then mark them sent.

        `only` names the documents to look at; None sweeps every collection."""
        published = 0
        for owed in await self._outbox.owed(only):
            for entry in owed.entries:
                await self._publish(entry)
                RELAYED.labels(entry.type).inc()
            await self._outbox.mark_sent(owed)
            published += len(owed.entries)
        return published

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = 0.0
        while True:
            self._wake.clear()
            hints, self._hints = self._hints, []
            sweep = loop.time() >= next_sweep
            try:
                await self.drain(None if sweep else hints)
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
