"""The staff console suites run over exactly what `make dev` runs (`portal-dev`: the local
stack, access, billing-view, notifier, gateway and the billing simulator, seeded with the demo
tenant), shared with the other suites of the test process (tests/support/services.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import shared_dev_portal

BIN = Path(sys.executable).parent
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
STAFF = "ops@merchant.example"


@dataclass(frozen=True)
class Console:
    """The running portal, as the staff tests need it."""

    ready: dict[str, Any]

    @property
    def gateway(self) -> str:
        return str(self.ready["gateway_url"])

    @property
    def access(self) -> str:
        return f"http://127.0.0.1:{self.ready['service_ports']['access']}"

    @property
    def internal_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.ready['internal_api_token']}"}

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.ready["endpoints"],
            "ENVIRONMENT": "local",
            "INTERNAL_API_TOKEN": str(self.ready["internal_api_token"]),
            "PORTAL_PUBLIC_URL": self.gateway,
        }

    def bill_group(self, contract_status: str = "active") -> dict[str, Any]:
        """The LAST demo bill group with that contract status: the gateway suites take the
        first ones, so the staff tests' rules and revocations never meet theirs."""
        groups: list[dict[str, Any]] = self.ready["seeded"]["bill_groups"]
        return [bg for bg in groups if bg["contract_status"] == contract_status][-1]

    @property
    def aws_endpoint(self) -> str:
        return str(self.ready["endpoints"]["AWS_ENDPOINT_URL"])

    def cli(self, *args: str) -> str:
        """`portal-access …` against the running stack; its last stdout line."""
        command = self.ready.get("portal_access_command") or [str(BIN / "portal-access")]
        result = subprocess.run(
            [*command, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.strip().splitlines()[-1]

    def staff_link(self, *, bill_group: str | None = None, account: str | None = None) -> str:
        """The exact command the integrator's portal-dev runs to print a staff link."""
        scope = ["--bill-group", bill_group] if bill_group else ["--account", str(account)]
        return self.cli(
            "staff-link", "--tenant", "demo", *scope, "--staff", STAFF, "--minutes", "30"
        )


@pytest.fixture(scope="session")
def console() -> Console:
    # STAFF_READY_JSON: run against an already running portal-dev (its ready.json, which may
    # name another `portal_access_command`) instead of starting one.
    ready_json = os.environ.get("STAFF_READY_JSON")
    if ready_json:
        return Console(json.loads(Path(ready_json).read_text()))
    return Console(shared_dev_portal().ready)
