"""Typed errors that use cases raise, and the one error body every API answers with.

Use cases raise these (never HTTP exceptions); each service maps them to HTTP in one place
with `json_error_handlers()` (JSON APIs) or its own page renderer (HTML). The body is always
`{"error": <code>, "message": <for a person>, "fields"?: {<field>: <message>}}` plus, for a
few errors, extra members named in the OpenAPI schema (`ErrorBody`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from pydantic import BaseModel


class ErrorBody(BaseModel):
    """The JSON body of every error answer of every portal API."""

    error: str
    message: str
    fields: dict[str, str] | None = None


def error_response(description: str) -> ResponseSpec:
    """One error status of a route's `responses=`: the `ErrorBody` schema, described."""
    return ResponseSpec(ErrorBody, description=description, generate_examples=False)


RETRY_AFTER_STATUSES = ("429", "503")
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def with_retry_after(document: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI document whose 429 and 503 answers name their `Retry-After` header
    (`RateLimitedError`, `UnavailableError`): a route's `ResponseSpec` cannot carry headers."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if status in RETRY_AFTER_STATUSES:
                    response["headers"] = {**response.get("headers", {}), **_RETRY_AFTER}
    return document


class PortalError(Exception):
    """Base of every error a caller or a person causes; `status` is its HTTP meaning."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.extra = extra or {}
        if code is not None:
            self.code = code  # type: ignore[misc]

    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {**body, **self.extra}


class InvalidValueError(PortalError):
    status = 400
    code = "invalid"


class UnauthorizedError(PortalError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class ForbiddenError(PortalError):
    status = 403
    code = "forbidden"


class NotFoundError(PortalError):
    status = 404
    code = "not_found"


class ConflictError(PortalError):
    status = 409
    code = "conflict"


class GoneError(PortalError):
    status = 410
    code = "gone"


class UnprocessableError(PortalError):
    status = 422
    code = "unprocessable"


class RateLimitedError(PortalError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_seconds = max(1, int(retry_after_seconds))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class UnavailableError(PortalError):
    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after_seconds: int = 5, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_seconds = max(1, int(retry_after_seconds))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def portal_error_response(_: Request[Any, Any, Any], exc: PortalError) -> Response[dict[str, Any]]:
    return Response(exc.body(), status_code=exc.status, headers=exc.headers())


def validation_error_response(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    fields: dict[str, str] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "body")
            fields[key] = str(item.get("message", "invalid value"))
    body: dict[str, Any] = {"error": "invalid", "message": "The request is not valid."}
    if fields:
        body["fields"] = fields
    return Response(body, status_code=400)


def http_error_response(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return Response(
        {"error": _HTTP_CODES.get(exc.status_code, "error"), "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=headers or None,
    )


def json_error_handlers() -> dict[int | type[Exception], Any]:
    """Exception handlers for a JSON API: every error answers with the one body shape."""
    return {
        PortalError: portal_error_response,
        ValidationException: validation_error_response,
        HTTPException: http_error_response,
    }
