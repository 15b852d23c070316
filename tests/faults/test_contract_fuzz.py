"""Contract fuzz (issue 14 item 1): every consumer keeps consuming whatever arrives.

Events drawn by hypothesis from the contracts' JSON Schemas (what upstream validates
against), contract-valid ones and invalid ones (out-of-range integers and instants, wrong
types, missing and extra fields, truncated JSON, arbitrary and hostile bytes), are published
with aiokafka to the real topics that access, billing-view and the notifier consume; the
three apps run in this process (lifespan, Kafka consumers) on the session's Kafka and
MongoDB. Then:

- each consumer group's committed offset reaches the end of every partition it reads (nothing
  holds a partition), and a marker behind everything is applied by each service (read by
  `_id`);
- every invalid record is on each consuming group's dead-letter topic, as `ContractError`;
- no valid record is dead-lettered (the notifier's later report of an email it could not send,
  `DeliveryFailedError`, is delivery, not consumption: the event was recorded).

A value the schemas admit but a consumer cannot store shows up as a valid record dead-lettered
after retries (or, with a consumer that holds instead, as a partition that never ends).
The events are drawn once, derandomized (the same on every run), and published as one stream,
so the services start once for all of them.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from billing_view import db as billing_db
from billing_view.app import create_app as billing_view_app
from billing_view.projection.domain import STATE_KINDS
from billing_view.settings import Settings as BillingViewSettings
from portal_access.app import create_app as access_app
from portal_access.db import bill_group_key
from portal_access.outbox.models import PORTALS
from portal_access.settings import Settings as AccessSettings
from portal_contracts.billing import BillGroupState
from portal_contracts.codec import ContractError, decode, encode, make_event
from portal_contracts.registry import EventSpec, all_specs
from portal_contracts.schemas import schema_of
from portal_contracts.topics import TOPICS, ConsumerGroup, Topic, dead_letter_topic
from portal_localstack.aws import AWS_REGION
from portal_localstack.testing import Isolation, StackHandle
from portal_notifier.app import create_app as notifier_app
from portal_notifier.keys import tenant_key
from portal_notifier.settings import Settings as NotifierSettings
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

Json = Any
Records = tuple[list[tuple[Topic, bytes]], list[tuple[Topic, bytes]]]  # (valid, invalid)
# Each example: one valid event of every type the three consume, and a few invalid records.
EXAMPLES = 4
INVALID_PER_EXAMPLE = 8

# What each service subscribes to, as the topic registry says.
CONSUMED: dict[ConsumerGroup, tuple[Topic, ...]] = {
    group: tuple(t for t in Topic if group in TOPICS[t].consumers)
    for group in (ConsumerGroup.ACCESS, ConsumerGroup.BILLING_VIEW, ConsumerGroup.NOTIFIER)
}
TOPICS_READ = sorted({t for topics in CONSUMED.values() for t in topics})
SPECS = [s for s in all_specs() if s.topic in TOPICS_READ]
# Out of range for every integer of the contracts (int64 amounts, counts >= 0, small ranges).
BAD_INTEGERS = (2**63, 2**64, -(2**63) - 1, 10**30, 0.5)
BAD_INSTANTS = ("9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00")
WRONG_TYPE = {"unexpected": [1, 2]}
# Bytes that broke `decode` with something else than ContractError (found by this fuzz).
HOSTILE = (
    b"[" * 100_000,  # RecursionError in the JSON parser
    b'{"type": "entity.state", "schema_version": 1, "aggregate_version": ' + b"7" * 5000 + b"}",
    b'{"type": "entity.state", "schema_version": [1]}',  # unhashable: TypeError
)
# Any character UTF-8 can carry: NUL, '.', '$' (MongoDB's field-name hazards) included.
TEXT = st.characters(codec="utf-8")


# --- strategies from the JSON Schemas ------------------------------------------------------


def _integers(node: dict[str, Any]) -> st.SearchStrategy[int]:
    low, high = node.get("minimum"), node.get("maximum")
    # An upper bound the schema does not state is one a producer may exceed.
    edges = [low if low is not None else -(2**64), high if high is not None else 2**64]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def _instants(node: dict[str, Any]) -> st.SearchStrategy[str]:
    offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )
    extremes = st.sampled_from([datetime.min, datetime.max])
    local = st.one_of(extremes, st.datetimes())
    instants = st.builds(lambda at, tz: at.replace(tzinfo=tz), local, offsets)
    if "formatMinimum" in node or "formatMaximum" in node:
        instants = instants.filter(_representable_in_utc)
    return instants.map(datetime.isoformat)


def _representable_in_utc(at: datetime) -> bool:
    try:
        at.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _strings(node: dict[str, Any]) -> st.SearchStrategy[str]:
    fmt = node.get("format")
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "date":
        return st.dates().map(date.isoformat)
    if fmt == "date-time":
        return _instants(node)
    low, high = node.get("minLength", 0), node.get("maxLength", 64)
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= high
        )
    # Drawing long texts character by character is slow: short ones, or the longest allowed
    # made of one character (NUL, a MongoDB path or operator character, multi-byte ones).
    longest = st.sampled_from(["\x00", ".", "$", "é", "\U0001f600"]).map(lambda c: c * high)
    return st.one_of(st.text(TEXT, min_size=low, max_size=min(high, 24)), longest)


def from_schema(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Json]:
    if "$ref" in node:
        return from_schema(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in node:
        return st.one_of([from_schema(option, defs) for option in node["anyOf"]])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object":
        required = set(node.get("required", ()))
        fields = {k: from_schema(v, defs) for k, v in node["properties"].items()}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
    if kind == "array":
        return st.lists(from_schema(node["items"], defs), max_size=3)
    if kind == "integer":
        return _integers(node)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string":
        return _strings(node)
    raise AssertionError(f"no strategy for schema node {node}")


@functools.cache
def _envelopes(spec: EventSpec) -> st.SearchStrategy[dict[str, Json]]:
    schema = schema_of(spec)
    return from_schema(schema, schema.get("$defs", {}))


@st.composite
def valid_events(draw: st.DrawFn, spec: EventSpec | None = None) -> tuple[Topic, dict[str, Json]]:
    """A schema-valid event on its registry topic, as its producer would send it: the envelope
    names the payload's aggregate, and a state event carries its version."""
    spec = spec or draw(st.sampled_from(SPECS))
    body = draw(_envelopes(spec))
    body["type"], body["schema_version"] = spec.event_type.value, spec.schema_version
    payload = body["payload"]
    id_field = STATE_KINDS.get(spec.event_type.value, (None, "bill_group_id"))[1]
    body["aggregate_id"] = payload[id_field]
    if spec.state_event and body.get("aggregate_version") is None:
        body["aggregate_version"] = 0
    return spec.topic, body


