"""Applies a batch of Kafka records to the read model; independent of how they were polled.

The live consumer (FastStream) and `replay` (plain aiokafka) both feed it. A batch is
applied as a whole and only then acknowledged, so a crash replays it; the version-gated
writes make that replay harmless.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from billing_view import domain, metrics
from billing_view.domain import InvalidEventError, StateWrite
from billing_view.storage import Storage
from portal_contracts.codec import ContractError, decode
from portal_contracts.envelope import Envelope
from portal_contracts.registry import EventType

log = logging.getLogger(__name__)


class Record(Protocol):
    """What the projector needs of a Kafka record (aiokafka's ConsumerRecord has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> Any: ...
    @property
    def value(self) -> Any: ...


DeadLetter = Callable[[Record, BaseException, int], Awaitable[None]]


@dataclass
class _Decoded:
    record: Record
    event: Envelope[Any]


class Projector:
    def __init__(
        self,
        storage: Storage,
        dead_letter: DeadLetter,
        *,
        max_attempts: int = 3,
        retry_base_seconds: float = 0.2,
    ) -> None:
        self.storage = storage
        self.dead_letter = dead_letter
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds

    async def handle_batch(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        decoded: list[_Decoded] = []
        for record in records:
            try:
                decoded.append(_Decoded(record, decode(record.value or b"")))
            except ContractError as exc:
                # Retrying cannot make a malformed message valid: park it at once.
                await self.dead_letter(record, exc, 1)
        states: list[tuple[_Decoded, StateWrite]] = []
        others: list[_Decoded] = []
        for item in decoded:
            if item.event.type in domain.STATE_COLLECTIONS:
                try:
                    states.append((item, domain.state_write(item.event)))
                except InvalidEventError as exc:
                    await self.dead_letter(item.record, exc, 1)
            else:
                others.append(item)
        if states:
            await self._apply_states(states)
        for item in others:
            await self._with_retries(item.record, functools.partial(self._apply_other, item.event))
        if records:
            metrics.APPLY_SECONDS.observe(time.perf_counter() - started)
            now = datetime.now(UTC)
            for item in decoded:
                metrics.EVENT_AGE.observe(max(0.0, (now - item.event.occurred_at).total_seconds()))

    async def _apply_states(self, states: list[tuple[_Decoded, StateWrite]]) -> None:
        writes = [w for _, w in states]
        for attempt in range(1, self.max_attempts + 1):
            try:
                outcome = await self.storage.apply_states(writes)
            except Exception:
                log.warning("batch write failed", extra={"attempt": attempt}, exc_info=True)
                await asyncio.sleep(self.retry_base_seconds * 2 ** (attempt - 1))
                continue
            metrics.APPLIED.inc(outcome.applied)
            metrics.STALE.inc(outcome.stale)
            return
        # The batch as a whole keeps failing: isolate the message(s) to blame.
        for item, write in states:
            await self._with_retries(item.record, functools.partial(self._apply_one, write))

    async def _apply_one(self, write: StateWrite) -> None:
        applied = await self.storage.apply_one(write)
        (metrics.APPLIED if applied else metrics.STALE).inc()

    async def _apply_other(self, event: Envelope[Any]) -> None:
        if event.type in domain.CUSTOMER_CHANGE_TYPES:
            await self.storage.record_change(domain.change_request(event))
        elif event.type == EventType.CHANGE_RESULT.value:
            result = event.payload
            await self.storage.settle_change(
                event.tenant_id,
                result.bill_group_id,
                result.change_id,
                result.outcome.value,
                result.reason,
                event.occurred_at.isoformat(),
            )
        else:
            raise InvalidEventError(f"billing-view does not consume {event.type}")
        metrics.APPLIED.inc()

    async def _with_retries(self, record: Record, apply: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await apply()
                return
            except InvalidEventError as exc:
                await self.dead_letter(record, exc, attempt)
                return
            except Exception as exc:
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.retry_base_seconds * 2 ** (attempt - 1))
                    continue
                if not await self._storage_up():
                    # The database is down, not the message at fault: wait rather than
                    # dead-letter everything that arrives during an outage.
                    log.error("database unreachable; holding the batch", exc_info=True)
                    await asyncio.sleep(self.retry_base_seconds * 2**self.max_attempts)
                    attempt = 0
                    continue
                await self.dead_letter(record, exc, attempt)
                return

    async def _storage_up(self) -> bool:
        try:
            return await asyncio.wait_for(self.storage.ping(), 5)
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False
