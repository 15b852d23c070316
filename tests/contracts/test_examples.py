import json
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_contracts.billing import InvoiceState
from portal_contracts.codec import ContractError, decode, encode, make_event
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType, all_specs
from portal_contracts.schemas import file_name, schema_of


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


@pytest.mark.parametrize(("version", "valid"), [(2**63 - 1, True), (2**63, False), (2**64, False)])
def test_aggregate_versions_are_bounded_to_what_mongodb_stores(version: int, valid: bool) -> None:
    body = {**_envelope("bill_group.state", 1, EXAMPLES[(EventType.BILL_GROUP_STATE, 1)])}
    body["aggregate_version"] = version
    if valid:
        assert decode(json.dumps(body)).aggregate_version == version
    else:
        with pytest.raises(ContractError, match="aggregate_version"):
            decode(json.dumps(body))


@pytest.mark.parametrize(
    ("instant", "valid"),
    [
        ("9999-12-31T23:59:59.999999Z", True),
        ("0001-01-01T00:00:00Z", True),
        ("9999-12-31T23:00:00+05:00", True),
        # Valid RFC 3339, but year 10000 and year 0 in UTC: no datetime or BSON date holds them.
        ("9999-12-31T23:00:00-05:00", False),
        ("0001-01-01T00:00:00+05:00", False),
    ],
)
def test_instants_are_bounded_to_what_a_consumer_can_store(instant: str, valid: bool) -> None:
    payload = {**EXAMPLES[(EventType.SIGNIN_REQUESTED, 1)], "expires_at": instant}
    for body in (
        {**_envelope("signin.requested", 1, payload)},
        {
            **_envelope("bill_group.state", 1, EXAMPLES[(EventType.BILL_GROUP_STATE, 1)]),
            "occurred_at": instant,
        },
    ):
        if valid:
            decode(json.dumps(body))
        else:
            with pytest.raises(ContractError, match="outside 0001-01-01"):
                decode(json.dumps(body))


def test_every_integer_and_instant_of_every_schema_is_bounded() -> None:
    unbounded: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer" and not (
                "maximum" in node and ("minimum" in node or "exclusiveMinimum" in node)
            ):
                unbounded.append(where)
            if node.get("format") == "date-time" and not (
                "formatMinimum" in node and "formatMaximum" in node
            ):
                unbounded.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    for spec in all_specs():
        walk(schema_of(spec), file_name(spec))
    assert unbounded == []


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # deeper than the JSON parser recurses: RecursionError
        b'{"type": "entity.state", "schema_version": 1, "x": ' + b"7" * 5000 + b"}",  # ValueError
        b'{"type": "entity.state", "schema_version": [1]}',  # unhashable version: TypeError
        b'{"type": "entity.state", "schema_version": {"v": 1}}',
    ],
    ids=["deep", "long-integer", "list-version", "object-version"],
)
def test_decode_raises_nothing_but_contract_errors(body: bytes) -> None:
    """A consumer dead-letters a ContractError at once; anything else it retries or holds."""
    with pytest.raises(ContractError):
        decode(body)


@given(st.binary(max_size=256) | st.text(max_size=64).map(lambda s: json.dumps(s).encode()))
def test_decode_of_arbitrary_bytes_is_a_contract_error(body: bytes) -> None:
    with pytest.raises(ContractError):
        decode(body)
