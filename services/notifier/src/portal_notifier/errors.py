"""The notifier's typed errors. Use cases raise these; the HTTP edge maps them in one place
(`portal_kit.errors.json_error_handlers()`, mounted by `app.py`) and the CLI turns them into
its exit codes."""

from __future__ import annotations

from portal_kit.errors import InvalidValueError, NotFoundError


class NotAnEmailError(InvalidValueError):
    code = "not_an_email"


class NotSuppressedError(NotFoundError):
    code = "not_suppressed"


class InvalidDurationError(InvalidValueError):
    code = "invalid_duration"
