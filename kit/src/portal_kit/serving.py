"""Serving an ASGI app the same way in every service (the container entry point)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import uvicorn


def server_config(
    app: Any,
    host: str,
    port: int,
    graceful_seconds: int = 20,
    trusted_proxies: Sequence[str] = (),
) -> uvicorn.Config:
    """How every service is served. `trusted_proxies` (addresses or CIDRs) are the peers whose
    `X-Forwarded-For`/`-Proto` are believed: the client is the right-most address of the
    header that is not one of them. None (the default): the headers are ignored and the peer
    is the client (uvicorn would otherwise trust them from 127.0.0.1, or FORWARDED_ALLOW_IPS)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=graceful_seconds,
        lifespan="on",
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies),
    )


def serve(
    app: Any,
    host: str,
    port: int,
    graceful_seconds: int = 20,
    trusted_proxies: Sequence[str] = (),
) -> None:
    """Run an ASGI app; SIGTERM drains requests, then the lifespan stops the consumers."""
    server = uvicorn.Server(server_config(app, host, port, graceful_seconds, trusted_proxies))
    server.run()
    if not server.started:
        # What `uvicorn.run` does: a process that never served (port taken, lifespan failed)
        # exits non-zero so that its supervisor sees it.
        raise SystemExit(3)
