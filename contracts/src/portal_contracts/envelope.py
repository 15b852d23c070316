"""The one envelope every event travels in, and its JSON wire form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar, cast
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from portal_contracts.numbers import INT64_MAX
from portal_contracts.timestamps import Instant

P = TypeVar("P", bound=BaseModel)

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Envelope(BaseModel, Generic[P]):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(description="Unique per event; consumers deduplicate on it.")
    type: str = Field(description="Event type, e.g. `invoice.state`.")
    schema_version: int = Field(ge=1, le=INT64_MAX, description="Version of the payload schema.")
    occurred_at: Instant = Field(description="When the fact happened, UTC.")
    tenant_id: Identifier
    aggregate_id: Identifier = Field(description="The aggregate the event is about.")
    aggregate_version: int | None = Field(
        default=None,
        ge=0,
        le=INT64_MAX,
        description="Monotonic per aggregate for upstream state events; absent otherwise.",
    )
    correlation_id: str | None = Field(default=None, max_length=128)
    payload: P


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_envelope(
    payload: P,
    *,
    event_type: str,
    schema_version: int,
    tenant_id: str,
    aggregate_id: str,
    aggregate_version: int | None = None,
    correlation_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[P]:
    model = cast("type[Envelope[P]]", Envelope[type(payload)])  # type: ignore[misc]
    return model(
        event_id=uuid4(),
        type=event_type,
        schema_version=schema_version,
        occurred_at=occurred_at or utc_now(),
        tenant_id=tenant_id,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        correlation_id=correlation_id,
        payload=payload,
    )
