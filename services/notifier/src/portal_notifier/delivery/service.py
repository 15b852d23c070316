"""Sign-in email use cases: accept an event exactly once, attempt a delivery, park a
retry, give up and report.

Flow per event: `accept` (one insert keyed by event_id, born leased to this replica; a
redelivery finds it) → Kafka offset committed → `attempt`: SES → `mark_sent`. Transient SES
faults park the delivery (`pending`, `due_at` with backoff) so the partition keeps flowing;
the retry worker of any replica `claim`s it when due (one atomic conditional update of the
delivery: exactly one claimer wins), and a slower recovery pass takes over deliveries whose
owner died mid-attempt (lease expired). Permanent faults are dead-lettered and reported as
`notification.failed`.

The one window where a crash still duplicates: SES accepted the email and the process dies
before `mark_sent` reaches MongoDB. The lease then expires and another attempt sends again.
SES v2 has no idempotency key, so this cannot be closed on our side; it is kept to one
MongoDB round trip by writing `sent` immediately after SES answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from portal_kit.observability import mask_email
from portal_kit.sealing import SealError, unseal
from portal_notifier import metrics
from portal_notifier.branding.domain import EmailBrand
from portal_notifier.delivery.domain import (
    DeliveryFailedError,
    Failure,
    Reason,
    SesError,
    born_claimed,
    choose_sender,
    final_state,
    lifetime_minutes,
    next_retry,
)
from portal_notifier.delivery.models import Delivery, DeliveryState, SigninEmail
from portal_notifier.delivery.ports import (
    Brander,
    DeliveryStore,
    FailureReporter,
    Mailer,
    SuppressionCheck,
)
from portal_notifier.delivery.rendering import build_mime, render_signin
from portal_notifier.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class LookedUp:
    """Read before an attempt: is the recipient suppressed, and the email's branding."""

    suppressed: bool
    brand: EmailBrand


def utc_now() -> datetime:
    return datetime.now(UTC)


def ref(event_id: str) -> uuid.UUID | str:
    """Event ids are UUIDs, not secrets; passed as UUID objects so the log scrubber (which
    masks every long token-like *string*) keeps them searchable."""
    try:
        return uuid.UUID(event_id)
    except ValueError:
        return event_id


