"""Composition root: settings → MongoDB, Kafka (projection consumer + outbox relay), HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from faststream.kafka import KafkaBroker
from litestar import Litestar
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig
from pymongo import AsyncMongoClient

from portal_access.errors import ApiError
from portal_access.handlers import publisher, register
from portal_access.operations import AccessService
from portal_access.outbox import Relay
from portal_access.routes import AdminPortal, Internal, api_error, validation_error
from portal_access.settings import Settings
from portal_access.staff_api import StaffLinks
from portal_access.storage import Storage
from portal_contracts.envelope import utc_now
from portal_kit.observability import configure_logging
from portal_kit.ops import kafka_check, mongo_check, ops_routes

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 300.0


async def _housekeeping(storage: Storage) -> None:
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        try:
            removed = await storage.purge(utc_now())
            if removed:
                log.info("purged expired records", extra={"removed": removed})
        except Exception:
            log.exception("housekeeping failed")


def _no_relay(collection: str, doc_id: Any) -> None:
    """This replica does not relay; another replica's sweep publishes what it owes."""


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging("access", settings.log_level)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri, tz_aware=True, connect=False
    )
    storage = Storage(mongo, settings.mongodb_database)
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        security=settings.kafka_security(),
        logger=log,
        client_id="access",
    )
    relay = Relay(storage.drain_outbox, publisher(broker, settings), settings.relay_poll_seconds)
    service = AccessService(storage, settings, relay.wake if settings.relay_enabled else _no_relay)
    register(broker, settings, service, mongo_check(mongo))

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await mongo.aconnect()
        await storage.ensure_indexes()
        await broker.start()
        if settings.relay_enabled:
            relay.start()
        housekeeping = asyncio.create_task(_housekeeping(storage), name="access-housekeeping")
        log.info("access started", extra={"relay": settings.relay_enabled})
        try:
            yield
        finally:
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping
            # Consumers stop first; the relay's owed events stay in MongoDB for the next start.
            await broker.stop()
            await relay.stop()
            await mongo.close()
            log.info("access stopped")

    app = Litestar(
        route_handlers=[
            AdminPortal,
            Internal,
            StaffLinks,
            *ops_routes({"mongodb": mongo_check(mongo), "kafka": kafka_check(broker)}),
        ],
        lifespan=[lifespan],
        exception_handlers={ApiError: api_error, ValidationException: validation_error},
        openapi_config=OpenAPIConfig(title="portal access", version="1.0.0"),
        # Litestar's default logging config would replace the JSON handler on the root logger.
        logging_config=None,
    )
    app.state.service = service
    return app
