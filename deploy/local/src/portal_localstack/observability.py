"""`portal-dev --observability`: Prometheus scraping the four services and Jaeger v2 receiving
their traces, both built from the Go module proxy (portal_localstack.gotools) on first use.

Off by default: the first build of each takes minutes. Prometheus scrapes every service's
`/metrics` every 5 s (storage under the stack's directory); Jaeger v2 runs its built-in
all-in-one configuration (in-memory storage, OTLP on 4317/4318, UI on 16686), and the
services are given the `OTEL_*` variables that send their traces to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from portal_localstack.gotools import JAEGER, PROMETHEUS, ensure
from portal_localstack.process import ManagedProcess

JAEGER_UI_PORT = 16686
JAEGER_OTLP_HTTP_PORT = 4318


@dataclass(frozen=True)
class ObservabilityUrls:
    prometheus: str
    jaeger: str


def scrape_config(targets: dict[str, int], interval: str = "5s") -> str:
    """prometheus.yml: one job per service, labelled like the cluster's (`service`)."""
    jobs = "".join(
        f"  - job_name: {name}\n"
        f"    static_configs:\n"
        f"      - targets: ['127.0.0.1:{port}']\n"
        f"        labels: {{namespace: local, service: {name}}}\n"
        for name, port in sorted(targets.items())
    )
    return f"global:\n  scrape_interval: {interval}\nscrape_configs:\n{jobs}"


def _answers(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


class Observability:
    def __init__(self, base: Path, targets: dict[str, int]) -> None:
        self.base = base / "observability"
        self.targets = targets
        self.prometheus_port = int(os.environ.get("LOCAL_PROMETHEUS_PORT", "9090"))
        self.processes: list[ManagedProcess] = []
        self.urls = ObservabilityUrls(
            prometheus=f"http://127.0.0.1:{self.prometheus_port}",
            jaeger=f"http://127.0.0.1:{JAEGER_UI_PORT}",
        )

    def service_env(self) -> dict[str, str]:
        """What sends a service's traces to this Jaeger (read by the OpenTelemetry SDK)."""
        return {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{JAEGER_OTLP_HTTP_PORT}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }

    def start(self) -> ObservabilityUrls:
        prometheus, jaeger = ensure(PROMETHEUS), ensure(JAEGER)
        self.base.mkdir(parents=True, exist_ok=True)
        config = self.base / "prometheus.yml"
        config.write_text(scrape_config(self.targets))
        servers = [
            ManagedProcess("jaeger", [str(jaeger)], self.base / "jaeger.log", cwd=self.base),
            ManagedProcess(
                "prometheus",
                [
                    str(prometheus),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.base / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                ],
                self.base / "prometheus.log",
                cwd=self.base,
            ),
        ]
        for server in servers:
            server.start()
            self.processes.append(server)
        checks = (f"{self.urls.jaeger}/", f"{self.urls.prometheus}/-/ready")
        for server, url in zip(servers, checks, strict=True):
            server.wait_until(_answers(url), timeout=60, what="ready")
        return self.urls

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
