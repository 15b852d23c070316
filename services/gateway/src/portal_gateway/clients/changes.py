"""Publishing customer changes to Kafka (`portal.customer-changes`, acks=all, key = bill group).

The producer connects in the background and keeps trying: a gateway started while Kafka is
away serves its pages at once and takes changes as soon as Kafka answers. While Kafka is away
a change is refused at once (`PublishError`: 503, "try again in a moment") instead of being
queued: nothing the customer was told is unsaved can reach Kafka later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.topics import Topic
from portal_gateway.clients.models import Session
from portal_gateway.errors import PublishError
from portal_gateway.settings import Settings
from portal_kit.metrics import count_publish, precreate_publishes
from portal_kit.tracing import kafka_middlewares

log = logging.getLogger(__name__)

# Kafka back => changes taken again within 10 s. Never connected yet: at most RETRY_CAP (the
# wait before the next attempt; an attempt against a closed port fails at once, one against a
# black hole is cut off after START_TIMEOUT) + one start (~1 s): 2 s + 5 s + 1 s worst case.
# Connected before: the next probe, PROBE_SECONDS + PING_TIMEOUT later.
FIRST_RETRY_SECONDS = 0.25
RETRY_CAP_SECONDS = 2.0
START_TIMEOUT_SECONDS = 5.0
# Once connected, how often the connection is probed (the producer reconnects on its own;
# the probe only decides whether a change is tried or refused at once).
PROBE_SECONDS = 2.0
PING_TIMEOUT_SECONDS = 1.5


class ChangePublisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._broker: KafkaBroker | None = None
        self._available = False
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        precreate_publishes("gateway", [self.topic])

    @property
    def topic(self) -> str:
        return self.settings.topic(Topic.PORTAL_CUSTOMER_CHANGES)

    def _new_broker(self) -> KafkaBroker:
        return KafkaBroker(
            self.settings.kafka_bootstrap,
            acks="all",
            security=self.settings.kafka_security(),
            client_id="portal-gateway",
            request_timeout_ms=10_000,
            middlewares=kafka_middlewares(),
        )

    async def start(self, wait_seconds: float = START_TIMEOUT_SECONDS) -> None:
        """Start connecting in the background; wait (bounded) for the first attempt only, so
        that a gateway whose Kafka is up takes changes from its first request."""
        if self._task is None:
            self._task = asyncio.create_task(self._keep_connected(), name="change-publisher")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), wait_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._available = False
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.stop()

    async def ping(self) -> bool:
        """Whether changes are taken right now (the last probe's answer; no round trip)."""
        return self._available

    async def _keep_connected(self) -> None:
        self._broker = await self._connect()
        self._available = True
        log.info("kafka producer connected")
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                answered = bool(await self._broker.ping(timeout=PING_TIMEOUT_SECONDS))
            except Exception:  # noqa: BLE001 - any probe failure means "away"
                answered = False
            if answered and not self._available:
                log.info("kafka back: taking customer changes again")
            elif self._available and not answered:
                log.warning("kafka away: refusing customer changes until it answers")
            self._available = answered

    async def _connect(self) -> KafkaBroker:
        """A started producer, after as many attempts as it takes (capped backoff)."""
        delay = FIRST_RETRY_SECONDS
        while True:
            broker: KafkaBroker | None = None
            try:
                # Probed first with a client that is always closed: a producer whose start
                # fails is never closed by faststream (aiokafka then logs it as leaked).
                await asyncio.wait_for(self._bootstrap(), START_TIMEOUT_SECONDS)
                broker = self._new_broker()
                await asyncio.wait_for(broker.start(), START_TIMEOUT_SECONDS)
                return broker
            except asyncio.CancelledError:
                if broker is not None:
                    with contextlib.suppress(Exception):
                        await broker.stop()
                raise
            except Exception as exc:  # noqa: BLE001 - retried until Kafka answers
                log.warning(
                    "kafka not reachable; retrying",
                    extra={"error_type": type(exc).__name__, "retry_in": delay},
                )
                if broker is not None:
                    with contextlib.suppress(Exception):
                        await broker.stop()
            finally:
                self._first_attempt.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP_SECONDS)

    async def _bootstrap(self) -> None:
        """Raises unless Kafka answers a metadata request."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap,
            request_timeout_ms=int(START_TIMEOUT_SECONDS * 1000),
            **self.settings.kafka_client_options(),
        )
        try:
            await admin.start()
        finally:
            await admin.close()

    async def publish(self, session: Session, payload: BaseModel) -> None:
        event = make_event(
            payload,
            tenant_id=session.tenant_id,
            aggregate_id=session.bill_group_id,
            correlation_id=str(getattr(payload, "change_id", "")) or None,
        )
        broker = self._broker
        if broker is None or not self._available:
            count_publish("gateway", self.topic, ok=False)
            log.warning("customer change refused: kafka away", extra={"event_type": event.type})
            raise PublishError("kafka away")
        try:
            await broker.publish(
                encode(event),
                self.topic,
                key=session.bill_group_id.encode(),
                headers=headers_for(event),
            )
        except Exception as exc:
            count_publish("gateway", self.topic, ok=False)
            log.error(
                "customer change not published",
                extra={"event_type": event.type, "error_type": type(exc).__name__},
            )
            raise PublishError(str(type(exc).__name__)) from exc
        count_publish("gateway", self.topic, ok=True)
        log.info("customer change published", extra={"event_type": event.type})