def _containers(node: Json) -> list[dict[str, Json] | list[Json]]:
    found: list[dict[str, Json] | list[Json]] = []
    if isinstance(node, dict | list):
        found.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            found.extend(_containers(child))
    return found


@st.composite
def invalid_records(draw: st.DrawFn) -> tuple[Topic, bytes]:
    kinds = ["integer", "instant", "type", "missing", "extra", "cut", "bytes", "hostile"]
    kind = draw(st.sampled_from(kinds))
    if kind == "bytes":
        return draw(st.sampled_from(TOPICS_READ)), draw(st.binary(max_size=64))
    if kind == "hostile":
        return draw(st.sampled_from(TOPICS_READ)), draw(st.sampled_from(HOSTILE))
    topic, body = draw(valid_events())
    if kind == "cut":
        whole = json.dumps(body).encode()
        return topic, whole[: draw(st.integers(0, len(whole) - 1))]
    if kind == "integer":
        slots = [
            (c, k)
            for c in _containers(body["payload"])
            for k, v in (c.items() if isinstance(c, dict) else enumerate(c))
            if isinstance(v, int) and not isinstance(v, bool)
        ]
        container, key = draw(st.sampled_from([(body, "aggregate_version"), *slots]))
        container[key] = draw(st.sampled_from(BAD_INTEGERS))  # type: ignore[index]
    elif kind == "instant":
        body["occurred_at"] = draw(st.sampled_from(BAD_INSTANTS))
    elif kind == "type":
        dicts = [c for c in _containers(body) if isinstance(c, dict)]
        target = draw(st.sampled_from(dicts))
        target[draw(st.sampled_from(sorted(target)))] = WRONG_TYPE
    elif kind == "missing":
        required = ("event_id", "occurred_at", "tenant_id", "aggregate_id", "payload")
        del body[draw(st.sampled_from(required))]
    else:
        dicts = [c for c in _containers(body) if isinstance(c, dict)]
        draw(st.sampled_from(dicts))["unexpected"] = 1
    return topic, json.dumps(body).encode()


