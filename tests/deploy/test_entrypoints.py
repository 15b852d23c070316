"""Each service started exactly as its container starts it, against the local stack.

The command is the Dockerfile's ENTRYPOINT; the environment is the image's ENV plus what the
cluster's ConfigMap and Secrets would give (here: the stack's endpoints, fresh dev secrets,
this run's topic prefix and databases) and nothing inherited from the test process. Each
service must report ready on /readyz and exit cleanly on SIGTERM, as on a rolling update.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.fernet import Fernet
from pymongo import MongoClient

from portal_contracts.topics import TOPICS
from portal_localstack.aws import SENDER_DOMAIN
from portal_localstack.kafka import create_topics
from portal_localstack.ports import free_port
from portal_localstack.testing import StackHandle

from .conftest import SERVICES, ServiceInfo
from .test_images import DOCKERFILES, entrypoint, env_of, parse

pytestmark = pytest.mark.integration

VENV_BIN = Path(sys.executable).parent
# The gateway's readiness asks access and billing-view, so it starts last.
START_ORDER = ("access", "billing-view", "notifier", "gateway")
READY_WITHIN = 90.0
STOP_WITHIN = 60.0


@dataclass
class Running:
    service: ServiceInfo
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    database: str | None
    prefix: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def missing_entry_point(service: ServiceInfo) -> str | None:
    if importlib.util.find_spec(f"{service.module}.cli") is None:
        return f"{service.package} has no cli module yet, so no `{service.script} run`"
    if not (VENV_BIN / service.script).exists():
        return f"the {service.script} script is not installed (uv sync --all-packages)"
    return None


def container_env(service: ServiceInfo, port: int, shared: dict[str, str]) -> dict[str, str]:
    image_env = env_of(parse(DOCKERFILES[service.name])[-1])
    env = {k: v for k, v in image_env.items() if k != "PATH"}
    env |= shared
    # The image binds every interface; on a shared machine the test keeps to loopback.
    env |= {"HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port), "PATH": f"{VENV_BIN}:/usr/bin:/bin"}
    if service.database is not None:
        env["MONGODB_DATABASE"] = f"{shared['TOPIC_PREFIX'].rstrip('.')}_{service.database}"
    return env


@pytest.fixture(scope="module")
def fleet(
    stack: StackHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Running]]:
    token = "t" + uuid.uuid4().hex[:12]
    prefix = f"{token}."
    asyncio.run(create_topics(stack.endpoints.kafka_bootstrap, list(TOPICS), prefix=prefix))
    logs = tmp_path_factory.mktemp("entrypoints")
    ports = {name: free_port() for name in START_ORDER}
    shared = {
        **stack.env(),
        "ENVIRONMENT": "local",
        "TOPIC_PREFIX": prefix,
        "LOG_LEVEL": "INFO",
        "INTERNAL_API_TOKEN": uuid.uuid4().hex,
        "SEAL_KEYS": Fernet.generate_key().decode(),
        "CSRF_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
        "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{ports['gateway']}",
        "ACCESS_URL": f"http://127.0.0.1:{ports['access']}",
        "BILLING_VIEW_URL": f"http://127.0.0.1:{ports['billing-view']}",
        "SES_SENDER": f"portal@{SENDER_DOMAIN}",
        "HOME": str(logs),
    }
    running: dict[str, Running] = {}
    try:
        for name in START_ORDER:
            service = SERVICES[name]
            if missing_entry_point(service) is not None:
                continue
            command = entrypoint(DOCKERFILES[name])
            env = container_env(service, ports[name], shared)
            log = logs / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    command,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=logs,
                )
            database = env.get("MONGODB_DATABASE") if service.database else None
            running[name] = Running(service, process, ports[name], log, database, prefix)
        yield running
    finally:
        for item in reversed(list(running.values())):
            if item.process.poll() is None:
                item.process.kill()
                item.process.wait(10)


def wait_ready(item: Running) -> httpx.Response:
    deadline = time.monotonic() + READY_WITHIN
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        if item.process.poll() is not None:
            code = item.process.returncode
            pytest.fail(f"{item.service.name} exited with {code}:\n{item.tail()}")
        try:
            last = httpx.get(f"{item.url}/readyz", timeout=3)
            if last.status_code == 200:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    body = last.text if last is not None else "no answer"
    pytest.fail(f"{item.service.name} not ready in {READY_WITHIN:.0f}s ({body}):\n{item.tail()}")


@pytest.mark.parametrize("name", START_ORDER)
def test_entry_point_becomes_ready(
    stack: StackHandle, fleet: dict[str, Running], name: str
) -> None:
    reason = missing_entry_point(SERVICES[name])
    if reason is not None:
        pytest.skip(reason)
    item = fleet[name]
    assert item.process.args == [SERVICES[name].script, "run"]
    answer = wait_ready(item)
    assert answer.json()["status"] == "ready"
    assert httpx.get(f"{item.url}/healthz", timeout=3).status_code == 200
    # billing-view's read model is read by `_id` only: it declares no secondary index.
    if item.database is not None and name != "billing-view":
        # The service created its indexes itself at start-up: nobody runs a migration.
        client: MongoClient[dict[str, object]] = MongoClient(stack.endpoints.mongodb_uri)
        try:
            db = client[item.database]
            indexed = [c for c in db.list_collection_names() if len(db[c].index_information()) > 1]
        finally:
            client.close()
        assert indexed, f"{name} created no index in {item.database}"


async def group_state(bootstrap: str, group: str) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    (described,) = response.to_object()["groups"]
    state: dict[str, Any] = described
    return state


def test_every_entry_point_stops_cleanly_on_sigterm(
    stack: StackHandle, fleet: dict[str, Running]
) -> None:
    if not fleet:
        pytest.skip("no service has a `run` entry point yet")
    for item in fleet.values():
        wait_ready(item)
    # Callers first, as a rolling update of the whole portal would.
    for name in reversed(START_ORDER):
        if name not in fleet:
            continue
        item = fleet[name]
        item.process.send_signal(signal.SIGTERM)
        try:
            code = item.process.wait(STOP_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} still running {STOP_WITHIN:.0f}s after SIGTERM:\n{item.tail()}")
        # uvicorn finishes its graceful shutdown, then re-raises the signal it caught, so a
        # clean stop may exit "by SIGTERM" (143 to Kubernetes).
        assert code in (0, -signal.SIGTERM), f"{name} exited with {code}:\n{item.tail()}"
        group = item.service.consumer_group
        if group is not None:
            # Its consumers stopped and left the group (a killed consumer would still be a
            # member until its session times out): the partitions move on at once.
            state = asyncio.run(group_state(stack.endpoints.kafka_bootstrap, item.prefix + group))
            assert state["error_code"] == 0, state
            assert state["members"] == [], f"{name} left members behind: {state}"
            assert state["state"] == "Empty", state
