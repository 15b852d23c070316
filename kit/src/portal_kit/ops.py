"""The ops endpoints every service mounts: `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from faststream.kafka import KafkaBroker
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient

ReadinessCheck = Callable[[], Awaitable[bool]]


def ops_routes(
    checks: Mapping[str, ReadinessCheck],
    timeout: float = 2.0,
    *,
    required: Collection[str] | None = None,
) -> list[HTTPRouteHandler]:
    """`/healthz` (the process answers), `/readyz` (its dependencies answer), `/metrics`.

    `required` names the checks readiness depends on (default: all of them); the others are
    reported in the body ("degraded") but keep the process in service. The checks run
    concurrently, so `/readyz` answers within `timeout` however many dependencies hang.
    """
    gating = set(checks) if required is None else set(required)
    unknown = gating - set(checks)
    if unknown:
        raise ValueError(f"required checks without a probe: {sorted(unknown)}")

    async def run(check: ReadinessCheck) -> bool:
        try:
            return await asyncio.wait_for(check(), timeout)
        except Exception:  # noqa: BLE001 - a failing probe is "not ready", never a 500
            return False

    @get("/healthz", include_in_schema=False, sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", include_in_schema=False)
    async def readyz() -> Response[dict[str, Any]]:
        answers = await asyncio.gather(*(run(check) for check in checks.values()))
        results = dict(zip(checks, answers, strict=True))
        ready = all(results[name] for name in gating)
        status = "not ready" if not ready else "ready" if all(answers) else "degraded"
        return Response(
            {"status": status, "checks": results},
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
