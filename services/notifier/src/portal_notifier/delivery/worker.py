"""Running deliveries beside the consumer: bounded concurrent attempts (`Dispatcher`) and
the background pass of every replica that starts parked retries when due and takes over
abandoned deliveries (`RetryWorker`). Old deliveries are MongoDB's TTL monitor's job."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from portal_contracts.codec import ContractError, decode
from portal_kit.tracing import handling_event, processing
from portal_notifier.delivery.models import Delivery
from portal_notifier.delivery.service import DeliveryService, LookedUp, ref

log = logging.getLogger(__name__)


def _correlation_of(value: bytes) -> str | None:
    """The sign-in's correlation id, from the record kept with the delivery (it was valid
    when it was recorded)."""
    try:
        return decode(value).correlation_id
    except ContractError:
        return None


class Dispatcher:
    """Attempts run as tasks, at most `concurrency` at a time: a slow SES call holds up
    neither the partition nor the other emails."""

    def __init__(self, service: DeliveryService, concurrency: int) -> None:
        self.service = service
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, delivery: Delivery, looked_up: LookedUp | None = None) -> None:
        """Run the attempt beside the caller; waits only when every slot is busy."""
        await self._slots.acquire()
        task = asyncio.create_task(self._run(delivery, looked_up), name=f"send-{delivery.event_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start_many(self, deliveries: Sequence[Delivery]) -> None:
        """Look up the whole batch at once (suppressions, branding), then start each."""
        if not deliveries:
            return
        try:
            looked_up: Sequence[LookedUp | None] = await self.service.look_up(deliveries)
        except Exception:
            # Each attempt looks up for itself (and, failing that, its lease lapses).
            log.exception("batch look-up failed; attempts look up one by one")
            looked_up = [None] * len(deliveries)
        for delivery, found in zip(deliveries, looked_up, strict=True):
            await self.start(delivery, found)

    async def _run(self, delivery: Delivery, looked_up: LookedUp | None) -> None:
        source = delivery.request.source
        try:
            # In the trace of the sign-in that asked for the email, whichever batch, replica
            # or retry pass runs the attempt.
            with (
                processing(source.topic, source.headers, message_id=delivery.event_id),
                handling_event(_correlation_of(source.value), delivery.event_id),
            ):
                await self.service.attempt(delivery, looked_up)
        except Exception:
            # MongoDB or Kafka failed mid-attempt: the lease lapses, the recovery pass retries.
            log.exception(
                "attempt interrupted; retried after its lease",
                extra={"event_id": ref(delivery.event_id)},
            )
        finally:
            self._slots.release()

    async def drain(self) -> None:
        """Wait for attempts in flight (graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class RetryWorker:
    """Starts parked deliveries once they are due, and takes over abandoned ones every
    `recovery_seconds`. Finding them is a query; taking one is the atomic claim, so the
    workers of all replicas may look at the same deliveries: each is started once."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        poll_seconds: float,
        recovery_seconds: float,
        batch: int,
    ) -> None:
        self.dispatcher = dispatcher
        self.service = dispatcher.service
        self.poll_seconds = poll_seconds
        self.recovery_seconds = recovery_seconds
        self.batch = batch
        self._stopping = asyncio.Event()

    async def run_due(self) -> int:
        """Start every parked delivery that is due; returns how many were started."""
        return await self._claim_and_start(await self.service.due(self.batch))

    async def recover(self) -> int:
        """Take over deliveries whose owner died mid-attempt; returns how many."""
        started = await self._claim_and_start(await self.service.abandoned(self.batch))
        if started:
            log.warning("took over abandoned deliveries", extra={"count": started})
        return started

    async def _claim_and_start(self, keys: Sequence[str]) -> int:
        """Claim each (a rival replica may have been quicker: then it is not ours), then
        start those this replica now holds."""
        claimed = [d for d in [await self.service.claim(key) for key in keys] if d is not None]
        await self.dispatcher.start_many(claimed)
        return len(claimed)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_recovery = loop.time()
        while not self._stopping.is_set():
            try:
                await self.run_due()
                if loop.time() >= next_recovery:
                    next_recovery = loop.time() + self.recovery_seconds
                    await self.recover()
            except Exception:
                # MongoDB or Kafka briefly away: the parked work stays parked, try again.
                log.exception("retry pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    def stop(self) -> None:
        self._stopping.set()
