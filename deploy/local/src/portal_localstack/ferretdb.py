"""FerretDB v1 (MongoDB wire protocol on SQLite), built from the Go module proxy once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from pymongo import MongoClient

from portal_localstack.paths import cache_dir
from portal_localstack.ports import port_open
from portal_localstack.process import ManagedProcess

FERRETDB_VERSION = "v1.24.2"
MODULE = "github.com/FerretDB/FerretDB"


def _go(*args: str, cwd: Path | None = None, toolchain: str | None = None) -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("Go is needed to build FerretDB")
    env = dict(os.environ)
    if toolchain:
        env["GOTOOLCHAIN"] = toolchain
    return subprocess.run(  # noqa: S603
        [go, *args], check=True, capture_output=True, text=True, cwd=cwd, env=env
    ).stdout


def ensure_binary() -> Path:
    """`go install …@v1.24.2` builds a binary that panics: the module zip lacks the generated
    build/version/version.txt. So the module is downloaded from the proxy, that one file is
    written, and the same `cmd/ferretdb` is built; the result is cached by version."""
    binary = cache_dir() / "bin" / f"ferretdb-{FERRETDB_VERSION}"
    if binary.exists():
        return binary
    src = cache_dir() / "build" / f"ferretdb-{FERRETDB_VERSION}"
    info = json.loads(_go("mod", "download", "-json", f"{MODULE}@{FERRETDB_VERSION}"))
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(info["Dir"], src)
    for path in src.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(".partial")
    try:
        _go("build", "-o", str(tmp), "./cmd/ferretdb", cwd=src)
    except subprocess.CalledProcessError:
        # A newer Go may refuse an old dependency; the pinned toolchain comes from the proxy.
        _go("build", "-o", str(tmp), "./cmd/ferretdb", cwd=src, toolchain="go1.22.12")
    tmp.rename(binary)
    shutil.rmtree(src, ignore_errors=True)
    return binary


class FerretDBServer:
    def __init__(self, port: int, base: Path) -> None:
        self.port = port
        self.base = base
        self.process: ManagedProcess | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> None:
        binary = ensure_binary()
        data = self.base / "data"
        state = self.base / "state"
        data.mkdir(parents=True, exist_ok=True)
        state.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(
            "ferretdb",
            [
                str(binary),
                "--handler=sqlite",
                f"--sqlite-url=file:{data}/",
                f"--listen-addr=127.0.0.1:{self.port}",
                "--debug-addr=-",
                "--telemetry=disable",
                f"--state-dir={state}",
                "--log-level=warn",
            ],
            self.base / "logs" / "ferretdb.log",
        )
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
