"""The composition root: settings → MongoDB, repositories, use cases, Kafka (projection
consumer + outbox relay) and HTTP. Every collaborator is built here and injected: use cases
get their repositories in their constructor, routes get use cases as Litestar dependencies
(`Provide`), by name."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from faststream.kafka import KafkaBroker
from litestar import Litestar, Router
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig

from portal_access.api_keys.guards import admin_principal, internal_only
from portal_access.api_keys.repository import ApiKeyRepository
from portal_access.api_keys.service import CallerService
from portal_access.audit.repository import AuditRepository
from portal_access.db import Mongo, mongo_client
from portal_access.errors import validation_error
from portal_access.handlers import consumer_policy, register
from portal_access.idempotency.middleware import idempotent_admin
from portal_access.idempotency.repository import IdempotencyRepository
from portal_access.idempotency.service import IdempotencyService
from portal_access.outbox.backlog import BacklogGauges
from portal_access.outbox.publisher import KafkaPublisher
from portal_access.outbox.relay import Relay, no_relay
from portal_access.outbox.repository import OutboxRepository
from portal_access.portals.domain import PortalUrls
from portal_access.portals.preview import PreviewService
from portal_access.portals.repository import PortalRepository
from portal_access.portals.routes import AdminPortal, InternalPortals
from portal_access.portals.service import PortalService
from portal_access.sessions.repository import SessionRepository
from portal_access.sessions.routes import AdminSessions, InternalSessions
from portal_access.sessions.service import SessionService
from portal_access.settings import Settings
from portal_access.signin.domain import RateLimit
from portal_access.signin.repository import ChallengeRepository, RateLimitRepository
from portal_access.signin.routes import InternalSignin
from portal_access.signin.service import SigninPolicy, SigninService
from portal_access.staff_links.repository import StaffLinkRepository
from portal_access.staff_links.routes import InternalStaffLinks
from portal_access.staff_links.service import StaffLinkService
from portal_contracts.envelope import utc_now
from portal_contracts.topics import ConsumerGroup, Topic
from portal_kit.access_log import AccessLog
from portal_kit.consumer_lag import ConsumerLag
from portal_kit.errors import json_error_handlers
from portal_kit.metrics import Metrics
from portal_kit.observability import configure_logging
from portal_kit.ops import kafka_check, mongo_check, ops_routes
from portal_kit.tracing import configure_tracing, kafka_middlewares

log = logging.getLogger(__name__)


def _provide(value: object) -> Provide:
    def provide() -> Any:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)


def signin_policy(settings: Settings) -> SigninPolicy:
    s = settings
    return SigninPolicy(
        per_email=RateLimit("email", s.signin_limit_per_email, s.signin_window_email_seconds),
        per_ip=RateLimit("ip", s.signin_limit_per_ip, s.signin_window_ip_seconds),
        per_portal=RateLimit("portal", s.signin_limit_per_portal, s.signin_window_portal_seconds),
        seal_keys=s.seal_keys,
        urls=PortalUrls(s.portal_public_url),
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging("access", settings.log_level)
    configure_tracing("access")
    client = mongo_client(settings, connect=False)
    mongo = Mongo(client, settings.mongodb_database)
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        security=settings.kafka_security(),
        logger=log,
        client_id="access",
        middlewares=kafka_middlewares(),
    )

    portal_repo = PortalRepository(mongo)
    session_repo = SessionRepository(mongo)
    challenge_repo = ChallengeRepository(mongo)
    limit_repo = RateLimitRepository(mongo)
    key_repo = ApiKeyRepository(mongo)
    audit_repo = AuditRepository(mongo)
    outbox_repo = OutboxRepository(mongo)
    staff_repo = StaffLinkRepository(mongo)
    idempotency_repo = IdempotencyRepository(mongo)
    repositories = (
        idempotency_repo,
        portal_repo,
        session_repo,
        challenge_repo,
        limit_repo,
        key_repo,
        audit_repo,
        outbox_repo,
        staff_repo,
    )

    relay = Relay(outbox_repo, KafkaPublisher(broker, settings), settings.relay_poll_seconds)
    wake = relay.wake if settings.relay_enabled else no_relay
    urls = PortalUrls(settings.portal_public_url)
    clock = utc_now
    callers = CallerService(key_repo, settings.internal_api_token)
    sessions = SessionService(session_repo, portal_repo, audit_repo, wake, clock)
    portals = PortalService(portal_repo, sessions, audit_repo, urls, wake, clock)
    signin = SigninService(
        portal_repo, challenge_repo, limit_repo, sessions, signin_policy(settings), wake, clock
    )
    previews = PreviewService(portal_repo, challenge_repo, sessions, audit_repo, urls, clock)
    staff_links = StaffLinkService(staff_repo, portal_repo, audit_repo, clock)
    register(broker, settings, consumer_policy(broker, settings, mongo_check(client)), portals)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await client.aconnect()
        for repository in repositories:
            await repository.ensure_indexes()
        await broker.start()
        if settings.relay_enabled:
            relay.start()
        log.info("access started", extra={"relay": settings.relay_enabled})
        try:
            yield
        finally:
            # Consumers stop first; the relay's owed events stay in MongoDB for the next start.
            await broker.stop()
            await relay.stop()
            await client.close()
            log.info("access stopped")

    admin = Router(
        "/",
        route_handlers=[AdminPortal, AdminSessions],
        dependencies={"who": Provide(admin_principal(callers))},
        middleware=[idempotent_admin(callers, IdempotencyService(idempotency_repo, clock))],
    )
    internal = Router(
        "/",
        route_handlers=[InternalPortals, InternalSignin, InternalSessions, InternalStaffLinks],
        guards=[internal_only(callers)],
    )
    samplers = (
        ConsumerLag(
            settings,
            group=settings.topic_prefix + ConsumerGroup.ACCESS,
            topics=[settings.topic(Topic.BILL_GROUPS)],
        ),
        BacklogGauges(outbox_repo),
    )
    return Litestar(
        plugins=[AccessLog(), Metrics("access", "portal-access", samplers)],
        route_handlers=[
            admin,
            internal,
            *ops_routes({"mongodb": mongo_check(client), "kafka": kafka_check(broker)}),
        ],
        dependencies={
            "portals": _provide(portals),
            "previews": _provide(previews),
            "sessions": _provide(sessions),
            "signin": _provide(signin),
            "staff_links": _provide(staff_links),
        },
        lifespan=[lifespan],
        exception_handlers={**json_error_handlers(), ValidationException: validation_error},
        openapi_config=OpenAPIConfig(title="portal access", version="1.0.0"),
        # Litestar's default logging config would replace the JSON handler on the root logger.
        logging_config=None,
    )
