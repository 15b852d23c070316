"""What every service process does the same way: ops endpoints, dead-lettering, serving.

Each service composes these in its own `app.py`; the rules (what "ready" means, what a
dead-lettered message carries) stay identical across services.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import uvicorn
from faststream.kafka import KafkaBroker, KafkaMessage
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from pymongo import AsyncMongoClient

from portal_contracts.deadletter import dead_letter_headers
from portal_contracts.settings import CommonSettings
from portal_contracts.topics import ConsumerGroup, dead_letter_topic

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]

DEAD_LETTERED = Counter(
    "portal_dead_lettered_total", "Messages sent to a dead-letter topic", ["group", "topic"]
)


def ops_routes(
    checks: Mapping[str, ReadinessCheck], timeout: float = 2.0
) -> list[HTTPRouteHandler]:
    """`/healthz` (the process answers), `/readyz` (every dependency answers), `/metrics`."""

    @get("/healthz", include_in_schema=False, sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", include_in_schema=False)
    async def readyz() -> Response[dict[str, Any]]:
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                results[name] = await asyncio.wait_for(check(), timeout)
            except Exception:  # noqa: BLE001 - a failing probe is "not ready", never a 500
                results[name] = False
        ready = all(results.values())
        return Response(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def metrics() -> Response[bytes]:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [healthz, readyz, metrics]


def mongo_check(client: AsyncMongoClient[Any]) -> ReadinessCheck:
    async def check() -> bool:
        await client.admin.command("ping")
        return True

    return check


def kafka_check(broker: KafkaBroker) -> ReadinessCheck:
    async def check() -> bool:
        return bool(await broker.ping(timeout=1.5))

    return check


async def dead_letter(
    broker: KafkaBroker,
    settings: CommonSettings,
    group: ConsumerGroup,
    message: KafkaMessage,
    error: BaseException,
    attempts: int,
) -> None:
    """Park the raw message with its error; the caller then acks and moves on."""
    raw = message.raw_message
    source_topic = getattr(raw, "topic", "") or ""
    headers = dead_letter_headers(
        error,
        source_topic=source_topic,
        partition=getattr(raw, "partition", None),
        offset=getattr(raw, "offset", None),
        consumer_group=group.value,
        attempts=attempts,
    )
    topic = settings.topic(dead_letter_topic(group))
    key = getattr(raw, "key", None)
    await broker.publish(message.body, topic, key=key, headers=headers)
    DEAD_LETTERED.labels(group.value, source_topic).inc()
    log.warning(
        "dead-lettered a message",
        extra={"source_topic": source_topic, "error_type": type(error).__name__},
    )


def serve(app: Any, host: str, port: int, graceful_seconds: int = 20) -> None:
    """Run an ASGI app; SIGTERM drains requests, then the lifespan stops the consumers."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=graceful_seconds,
        lifespan="on",
    )
