"""The composition root: settings → MongoDB, SES, the features, the Kafka consumer, the
retry worker, ops routes. The one place the notifier's parts are built and wired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from faststream.kafka import KafkaBroker
from litestar import Litestar

from portal_kit.access_log import AccessLog
from portal_kit.consumer_lag import ConsumerLag
from portal_kit.errors import json_error_handlers
from portal_kit.metrics import Metrics
from portal_kit.observability import configure_logging
from portal_kit.ops import ReadinessCheck, kafka_check, mongo_check, ops_routes
from portal_kit.tracing import configure_tracing, kafka_middlewares
from portal_notifier.branding.repository import BrandingRepository
from portal_notifier.branding.service import BrandingService
from portal_notifier.consumer import (
    EventRouter,
    consumed_topics,
    consumer_policy,
    dead_letter,
    register,
)
from portal_notifier.db import mongo_client
from portal_notifier.delivery.handlers import KafkaFailureReporter
from portal_notifier.delivery.repository import DeliveryRepository
from portal_notifier.delivery.service import DeliveryService, utc_now
from portal_notifier.delivery.ses import SesClient
from portal_notifier.delivery.worker import Dispatcher, RetryWorker
from portal_notifier.settings import Settings
from portal_notifier.suppressions.repository import SuppressionRepository
from portal_notifier.suppressions.service import SuppressionService

log = logging.getLogger(__name__)


def _all_of(*checks: ReadinessCheck) -> ReadinessCheck:
    async def healthy() -> bool:
        for check in checks:
            if not await check():
                return False
        return True

    return healthy


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging("notifier", settings.log_level)
    configure_tracing("notifier")
    mongo = mongo_client(settings.mongodb_uri, connect=False)
    db = mongo[settings.mongodb_database]
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        security=settings.kafka_security(),
        logger=logging.getLogger("portal_notifier.kafka"),
        middlewares=kafka_middlewares(),
    )
    mongo_ready, kafka_ready = mongo_check(mongo), kafka_check(broker)

    branding = BrandingService(
        BrandingRepository(db),
        neutral_name=settings.neutral_brand_name,
        neutral_logo_url=settings.neutral_logo_url,
    )
    suppression_list = SuppressionRepository(db)
    suppressions = SuppressionService(suppression_list)
    deliveries = DeliveryRepository(db, timedelta(hours=settings.delivery_retention_hours))
    parked = dead_letter(broker, settings)
    ses = SesClient(settings)
    delivery = DeliveryService(
        settings,
        deliveries,
        ses,
        branding,
        suppressions,
        KafkaFailureReporter(broker, settings, parked, utc_now),
    )
    dispatcher = Dispatcher(delivery, settings.send_concurrency)
    policy = consumer_policy(parked, _all_of(mongo_ready, kafka_ready))
    register(broker, settings, EventRouter(policy, branding, delivery, dispatcher))
    worker = RetryWorker(
        dispatcher,
        poll_seconds=settings.retry_poll_seconds,
        recovery_seconds=settings.recovery_seconds,
        batch=4 * settings.send_concurrency,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await mongo.aconnect()
        await deliveries.ensure_indexes()
        await suppression_list.ensure_indexes()
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
            await dispatcher.drain()
            ses.close()
            await mongo.close()
            log.info("notifier stopped")

    lag = ConsumerLag(settings, group=settings.consumer_group, topics=consumed_topics(settings))
    return Litestar(
        plugins=[AccessLog(), Metrics("notifier", "portal-notifier", [lag])],
        route_handlers=ops_routes({"mongodb": mongo_ready, "kafka": kafka_ready}),
        lifespan=[lifespan],
        # Typed errors (portal_notifier.errors) answer with the one error body, in one place.
        exception_handlers=json_error_handlers(),
        # Logging is configured once by configure_logging (JSON, redacted); Litestar must not
        # replace the root handlers with its own.
        logging_config=None,
    )
