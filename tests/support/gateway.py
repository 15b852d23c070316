"""A gateway of a test's own, run as a process (`portal-gateway run`) in front of the shared
portal's access and billing-view, with the settings the test chooses (its own Kafka broker,
its trusted proxies). Nothing of the shared portal changes: its own gateway keeps serving the
other suites."""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from portal_localstack.ports import free_port
from portal_localstack.process import ManagedProcess
from tests.support.services import DevPortal


@dataclass
class GatewayProcess:
    url: str
    process: ManagedProcess

    @classmethod
    def start(cls, portal: DevPortal, log_path: Path, **settings: str) -> GatewayProcess:
        """`settings`: environment variables that replace the shared portal's."""
        ready = portal.ready
        ports = ready["service_ports"]
        port = free_port()
        env = {
            **ready["endpoints"],
            "ENVIRONMENT": "local",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "INTERNAL_API_TOKEN": ready["internal_api_token"],
            "CSRF_SECRET": secrets.token_urlsafe(32),
            "ACCESS_URL": f"http://127.0.0.1:{ports['access']}",
            "BILLING_VIEW_URL": f"http://127.0.0.1:{ports['billing_view']}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
        argv = [str(Path(sys.executable).parent / "portal-gateway"), "run"]
        process = ManagedProcess("gateway", argv, log_path, env)
        process.start()
        gateway = cls(f"http://127.0.0.1:{port}", process)
        process.wait_until(gateway._answers, 60, "answering")
        return gateway

    def _answers(self) -> bool:
        return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200

    def stop(self) -> None:
        self.process.stop()
