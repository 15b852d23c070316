"""JSON on the wire: build, encode and decode envelopes with their typed payloads."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from portal_contracts.envelope import Envelope, new_envelope
from portal_contracts.registry import EVENTS, EventSpec, spec_for_model


class ContractError(ValueError):
    """A message that does not satisfy the event contract (malformed or unknown)."""


def make_event(
    payload: BaseModel,
    *,
    tenant_id: str,
    aggregate_id: str,
    aggregate_version: int | None = None,
    correlation_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[Any]:
    spec = spec_for_model(type(payload))
    return new_envelope(
        payload,
        event_type=spec.event_type.value,
        schema_version=spec.schema_version,
        tenant_id=tenant_id,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        correlation_id=correlation_id,
        occurred_at=occurred_at,
    )


def encode(event: Envelope[Any]) -> bytes:
    return event.model_dump_json().encode()


def headers_for(event: Envelope[Any]) -> dict[str, str]:
    """Kafka headers that let tools route or filter without parsing the body."""
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "schema_version": str(event.schema_version),
        "tenant_id": event.tenant_id,
    }


def spec_of(raw: dict[str, Any]) -> EventSpec:
    key = (str(raw.get("type")), raw.get("schema_version"))
    try:
        spec = EVENTS.get(key)  # type: ignore[arg-type]
    except TypeError:  # an object or array as the version: unhashable
        spec = None
    if spec is None:
        raise ContractError(f"unknown event type/version {key[0]!r} v{key[1]!r}")
    return spec


def decode(body: bytes | str | dict[str, Any]) -> Envelope[Any]:
    """Parse and validate a message; raises ContractError with a readable reason, and nothing
    else whatever the bytes: a consumer dead-letters a ContractError at once, while any other
    error would be retried (or hold the partition) as if the message could ever succeed."""
    if isinstance(body, dict):
        raw = body
    else:
        try:
            raw = json.loads(body)
        # ValueError: malformed JSON, bad UTF-8, an integer of more than 4300 digits;
        # RecursionError: arrays or objects nested deeper than the parser recurses.
        except (ValueError, RecursionError) as exc:
            raise ContractError(f"not JSON: {str(exc)[:200]}") from exc
    if not isinstance(raw, dict):
        raise ContractError("an event must be a JSON object")
    spec = spec_of(raw)
    try:
        return Envelope[spec.model].model_validate(raw)  # type: ignore[name-defined]
    except ValidationError as exc:
        raise ContractError(f"{spec.event_type.value} v{spec.schema_version}: {exc}") from exc
