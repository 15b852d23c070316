"""Gauges of what the outbox still owes, sampled every few seconds by a task of their own:
a relay that hangs (not failing, just stuck) counts no errors, but its backlog and the age of
its oldest entry keep growing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import Gauge

from portal_access.outbox.models import Backlog
from portal_kit.background import BackgroundTask

log = logging.getLogger(__name__)

BACKLOG = Gauge("portal_access_outbox_backlog", "Documents with events owed to Kafka")
OLDEST_AGE = Gauge(
    "portal_access_outbox_oldest_age_seconds",
    "Age of the oldest event still owed to Kafka (0 when nothing is owed)",
)


class BacklogSource(Protocol):
    async def backlog(self) -> Backlog: ...


class BacklogGauges:
    def __init__(
        self,
        outbox: BacklogSource,
        interval_seconds: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._outbox = outbox
        self._interval = interval_seconds
        self._clock = clock
        self._background = BackgroundTask("outbox-backlog-gauges", self._run)

    async def sample_once(self) -> None:
        backlog = await self._outbox.backlog()
        BACKLOG.set(backlog.documents)
        age = 0.0 if backlog.oldest is None else (self._clock() - backlog.oldest).total_seconds()
        OLDEST_AGE.set(max(0.0, age))

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.sample_once()
            except Exception:  # noqa: BLE001 - MongoDB away: the gauges keep their last value
                log.warning("could not sample the outbox backlog")
            await asyncio.sleep(self._interval)
