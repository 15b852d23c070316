"""`portal-dev` (what `make dev` runs): the whole portal locally, with demo data.

Starts the local stack, the four services and the simulator's `respond` loop as child
processes, seeds the demo scenario, opens the portal on the demo bill groups, and prints the
links. Every process logs to its own file and to one console view, each line tagged with the
service name. Ctrl-C (or SIGTERM) stops the services first, then the servers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx
from cryptography.fernet import Fernet

from portal_kit.clihelp import describe_cli
from portal_localstack.aws import AWS_REGION, prepare_aws
from portal_localstack.devenv import NoStackError, export_lines
from portal_localstack.observability import Observability
from portal_localstack.paths import SERVICE_PORT_VARIABLES, STACK_VARIABLES
from portal_localstack.ports import free_port
from portal_localstack.process import ManagedProcess, ServerDiedError, log_tail
from portal_localstack.stack import LocalStack, Ports

COLOURS = {
    "access": "\033[36m",
    "billing-view": "\033[35m",
    "notifier": "\033[33m",
    "gateway": "\033[32m",
    "simulator": "\033[34m",
}
RESET = "\033[0m"
STAFF_EMAIL = "ops@merchant.example"


@dataclass(frozen=True)
class ServicePorts:
    gateway: int
    access: int
    billing_view: int
    notifier: int

    @classmethod
    def from_env(cls) -> ServicePorts:
        return cls(
            gateway=int(os.environ.get("GATEWAY_PORT", "8000")),
            access=int(os.environ.get("ACCESS_PORT", "8010")),
            billing_view=int(os.environ.get("BILLING_VIEW_PORT", "8020")),
            notifier=int(os.environ.get("NOTIFIER_PORT", "8030")),
        )

    @classmethod
    def free(cls) -> ServicePorts:
        return cls(free_port(), free_port(), free_port(), free_port())


@dataclass
class DevSecrets:
    """Generated once per dev stack and kept beside its data: nothing secret is committed."""

    internal_api_token: str
    seal_key: str
    csrf_secret: str
    admin_api_key: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load_or_create(cls, path: Path) -> DevSecrets:
        if path.exists():
            return cls(**json.loads(path.read_text()))
        created = cls(
            internal_api_token=secrets.token_urlsafe(32),
            seal_key=Fernet.generate_key().decode(),
            csrf_secret=secrets.token_urlsafe(32),
        )
        created.save(path)
        return created

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2))
        path.chmod(0o600)


def _console_line(name: str, raw: str, colour: bool) -> str:
    text = raw.rstrip("\n")
    try:
        entry = json.loads(text)
    except ValueError:
        entry = None
    if isinstance(entry, dict) and "msg" in entry:
        ts = str(entry.get("ts", ""))[11:19] or datetime.now().strftime("%H:%M:%S")
        level = str(entry.get("level", "info")).upper()
        skip = {"ts", "level", "msg", "service", "logger"}
        extras = " ".join(f"{k}={v}" for k, v in entry.items() if k not in skip)
        text = f"{ts} {level:<7} {entry['msg']}" + (f"  {extras}" if extras else "")
    tag = f"{name:>12} |"
    if colour:
        tag = f"{COLOURS.get(name, '')}{tag}{RESET}"
    return f"{tag} {text}"


class ServiceProcess(ManagedProcess):
    """A service child process whose output goes to its log file and the console view."""

    def start_with_console(self, console: IO[str] | None, colour: bool) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(  # noqa: S603 - argv is built by this module
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,
        )
        pump = threading.Thread(target=self._copy, args=(console, colour), daemon=True)
        pump.start()

    def _copy(self, console: IO[str] | None, colour: bool) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        with self.log_path.open("ab") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                if console is not None:
                    text = line.decode(errors="replace")
                    console.write(_console_line(self.name, text, colour) + "\n")
                    console.flush()


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class DevPortal:
    def __init__(
        self,
        name: str,
        ports: Ports,
        service_ports: ServicePorts,
        *,
        fresh: bool,
        console: IO[str] | None,
        observability: bool = False,
    ) -> None:
        self.stack = LocalStack(name, ports, fresh=fresh)
        self.ports = service_ports
        self.console = console
        self.colour = bool(console is not None and console.isatty())
        self.secrets = DevSecrets.load_or_create(self.stack.base / "secrets.json")
        self.logs = self.stack.base / "logs"
        self.services: list[ServiceProcess] = []
        self.phases: dict[str, float] = {}
        self.observability = (
            Observability(self.stack.base, self._targets()) if observability else None
        )

    def _targets(self) -> dict[str, int]:
        return {
            "access": self.ports.access,
            "billing-view": self.ports.billing_view,
            "notifier": self.ports.notifier,
            "gateway": self.ports.gateway,
        }

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def service_env(self) -> dict[str, str]:
        endpoints = self.stack.endpoints
        return {
            **endpoints.as_env(),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": AWS_REGION,
            "AWS_DEFAULT_REGION": AWS_REGION,
            "ENVIRONMENT": "local",
            "HTTP_HOST": "127.0.0.1",
            "INTERNAL_API_TOKEN": self.secrets.internal_api_token,
            "SEAL_KEYS": self.secrets.seal_key,
            "CSRF_SECRET": self.secrets.csrf_secret,
            "PORTAL_PUBLIC_URL": self.gateway_url,
            "ACCESS_URL": f"http://127.0.0.1:{self.ports.access}",
            "BILLING_VIEW_URL": f"http://127.0.0.1:{self.ports.billing_view}",
            "DEV_MAILBOX_ENABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }

    def _specs(self) -> list[tuple[str, list[str], int | None]]:
        return [
            ("access", [_bin("portal-access"), "run"], self.ports.access),
            ("billing-view", [_bin("billing-view"), "run"], self.ports.billing_view),
            ("notifier", [_bin("portal-notifier"), "run"], self.ports.notifier),
            ("gateway", [_bin("portal-gateway"), "run"], self.ports.gateway),
            ("simulator", [_bin("billing-simulator"), "respond"], None),
        ]

    def _phase(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.phases[name] = round(now - since, 1)
        if self.console is not None:
            self.console.write(f"{'portal-dev':>12} | {name} in {now - since:.1f}s\n")
            self.console.flush()
        return now

    def start(self) -> dict[str, Any]:
        started = mark = time.monotonic()
        self.stack.start()
        prepare_aws(self.stack.endpoints.aws_endpoint_url)
        mark = self._phase("local stack ready", mark)
        env = self.service_env()
        if self.observability is not None:
            self.observability.start()
            env.update(self.observability.service_env())
            mark = self._phase("Prometheus and Jaeger ready", mark)
        given: dict[str, dict[str, str]] = {}
        for name, argv, port in self._specs():
            service_env = dict(env)
            if port is not None:
                service_env["HTTP_PORT"] = str(port)
            given[name] = service_env
            process = ServiceProcess(name, argv, self.logs / f"{name}.log", service_env)
            process.start_with_console(self.console, self.colour)
            self.services.append(process)
        for (_name, _argv, port), process in zip(self._specs(), self.services, strict=True):
            if port is not None:
                self._wait_ready(process, port)
        mark = self._phase("services ready", mark)
        seeded = self._seed(env)
        mark = self._phase("demo data seeded", mark)
        links = self._open_portals(seeded)
        staff = self._staff_links(seeded)
        self._phase("portals opened", mark)
        ready = {
            "gateway_url": self.gateway_url,
            "admin_api_key": self.secrets.admin_api_key,
            "mailbox_url": f"{self.gateway_url}/dev/mailbox",
            "bill_groups": links,
            "staff_links": staff,
            "seeded": seeded,
            # moto's address also under its old key, for the suites and benches that read the
            # mailbox from ready.json; the services get only the per-service variables.
            "endpoints": {
                **self.stack.endpoints.as_env(),
                "AWS_ENDPOINT_URL": self.stack.endpoints.aws_endpoint_url,
            },
            "service_ports": self.ports.__dict__,
            "internal_api_token": self.secrets.internal_api_token,
            "seal_key": self.secrets.seal_key,
            "logs": str(self.logs),
            # What each process got: `portal-dev env` prints it for a service run by hand.
            "service_env": given,
            "observability": self.observability.urls.__dict__ if self.observability else None,
            "phases": self.phases,
            "ready_seconds": round(time.monotonic() - started, 1),
        }
        (self.stack.base / "ready.json").write_text(json.dumps(ready, indent=2, default=str))
        return ready

    def _wait_ready(self, process: ServiceProcess, port: int, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{port}/readyz"
        while time.monotonic() < deadline:
            process.check_alive()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(
            f"{process.name} not ready after {timeout:.0f}s; last lines of {process.log_path}:\n"
            f"{log_tail(process.log_path)}"
        )

    def _run(self, argv: list[str], env: dict[str, str]) -> str:
        result = subprocess.run(  # noqa: S603
            argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def _seed(self, env: dict[str, str]) -> dict[str, Any]:
        """Seed the demo scenario once per stack: it is deterministic and the data persists,
        so a warm start reuses what the first one printed."""
        marker = self.stack.base / "seeded.json"
        if marker.exists():
            cached: dict[str, Any] = json.loads(marker.read_text())
            return cached
        out = self._run([_bin("billing-simulator"), "seed", "--scenario", "demo"], env)
        seeded: dict[str, Any] = json.loads(out)
        marker.write_text(out)
        return seeded

    def _admin_key(self, env: dict[str, str], tenant: str) -> str:
        if self.secrets.admin_api_key is None:
            out = self._run(
                [_bin("portal-access"), "api-key", "create", "--tenant", tenant, "--name", "dev"],
                env,
            )
            self.secrets.admin_api_key = out.strip().splitlines()[-1].strip()
            self.secrets.save(self.stack.base / "secrets.json")
        return self.secrets.admin_api_key

    def _open_portals(self, seeded: dict[str, Any]) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        bill_groups: list[dict[str, Any]] = seeded["bill_groups"]
        key = self._admin_key(self.service_env(), str(bill_groups[0]["tenant_id"]))
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"{self.gateway_url}/api/admin/v1", headers=headers) as api:
            for bg in bill_groups:
                base = f"/bill-groups/{bg['bill_group_id']}/portal"
                deadline = time.monotonic() + 30
                # access learns about bill groups from Kafka: wait until it has this one.
                while api.get(base).status_code == 404 and time.monotonic() < deadline:
                    time.sleep(0.3)
                api.put(base, json={"enabled": True}).raise_for_status()
                rule = api.post(
                    f"{base}/rules", json={"kind": "domain", "value": bg["customer_domain"]}
                )
                if rule.status_code not in (201, 409):
                    rule.raise_for_status()
                portal = api.get(base).json()
                links.append(
                    {
                        "bill_group_id": bg["bill_group_id"],
                        "name": bg.get("name"),
                        "contract_status": bg.get("contract_status"),
                        "portal_url": portal.get("portal_url"),
                        "sign_in_as": bg.get("customer_email"),
                    }
                )
        return links

    def _staff_links(self, seeded: dict[str, Any]) -> dict[str, str]:
        """Signed, single-use staff console links (30 minutes), as the billing platform
        would hand them out: one for the first bill group, one for its account."""
        first = seeded["bill_groups"][0]
        base = [
            _bin("portal-access"), "staff-link", "--tenant", str(first["tenant_id"]),
            "--staff", STAFF_EMAIL, "--minutes", "30",
        ]  # fmt: skip
        env = self.service_env()
        return {
            "bill_group": self._run([*base, "--bill-group", str(first["bill_group_id"])], env)
            .strip()
            .splitlines()[-1],
            "account": self._run([*base, "--account", str(first["account_id"])], env)
            .strip()
            .splitlines()[-1],
        }

    def supervise(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.stack.check_alive()
            for process in self.services:
                process.check_alive()
            if self.observability is not None:
                self.observability.check_alive()
            stop.wait(0.5)

    def stop(self) -> None:
        for process in reversed(self.services):
            process.stop(timeout=30)
        if self.observability is not None:
            self.observability.stop()
        self.stack.stop()


def print_ready(ready: dict[str, Any], out: IO[str]) -> None:
    lines = [
        "",
        "=" * 78,
        f"Customer portal ready in {ready['ready_seconds']}s",
        f"  Gateway:        {ready['gateway_url']}",
        f"  Sent emails:    {ready['mailbox_url']}  (dev mailbox; moto keeps every message)",
        f"  Admin API key:  {ready['admin_api_key']}  (Authorization: Bearer …, tenant demo)",
        f"  Admin API:      {ready['gateway_url']}/api/admin/v1/…",
        f"  Staff console:  {ready['staff_links']['bill_group']}",
        f"  Staff account:  {ready['staff_links']['account']}",
        f"                  (signed links for {STAFF_EMAIL}, single use, 30 minutes;",
        "                   `portal-access staff-link --help` prints more)",
        "  Portal links (open one, sign in with the email shown, read the mail in the mailbox):",
    ]
    for bg in ready["bill_groups"]:
        lines.append(f"    - {bg['name']} [{bg['contract_status']}]")
        lines.append(f"        {bg['portal_url']}")
        lines.append(f"        sign in as: {bg['sign_in_as']}")
    if ready.get("observability"):
        lines.append(f"  Prometheus:     {ready['observability']['prometheus']}")
        lines.append(f"  Jaeger UI:      {ready['observability']['jaeger']}")
    lines += [
        f"  Logs:           {ready['logs']}/<service>.log",
        "Ctrl-C stops everything.",
        "=" * 78,
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()


def main() -> None:
    parser = argparse.ArgumentParser(prog="portal-dev", description=__doc__)
    describe_cli(parser, "portal-localstack", extra=(*STACK_VARIABLES, *SERVICE_PORT_VARIABLES))
    parser.add_argument("--name", default="dev", help="stack name (data under .cache/stack/NAME)")
    parser.add_argument("--fresh", action="store_true", help="start from empty data")
    parser.add_argument("--free-ports", action="store_true", help="pick free loopback ports")
    parser.add_argument("--quiet", action="store_true", help="no combined console log view")
    parser.add_argument(
        "--observability",
        action="store_true",
        help="also run Prometheus and Jaeger v2 (built from the Go module proxy on first use)",
    )
    commands = parser.add_subparsers(dest="command")
    env = commands.add_parser("env", help="print the environment the stack gave its services")
    env.add_argument("--service", help="only this service (access, gateway, ...)")
    args = parser.parse_args()
    if args.command == "env":
        try:
            sys.stdout.write(export_lines(args.name, args.service))
        except NoStackError as exc:
            raise SystemExit(f"portal-dev: {exc}") from exc
        return

    stop = threading.Event()

    def _signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    if args.free_ports:
        ports, service_ports = Ports.free(), ServicePorts.free()
    else:
        ports, service_ports = Ports.from_env(), ServicePorts.from_env()
    console = None if args.quiet else sys.stdout
    portal = DevPortal(
        args.name,
        ports,
        service_ports,
        fresh=args.fresh,
        console=console,
        observability=args.observability,
    )
    code = 0
    try:
        ready = portal.start()
        print_ready(ready, sys.stdout)
        portal.supervise(stop)
    except ServerDiedError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        code = 1
    except (TimeoutError, RuntimeError, httpx.HTTPError) as exc:  # GoToolError is a RuntimeError
        print(f"error: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        print("stopping…", flush=True)
        portal.stop()
        print("stopped", flush=True)
    raise SystemExit(code)
