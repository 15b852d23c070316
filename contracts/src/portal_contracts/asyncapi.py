"""The AsyncAPI 3.0 document of the portal's Kafka traffic, generated from the contracts.

Everything in it is data that lives here already: topics with their keys, partitions,
retention, producers and consumer groups (`topics.TOPICS`), event types and the topic each
travels on (`registry`), and every payload's JSON Schema (`schemas`, referenced as the
checked-in files so that one copy of each schema exists). The checked-in document is the
contract an integrator reads; `tests/contracts/test_asyncapi.py` fails when it drifts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from portal_contracts import schemas
from portal_contracts.registry import EventSpec, all_specs
from portal_contracts.topics import TOPICS, TopicSpec

DOCUMENT = Path(__file__).resolve().parents[2] / "asyncapi.json"
KAFKA_BINDING = "0.5.0"

# Who stands behind each producer or consumer-group name of the topic registry.
PARTIES = {
    "billing-system": "The upstream billing system (owner of entities, bill groups, "
    "subscriptions, invoices, payment methods; applies customer changes).",
    "billing-simulator": "The upstream billing system's consumer of customer changes (the "
    "local stack runs tools/billing-simulator in its place, under this group).",
    "access": "services/access: portals, grants, sign-in, sessions, API keys.",
    "billing-view": "services/billing-view: the read model the customer pages are served from.",
    "notifier": "services/notifier: sign-in and notification emails.",
    "gateway": "services/gateway: the customer portal and the staff console.",
}

# Kafka headers every event carries (`codec.headers_for`): routing without parsing the body.
_HEADERS = {
    "type": "object",
    "properties": {
        "event_id": {"type": "string", "format": "uuid"},
        "type": {"type": "string"},
        "schema_version": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        "tenant_id": {"type": "string"},
    },
    "required": ["event_id", "type", "schema_version", "tenant_id"],
}


def _camel(name: str) -> str:
    """`portal.customer-changes` → `portalCustomerChanges`: an id AsyncAPI tools accept."""
    first, *rest = re.split(r"[^A-Za-z0-9]+", name)
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def message_id(spec: EventSpec) -> str:
    return f"{spec.event_type.value}.v{spec.schema_version}"


def _dead_letter(topic: TopicSpec) -> bool:
    return topic.name.startswith("dlq.")


def _message(spec: EventSpec, key: str) -> dict[str, Any]:
    return {
        "name": spec.event_type.value,
        "title": f"{spec.event_type.value} v{spec.schema_version}",
        "summary": (spec.model.__doc__ or spec.event_type.value).strip().splitlines()[0],
        "contentType": "application/json",
        "headers": _HEADERS,
        # The envelope with this event's payload, as exported to contracts/schemas.
        "payload": {"$ref": f"./schemas/{schemas.file_name(spec)}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": key},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


_DEAD_LETTER_MESSAGE = {
    "name": "dead-letter",
    "title": "Dead-lettered record",
    "summary": "The original record, key and value unchanged (possibly not even JSON), with "
    "headers naming the source topic, partition, offset, consumer group and error "
    "(portal_kit.deadletter).",
    "payload": {},
}


def _channel(topic: TopicSpec, events: list[EventSpec]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "cleanup.policy": ["compact"] if topic.compacted else ["delete"],
        # -1 (FOREVER): kept until deleted.
        "retention.ms": topic.retention_ms,
    }
    messages = (
        {"deadLetter": {"$ref": "#/components/messages/dead-letter"}}
        if _dead_letter(topic)
        else {
            _camel(message_id(s)): {"$ref": f"#/components/messages/{message_id(s)}"}
            for s in events
        }
    )
    return {
        "address": topic.name,
        "title": topic.name,
        "description": f"{topic.description} Key: {topic.key}.",
        "messages": messages,
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": config,
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _operations(topic: TopicSpec, channel: dict[str, Any]) -> dict[str, Any]:
    channel_id = _camel(topic.name)
    refs = [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel["messages"]]
    parties = [("send", p) for p in topic.producers]
    parties += [("receive", group.value) for group in topic.consumers]
    return {
        _camel(f"{party} {action} {topic.name}"): {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{party} {'publishes to' if action == 'send' else 'consumes'} "
            f"{topic.name}" + (f" (consumer group `{party}`)" if action == "receive" else ""),
            "messages": refs,
            "tags": [{"name": party}],
        }
        for action, party in parties
    }


def document() -> dict[str, Any]:
    specs = all_specs()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in TOPICS.values():
        channel = _channel(topic, [s for s in specs if s.topic.value == topic.name])
        channels[_camel(topic.name)] = channel
        operations.update(_operations(topic, channel))
    messages = {message_id(s): _message(s, TOPICS[s.topic.value].key) for s in specs}
    messages["dead-letter"] = _DEAD_LETTER_MESSAGE
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Customer billing portal events",
            "version": "1.0.0",
            "description": "Every Kafka topic the portal reads or writes, generated from "
            "portal-contracts (`portal-contracts export-schemas`). Topic names get the "
            "deployment's TOPIC_PREFIX; every event is the JSON envelope of "
            "contracts/schemas. Tags name the producer or consumer.",
            "tags": [{"name": name, "description": text} for name, text in PARTIES.items()],
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Placeholder: the deployment's KAFKA_BOOTSTRAP.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def export(path: Path = DOCUMENT) -> Path:
    path.write_text(render())
    return path


def drifted(path: Path = DOCUMENT) -> bool:
    return not path.exists() or path.read_text() != render()
