"""`portal-dev env`: the environment the running portal-dev stack gave each service, as export
lines a shell evaluates, so a service started by hand gets the stack's secrets and ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.services import shared_dev_portal

PORTAL_DEV = str(Path(sys.executable).parent / "portal-dev")


def portal_dev_env(*args: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if cache is not None:
        env["PORTAL_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [PORTAL_DEV, *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def evaluated(exports: str) -> dict[str, str]:
    """What a shell holds after `eval "$(portal-dev env ...)"` (quoting included)."""
    done = subprocess.run(
        ["bash", "-c", 'eval "$EXPORTS" && env -0'],
        env={"EXPORTS": exports, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    pairs = (item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
    return dict(pairs)


def test_a_stack_that_never_came_up_is_named(tmp_path: Path) -> None:
    done = portal_dev_env("--name", "nothing-here", "env", cache=tmp_path)
    assert done.returncode != 0
    assert "no portal-dev stack 'nothing-here' has come up yet" in done.stderr


def test_quoting_survives_the_shell(tmp_path: Path) -> None:
    stack = tmp_path / "stack" / "quoted"
    stack.mkdir(parents=True)
    tricky = "a b'c\"d$e`f"
    (stack / "ready.json").write_text(json.dumps({"service_env": {"gateway": {"X": tricky}}}))
    done = portal_dev_env("--name", "quoted", "env", "--service", "gateway", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    assert evaluated(done.stdout)["X"] == tricky


@pytest.mark.integration
def test_env_prints_what_the_running_stack_gave_the_service() -> None:
    portal = shared_dev_portal()
    done = portal_dev_env("--name", portal.name, "env", "--service", "gateway")
    assert done.returncode == 0, done.stderr
    env = evaluated(done.stdout)
    ready = portal.ready
    assert env["INTERNAL_API_TOKEN"] == ready["internal_api_token"]
    assert env["SEAL_KEYS"] == ready["seal_key"]
    assert env["KAFKA_BOOTSTRAP"] == ready["endpoints"]["KAFKA_BOOTSTRAP"]
    secrets = json.loads((portal.base / "secrets.json").read_text())
    assert env["CSRF_SECRET"] == secrets["csrf_secret"]
    # The port is the one the stack's gateway serves on: the values are the live stack's.
    assert env["HTTP_PORT"] == str(ready["service_ports"]["gateway"])
    assert httpx.get(f"http://127.0.0.1:{env['HTTP_PORT']}/healthz").status_code == 200
    every = portal_dev_env("--name", portal.name, "env")
    assert {"# access", "# billing-view", "# notifier", "# gateway"} <= set(
        every.stdout.splitlines()
    )
