"""The errors billing-view raises; the HTTP ones are the kit's typed errors, mapped to the
one error body `{error, message, fields?}` by `json_error_handlers()` in `app.py`."""

from __future__ import annotations

from portal_kit.errors import InvalidValueError, NotFoundError, UnauthorizedError

__all__ = [
    "InvalidEventError",
    "InvalidQueryError",
    "NotFoundError",
    "UnauthorizedError",
    "not_found",
]


class InvalidEventError(ValueError):
    """A well-formed event that the read model cannot accept (it goes to the dead letters)."""


class InvalidQueryError(InvalidValueError):
    """A query parameter the API cannot answer (400, the parameter named in `fields`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, fields={field: message})


def not_found(what: str) -> NotFoundError:
    """An object that does not exist, or belongs to another bill group or tenant."""
    return NotFoundError(f"no such {what}")
