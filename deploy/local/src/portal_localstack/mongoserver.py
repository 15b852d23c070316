"""mongo-java-server 1.47.0: the local stack's MongoDB (wire protocol), from Maven Central.

Its jars are resolved through `deploy/local/mongo/pom.xml` and its launcher
(`deploy/local/mongo/Launch.java`) is compiled once with the machine's Java 17; both are
cached by version. With a data file it keeps everything in an H2 MVStore (persistent across
`make dev` runs); without one, in memory (test sessions).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pymongo import MongoClient

from portal_localstack.paths import cache_dir, local_dir
from portal_localstack.ports import port_open
from portal_localstack.process import ManagedProcess

MONGO_JAVA_SERVER_VERSION = "1.47.0"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is needed for the local MongoDB server; install Java 17/Maven")
    return path


def ensure_server() -> Path:
    """Copy the server's runtime classpath and compile the launcher once; returns the home
    holding `lib/` and `classes/`."""
    home = cache_dir() / "mongo" / f"mongo-java-server-{MONGO_JAVA_SERVER_VERSION}"
    marker = home / ".complete"
    if marker.exists():
        return home
    tmp = home.with_name(home.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    source = local_dir() / "mongo"
    subprocess.run(  # noqa: S603
        [
            _tool("mvn"),
            "-q",
            "-B",
            "-f",
            str(source / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-Dmongo-java-server.version={MONGO_JAVA_SERVER_VERSION}",
            f"-DoutputDirectory={tmp / 'lib'}",
        ],
        check=True,
    )
    subprocess.run(  # noqa: S603
        [
            _tool("javac"),
            "-cp",
            str(tmp / "lib" / "*"),
            "-d",
            str(tmp / "classes"),
            str(source / "Launch.java"),
        ],
        check=True,
    )
    shutil.rmtree(home, ignore_errors=True)
    tmp.rename(home)
    marker.touch()
    return home


class MongoJavaServer:
    def __init__(
        self, port: int, base: Path, *, persistent: bool = True, heap_mb: int = 1024
    ) -> None:
        self.port = port
        self.base = base
        self.persistent = persistent
        self.heap_mb = heap_mb
        self.process: ManagedProcess | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def data_file(self) -> Path:
        return self.base / "data" / "mongo.mv"

    def start(self) -> None:
        home = ensure_server()
        args = [
            _tool("java"),
            f"-Xmx{self.heap_mb}m",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            f"{home / 'classes'}:{home / 'lib' / '*'}",
            "Launch",
            "127.0.0.1",
            str(self.port),
        ]
        if self.persistent:
            self.data_file.parent.mkdir(parents=True, exist_ok=True)
            args.append(str(self.data_file))
        self.process = ManagedProcess("mongodb", args, self.base / "logs" / "mongodb.log")
        self.process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.process is not None
        self.process.wait_until(lambda: port_open(self.port), timeout, "listening")
        self.process.wait_until(self._ping, timeout, "answering ping")

    def _ping(self) -> bool:
        client: MongoClient[dict[str, object]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=1000
        )
        try:
            client.admin.command("ping")
            return True
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
