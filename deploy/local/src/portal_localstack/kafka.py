"""Apache Kafka in KRaft mode (one combined broker + controller) from Maven Central jars."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from portal_contracts.topics import TOPICS
from portal_localstack.paths import cache_dir, local_dir
from portal_localstack.ports import port_open
from portal_localstack.process import ManagedProcess

KAFKA_VERSION = "4.3.1"


def ensure_jars() -> Path:
    """Copy the broker's runtime classpath from Maven Central once; later runs reuse it."""
    lib = cache_dir() / "kafka" / f"lib-{KAFKA_VERSION}"
    marker = lib / ".complete"
    if marker.exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is needed to fetch the Kafka jars; install it first")
    tmp = lib.with_name(lib.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(  # noqa: S603
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(local_dir() / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-DoutputDirectory={tmp}",
        ],
        check=True,
    )
    shutil.rmtree(lib, ignore_errors=True)
    tmp.rename(lib)
    marker.touch()
    return lib


def _cluster_id() -> str:
    """Kafka's Uuid text form: URL-safe base64 of 16 random bytes without padding.

    One starting with `-` would be read by StorageTool as an option, so draw again."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if candidate[0].isalnum():
            return candidate


def server_properties(port: int, controller_port: int, data_dir: Path) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        # The default 50 offset partitions cost seconds at the first group join.
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Without this every consumer group join waits 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "log.retention.hours": "24",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


class KafkaServer:
    def __init__(self, port: int, controller_port: int, base: Path, heap_mb: int = 768) -> None:
        self.port = port
        self.controller_port = controller_port
        self.base = base
        self.data_dir = base / "data"
        self.logs_dir = base / "logs"
        self.heap_mb = heap_mb
        self.process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, lib: Path, main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("Java 17+ is needed to run Kafka")
        return [
            java,
            f"-Xms{self.heap_mb // 2}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.logs_dir}",
            f"-Dlog4j2.configurationFile={local_dir() / 'config' / 'log4j2.properties'}",
            "-cp",
            f"{lib}/*",
            main,
            *args,
        ]

    def prepare(self) -> None:
        lib = ensure_jars()
        self.base.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        props = self.base / "server.properties"
        props.write_text(server_properties(self.port, self.controller_port, self.data_dir))
        if not (self.data_dir / "meta.properties").exists():
            subprocess.run(  # noqa: S603
                self._java(
                    lib,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    _cluster_id(),
                    "-c",
                    str(props),
                ),
                check=True,
                capture_output=True,
            )
        self.process = ManagedProcess(
            "kafka",
            self._java(lib, "kafka.Kafka", str(props)),
            self.logs_dir / "stdout.log",
        )

    def start(self) -> None:
        if self.process is None:
            self.prepare()
        assert self.process is not None
        self.process.start()

    def wait_ready(self, timeout: float = 90.0) -> None:
        assert self.process is not None
        self.process.wait_until(lambda: port_open(self.port), timeout, "listening")
        self.process.wait_until(
            lambda: asyncio.run(_metadata_ok(self.bootstrap)), timeout, "answering metadata"
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=30)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()


async def _metadata_ok(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await admin.start()
    try:
        await admin.list_topics()
        return True
    finally:
        await admin.close()


async def create_topics(
    bootstrap: str, names: list[str] | None = None, *, prefix: str = "", local: bool = True
) -> list[str]:
    """Create the registry's topics (or `names`) that do not exist yet; returns their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=prefix + spec.name,
                num_partitions=spec.local_partitions if local else spec.partitions,
                replication_factor=1,
            )
            for spec in TOPICS.values()
            if names is None or spec.name in names
        ]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            await admin.create_topics(missing)
        return [t.name for t in wanted]
    finally:
        await admin.close()
