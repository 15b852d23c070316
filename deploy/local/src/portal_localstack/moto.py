"""moto in server mode: Amazon SES (v2) and S3 on loopback."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import httpx

from portal_localstack.ports import port_open
from portal_localstack.process import ManagedProcess


class MotoServer:
    def __init__(self, port: int, base: Path) -> None:
        self.port = port
        self.base = base
        self.process: ManagedProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
        argv = [exe] if exe else [sys.executable, "-m", "moto.server"]
        self.process = ManagedProcess(
            "moto",
            [*argv, "-H", "127.0.0.1", "-p", str(self.port)],
            self.base / "logs" / "moto.log",
        )
        self.process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.process is not None
        self.process.wait_until(lambda: port_open(self.port), timeout, "listening")
        self.process.wait_until(
            lambda: httpx.get(f"{self.endpoint}/moto-api/data.json", timeout=2).is_success,
            timeout,
            "answering",
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
