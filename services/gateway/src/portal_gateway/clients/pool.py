"""A keep-alive pool for the internal clients: httpcore's own pool scans every connection
(and polls each idle socket) twice per request, which cost a fifth of the gateway's CPU at
16 concurrent pages. Same connections (httpcore's HTTP/1.1), same limits, same errors."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import httpcore
import httpx

Key = tuple[bytes, bytes, int | None]


class KeepAlivePool:
    """At most `max_connections` requests at once (then waits up to the pool timeout), idle
    connections reused last-in first-out, at most `max_keepalive` kept, each closed after
    `keepalive_expiry` seconds idle or when the server closed it. Only the connection taken
    is checked, not the whole pool."""

    def __init__(
        self,
        max_connections: int,
        max_keepalive: int,
        keepalive_expiry: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._ssl_context = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._max_keepalive = max_keepalive
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[Key, list[httpcore.AsyncHTTPConnection]] = {}
        self._idle_count = 0

    async def _acquire(self, wait_seconds: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), wait_seconds)
        except TimeoutError as exc:
            raise httpcore.PoolTimeout("no connection available") from exc

    async def _checkout(self, key: Key, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return httpcore.AsyncHTTPConnection(
            origin, ssl_context=self._ssl_context, keepalive_expiry=self._keepalive_expiry
        )

    async def _checkin(self, key: Key, connection: httpcore.AsyncHTTPConnection) -> None:
        if connection.is_idle() and self._idle_count < self._max_keepalive:
            self._idle.setdefault(key, []).append(connection)
            self._idle_count += 1
        elif not connection.is_closed():
            await connection.aclose()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        key: Key = (url.scheme, url.host, url.port)
        default_port = 443 if url.scheme == b"https" else 80
        origin = httpcore.Origin(url.scheme, url.host, url.port or default_port)
        await self._acquire(request.extensions.get("timeout", {}).get("pool"))
        try:
            while True:
                connection = await self._checkout(key, origin)
                try:
                    response = await connection.handle_async_request(request)
                except httpcore.ConnectionNotAvailable:
                    continue  # closed since it was checked: take another one
                except BaseException:
                    await connection.aclose()
                    raise
                break
        except BaseException:
            self._slots.release()
            raise
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_Released(response, self, key, connection),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        idle, self._idle, self._idle_count = self._idle, {}, 0
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()


class _Released:
    """The response body; closing it puts the connection back and frees the slot."""

    def __init__(
        self,
        response: httpcore.Response,
        pool: KeepAlivePool,
        key: Key,
        connection: httpcore.AsyncHTTPConnection,
    ) -> None:
        self._response = response
        self._pool = pool
        self._key = key
        self._connection: httpcore.AsyncHTTPConnection | None = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._response.aiter_stream():
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await self._response.aclose()
        finally:
            self._pool._slots.release()
            await self._pool._checkin(self._key, connection)


def pooled_transport(
    max_connections: int, max_keepalive: int, keepalive_expiry: float
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (request building, error mapping) over the pool above."""
    transport = httpx.AsyncHTTPTransport()
    transport._pool = KeepAlivePool(  # type: ignore[assignment]
        max_connections, max_keepalive, keepalive_expiry, httpx.create_ssl_context()
    )
    return transport
