"""The HTTP edge of admin idempotency keys: middleware of the admin router.

A mutating admin call with an `Idempotency-Key` header runs once per (tenant, key): the first
answer (anything but a server error) is kept for a day and replayed to every repeat of the
same request, marked `Idempotent-Replayed: true`; a repeat while the first still runs waits a
few seconds for its answer (a double click gets it), then answers 409 (retry shortly); the
same key with another request answers 422. Calls without the header run as
before. The caller is authenticated here too, so keys are scoped to its tenant; a caller the
API refuses gets the API's own answer (the handler's `who` dependency refuses it again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    Message,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from portal_access.api_keys.service import CallerService
from portal_access.idempotency import domain
from portal_access.idempotency.models import StoredAnswer
from portal_access.idempotency.service import IdempotencyService
from portal_kit.errors import ConflictError, InvalidValueError, PortalError, UnprocessableError

IN_USE = "A request with this Idempotency-Key is still being processed; retry shortly."
REUSED = "This Idempotency-Key was already used for a different request; send a new key."


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


@dataclass
class _Captured:
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)

    def answer(self) -> StoredAnswer:
        return StoredAnswer(
            status=self.status,
            content_type=self.headers.get("content-type"),
            location=self.headers.get("location"),
            body=b"".join(self.body),
        )


async def _replay(send: Send, answer: StoredAnswer) -> None:
    headers = [(b"content-length", str(len(answer.body)).encode())]
    headers.append((b"idempotent-replayed", b"true"))
    if answer.content_type:
        headers.append((b"content-type", answer.content_type.encode()))
    if answer.location:
        headers.append((b"location", answer.location.encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


def idempotent_admin(callers: CallerService, keys: IdempotencyService) -> type:
    class IdempotentAdmin:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope["method"] not in domain.MUTATING:
                await self.app(scope, receive, send)
                return
            headers = Headers.from_scope(scope)
            key = headers.get(domain.HEADER)
            if key is None:
                await self.app(scope, receive, send)
                return
            try:
                who = await callers.admin_principal(
                    headers.get("authorization"), headers.get("x-tenant-id"), headers.get("x-actor")
                )
            except PortalError:
                await self.app(scope, receive, send)
                return
            if not domain.valid_key(key):
                raise InvalidValueError(domain.KEY_RULE, code="invalid_idempotency_key")
            body = await _body(receive)
            query = scope.get("query_string", b"")
            print_ = domain.fingerprint(scope["method"], scope["path"], query, body)
            claim = await keys.claim_waiting(who.tenant_id, key, print_)
            if claim.outcome == "replay" and claim.answer is not None:
                await _replay(send, claim.answer)
                return
            if claim.outcome == "running":
                raise ConflictError(IN_USE, code="idempotency_key_in_use")
            if claim.outcome == "mismatch":
                raise UnprocessableError(REUSED, code="idempotency_key_reused")
            await self._run(scope, receive, send, body, keys, (who.tenant_id, key, print_))

        async def _run(
            self,
            scope: Scope,
            receive: Receive,
            send: Send,
            body: bytes,
            keys: IdempotencyService,
            claimed: tuple[str, str, str],
        ) -> None:
            captured = _Captured()
            sent_body = False

            async def replay_body() -> ReceiveMessage:
                nonlocal sent_body
                if sent_body:
                    return await receive()
                sent_body = True
                event: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
                return event

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    captured.status = int(message["status"])
                    captured.headers = {
                        bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
                        for k, v in message.get("headers", [])
                    }
                elif message["type"] == "http.response.body":
                    captured.body.append(message.get("body", b""))
                await send(message)

            try:
                await self.app(scope, replay_body, capture)
            except BaseException:
                await keys.failed(*claimed)
                raise
            await keys.answered(*claimed, captured.answer())

    return IdempotentAdmin
