"""Instants as every consumer can store them: aware, and representable in UTC.

An offset moves the instant: `9999-12-31T23:00:00-05:00` is a valid RFC 3339 date-time, but
in UTC it falls in year 10000, which neither Python's datetime nor a BSON date written by the
driver can hold (`OverflowError` on every write). So the instant itself, in UTC, must lie in
years 1 to 9999; the JSON Schemas say so (`formatMinimum`/`formatMaximum`) and a consumer
dead-letters anything else at decode instead of retrying a write that can never succeed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

EARLIEST = "0001-01-01T00:00:00Z"
LATEST = "9999-12-31T23:59:59.999999Z"


def _representable_in_utc(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"in UTC this instant is outside {EARLIEST} .. {LATEST}") from exc
    return value


Instant = Annotated[
    AwareDatetime,
    AfterValidator(_representable_in_utc),
    Field(json_schema_extra={"formatMinimum": EARLIEST, "formatMaximum": LATEST}),
]
