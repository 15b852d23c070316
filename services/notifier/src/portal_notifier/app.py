"""Composition root: settings → MongoDB, SES, Kafka consumer, retry worker, ops routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from litestar import Litestar
from pymongo import AsyncMongoClient

from portal_kit.observability import configure_logging
from portal_kit.ops import kafka_check, mongo_check, ops_routes
from portal_notifier.clients import SesClient
from portal_notifier.delivery import Deliverer, RetryWorker
from portal_notifier.handlers import register
from portal_notifier.settings import Settings
from portal_notifier.storage import NotifierStore

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging("notifier", settings.log_level)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri, tz_aware=True, connect=False
    )
    store = NotifierStore(mongo, settings.mongodb_database)
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        security=settings.kafka_security(),
        logger=logging.getLogger("portal_notifier.kafka"),
    )
    deliverer = Deliverer(settings, store, SesClient(settings), broker)
    register(broker, deliverer, store)
    worker = RetryWorker(
        deliverer,
        poll_seconds=settings.retry_poll_seconds,
        recovery_seconds=settings.recovery_seconds,
        retention=timedelta(hours=settings.delivery_retention_hours),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await mongo.aconnect()
        await store.ensure_indexes()
        await broker.start()
        task = asyncio.create_task(worker.run(), name="notifier-retry-worker")
        log.info("notifier started", extra={"group": settings.consumer_group})
        try:
            yield
        finally:
            # Stop taking new work first; an attempt in flight finishes (or its lease lapses
            # and another replica takes over), then the connections close.
            await broker.stop()
            worker.stop()
            await task
            await deliverer.drain()
            await mongo.close()
            log.info("notifier stopped")

    return Litestar(
        route_handlers=ops_routes({"mongodb": mongo_check(mongo), "kafka": kafka_check(broker)}),
        lifespan=[lifespan],
        # Logging is configured once by configure_logging (JSON, redacted); Litestar must not
        # replace the root handlers with its own.
        logging_config=None,
    )
