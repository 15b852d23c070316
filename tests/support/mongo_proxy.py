"""A recording MongoDB wire-protocol proxy: what the services really send to the database.

`MongoProxy` listens on one loopback port per tagged client (e.g. one per service), forwards
every byte to the real server unchanged, and decodes each client-to-server frame on the way
(OP_MSG with its document sequences, legacy OP_QUERY for the handshake) with `bson` from
PyMongo. Each command becomes a `Command`: when it was sent (`time.monotonic()`, so tests
can slice by request windows), which listener (service) sent it, the database, the command
name, the collection and its filters (`filter` of find, `q` of each update/delete statement,
`query` of findAndModify/count/distinct, the leading `$match` of an aggregate).

The proxy runs its own event loop in a daemon thread, so a test can block on synchronous
HTTP calls without stalling the services' database traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import bson

OP_MSG = 2013
OP_QUERY = 2004
OP_COMPRESSED = 2012
_HEADER = struct.Struct("<iiii")

# Connection set-up and driver monitoring: never part of what a request asks for.
DRIVER_COMMANDS = frozenset(
    {
        "hello",
        "ismaster",
        "ping",
        "buildinfo",
        "endsessions",
        "saslstart",
        "saslcontinue",
        "getnonce",
        "authenticate",
        "killcursors",
    }
)


@dataclass(frozen=True)
class Command:
    at: float
    source: str
    database: str
    name: str
    collection: str | None
    filters: tuple[Mapping[str, Any], ...]
    document: Mapping[str, Any] = field(repr=False)
    sequences: Mapping[str, tuple[Mapping[str, Any], ...]] = field(repr=False)

    @property
    def is_driver(self) -> bool:
        return self.name.lower() in DRIVER_COMMANDS

    def statements(self, name: str) -> list[Mapping[str, Any]]:
        """The `updates` / `deletes` / `documents` of a command, inline or as a sequence."""
        return [*self.document.get(name, ()), *self.sequences.get(name, ())]


def has_key(value: Any, key: str) -> bool:
    """Whether `key` is a field anywhere in a (nested) document."""
    if isinstance(value, Mapping):
        return any(k == key or has_key(v, key) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_key(v, key) for v in value)
    return False


def _filters(
    name: str, body: Mapping[str, Any], sequences: Mapping[str, Sequence[Mapping[str, Any]]]
) -> tuple[Mapping[str, Any], ...]:
    lowered = name.lower()
    if lowered == "find":
        return (body.get("filter") or {},)
    if lowered in ("findandmodify", "count", "distinct"):
        return (body.get("query") or {},)
    if lowered in ("update", "delete"):
        statements = [*body.get(f"{lowered}s", ()), *sequences.get(f"{lowered}s", ())]
        return tuple(s.get("q") or {} for s in statements)
    if lowered == "aggregate":
        pipeline = body.get("pipeline") or []
        if pipeline and "$match" in pipeline[0]:
            return (pipeline[0]["$match"],)
        return ({},)
    return ()


def parse_frame(frame: bytes, source: str, at: float) -> Command | None:
    """The command a client frame carries, or None for frames that carry none."""
    _length, _request_id, _response_to, opcode = _HEADER.unpack_from(frame)
    if opcode == OP_MSG:
        flags = struct.unpack_from("<I", frame, 16)[0]
        end = len(frame) - (4 if flags & 1 else 0)
        offset = 20
        body: dict[str, Any] = {}
        sequences: dict[str, tuple[Mapping[str, Any], ...]] = {}
        while offset < end:
            kind = frame[offset]
            offset += 1
            if kind == 0:
                size = struct.unpack_from("<i", frame, offset)[0]
                body = bson.decode(frame[offset : offset + size])
                offset += size
            else:
                size = struct.unpack_from("<i", frame, offset)[0]
                section_end = offset + size
                name_end = frame.index(b"\x00", offset + 4)
                identifier = frame[offset + 4 : name_end].decode()
                sequences[identifier] = tuple(bson.decode_all(frame[name_end + 1 : section_end]))
                offset = section_end
        database = str(body.get("$db", ""))
    elif opcode == OP_QUERY:
        name_end = frame.index(b"\x00", 20)
        namespace = frame[20:name_end].decode()
        offset = name_end + 1 + 8
        size = struct.unpack_from("<i", frame, offset)[0]
        body = bson.decode(frame[offset : offset + size])
        if "$query" in body:
            body = dict(body["$query"])
        database = namespace.split(".", 1)[0]
        sequences = {}
    elif opcode == OP_COMPRESSED:
        return Command(at, source, "?", "(compressed)", None, (), {}, {})
    else:
        return None
    if not body:
        return None
    name = next(iter(body))
    target = body[name]
    collection = target if isinstance(target, str) else None
    if name.lower() == "getmore":
        collection = str(body.get("collection"))
    return Command(
        at, source, database, name, collection, _filters(name, body, sequences), body, sequences
    )


class MongoProxy:
    """Forwarding listeners, one per tag, all recording into one list."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.commands: list[Command] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._thread.start()

    @classmethod
    def for_uri(cls, uri: str) -> MongoProxy:
        """A proxy in front of `mongodb://host:port/` (one host, as the local stack serves)."""
        hostport = uri.split("://", 1)[1].split("/", 1)[0].split(",", 1)[0]
        host, _, port = hostport.rpartition(":")
        return cls(host or "127.0.0.1", int(port or 27017))

    def listen(self, source: str) -> str:
        """A new listener whose traffic is tagged `source`; returns its MongoDB URI."""
        future = asyncio.run_coroutine_threadsafe(self._listen(source), self._loop)
        port = future.result(10)
        return f"mongodb://127.0.0.1:{port}/"

    async def _listen(self, source: str) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._connection(source, reader, writer)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def _connection(
        self, source: str, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError as exc:
            self.errors.append(f"{source}: upstream connect failed: {exc}")
            client_w.close()
            return
        upstream = asyncio.ensure_future(self._pipe_frames(source, client_r, server_w))
        downstream = asyncio.ensure_future(self._pipe_bytes(server_r, client_w))
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for writer in (client_w, server_w):
            with contextlib.suppress(Exception):
                writer.close()

    async def _pipe_frames(
        self, source: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readexactly(4)
                length = struct.unpack("<i", head)[0]
                frame = head + await reader.readexactly(length - 4)
                try:
                    command = parse_frame(frame, source, time.monotonic())
                except Exception as exc:  # noqa: BLE001 - record, never break the traffic
                    self.errors.append(f"{source}: undecodable frame: {exc!r}")
                    command = None
                if command is not None:
                    with self._lock:
                        self.commands.append(command)
                writer.write(frame)
                await writer.drain()

    async def _pipe_bytes(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()

    def between(self, start: float, end: float) -> list[Command]:
        with self._lock:
            return [c for c in self.commands if start <= c.at <= end]

    def since(self, start: float) -> list[Command]:
        return self.between(start, float("inf"))

    def clear(self) -> None:
        with self._lock:
            self.commands.clear()

    def close(self) -> None:
        async def _close() -> None:
            for server in self._servers:
                server.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
