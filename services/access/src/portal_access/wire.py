"""What every response schema shares: the body base and the timestamp format on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, WithJsonSchema

# UTC, ISO 8601 with a `Z` (as the API has always answered).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


def iso(value: datetime) -> Timestamp:
    return value.isoformat().replace("+00:00", "Z")


class Body(BaseModel):
    """A request body: unknown members are refused."""

    model_config = ConfigDict(extra="forbid")


class Reply(BaseModel):
    """A response body."""

    model_config = ConfigDict(frozen=True)
