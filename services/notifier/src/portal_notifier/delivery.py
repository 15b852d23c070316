"""One sign-in event → one email, also under redelivery, restarts and several replicas.

Flow per event: `record` (one insert keyed by event_id, born leased to this replica; a
redelivery finds it) → Kafka offset committed → send through SES → `mark_sent`. Attempts run
as bounded concurrent tasks beside the consumer. Transient SES faults park the delivery
(`due_at` with backoff, plus a work-queue item) and the partition keeps flowing; the retry
worker of any replica claims parked deliveries when due, and a slower recovery pass takes
over deliveries whose owner died mid-attempt (lease expired). Permanent faults are
dead-lettered and reported as `notification.failed`.

The one window where a crash still duplicates: SES accepted the email and the process dies
before `mark_sent` reaches MongoDB. The lease then expires and another attempt sends again.
SES v2 has no idempotency key, so this cannot be closed on our side; it is kept to one
MongoDB round trip by writing `sent` immediately after SES answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker

from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.envelope import Envelope
from portal_contracts.portal import NotificationFailed, SigninRequested
from portal_contracts.topics import ConsumerGroup, Topic, dead_letter_topic
from portal_kit.deadletter import DEAD_LETTERED, dead_letter_headers
from portal_kit.observability import mask_email
from portal_kit.sealing import SealError, unseal
from portal_notifier import metrics
from portal_notifier.clients import SesClient, SesError
from portal_notifier.domain import (
    TERMINAL,
    BillGroupView,
    DeliveryState,
    EntityView,
    Failure,
    choose_sender,
    lifetime_minutes,
    next_retry,
    resolve_branding,
)
from portal_notifier.rendering import build_mime, render_signin
from portal_notifier.settings import Settings
from portal_notifier.storage import Delivery, NotifierStore, SourceRecord

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _ref(event_id: str) -> uuid.UUID | str:
    """Event ids are UUIDs, not secrets; passed as UUID objects so the log scrubber (which
    masks every long token-like *string*) keeps them searchable."""
    try:
        return uuid.UUID(event_id)
    except ValueError:
        return event_id


async def _none() -> None:
    return None


class DeliveryFailedError(Exception):
    """A sign-in email that will not be sent; carried into the dead-letter headers."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Deliverer:
    def __init__(
        self,
        settings: Settings,
        store: NotifierStore,
        ses: SesClient,
        broker: KafkaBroker,
        *,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.store = store
        self.ses = ses
        self.broker = broker
        self.clock = clock
        self.jitter = jitter
        # Distinguishes this process's leases from other replicas' (and from its previous
        # life: a restarted process must not mistake a dead claim for its own).
        self.owner = uuid.uuid4().hex
        self._slots = asyncio.Semaphore(settings.send_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def accept_many(
        self, events: list[tuple[Envelope[SigninRequested], SourceRecord]]
    ) -> None:
        """Make the events durable as deliveries leased to this replica, then start sending.

        Returns (so the Kafka offsets may be committed) once the deliveries are in MongoDB:
        from then on a lost attempt is found again by the recovery pass of any replica, and
        the attempts run beside the consumer, not in its way.
        """
        now = self.clock()
        docs = [self._new_delivery(event, source, now) for event, source in events]
        known = await self.store.record_many(docs)
        for position, doc in enumerate(docs):
            state = known.get(position)
            if state is not None:
                # Redelivered. Final: done. Otherwise an attempt is under way or parked, and
                # the retry worker or the recovery pass brings it back if its owner died.
                metrics.DUPLICATES.inc()
                log.info(
                    "sign-in event already known",
                    extra={"event_id": _ref(doc["_id"]), "state": state.value},
                )
                continue
            await self._start(Delivery.from_doc(doc))

    def _new_delivery(
        self, event: Envelope[SigninRequested], source: SourceRecord, now: datetime
    ) -> dict[str, Any]:
        payload = event.payload
        return {
            "_id": str(event.event_id),
            "state": DeliveryState.SENDING.value,
            "lease_owner": self.owner,
            "lease_until": now + timedelta(seconds=self.settings.lease_seconds),
            "tenant_id": event.tenant_id,
            "bill_group_id": payload.bill_group_id,
            "entity_id": payload.entity_id,
            "email": payload.email,
            "sealed": payload.sealed,
            "locale": payload.locale,
            "occurred_at": event.occurred_at,
            "expires_at": payload.expires_at,
            "attempts": 0,
            "first_attempt_at": None,
            "due_at": now,
            "created_at": now,
            "source": {
                "topic": source.topic,
                "partition": source.partition,
                "offset": source.offset,
                "key": source.key,
                "body": source.body,
            },
        }

    async def run_due(self) -> int:
        """Start every parked delivery that is due; returns how many were started."""
        started = 0
        now = self.clock()
        for event_id in await self.store.due(now, limit=4 * self.settings.send_concurrency):
            if await self._claim_and_start(event_id):
                started += 1
                continue
            state, not_before = await self.store.peek(event_id)
            if state is None or state in TERMINAL:
                # Left behind by a crash between "final" and "dequeue".
                await self.store.dequeue(event_id)
            else:
                # Someone holds a live lease, or the retry is not due yet: look again then.
                await self.store.requeue(event_id, max(not_before or now, now))
        return started

    async def recover(self) -> int:
        """Take over deliveries whose owner died mid-attempt; returns how many."""
        started = 0
        now = self.clock()
        for event_id in await self.store.abandoned(now, limit=4 * self.settings.send_concurrency):
            if await self._claim_and_start(event_id):
                started += 1
        if started:
            log.warning("took over abandoned deliveries", extra={"count": started})
        return started

    async def _claim_and_start(self, event_id: str) -> bool:
        delivery = await self.store.claim(
            event_id, self.owner, self.clock(), self.settings.lease_seconds
        )
        if delivery is None:
            return False
        await self._start(delivery)
        return True

    async def _start(self, delivery: Delivery) -> None:
        """Run the attempt beside the caller; waits only when every slot is busy."""
        await self._slots.acquire()
        task = asyncio.create_task(self._run(delivery), name=f"send-{delivery.event_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, delivery: Delivery) -> None:
        try:
            await self.attempt(delivery)
        except Exception:
            # MongoDB or Kafka failed mid-attempt: the lease lapses, the recovery pass retries.
            log.exception(
                "attempt interrupted; retried after its lease",
                extra={"event_id": _ref(delivery.event_id)},
            )
        finally:
            self._slots.release()

    async def drain(self) -> None:
        """Wait for attempts in flight (graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def attempt(self, delivery: Delivery) -> None:
        """One attempt of a delivery this process holds the lease of."""
        attempts = delivery.attempts + 1
        now = self.clock()
        first_attempt_at = delivery.first_attempt_at or now
        context = {"event_id": _ref(delivery.event_id), "attempt": attempts}
        # Independent reads, concurrently: each is a full round trip to the database.
        suppressed, bill_group, known_entity = await asyncio.gather(
            self.store.is_suppressed(delivery.email),
            self.store.bill_group(delivery.tenant_id, delivery.bill_group_id),
            self.store.entity(delivery.tenant_id, delivery.entity_id)
            if delivery.entity_id
            else _none(),
        )
        if suppressed:
            metrics.SUPPRESSED.inc()
            await self._give_up(
                delivery, DeliveryState.SUPPRESSED, DeliveryFailedError("suppressed"), attempts
            )
            return
        if now >= delivery.expires_at:
            await self._give_up(
                delivery,
                DeliveryState.FAILED,
                DeliveryFailedError("expired_before_sending"),
                attempts,
            )
            return
        try:
            secret = unseal(delivery.sealed, self.settings.seal_keys)
        except SealError as exc:
            await self._give_up(
                delivery,
                DeliveryState.FAILED,
                DeliveryFailedError("unreadable_secret", str(exc)),
                attempts,
            )
            return
        raw, sender = await self._compose(
            delivery, bill_group, known_entity, secret.link, secret.code
        )
        started = time.perf_counter()
        try:
            message_id = await self.ses.send(raw, sender=sender, recipient=delivery.email)
        except SesError as exc:
            metrics.SEND_SECONDS.observe(time.perf_counter() - started)
            if exc.failure is Failure.PERMANENT:
                await self._give_up(
                    delivery,
                    DeliveryState.FAILED,
                    DeliveryFailedError("ses_rejected", str(exc)),
                    attempts,
                )
                return
            await self._retry_later(delivery, attempts, first_attempt_at, exc)
            return
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
        sent_at = self.clock()
        # Straight after SES answered: this write is the whole duplicate window.
        if not await self.store.mark_sent(
            delivery.event_id, self.owner, message_id, sent_at, attempts
        ):
            log.warning("lease lost while sending; another replica may resend", extra=context)
        if delivery.attempts:
            await self.store.dequeue(delivery.event_id)
        metrics.SENT.inc()
        metrics.DELIVERY_SECONDS.observe(max(0.0, (sent_at - delivery.occurred_at).total_seconds()))
        log.info(
            "sign-in email sent",
            extra={**context, "to": mask_email(delivery.email), "ses_message_id": message_id},
        )

    async def _compose(
        self,
        delivery: Delivery,
        bill_group: BillGroupView | None,
        entity: EntityView | None,
        link: str,
        code: str,
    ) -> tuple[bytes, str]:
        entity_id = delivery.entity_id or (bill_group.entity_id if bill_group else None)
        if entity is None and entity_id:
            # The event did not name the entity; the bill group's projection does.
            entity = await self.store.entity(delivery.tenant_id, entity_id)
        branding = resolve_branding(
            entity,
            bill_group,
            neutral_name=self.settings.neutral_brand_name,
            neutral_logo_url=self.settings.neutral_logo_url,
        )
        if branding.neutral:
            log.info(
                "branding unknown, sending neutral email",
                extra={"event_id": _ref(delivery.event_id)},
            )
        email = render_signin(
            branding,
            link=link,
            code=code,
            minutes=lifetime_minutes(delivery.occurred_at, delivery.expires_at),
            locale=delivery.locale,
        )
        sender = choose_sender(
            self.settings.ses_senders,
            self.settings.ses_sender,
            tenant_id=delivery.tenant_id,
            entity_id=entity_id,
        )
        raw = build_mime(
            email, sender=sender, sender_name=branding.entity_name, recipient=delivery.email
        )
        return raw, sender

    async def _retry_later(
        self, delivery: Delivery, attempts: int, first_attempt_at: datetime, exc: SesError
    ) -> None:
        now = self.clock()
        due = next_retry(
            self.settings.retry_policy,
            attempts=attempts,
            now=now,
            first_attempt_at=first_attempt_at,
            expires_at=delivery.expires_at,
            jitter=self.jitter(),
        )
        if due is None:
            await self._give_up(
                delivery,
                DeliveryState.FAILED,
                DeliveryFailedError("retries_exhausted", str(exc)),
                attempts,
            )
            return
        metrics.RETRIED.inc()
        await self.store.reschedule(
            delivery.event_id,
            self.owner,
            attempts=attempts,
            first_attempt_at=first_attempt_at,
            due_at=due,
            error=exc.code,
        )
        await self.store.requeue(delivery.event_id, due)
        log.info(
            "SES busy, retry parked",
            extra={
                "event_id": _ref(delivery.event_id),
                "attempt": attempts,
                "ses_error": exc.code,
                "retry_in_seconds": round((due - now).total_seconds(), 3),
            },
        )

    async def _give_up(
        self, delivery: Delivery, state: DeliveryState, error: DeliveryFailedError, attempts: int
    ) -> None:
        """Dead-letter the original message and report it; then (only then) mark it final.

        If the process dies in between, the lease expires and the next attempt reports again:
        a failure report may repeat, it is never lost.
        """
        await self.dead_letter(delivery.source, error, attempts=attempts)
        failed = make_event(
            NotificationFailed(
                source_event_id=delivery.event_id,
                bill_group_id=delivery.bill_group_id,
                reason=error.reason,
                failed_at=self.clock(),
            ),
            tenant_id=delivery.tenant_id,
            aggregate_id=delivery.bill_group_id,
        )
        await self.broker.publish(
            encode(failed),
            self.settings.topic(Topic.PORTAL_NOTIFICATIONS),
            key=delivery.bill_group_id.encode(),
            headers=headers_for(failed),
        )
        await self.store.finish(delivery.event_id, self.owner, state, error.reason, attempts)
        if delivery.attempts:
            await self.store.dequeue(delivery.event_id)
        if state is DeliveryState.FAILED:
            metrics.FAILED.labels(error.reason).inc()
        log.warning(
            "sign-in email not sent",
            extra={
                "event_id": _ref(delivery.event_id),
                "reason": error.reason,
                "to": mask_email(delivery.email),
            },
        )

    async def dead_letter(self, source: SourceRecord, error: BaseException, attempts: int) -> None:
        # Same headers and topic as portal_kit.ops.dead_letter; the Kafka message
        # itself may be long committed (retries are parked), so it is rebuilt from the copy
        # kept with the delivery.
        group = ConsumerGroup.NOTIFIER
        headers = dead_letter_headers(
            error,
            source_topic=source.topic,
            partition=source.partition,
            offset=source.offset,
            consumer_group=group.value,
            attempts=attempts,
        )
        await self.broker.publish(
            source.body,
            self.settings.topic(dead_letter_topic(group)),
            key=source.key,
            headers=headers,
        )
        DEAD_LETTERED.labels(group.value, source.topic).inc()


class RetryWorker:
    """Background task of every replica: starts parked deliveries once they are due, takes
    over abandoned ones every `recovery_seconds`, and purges old deliveries hourly."""

    def __init__(
        self,
        deliverer: Deliverer,
        *,
        poll_seconds: float,
        recovery_seconds: float,
        retention: timedelta,
    ) -> None:
        self.deliverer = deliverer
        self.poll_seconds = poll_seconds
        self.recovery_seconds = recovery_seconds
        self.retention = retention
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_recovery = loop.time()
        next_purge = loop.time()
        while not self._stopping.is_set():
            try:
                await self.deliverer.run_due()
                if loop.time() >= next_recovery:
                    next_recovery = loop.time() + self.recovery_seconds
                    await self.deliverer.recover()
                if loop.time() >= next_purge:
                    next_purge = loop.time() + _PURGE_EVERY_SECONDS
                    await self.deliverer.store.purge(self.deliverer.clock() - self.retention)
            except Exception:
                # MongoDB or Kafka briefly away: the parked work stays parked, try again.
                log.exception("retry pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    def stop(self) -> None:
        self._stopping.set()


_PURGE_EVERY_SECONDS = 3600.0
