"""Serving an ASGI app the same way in every service (the container entry point)."""

from __future__ import annotations

from typing import Any

import uvicorn


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
