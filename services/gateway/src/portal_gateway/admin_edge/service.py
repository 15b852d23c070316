"""Relaying one admin API request to access: which headers go each way, and how big a body
may be. Authentication is access's job (admin API key, or internal token + tenant); the
relay carries exactly the caller's credentials and nothing of the gateway's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from portal_gateway.clients.models import Forwarded
from portal_gateway.errors import TooLargeError

FORWARDED_REQUEST_HEADERS = ("authorization", "content-type", "accept", "idempotency-key")
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "location",
    "retry-after",
    "etag",
    "idempotent-replayed",
)
MAX_BODY = 1024 * 1024


class AdminRelay(Protocol):
    async def forward_admin(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]],
        content: bytes,
        headers: dict[str, str],
    ) -> Forwarded: ...


@dataclass(frozen=True)
class AdminRequest:
    method: str
    path: str
    params: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str]
    client_ip: str


class AdminEdge:
    def __init__(self, access: AdminRelay) -> None:
        self.access = access

    async def forward(self, request: AdminRequest) -> Forwarded:
        """access's answer with only the response headers a client may see; TooLargeError
        for a body over 1 MiB, UnavailableError when access does not answer."""
        if len(request.body) > MAX_BODY:
            raise TooLargeError("The request body is too large.")
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS
        }
        headers["x-forwarded-for"] = request.client_ip
        answer = await self.access.forward_admin(
            request.method, request.path, request.params, request.body, headers
        )
        shown = {k: v for k, v in answer.headers.items() if k.lower() in FORWARDED_RESPONSE_HEADERS}
        return Forwarded(answer.status, shown, answer.content)
