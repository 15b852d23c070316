"""Errors a caller causes, with the status and the `{error, message}` body they answer with."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **self.extra}


def not_found(what: str = "bill group") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


class RuleConflictError(ApiError):
    def __init__(self, message: str, rule: dict[str, Any] | None = None) -> None:
        super().__init__(409, "conflict", message, extra={"conflicting_rule": rule} if rule else {})
