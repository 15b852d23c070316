"""The errors the access use cases raise, on top of the kit's typed errors.

Use cases raise these, never HTTP answers; `app.py` maps them to HTTP in one place with the
kit's `json_error_handlers()`. Every body is `{error, message, fields?}`; a few carry one
extra member that clients act on (`conflicting_rule`, `retry_after_seconds`,
`attempts_left`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import ValidationException

from portal_kit.errors import (
    ConflictError,
    GoneError,
    InvalidValueError,
    NotFoundError,
    PortalError,
    RateLimitedError,
    UnauthorizedError,
    UnprocessableError,
)


def not_found(what: str = "bill group") -> NotFoundError:
    return NotFoundError(f"{what} not found")


class InvalidRuleValueError(UnprocessableError):
    """A rule value that is not exactly one domain or one address."""

    code = "invalid_value"


class InvalidEmailError(UnprocessableError):
    code = "invalid_email"


class InvalidRequestError(UnprocessableError):
    code = "invalid_request"


class MissingHeadersError(InvalidValueError):
    code = "invalid_request"


class RuleConflictError(ConflictError):
    """The candidate rule overlaps an existing one, which the body names."""

    def __init__(self, message: str, conflicting_rule: dict[str, str] | None = None) -> None:
        extra = {"conflicting_rule": conflicting_rule} if conflicting_rule else None
        super().__init__(message, extra=extra)


class ConcurrentUpdateError(ConflictError):
    code = "concurrent_update"


class SigninRateLimitedError(RateLimitedError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "too many sign-in requests; try again later",
            retry_after_seconds=retry_after_seconds,
        )
        self.extra = {"retry_after_seconds": self.retry_after_seconds}


class TooManyAttemptsError(PortalError):
    status = 429
    code = "too_many_attempts"

    def __init__(self) -> None:
        super().__init__("too many wrong codes; request a new sign-in email")


class InvalidCodeError(InvalidValueError):
    code = "invalid_code"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(
            "that code is not right; check the email and try again",
            extra={"attempts_left": attempts_left},
        )


class ExpiredOrUsedError(GoneError):
    code = "expired_or_used"

    def __init__(self) -> None:
        super().__init__("this link or code has expired or was already used; request a new one")


class AccessEndedError(GoneError):
    """410 like an expired link: the gateway shows "request a new one", which then answers
    the same way as for any address without access."""

    code = "access_ended"

    def __init__(self) -> None:
        super().__init__("this portal is no longer open to this address")


class SessionInvalidError(UnauthorizedError):
    """`error` says why: unknown, revoked or expired. Not a bearer challenge."""

    def __init__(self, reason: str) -> None:
        super().__init__("the session is not valid; sign in again", code=reason)

    def headers(self) -> dict[str, str]:
        return {}


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's request validation, in the one body shape (422 `invalid_request`)."""
    problems = [p for p in exc.extra if isinstance(p, dict)] if isinstance(exc.extra, list) else []
    details = "; ".join(f"{p.get('key', 'body')}: {p.get('message', '')}" for p in problems)
    fields = {str(p.get("key") or "body"): str(p.get("message", "")) for p in problems}
    error = InvalidRequestError(details or "the request body is not valid", fields=fields or None)
    return Response(error.body(), status_code=error.status)
