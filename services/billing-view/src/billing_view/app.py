"""The composition root: settings → MongoDB, the feature slices, Kafka, HTTP.

One wiring for every entry point: `create_app` (the service: query API + consumer in its
lifespan) and `projector_for` (the same projection over any database, for `replay`).
Dependencies reach the handlers through Litestar's `Provide`, by name.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

from litestar import Litestar, Router
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from pymongo.asynchronous.database import AsyncDatabase

from billing_view.changes.repository import ChangeKeyRepository, ChangeRepository
from billing_view.changes.routes import ChangesController
from billing_view.changes.service import ChangeKeyService, ChangeService
from billing_view.db import Doc, client_for
from billing_view.errors import UnauthorizedError
from billing_view.projection.handlers import (
    build_broker,
    consumed_topics,
    dead_letter,
    subscribe,
)
from billing_view.projection.repository import StateRepository
from billing_view.projection.service import Projector, consumer_policy
from billing_view.queries.repository import QueryRepository
from billing_view.queries.routes import AccountController, BillGroupController, PageController
from billing_view.queries.service import QueryService, Today
from billing_view.settings import Settings
from portal_kit.access_log import AccessLog
from portal_kit.consumer import ConsumerPolicy
from portal_kit.consumer_lag import ConsumerLag
from portal_kit.deadletter import DeadLetter
from portal_kit.errors import json_error_handlers
from portal_kit.metrics import Metrics
from portal_kit.ops import kafka_check, mongo_check, ops_routes


def utc_today() -> date:
    return datetime.now(UTC).date()


def bearer_guard(
    token: str,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    expected = f"Bearer {token}".encode()

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = connection.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise UnauthorizedError("a valid internal bearer token is required")

    return guard


def change_service(db: AsyncDatabase[Doc]) -> ChangeService:
    return ChangeService(ChangeRepository(db), QueryRepository(db))


def projector_for(db: AsyncDatabase[Doc], policy: ConsumerPolicy) -> Projector:
    return Projector(StateRepository(db), change_service(db), policy)


def create_app(
    settings: Settings,
    *,
    consume: bool = True,
    today: Today = utc_today,
    dead_letter_to: DeadLetter | None = None,
) -> Litestar:
    """`consume=False` serves the API without joining the consumer group (tests, tools);
    `dead_letter_to` replaces the dead-letter publisher (fault tests wrap the real one)."""
    client = client_for(settings)
    db = client[settings.mongodb_database]
    changes = change_service(db)
    change_key_store = ChangeKeyRepository(db)
    change_keys = ChangeKeyService(change_key_store)
    queries = QueryService(QueryRepository(db), today)
    broker = build_broker(settings)
    policy = consumer_policy(
        settings, dead_letter_to or dead_letter(broker, settings), mongo_check(client)
    )
    subscribe(broker, settings, projector_for(db, policy))

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await client.aconnect()
        await change_key_store.ensure_indexes()
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
    api = Router(
        "/",
        route_handlers=[BillGroupController, PageController, AccountController, ChangesController],
        guards=[bearer_guard(settings.internal_api_token)],
    )
    lag = ConsumerLag(settings, group=settings.consumer_group, topics=consumed_topics(settings))
    return Litestar(
        plugins=[AccessLog(), Metrics("billing-view", "billing-view", [lag] if consume else [])],
        route_handlers=[*ops_routes(checks), api],
        dependencies={
            "queries": Provide(lambda: queries, sync_to_thread=False),
            "changes": Provide(lambda: changes, sync_to_thread=False),
            "change_keys": Provide(lambda: change_keys, sync_to_thread=False),
        },
        exception_handlers=json_error_handlers(),
        lifespan=[lifespan],
        # Logging is configured once by the CLI (JSON lines); Litestar must not replace it.
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="billing-view internal API", version="1.0.0", path="/internal/schema"
        ),
    )
