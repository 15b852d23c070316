"""The portal's services as processes on a test's own names, each with a MongoDB URI of the
test's choosing (e.g. a recording proxy's listener), seeded with the simulator's demo.

What `portal-dev` does, reduced to what a test that must sit between the services and the
database needs: the services are started from their CLIs (`<script> run`) with env from the
session's stack plus the test's isolation (topic prefix, database names), the demo scenario is
published by `billing-simulator seed`, an admin key is created with `portal-access api-key
create`, and the portal of one bill group is opened through the admin API like staff would.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from portal_localstack.ports import free_port
from portal_localstack.process import ManagedProcess

SERVICES = ("access", "billing-view", "notifier", "gateway")
_SCRIPTS = {
    "access": "portal-access",
    "billing-view": "billing-view",
    "notifier": "portal-notifier",
    "gateway": "portal-gateway",
}


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@dataclass
class ProxiedPortal:
    """`stack_env`: KAFKA_BOOTSTRAP, MONGODB_URI, AWS_*; `mongodb_uris`: per service overrides."""

    stack_env: dict[str, str]
    topic_prefix: str
    database: Callable[[str], str]
    logs: Path
    mongodb_uris: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    internal_api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    seal_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    csrf_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self, service: str | None = None) -> dict[str, str]:
        env = {
            **self.stack_env,
            "TOPIC_PREFIX": self.topic_prefix,
            "ENVIRONMENT": "local",
            "HTTP_HOST": "127.0.0.1",
            "INTERNAL_API_TOKEN": self.internal_api_token,
            "SEAL_KEYS": self.seal_key,
            "CSRF_SECRET": self.csrf_secret,
            "PORTAL_PUBLIC_URL": self.gateway_url,
            "ACCESS_URL": self.url("access"),
            "BILLING_VIEW_URL": self.url("billing-view"),
            "DEV_MAILBOX_ENABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
        if service is not None:
            env["HTTP_PORT"] = str(self.ports[service])
            env["MONGODB_DATABASE"] = self.database(service)
            if service in self.mongodb_uris:
                env["MONGODB_URI"] = self.mongodb_uris[service]
            env.update(self.extra_env.get(service, {}))
        return env

    def start(self, timeout: float = 90.0) -> None:
        for name in SERVICES:
            self.ports[name] = free_port()
        for name in SERVICES:
            process = ManagedProcess(
                name, [_bin(_SCRIPTS[name]), "run"], self.logs / f"{name}.log", self.env(name)
            )
            process.start()
            self.processes[name] = process
        for name in SERVICES:
            self.processes[name].wait_until(functools.partial(self._ready, name), timeout, "ready")

    def _ready(self, service: str) -> bool:
        return httpx.get(f"{self.url(service)}/readyz", timeout=2).status_code == 200

    def stop(self) -> None:
        for name in reversed(SERVICES):
            if name in self.processes:
                self.processes[name].stop(timeout=20)

    def run(self, argv: list[str], env: dict[str, str]) -> str:
        done = subprocess.run(
            argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-4000:]}")
        return done.stdout

    def seed_demo(self) -> dict[str, Any]:
        out = self.run([_bin("billing-simulator"), "seed", "--scenario", "demo"], self.env())
        seeded: dict[str, Any] = json.loads(out)
        return seeded

    def admin_key(self, tenant: str) -> str:
        env = self.env("access")
        # The CLI is an operator's tool, not the customer's path: straight to the database.
        env["MONGODB_URI"] = self.stack_env["MONGODB_URI"]
        out = self.run(
            [_bin("portal-access"), "api-key", "create", "--tenant", tenant, "--name", "test"], env
        )
        return out.strip().splitlines()[-1].strip()

    def open_portal(self, key: str, bill_group_id: str, domain: str) -> str:
        """Enable the portal, grant `domain`; returns the portal link."""
        headers = {"Authorization": f"Bearer {key}"}
        base = f"{self.gateway_url}/api/admin/v1/bill-groups/{bill_group_id}/portal"
        with httpx.Client(headers=headers, timeout=30) as api:
            deadline = time.monotonic() + 60
            while api.get(base).status_code == 404:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"access never learnt bill group {bill_group_id}")
                time.sleep(0.2)
            api.put(base, json={"enabled": True}).raise_for_status()
            rule = api.post(f"{base}/rules", json={"kind": "domain", "value": domain})
            if rule.status_code not in (201, 409):
                rule.raise_for_status()
            portal_url: str = api.get(base).json()["portal_url"]
            return portal_url