@functools.cache
def draw_records() -> Records:
    """(valid, invalid) records: hypothesis draws them once, the same ones on every run."""
    valid: list[tuple[Topic, bytes]] = []
    invalid: list[tuple[Topic, bytes]] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.tuples(*(valid_events(spec) for spec in SPECS)),
        st.lists(invalid_records(), min_size=INVALID_PER_EXAMPLE, max_size=INVALID_PER_EXAMPLE),
    )
    def collect(
        good: tuple[tuple[Topic, dict[str, Json]], ...], bad: list[tuple[Topic, bytes]]
    ) -> None:
        valid.extend((topic, json.dumps(body).encode()) for topic, body in good)
        invalid.extend(bad)

    collect()
    return valid, [*invalid, *pinned_records()]


def pinned_records() -> list[tuple[Topic, bytes]]:
    """The issue's own record, and the hostile bytes, on the topic all three consumers read,
    whatever hypothesis draws."""
    state = json.loads(_marker("bg_pinned"))
    state["aggregate_version"] = 2**64
    late = {**state, "aggregate_version": 1, "occurred_at": BAD_INSTANTS[0]}
    records = [json.dumps(state).encode(), json.dumps(late).encode(), *HOSTILE]
    return [(Topic.BILL_GROUPS, value) for value in records]


def test_the_schemas_and_the_models_agree_on_every_drawn_event() -> None:
    """What the JSON Schemas admit the models accept, and what the fuzz calls invalid they
    refuse: otherwise the assertions below would test the generator."""
    valid, invalid = draw_records()
    for _, value in valid:
        decode(value)
    for _, value in invalid:
        with pytest.raises(ContractError):
            decode(value)


# --- the services ---------------------------------------------------------------------------


@pytest.fixture
def records() -> Records:
    """Drawn before the services start: their clients' threads touch `random` meanwhile,
    which hypothesis would take for a strategy doing so."""
    return draw_records()


@pytest.fixture
async def services(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    records: Records,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[dict[ConsumerGroup, str]]:
    """The three consumers running in this process; yields each one's MongoDB database."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
    }.items():
        monkeypatch.setenv(name, value)
    common: dict[str, Any] = {
        "kafka_bootstrap": stack.endpoints.kafka_bootstrap,
        "mongodb_uri": stack.endpoints.mongodb_uri,
        "topic_prefix": isolation.topic_prefix,
    }
    databases = {group: isolation.database(group.value) for group in CONSUMED}
    apps = [
        access_app(AccessSettings(**common, mongodb_database=databases[ConsumerGroup.ACCESS])),
        billing_view_app(
            BillingViewSettings(
                **common,
                mongodb_database=databases[ConsumerGroup.BILLING_VIEW],
                retry_base_seconds=0.01,
            )
        ),
        notifier_app(
            NotifierSettings(
                **common,
                mongodb_database=databases[ConsumerGroup.NOTIFIER],
                aws_endpoint_url_sesv2=stack.endpoints.aws_endpoint_url,
                aws_region=AWS_REGION,
                retry_base_seconds=0.2,
                retry_cap_seconds=1.0,
                retry_poll_seconds=0.1,
            )
        ),
    ]
    async with AsyncExitStack() as running:
        for app in apps:
            await running.enter_async_context(AsyncTestClient(app))
        yield databases


def _key(value: bytes) -> bytes | None:
    try:
        body = json.loads(value)
        return str(body["payload"].get("bill_group_id") or body["aggregate_id"]).encode()
    except Exception:  # noqa: BLE001 - an invalid record may have no key to speak of
        return None


async def _read_all(bootstrap: str, topic: str, partitions: int) -> list[Any]:
    """Every record of `topic` up to its current end."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        reader.assign(parts)
        await reader.seek_to_beginning(*parts)
        ends = await reader.end_offsets(parts)
        records: list[Any] = []

        async def caught_up() -> bool:
            for batch in (await reader.getmany(*parts, timeout_ms=200)).values():
                records.extend(batch)
            return all([await reader.position(p) >= ends[p] for p in parts])

        await eventually(caught_up, 30, f"{topic} read to its end")
        return records
    finally:
        await reader.stop()


async def _committed_to_the_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Waits until `group` has committed every partition of `topics` up to its end."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in range(TOPICS[t.split(".", 1)[1]].local_partitions)
        ]
        ends = await reader.end_offsets(parts)

        async def done() -> bool:
            return all([(await reader.committed(p) or 0) >= ends[p] for p in parts])

        await eventually(done, 60, f"{group} committed to the end of {len(parts)} partitions")
    finally:
        await reader.stop()


