"""Publishing customer changes to Kafka (`portal.customer-changes`, acks=all, key = bill group)."""

from __future__ import annotations

import asyncio
import logging

from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from portal_contracts.codec import encode, headers_for, make_event
from portal_contracts.topics import Topic
from portal_gateway.clients.models import Session
from portal_gateway.errors import PublishError
from portal_gateway.settings import Settings

log = logging.getLogger(__name__)


class ChangePublisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker = KafkaBroker(
            settings.kafka_bootstrap,
            acks="all",
            security=settings.kafka_security(),
            client_id="portal-gateway",
            request_timeout_ms=10_000,
        )
        self._started = False
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if not self._started:
                try:
                    await self.broker.start()
                except Exception:
                    # Release the half-open producer; the next publish tries again.
                    await self.broker.stop()
                    raise
                self._started = True

    async def stop(self) -> None:
        async with self._lock:
            if self._started:
                await self.broker.stop()
                self._started = False

    async def ping(self) -> bool:
        return self._started and bool(await self.broker.ping(timeout=1.5))

    async def publish(self, session: Session, payload: BaseModel) -> None:
        event = make_event(
            payload,
            tenant_id=session.tenant_id,
            aggregate_id=session.bill_group_id,
            correlation_id=str(getattr(payload, "change_id", "")) or None,
        )
        try:
            # Started lazily as well: a gateway that came up while Kafka was down recovers.
            await self.start()
            await self.broker.publish(
                encode(event),
                self.settings.topic(Topic.PORTAL_CUSTOMER_CHANGES),
                key=session.bill_group_id.encode(),
                headers=headers_for(event),
            )
        except Exception as exc:
            log.error(
                "customer change not published",
                extra={"event_type": event.type, "error_type": type(exc).__name__},
            )
            raise PublishError(str(type(exc).__name__)) from exc
        log.info("customer change published", extra={"event_type": event.type})
