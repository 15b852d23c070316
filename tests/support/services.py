"""Run the whole portal (`portal-dev`: stack, four services, simulator `respond`, demo seed)
for integration, browser and security suites, once per test process.

`shared_dev_portal()` starts `portal-dev --fresh --free-ports` on first use and returns its
`ready.json` (gateway URL, admin API key, portal links, endpoints, service ports, secrets);
later callers get the same instance; it stops when the test process exits. Suites in
different directories therefore share one stack instead of starting one each.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from portal_localstack.paths import cache_dir
from portal_localstack.process import log_tail


class DevPortalError(RuntimeError):
    """portal-dev exited or did not become ready; the message carries its log tail."""


class DevPortal:
    def __init__(self, name: str) -> None:
        self.name = name
        self.base = cache_dir() / "stack" / name
        self.console_log = cache_dir() / "stack" / f"{name}.console.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}

    def start(self, timeout: float = 300) -> dict[str, Any]:
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        portal_dev = str(Path(sys.executable).parent / "portal-dev")
        with self.console_log.open("w") as out:
            self.proc = subprocess.Popen(
                [portal_dev, "--name", self.name, "--fresh", "--free-ports", "--quiet"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        ready_file = self.base / "ready.json"
        deadline = time.monotonic() + timeout
        while not ready_file.exists():
            if self.proc.poll() is not None:
                raise DevPortalError(
                    f"portal-dev exited with {self.proc.returncode}:\n"
                    f"{log_tail(self.console_log, 80)}"
                )
            if time.monotonic() > deadline:
                tail = log_tail(self.console_log, 80)
                self.stop()
                raise DevPortalError(f"portal-dev not ready after {timeout:.0f}s:\n{tail}")
            time.sleep(0.5)
        self.ready = json.loads(ready_file.read_text())
        return self.ready

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.base, ignore_errors=True)
        # A failed start already carried the log's tail in its error.
        self.console_log.unlink(missing_ok=True)

    def log(self, service: str, lines: int = 60) -> str:
        return log_tail(self.base / "logs" / f"{service}.log", lines)


_lock = threading.Lock()
_shared: DevPortal | None = None
_failure: str | None = None


def shared_dev_portal() -> DevPortal:
    global _shared, _failure
    with _lock:
        if _failure is not None:
            # One failed start is enough: every later suite gets the same error at once.
            raise DevPortalError(_failure)
        if _shared is None:
            for attempt in range(2):
                portal = DevPortal(f"tests-{os.getpid()}-{attempt}")
                atexit.register(portal.stop)
                try:
                    portal.start()
                    break
                except DevPortalError as exc:
                    # --free-ports picks ports that another process on this shared machine
                    # may take before the service binds them: one fresh try, then give up.
                    if attempt == 0 and "address already in use" in str(exc):
                        continue
                    _failure = str(exc)
                    raise
            _shared = portal
        return _shared


def active_bill_group(portal: DevPortal, index: int) -> dict[str, Any]:
    """The index-th demo bill group with an active contract (suites pick different ones so
    that their changes never meet), with its portal link as it is NOW: the staff suite
    rotates links, so the one printed at start may have stopped working."""
    import httpx

    links = {bg["bill_group_id"]: bg for bg in portal.ready["bill_groups"]}
    active = [
        {**bg, **links[bg["bill_group_id"]]}
        for bg in portal.ready["seeded"]["bill_groups"]
        if bg["contract_status"] == "active"
    ]
    chosen = active[index]
    current = httpx.get(
        f"{portal.ready['gateway_url']}/api/admin/v1/bill-groups/{chosen['bill_group_id']}/portal",
        headers={"Authorization": f"Bearer {portal.ready['admin_api_key']}"},
        timeout=30,
    )
    current.raise_for_status()
    return {**chosen, "portal_url": current.json()["portal_url"]}