class DeliveryService:
    def __init__(
        self,
        settings: Settings,
        store: DeliveryStore,
        mailer: Mailer,
        branding: Brander,
        suppressions: SuppressionCheck,
        reporter: FailureReporter,
        *,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._store = store
        self._mailer = mailer
        self._branding = branding
        self._suppressions = suppressions
        self._reporter = reporter
        self.clock = clock
        self._jitter = jitter
        # Distinguishes this process's leases from other replicas' (and from its previous
        # life: a restarted process must not mistake a dead claim for its own).
        self.owner = uuid.uuid4().hex

    async def accept(self, requests: Sequence[SigninEmail]) -> list[Delivery]:
        """Exactly once per event: record each as a delivery leased to this replica, in one
        insert; returns the new ones, to be attempted.

        Once this returns the deliveries are durable (the Kafka offsets may be committed):
        from then on a lost attempt is found again by the recovery pass of any replica. An
        event already known (redelivered after a restart or rebalance, consumed by another
        replica, or twice in the batch) hits the unique `_id` and is acknowledged without
        sending, whatever its state: final means done, otherwise an attempt is under way or
        parked and its owner (or the recovery pass) brings it to an end.
        """
        now = self.clock()
        born = [
            born_claimed(r, owner=self.owner, now=now, lease_seconds=self.settings.lease_seconds)
            for r in requests
        ]
        known = await self._store.record_many(born)
        fresh: list[Delivery] = []
        for position, delivery in enumerate(born):
            state = known.get(position)
            if state is None:
                fresh.append(delivery)
                continue
            metrics.DUPLICATES.inc()
            log.info(
                "sign-in event already known",
                extra={"event_id": ref(delivery.event_id), "state": state.value},
            )
        return fresh

    async def claim(self, key: str) -> Delivery | None:
        """Take a parked (due) or abandoned (lease expired) delivery for this replica; None
        when it is not claimable (any more): not due, leased to someone live, final, or just
        taken by a rival."""
        return await self._store.claim(key, self.owner, self.clock(), self.settings.lease_seconds)

    async def due(self, limit: int) -> list[str]:
        return await self._store.due(self.clock(), limit)

    async def abandoned(self, limit: int) -> list[str]:
        return await self._store.abandoned(self.clock(), limit)

    async def look_up(self, deliveries: Sequence[Delivery]) -> list[LookedUp]:
        """What the attempts of several deliveries need to know, in order: whether each
        recipient is suppressed, and each email's branding. Two independent queries by `_id`
        (concurrently) for a whole consumer batch, instead of two or three per email."""
        requests = [d.request for d in deliveries]
        suppressed, brands = await asyncio.gather(
            self._suppressions.suppressed_among([r.email for r in requests]),
            self._branding.brands([(r.tenant_id, r.bill_group_id, r.entity_id) for r in requests]),
        )
        return [
            LookedUp(r.email in suppressed, brand)
            for r, brand in zip(requests, brands, strict=True)
        ]

    async def attempt(self, delivery: Delivery, looked_up: LookedUp | None = None) -> None:
        """One attempt of a delivery this process holds the lease of; `looked_up` when the
        caller looked up a whole batch (`look_up`), else it is looked up here."""
        request = delivery.request
        attempts = delivery.attempts + 1
        if looked_up is None:
            [looked_up] = await self.look_up([delivery])
        suppressed, brand = looked_up.suppressed, looked_up.brand
        now = self.clock()
        first_attempt_at = delivery.first_attempt_at or now
        if suppressed:
            metrics.SUPPRESSED.inc()
            await self._give_up(delivery, DeliveryFailedError(Reason.SUPPRESSED), attempts)
            return
        if now >= request.expires_at:
            failure = DeliveryFailedError(Reason.EXPIRED_BEFORE_SENDING)
            await self._give_up(delivery, failure, attempts)
            return
        try:
            secret = unseal(request.sealed, self.settings.seal_keys)
        except SealError as exc:
            failure = DeliveryFailedError(Reason.UNREADABLE_SECRET, str(exc))
            await self._give_up(delivery, failure, attempts)
            return
        raw, sender = self._compose(request, brand, secret.link, secret.code)
        started = time.perf_counter()
        try:
            message_id = await self._mailer.send(raw, sender=sender, recipient=request.email)
        except SesError as exc:
            metrics.SEND_SECONDS.observe(time.perf_counter() - started)
            if exc.failure is Failure.PERMANENT:
                failure = DeliveryFailedError(Reason.SES_REJECTED, str(exc))
                await self._give_up(delivery, failure, attempts)
                return
            await self._retry_later(delivery, attempts, first_attempt_at, exc)
            return
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
        await self._sent(delivery, attempts, message_id)

    async def _sent(self, delivery: Delivery, attempts: int, message_id: str) -> None:
        sent_at = self.clock()
        context = {"event_id": ref(delivery.event_id), "attempt": attempts}
        # Straight after SES answered: this write is the whole duplicate window.
        if not await self._store.mark_sent(delivery.key, self.owner, message_id, sent_at, attempts):
            log.warning("lease lost while sending; another replica may resend", extra=context)
        metrics.SENT.inc()
        elapsed = (sent_at - delivery.request.occurred_at).total_seconds()
        metrics.DELIVERY_SECONDS.observe(max(0.0, elapsed))
        log.info(
            "sign-in email sent",
            extra={
                **context,
                "to": mask_email(delivery.request.email),
                "ses_message_id": message_id,
            },
        )

    def _compose(
        self, request: SigninEmail, brand: EmailBrand, link: str, code: str
    ) -> tuple[bytes, str]:
        branding = brand.branding
        if branding.neutral:
            log.info(
                "branding unknown, sending neutral email",
                extra={"event_id": ref(request.event_id)},
            )
        email = render_signin(
            branding,
            link=link,
            code=code,
            minutes=lifetime_minutes(request.occurred_at, request.expires_at),
            locale=request.locale,
        )
        sender = choose_sender(
            self.settings.ses_senders,
            self.settings.ses_sender,
            tenant_id=request.tenant_id,
            entity_id=brand.entity_id,
        )
        raw = build_mime(
            email, sender=sender, sender_name=branding.entity_name, recipient=request.email
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
            expires_at=delivery.request.expires_at,
            jitter=self._jitter(),
        )
        if due is None:
            failure = DeliveryFailedError(Reason.RETRIES_EXHAUSTED, str(exc))
            await self._give_up(delivery, failure, attempts)
            return
        metrics.RETRIED.inc()
        await self._store.reschedule(
            delivery.key,
            self.owner,
            attempts=attempts,
            first_attempt_at=first_attempt_at,
            due_at=due,
            error=exc.code,
        )
        log.info(
            "SES busy, retry parked",
            extra={
                "event_id": ref(delivery.event_id),
                "attempt": attempts,
                "ses_error": exc.code,
                "retry_in_seconds": round((due - now).total_seconds(), 3),
            },
        )

    async def _give_up(self, delivery: Delivery, error: DeliveryFailedError, attempts: int) -> None:
        """Report first (dead-letter + `notification.failed`), then (only then) mark final.

        If the process dies in between, the lease expires and the next attempt reports again:
        a failure report may repeat, it is never lost.
        """
        state = final_state(error.reason)
        await self._reporter.report(delivery, error, attempts)
        await self._store.finish(delivery.key, self.owner, state, error.reason.value, attempts)
        if state is DeliveryState.FAILED:
            metrics.FAILED.labels(error.reason.value).inc()
        log.warning(
            "sign-in email not sent",
            extra={
                "event_id": ref(delivery.event_id),
                "reason": error.reason.value,
                "to": mask_email(delivery.request.email),
            },
        )
