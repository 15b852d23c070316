"""Issue 18 item 1: one sign-in is one trace, from the gateway's request through access, the
outbox's Kafka publish and the notifier, to the notifier's SES call.

The shared portal runs with tracing off, so this test runs a gateway, an access and a notifier
of its own with the standard `OTEL_*` variables pointed at an OTLP/HTTP collector inside the
test. They use the shared portal's Kafka, MongoDB and moto under names of their own: a topic
prefix, and databases (access's a copy of the shared one, for its portals and rules), so that
the shared portal's services never take part in this sign-in.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pymongo import MongoClient

from portal_contracts.codec import decode
from portal_contracts.topics import TOPICS, Topic
from portal_localstack.aws import AWS_REGION
from portal_localstack.kafka import create_topics
from portal_localstack.ports import free_port
from portal_localstack.process import ManagedProcess
from tests.support.gateway import GatewayProcess
from tests.support.portal import request_link
from tests.support.services import DevPortal, active_bill_group
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SES_SEND = "SESv2.SendEmail"
PRODUCER, CONSUMER = 4, 5  # OTLP span kinds


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    attributes: dict[str, Any]


class Collector:
    """An OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf) keeping every span."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    collector.add(request)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        Span(
                            service=attributes.get("service.name", ""),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            attributes={
                                a.key: a.value.string_value or a.value.int_value
                                for a in span.attributes
                            },
                        )
                    )

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in list(self.spans) if s.trace_id == trace_id]

    def stop(self) -> None:
        self.server.shutdown()


def _tracing_env(collector: Collector, service: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_SERVICE_NAME": service,
        # Export within a fraction of a second instead of the default 5 s.
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


def _start(name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> ManagedProcess:
    process = ManagedProcess(name, argv, log_path, env)
    process.start()
    url = f"http://127.0.0.1:{env['HTTP_PORT']}/readyz"
    process.wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, 60, "ready")
    return process


def _copy_database(mongodb_uri: str, source: str, target: str) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri)
    with client:
        for name in client[source].list_collection_names():
            documents = list(client[source][name].find({}))
            if documents:
                client[target][name].insert_many(documents)


async def _signin_event(bootstrap: str, topic: str, bill_group_id: str) -> Any:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                event = decode(record.value)
                if event.aggregate_id == bill_group_id:
                    return event
    finally:
        await consumer.stop()


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.stop()


def test_one_signin_is_one_trace_from_gateway_to_ses(
    portal: DevPortal, collector: Collector, tmp_path: Path
) -> None:
    ready = portal.ready
    endpoints = ready["endpoints"]
    bill_group = active_bill_group(portal, 2)
    token = "tr" + uuid.uuid4().hex[:10]
    prefix = f"{token}."
    asyncio.run(create_topics(endpoints["KAFKA_BOOTSTRAP"], list(TOPICS), prefix=prefix))
    _copy_database(endpoints["MONGODB_URI"], "access", f"{token}_access")
    common = {
        **endpoints,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": AWS_REGION,
        "AWS_DEFAULT_REGION": AWS_REGION,
        "ENVIRONMENT": "local",
        "HTTP_HOST": "127.0.0.1",
        "INTERNAL_API_TOKEN": ready["internal_api_token"],
        "SEAL_KEYS": ready["seal_key"],
        "TOPIC_PREFIX": prefix,
        "PYTHONUNBUFFERED": "1",
    }
    bin_dir = Path(sys.executable).parent
    access_port = free_port()
    processes = [
        _start(
            "access",
            [str(bin_dir / "portal-access"), "run"],
            tmp_path / "access.log",
            {
                **common,
                **_tracing_env(collector, "access"),
                "HTTP_PORT": str(access_port),
                "MONGODB_DATABASE": f"{token}_access",
            },
        ),
        _start(
            "notifier",
            [str(bin_dir / "portal-notifier"), "run"],
            tmp_path / "notifier.log",
            {
                **common,
                **_tracing_env(collector, "notifier"),
                "HTTP_PORT": str(free_port()),
                "MONGODB_DATABASE": f"{token}_notifier",
            },
        ),
    ]
    gateway = GatewayProcess.start(
        portal,
        tmp_path / "gateway.log",
        **_tracing_env(collector, "gateway"),
        ACCESS_URL=f"http://127.0.0.1:{access_port}",
        TOPIC_PREFIX=prefix,
        CSRF_SECRET=secrets.token_urlsafe(32),
    )
    try:
        address = f"trace-{uuid.uuid4().hex[:8]}@{bill_group['customer_domain']}"
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            # The shared portal's link, followed on this test's gateway.
            answer = request_link(client, urlsplit(bill_group["portal_url"]).path, address)
        assert answer.status_code == 200, answer.text
        # The access log's trace id (returned as x-request-id) is the request span's.
        trace_id = answer.headers["x-request-id"]

        def services() -> set[str]:
            return {s.service for s in collector.trace(trace_id)}

        async def whole_trace() -> bool:
            return any(s.name == SES_SEND for s in collector.trace(trace_id))

        try:
            asyncio.run(eventually(whole_trace, within=30, what=f"SES call in trace {trace_id}"))
        except pytest.fail.Exception:
            seen = sorted({(s.service, s.name, s.trace_id == trace_id) for s in collector.spans})
            pytest.fail(f"no SES call in trace {trace_id}; spans seen: {seen}")
        spans = collector.trace(trace_id)
        assert services() == {"gateway", "access", "notifier"}, spans
        names = {(s.service, s.name) for s in spans}
        assert ("gateway", "POST /p/{portal_key}/signin") in names, names
        assert any(s.service == "access" and s.kind == PRODUCER for s in spans), names
        assert any(s.service == "notifier" and s.kind == CONSUMER for s in spans), names
        assert ("notifier", SES_SEND) in names, names
        # No URL path is recorded: they carry portal keys (and sign-in tokens).
        portal_key = urlsplit(bill_group["portal_url"]).path.rsplit("/", 1)[1]
        recorded = " ".join(str(v) for s in spans for v in s.attributes.values())
        assert portal_key not in recorded

        event = asyncio.run(
            _signin_event(
                endpoints["KAFKA_BOOTSTRAP"],
                prefix + Topic.PORTAL_SIGNIN,
                bill_group["bill_group_id"],
            )
        )
        assert event.correlation_id == trace_id
        gateway_lines = [
            json.loads(line)
            for line in (tmp_path / "gateway.log").read_text().splitlines()
            if line.startswith("{")
        ]
        assert any(line.get("trace_id") == trace_id for line in gateway_lines)
    finally:
        gateway.stop()
        for process in processes:
            process.stop()


def test_with_tracing_off_access_logs_the_gateway_requests_trace_id(portal: DevPortal) -> None:
    """The shared portal runs untraced: the gateway still hands its request's trace id on, so
    a user's `x-request-id` finds access's lines of the same request."""
    bill_group = active_bill_group(portal, 2)
    answer = httpx.get(bill_group["portal_url"], timeout=30)
    assert answer.status_code == 200
    trace_id = answer.headers["x-request-id"]

    async def access_logged_it() -> bool:
        return any(
            json.loads(line).get("trace_id") == trace_id
            for line in portal.log("access", 2000).splitlines()
            if line.startswith("{")
        )

    asyncio.run(eventually(access_logged_it, within=10, what=f"access line with {trace_id}"))
