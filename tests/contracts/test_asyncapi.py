"""contracts/asyncapi.json: generated from the contracts, checked in, shaped as AsyncAPI 3.0.

No AsyncAPI 3.0 JSON Schema ships in a package we have, so the shape is checked here: the
required fields, the operation actions, that every `$ref` resolves (in the document or to a
checked-in schema file) and that an operation only names messages of its own channel."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from billing_view.projection.handlers import CONSUMED_TOPICS
from portal_contracts import asyncapi, schemas
from portal_contracts.codec import headers_for, make_event
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import all_specs
from portal_contracts.topics import TOPICS, ConsumerGroup, Topic

CONTRACTS = asyncapi.DOCUMENT.parent


def checked_in() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(asyncapi.DOCUMENT.read_text())
    return doc


def test_checked_in_asyncapi_matches_the_contracts() -> None:
    assert not asyncapi.drifted(), (
        "contracts/asyncapi.json drifts from the contracts; "
        "run `uv run portal-contracts export-schemas` and review the diff"
    )


def test_drift_is_detected(tmp_path: Path) -> None:
    target = asyncapi.export(tmp_path / "asyncapi.json")
    assert not asyncapi.drifted(target)
    target.write_text(target.read_text().replace('"billing.invoices"', '"billing.bills"'))
    assert asyncapi.drifted(target)
    assert asyncapi.drifted(tmp_path / "missing.json")


def resolve(doc: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        path = CONTRACTS / ref
        assert path.is_file(), ref
        return json.loads(path.read_text())
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in refs(item)]
    return []


def test_the_document_has_the_shape_of_asyncapi_3() -> None:
    doc = checked_in()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"]
    assert doc["info"]["version"]
    for server in doc["servers"].values():
        assert server["host"]
        assert server["protocol"] == "kafka"
    key = re.compile(r"^[a-zA-Z0-9.\-_]+$")
    assert all(key.match(name) for name in doc["components"]["messages"])
    for reference in refs(doc):
        assert resolve(doc, reference) is not None, reference
    for name, operation in doc["operations"].items():
        assert operation["action"] in {"send", "receive"}, name
        channel_ref = operation["channel"]["$ref"]
        assert all(m["$ref"].startswith(channel_ref + "/messages/") for m in operation["messages"])
    assert {c["address"] for c in doc["channels"].values()} == set(TOPICS)


def test_every_event_has_a_message_with_its_real_payload_schema() -> None:
    doc = checked_in()
    messages = doc["components"]["messages"]
    for spec in all_specs():
        message = messages[asyncapi.message_id(spec)]
        schema = resolve(doc, message["payload"]["$ref"])
        assert schema["$id"] == schemas.schema_of(spec)["$id"]
        payload = resolve(schema, schema["properties"]["payload"]["$ref"])
        assert payload["properties"], f"{spec.event_type.value} payload has no fields"
        channel = next(c for c in doc["channels"].values() if c["address"] == spec.topic.value)
        assert {"$ref": f"#/components/messages/{asyncapi.message_id(spec)}"} in (
            channel["messages"].values()
        )
        assert message["bindings"]["kafka"]["key"]["description"] == TOPICS[spec.topic].key


def parties(doc: dict[str, Any], action: str, party: str) -> set[str]:
    return {
        resolve(doc, op["channel"]["$ref"])["address"]
        for op in doc["operations"].values()
        if op["action"] == action and op["tags"] == [{"name": party}]
    }


def test_producers_and_consumers_are_the_services_that_really_do() -> None:
    doc = checked_in()
    assert parties(doc, "receive", ConsumerGroup.BILLING_VIEW) == set(CONSUMED_TOPICS)
    # As subscribed in services/notifier (consumer.py) and services/access (handlers.py).
    assert parties(doc, "receive", ConsumerGroup.NOTIFIER) == {
        Topic.PORTAL_SIGNIN,
        Topic.ENTITIES,
        Topic.BILL_GROUPS,
    }
    assert parties(doc, "receive", ConsumerGroup.ACCESS) == {Topic.BILL_GROUPS}
    assert parties(doc, "send", "gateway") == {Topic.PORTAL_CUSTOMER_CHANGES}
    assert parties(doc, "send", "access") == {
        Topic.PORTAL_ACCESS,
        Topic.PORTAL_SIGNIN,
        "dlq.access",
    }
    assert parties(doc, "send", "notifier") == {Topic.PORTAL_NOTIFICATIONS, "dlq.notifier"}
    assert parties(doc, "send", "billing-system") == {
        spec.topic.value for spec in all_specs() if spec.topic.value.startswith("billing.")
    }
    assert Topic.PORTAL_CUSTOMER_CHANGES in parties(doc, "receive", "billing-simulator")


def test_the_documented_headers_are_the_ones_producers_set() -> None:
    spec = all_specs()[0]
    event = make_event(
        spec.model.model_validate(EXAMPLES[(spec.event_type, spec.schema_version)]),
        tenant_id="demo",
        aggregate_id="bg_1",
    )
    documented = checked_in()["components"]["messages"][asyncapi.message_id(spec)]["headers"]
    assert set(documented["required"]) == set(headers_for(event))
