"""The gateway's typed errors and their ONE mapping to HTTP: JSON for `/api/...`, rendered
pages for the portal and the staff console.

Use cases raise these (kit's hierarchy, `portal_kit.errors`); no route catches and translates
them. JSON bodies are `{error, message, fields?}` (kit's `ErrorBody`).
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from litestar.types import Scope

from portal_contracts.urls import portal_path
from portal_gateway.settings import Settings
from portal_gateway.staff.domain import COOKIE_NAME, COOKIE_PATH
from portal_gateway.web import page
from portal_kit.errors import (
    ForbiddenError,
    InvalidValueError,
    NotFoundError,
    PortalError,
    UnauthorizedError,
    UnavailableError,
    UnprocessableError,
    http_error_response,
    validation_error_response,
)

log = logging.getLogger(__name__)
R = Request[Any, Any, Any]

__all__ = [
    "CrossSiteError",
    "FormInvalidError",
    "IdempotencyKeyReusedError",
    "InvalidCursorError",
    "NotFoundError",
    "NotSignedInError",
    "PublishError",
    "ReadOnlySessionError",
    "StaffNotSignedInError",
    "StaffRefusedError",
    "TooLargeError",
    "UpstreamError",
    "error_handlers",
    "log_unexpected",
]


class UpstreamError(UnavailableError):
    """A dependency answered in a way the contract does not allow, or not at all."""

    code = "unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__("The portal is busy right now. Please try again shortly.")
        self.detail = detail


class PublishError(UnavailableError):
    """Kafka did not acknowledge the change: nothing was saved, the user must be told."""

    code = "not_saved"

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "We could not save your change right now, and nothing was changed. "
            "Please try again in a moment."
        )
        self.detail = detail


class NotSignedInError(UnauthorizedError):
    """No valid session: pages send the browser to sign-in, the API answers 401."""

    code = "not_signed_in"

    def __init__(self, portal_key: str | None, reason: str) -> None:
        super().__init__("Sign in through your portal link.")
        self.portal_key = portal_key
        self.reason = reason

    def headers(self) -> dict[str, str]:
        return {}  # a cookie session, not a bearer challenge


class ReadOnlySessionError(ForbiddenError):
    """A preview session tried to change something."""

    code = "read_only"

    def __init__(self) -> None:
        super().__init__("This is a preview: changes are not possible.")


class CrossSiteError(ForbiddenError):
    """A state-changing request a browser sent from another site (`security.cross_site`)."""

    code = "cross_site"

    def __init__(self) -> None:
        super().__init__(
            "This request came from another website and was refused. "
            "Open the portal directly and try again."
        )


class InvalidCursorError(InvalidValueError):
    """An invoice list `cursor` billing-view did not issue (edited, truncated, or stale)."""

    def __init__(self) -> None:
        message = "That page of invoices does not exist. Start again from the first page."
        super().__init__(message, fields={"cursor": message})


class IdempotencyKeyReusedError(UnprocessableError):
    """A submit reused the idempotency key of an earlier, different change."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "This form was already sent with other values. "
            "Reload the page to make a new change (API: send a new Idempotency-Key)."
        )


class FormInvalidError(UnprocessableError):
    """Submitted values the rules refuse; `fields` holds one message per form field."""

    code = "invalid"

    def __init__(self, fields: dict[str, str], status: int = 422) -> None:
        super().__init__("Check the highlighted fields.", fields=fields)
        self.status = status  # type: ignore[misc]

    @property
    def errors(self) -> dict[str, str]:
        return self.fields or {}


class TooLargeError(PortalError):
    status = 413
    code = "too_large"


class StaffNotSignedInError(UnauthorizedError):
    """No valid staff session (or access no longer accepts its credentials)."""

    def __init__(self) -> None:
        super().__init__("Sign in to the staff console through a staff link.")


class StaffRefusedError(PortalError):
    """access said no to something a staff member asked; `message` is written for them."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status  # type: ignore[misc]


_HTML_HTTP_MESSAGES = {
    403: "This form has expired. Go back, reload the page and try again.",
    404: "We could not find that page.",
    405: "That is not possible here.",
}


def _is_api(request: R) -> bool:
    return request.url.path.startswith("/api/")


def _is_staff(request: R) -> bool:
    return request.url.path == "/staff" or request.url.path.startswith("/staff/")


def error_handlers(settings: Settings) -> dict[int | type[Exception], Any]:
    """Every typed error, and Litestar's own HTTP errors, mapped in this one place."""

    def error_page(
        request: R, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response[Any]:
        response = page(request, settings, "error.html", status, status=status, message=message)
        response.headers.update(headers or {})  # Retry-After of a 429 or 503
        return response

    def staff_page(request: R, status: int, template: str, **context: Any) -> Response[Any]:
        return page(request, settings, f"staff/{template}", status, staff=None, **context)

    def staff_signed_out(request: R) -> Response[Any]:
        response = staff_page(request, 401, "signed_out.html")
        response.cookies.append(Cookie(key=COOKIE_NAME, value="", path=COOKIE_PATH, max_age=0))
        return response

    def staff_error(request: R, exc: PortalError) -> Response[Any]:
        if isinstance(exc, StaffNotSignedInError):
            return staff_signed_out(request)
        if isinstance(exc, NotFoundError):
            message = (
                "This bill group or account does not exist, or this staff link does not cover it."
            )
            return staff_page(request, 404, "problem.html", heading="Not found", message=message)
        if isinstance(exc, UnavailableError):
            message = "The access service did not answer. Nothing was changed; try again shortly."
            heading = "The console is unavailable"
            return staff_page(request, 503, "problem.html", heading=heading, message=message)
        return staff_page(
            request, exc.status, "problem.html", heading="Not possible", message=exc.message
        )

    def portal_error(request: R, exc: PortalError) -> Response[Any]:
        if isinstance(exc, UpstreamError):
            log.warning(
                "dependency failed", extra={"detail": exc.detail, "route": request.url.path}
            )
        if _is_api(request):
            return Response(exc.body(), status_code=exc.status, headers=exc.headers() or None)
        if _is_staff(request):
            return staff_error(request, exc)
        if isinstance(exc, NotSignedInError):
            reason = "expired" if exc.reason == "expired" else "signed_out"
            target = (
                f"{portal_path(exc.portal_key)}?reason={reason}"
                if exc.portal_key
                else "/signed-out"
            )
            return Redirect(target, status_code=303)
        if isinstance(exc, NotFoundError):
            return error_page(request, 404, "We could not find that.")
        return error_page(request, exc.status, exc.message, exc.headers())

    def http_error(request: R, exc: HTTPException) -> Response[Any]:
        if _is_api(request):
            if isinstance(exc, ValidationException):
                return validation_error_response(request, exc)
            return http_error_response(request, exc)
        message = _HTML_HTTP_MESSAGES.get(exc.status_code, "Something went wrong.")
        # The router's 405 names the allowed methods in `Allow` (RFC 9110): keep it.
        return error_page(request, exc.status_code, message, dict(exc.headers or {}))

    return {PortalError: portal_error, HTTPException: http_error}


async def log_unexpected(exc: Exception, scope: Scope) -> None:
    # Litestar's own logging is off (JSON logs come from configure_logging): 500s are
    # recorded here, with the route but never the query string or body.
    if not isinstance(exc, PortalError | HTTPException):
        log.error("unhandled error", exc_info=exc, extra={"route": scope.get("path", "")})
