"""Composition root: the query API, with the Kafka consumer running in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from pymongo import AsyncMongoClient

from billing_view.handlers import build_broker
from billing_view.routes import (
    AccountController,
    BillGroupController,
    bearer_guard,
    error_handler,
    utc_today,
)
from billing_view.settings import Settings
from billing_view.storage import Storage
from portal_kit.ops import kafka_check, mongo_check, ops_routes


def create_app(
    settings: Settings,
    *,
    consume: bool = True,
    today: Callable[[], date] = utc_today,
) -> Litestar:
    """`consume=False` serves the API without joining the consumer group (tests, tools)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri, tz_aware=True, connect=False
    )
    storage = Storage(client, settings.mongodb_database)
    broker = build_broker(settings, storage)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await client.aconnect()
        await storage.ensure_indexes()
        if consume:
            await broker.start()
        try:
            yield
        finally:
            # Stop consuming first: the batch in hand finishes and commits, then the DB goes.
            if consume:
                await broker.stop()
            await client.close()

    checks = {"mongodb": mongo_check(client)}
    if consume:
        checks["kafka"] = kafka_check(broker)
    guard = bearer_guard(settings.internal_api_token)
    return Litestar(
        route_handlers=[
            *ops_routes(checks),
            Router("/", route_handlers=[BillGroupController, AccountController], guards=[guard]),
        ],
        dependencies={
            "storage": Provide(lambda: storage, sync_to_thread=False),
            "today": Provide(lambda: today, sync_to_thread=False),
        },
        exception_handlers={HTTPException: error_handler},
        lifespan=[lifespan],
        # Logging is configured once by the CLI (JSON lines); Litestar must not replace it.
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="billing-view internal API", version="1.0.0", path="/internal/schema"
        ),
    )