def _marker(bill_group_id: str) -> bytes:
    state = BillGroupState(
        bill_group_id=bill_group_id,
        account_id="acc_marker",
        account_name="Marker",
        entity_id="ent_marker",
        name="Behind every fuzzed record",
        currency="EUR",
        contract_status="active",
        billing_frequency="monthly",
        auto_pay=False,
    )
    return encode(
        make_event(state, tenant_id=MARKER_TENANT, aggregate_id=bill_group_id, aggregate_version=1)
    )


MARKER_TENANT = "fuzz-marker"


async def test_every_consumer_keeps_consuming_and_parks_exactly_the_invalid_records(
    stack: StackHandle,
    isolation: Isolation,
    records: Records,
    services: dict[ConsumerGroup, str],
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    valid, invalid = records
    bootstrap, prefix = stack.endpoints.kafka_bootstrap, isolation.topic_prefix
    # One marker per partition of the topic all three read: behind every fuzzed record there.
    markers = [f"marker-{p}" for p in range(TOPICS[Topic.BILL_GROUPS].local_partitions)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, value in [*invalid, *valid]:
            await producer.send_and_wait(prefix + topic, value, key=_key(value))
        for partition, marker in enumerate(markers):
            await producer.send_and_wait(
                prefix + Topic.BILL_GROUPS,
                _marker(marker),
                key=marker.encode(),
                partition=partition,
            )
    finally:
        await producer.stop()

    found = {
        ConsumerGroup.ACCESS: lambda bg: mongo[services[ConsumerGroup.ACCESS]][PORTALS].find_one(
            {"_id": bill_group_key(MARKER_TENANT, bg)}
        ),
        ConsumerGroup.BILLING_VIEW: lambda bg: mongo[services[ConsumerGroup.BILLING_VIEW]][
            billing_db.READ_MODEL
        ].find_one({"_id": billing_db.view_id(MARKER_TENANT, bg)}),
        ConsumerGroup.NOTIFIER: lambda bg: mongo[services[ConsumerGroup.NOTIFIER]][
            "bill_groups"
        ].find_one({"_id": tenant_key(MARKER_TENANT, bg)}),
    }
    for group, find in found.items():

        async def applied(find: Any = find) -> bool:
            return all([await find(marker) is not None for marker in markers])

        await eventually(applied, 60, f"{group.value} applied the markers")
        read = [prefix + t for t in CONSUMED[group]]
        await _committed_to_the_end(bootstrap, prefix + group.value, read)

    for group, topics in CONSUMED.items():
        dead = await _read_all(bootstrap, prefix + dead_letter_topic(group), 1)
        errors = [(r.value, dict(r.headers)["dlq.error.type"].decode()) for r in dead]
        parked = [(value, error) for value, error in errors if error != "DeliveryFailedError"]
        expected = Counter(value for topic, value in invalid if topic in topics)
        assert Counter(value for value, _ in parked) == expected, group.value
        assert {error for _, error in parked} <= {"ContractError"}, group.value

    # Each contract-valid sign-in request became a delivery record (read by `_id`).
    deliveries = mongo[services[ConsumerGroup.NOTIFIER]]["deliveries"]
    for _, value in valid:
        event = decode(value)
        if event.type == "signin.requested":
            key = tenant_key(event.tenant_id, str(event.event_id))
            assert await deliveries.find_one({"_id": key}, {"_id": 1}) is not None, key
