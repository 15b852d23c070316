"""The ops endpoints every service mounts: `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faststream.kafka import KafkaBroker
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient

ReadinessCheck = Callable[[], Awaitable[bool]]


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
