"""Applies a batch of Kafka records to the read model, under the kit's one consumer policy.

The live consumer (FastStream, `handlers.py`) and `replay` (plain aiokafka) both feed it.
- A record that cannot be decoded, or an event the read model cannot accept, is invalid:
  dead-lettered at once.
- The batch's state events go in one version-gated bulk write; while it keeps failing with
  the database healthy, the policy applies them one by one to isolate the culprit; while the
  database is away it holds (never dead-letters).
- Customer changes and change results are applied one at a time under the same policy.
`handle_batch` returns once every record is durable or dead-lettered; only then is the batch
acknowledged, so a crash replays it and the version-gated writes make that harmless.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from billing_view import metrics
from billing_view.changes import domain as changes_domain
from billing_view.changes.service import ChangeService
from billing_view.errors import InvalidEventError
from billing_view.projection import domain
from billing_view.projection.domain import StateWrite
from billing_view.projection.models import WriteOutcome
from billing_view.settings import Settings
from portal_contracts.codec import ContractError, decode
from portal_contracts.envelope import Envelope
from portal_contracts.topics import ConsumerGroup
from portal_kit.consumer import Backoff, ConsumerPolicy, HealthProbe
from portal_kit.deadletter import DeadLetter, SourceRecord
from portal_kit.tracing import handling_event

# Retrying cannot make these valid: the policy dead-letters them at once.
INVALID: tuple[type[BaseException], ...] = (ContractError, InvalidEventError)


def consumer_policy(
    settings: Settings, dead_letter: DeadLetter, healthy: HealthProbe
) -> ConsumerPolicy:
    return ConsumerPolicy(
        group=ConsumerGroup.BILLING_VIEW.value,
        dead_letter=dead_letter,
        healthy=healthy,
        invalid=INVALID,
        max_attempts=settings.max_attempts,
        backoff=Backoff(base_seconds=settings.retry_base_seconds),
    )


class StateWriter(Protocol):
    """What the projection needs of `StateRepository` (tests give an in-memory one)."""

    async def apply_states(self, writes: Sequence[StateWrite]) -> WriteOutcome: ...
    async def apply_one(self, write: StateWrite) -> int: ...


@dataclass(frozen=True)
class _Decoded:
    record: SourceRecord
    event: Envelope[Any]


class Projector:
    def __init__(self, states: StateWriter, changes: ChangeService, policy: ConsumerPolicy) -> None:
        self._states = states
        self._changes = changes
        self._policy = policy

    async def handle_batch(self, records: Sequence[SourceRecord]) -> None:
        started = time.perf_counter()
        decoded: list[_Decoded] = []
        for record in records:
            try:
                decoded.append(_Decoded(record, decode(record.value)))
            except ContractError as exc:
                await self._policy.dead_letter(record, exc)
        states: list[tuple[_Decoded, StateWrite]] = []
        others: list[_Decoded] = []
        for item in decoded:
            if not domain.is_state_event(item.event.type):
                others.append(item)
                continue
            try:
                states.append((item, domain.state_write(item.event)))
            except InvalidEventError as exc:
                await self._policy.dead_letter(item.record, exc)
        if states:
            await self._apply_states(states)
        for item in others:
            with handling_event(item.event.correlation_id, str(item.event.event_id)):
                apply = functools.partial(self._apply_other, item.event)
                await self._policy.handle(item.record, apply)
        if records:
            metrics.APPLY_SECONDS.observe(time.perf_counter() - started)
            now = datetime.now(UTC)
            for item in decoded:
                metrics.EVENT_AGE.observe(max(0.0, (now - item.event.occurred_at).total_seconds()))

    async def _apply_states(self, states: list[tuple[_Decoded, StateWrite]]) -> None:
        writes = [write for _, write in states]

        async def apply_all() -> None:
            outcome = await self._states.apply_states(writes)
            metrics.APPLIED.inc(outcome.applied)
            metrics.STALE.inc(outcome.stale)

        async def apply_one(index: int) -> None:
            applied = await self._states.apply_one(writes[index])
            (metrics.APPLIED if applied else metrics.STALE).inc()

        await self._policy.handle_batch([item.record for item, _ in states], apply_all, apply_one)

    async def _apply_other(self, event: Envelope[Any]) -> None:
        if changes_domain.is_change_request(event.type):
            await self._changes.record(event)
        elif changes_domain.is_change_result(event.type):
            await self._changes.settle(event)
        else:
            raise InvalidEventError(f"billing-view does not consume {event.type}")
        metrics.APPLIED.inc()
