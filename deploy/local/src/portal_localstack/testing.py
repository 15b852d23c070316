"""Pytest fixtures that give integration tests real servers, started once per session.

Selection, in order:
- `KAFKA_BOOTSTRAP`, `MONGODB_URI` and `AWS_ENDPOINT_URL_S3` (moto, which also serves SES) all
  set: use those external servers;
- `PORTAL_TEST_BACKEND=testcontainers` and a Docker engine answering: Kafka and MongoDB in
  containers (moto still runs as a local process);
- otherwise the local stack (Kafka, mongo-java-server in memory, moto processes) on fresh
  loopback ports.

Each test gets its own topic prefix and database names, so tests never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest
from pymongo import AsyncMongoClient

from portal_contracts.topics import TOPICS
from portal_localstack.aws import AWS_REGION, prepare_aws
from portal_localstack.kafka import create_topics
from portal_localstack.moto import MotoServer
from portal_localstack.ports import free_port
from portal_localstack.stack import Endpoints, LocalStack, Ports, stack_root


@dataclass
class StackHandle:
    endpoints: Endpoints
    local: LocalStack | None = None
    kind: str = "local"
    ready_seconds: float | None = None
    _cleanup: list[object] = field(default_factory=list)

    def require_local(self) -> LocalStack:
        """Fault tests that kill servers need processes they own."""
        if self.local is None:
            pytest.skip(f"needs the local process stack, not {self.kind}")
        return self.local

    def env(self) -> dict[str, str]:
        return {
            **self.endpoints.as_env(),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": AWS_REGION,
            "AWS_DEFAULT_REGION": AWS_REGION,
        }


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no client, no permission: all mean "no"
        return False


def _testcontainers(stack: ExitStack) -> StackHandle:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    kafka = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft())
    mongo = stack.enter_context(MongoDbContainer("mongo:7.0"))
    moto = MotoServer(free_port(), stack_root(f"test-{os.getpid()}") / "moto")
    moto.start()
    stack.callback(moto.stop)
    moto.wait_ready()
    return StackHandle(
        Endpoints(kafka.get_bootstrap_server(), mongo.get_connection_url(), moto.endpoint),
        kind="testcontainers",
    )


@pytest.fixture(scope="session")
def stack() -> Iterator[StackHandle]:
    external = [
        os.environ.get(k) for k in ("KAFKA_BOOTSTRAP", "MONGODB_URI", "AWS_ENDPOINT_URL_S3")
    ]
    with ExitStack() as cleanup:
        if all(external):
            handle = StackHandle(Endpoints(*external), kind="external")  # type: ignore[arg-type]
        elif os.environ.get("PORTAL_TEST_BACKEND") == "testcontainers":
            if not _docker_available():
                pytest.skip("PORTAL_TEST_BACKEND=testcontainers but no Docker engine answers")
            handle = _testcontainers(cleanup)
        else:
            # In memory: a test session needs no persistence, and inserts run ~3x faster than H2.
            local = LocalStack(
                f"test-{os.getpid()}", Ports.free(), fresh=True, persistent_mongodb=False
            )
            cleanup.callback(lambda: _remove(local))
            endpoints = local.start()
            cleanup.callback(local.stop)
            handle = StackHandle(endpoints, local, "local", local.ready_seconds)
        prepare_aws(handle.endpoints.aws_endpoint_url)
        yield handle


def _remove(local: LocalStack) -> None:
    import shutil

    shutil.rmtree(local.base, ignore_errors=True)


@dataclass(frozen=True)
class Isolation:
    """Names private to one test: a topic prefix and a database-name prefix."""

    token: str

    @property
    def topic_prefix(self) -> str:
        return f"{self.token}."

    def database(self, service: str) -> str:
        return f"{self.token}_{service.replace('-', '_')}"


@pytest.fixture
def isolation() -> Isolation:
    return Isolation("t" + uuid.uuid4().hex[:12])


@pytest.fixture
async def topics(stack: StackHandle, isolation: Isolation) -> list[str]:
    """Every registry topic, created under this test's prefix."""
    return await create_topics(
        stack.endpoints.kafka_bootstrap, list(TOPICS), prefix=isolation.topic_prefix
    )


@pytest.fixture
async def mongo(stack: StackHandle) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.endpoints.mongodb_uri)
    await client.aconnect()
    yield client
    await client.close()
