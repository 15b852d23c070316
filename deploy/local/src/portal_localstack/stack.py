"""The local stack: Kafka, MongoDB (mongo-java-server) and moto, started together and checked
before "ready"."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from portal_localstack.kafka import KafkaServer, create_topics, ensure_jars
from portal_localstack.mongoserver import MongoJavaServer, ensure_server
from portal_localstack.moto import MotoServer
from portal_localstack.paths import cache_dir
from portal_localstack.ports import free_port


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    mongodb_uri: str
    aws_endpoint_url: str

    def as_env(self) -> dict[str, str]:
        """What a process needs to reach these servers. moto serves S3 and SES, each set by
        botocore's per-service variable: the generic AWS_ENDPOINT_URL would also redirect
        STS, which production's workload identity needs, so nothing here relies on it."""
        return {
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "MONGODB_URI": self.mongodb_uri,
            "AWS_ENDPOINT_URL_S3": self.aws_endpoint_url,
            "AWS_ENDPOINT_URL_SESV2": self.aws_endpoint_url,
        }


@dataclass(frozen=True)
class Ports:
    kafka: int
    kafka_controller: int
    mongodb: int
    moto: int

    @classmethod
    def from_env(cls) -> Ports:
        """The dev stack's fixed, configurable ports."""
        return cls(
            kafka=int(os.environ.get("LOCAL_KAFKA_PORT", "9092")),
            kafka_controller=int(os.environ.get("LOCAL_KAFKA_CONTROLLER_PORT", "9093")),
            mongodb=int(os.environ.get("LOCAL_MONGODB_PORT", "27018")),
            moto=int(os.environ.get("LOCAL_MOTO_PORT", "5055")),
        )

    @classmethod
    def free(cls) -> Ports:
        """Fresh loopback ports, so a test session never collides with a running dev stack."""
        return cls(free_port(), free_port(), free_port(), free_port())


def install() -> None:
    """Fetch and build everything the stack runs; a no-op when the caches are warm."""
    with ThreadPoolExecutor(2) as pool:
        jars = pool.submit(ensure_jars)
        mongo = pool.submit(ensure_server)
        jars.result()
        mongo.result()


class LocalStack:
    def __init__(
        self, name: str, ports: Ports, *, fresh: bool = False, persistent_mongodb: bool = True
    ) -> None:
        self.base = cache_dir() / "stack" / name
        if fresh:
            shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True, exist_ok=True)
        self.ports = ports
        self.kafka = KafkaServer(ports.kafka, ports.kafka_controller, self.base / "kafka")
        self.mongodb = MongoJavaServer(
            ports.mongodb, self.base / "mongodb", persistent=persistent_mongodb
        )
        self.moto = MotoServer(ports.moto, self.base / "moto")
        self.ready_seconds: float | None = None

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.kafka.bootstrap, self.mongodb.uri, self.moto.endpoint)

    def start(self) -> Endpoints:
        started = time.monotonic()
        install()
        try:
            self.kafka.prepare()
            self.kafka.start()
            self.mongodb.start()
            self.moto.start()
            with ThreadPoolExecutor(3) as pool:
                for future in [
                    pool.submit(self.kafka.wait_ready),
                    pool.submit(self.mongodb.wait_ready),
                    pool.submit(self.moto.wait_ready),
                ]:
                    future.result()
            asyncio.run(create_topics(self.kafka.bootstrap))
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - started
        (self.base / "endpoints.json").write_text(
            json.dumps({**asdict(self.endpoints), "ready_seconds": self.ready_seconds})
        )
        return self.endpoints

    def check_alive(self) -> None:
        for server in (self.kafka, self.mongodb, self.moto):
            if server.process is not None:
                server.process.check_alive()

    def stop(self) -> None:
        for server in (self.moto, self.mongodb, self.kafka):
            server.stop()

    def restart_kafka(self, *, crash: bool = False) -> None:
        """Stop (or SIGKILL) the broker and start it again on the same data and ports."""
        if crash:
            self.kafka.kill()
        else:
            self.kafka.stop()
        self.kafka.start()
        self.kafka.wait_ready()


def stack_root(name: str) -> Path:
    return cache_dir() / "stack" / name
