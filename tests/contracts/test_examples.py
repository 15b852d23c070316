import json
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_contracts.billing import InvoiceState
from portal_contracts.codec import ContractError, decode, encode, make_event
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import all_specs


def _envelope(event_type: str, version: int, payload: dict[str, object]) -> dict[str, object]:
    return {
        "event_id": str(uuid4()),
        "type": event_type,
        "schema_version": version,
        "occurred_at": "2026-11-24T12:00:00Z",
        "tenant_id": "demo",
        "aggregate_id": "bg_1001",
        "aggregate_version": 3,
        "payload": payload,
    }


def test_every_event_type_has_an_example() -> None:
    assert {(s.event_type, s.schema_version) for s in all_specs()} == set(EXAMPLES)


@pytest.mark.parametrize(("key", "payload"), list(EXAMPLES.items()), ids=lambda v: str(v))
def test_examples_decode_and_round_trip(key: tuple[str, int], payload: dict[str, object]) -> None:
    event = decode(json.dumps(_envelope(key[0], key[1], payload)).encode())
    assert event.type == key[0]
    again = decode(encode(event))
    assert again == event


def test_unknown_type_and_bad_payload_are_contract_errors() -> None:
    with pytest.raises(ContractError, match="unknown event type"):
        decode(json.dumps(_envelope("invoice.state", 99, {})))
    with pytest.raises(ContractError, match=r"invoice\.state v1"):
        decode(json.dumps(_envelope("invoice.state", 1, {"invoice_id": "x"})))
    with pytest.raises(ContractError, match="not JSON"):
        decode(b"\xff{")


def test_money_is_never_a_float() -> None:
    payload = dict(EXAMPLES[("invoice.state", 1)])  # type: ignore[index]
    payload["total_minor"] = 10.5
    with pytest.raises(ContractError):
        decode(json.dumps(_envelope("invoice.state", 1, payload)))


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    version=st.integers(min_value=0, max_value=2**40),
)
def test_make_event_round_trips_any_amount_and_version(amount: int, version: int) -> None:
    base = dict(EXAMPLES[("invoice.state", 1)])  # type: ignore[index]
    base["amount_due_minor"] = amount
    invoice = InvoiceState.model_validate(base)
    event = make_event(invoice, tenant_id="demo", aggregate_id="bg_1001", aggregate_version=version)
    decoded = decode(encode(event))
    assert decoded.payload == invoice
    assert decoded.aggregate_version == version
    assert decoded.occurred_at.utcoffset() is not None
