"""`portal-dev --observability`: the Prometheus configuration it writes is one Prometheus
accepts (checked by promtool, built for the alert tests) and scrapes the four services; with
the servers already built, they start, Prometheus scrapes a service and both answer."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from portal_localstack.gotools import JAEGER, PROMETHEUS, PROMTOOL, GoToolError, ensure
from portal_localstack.observability import Observability, scrape_config
from portal_localstack.ports import free_port
from tests.support.waiting import eventually

TARGETS = {"access": 8010, "billing-view": 8020, "notifier": 8030, "gateway": 8000}


def test_the_scrape_config_is_valid_and_covers_every_service(tmp_path: Path) -> None:
    try:
        promtool = ensure(PROMTOOL)
    except GoToolError as exc:
        pytest.skip(f"promtool could not be built from the Go module proxy: {exc}")
    config = tmp_path / "prometheus.yml"
    config.write_text(scrape_config(TARGETS))
    done = subprocess.run(
        [str(promtool), "check", "config", str(config)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = yaml.safe_load(config.read_text())["scrape_configs"]
    assert {job["job_name"]: job["static_configs"][0]["targets"] for job in jobs} == {
        name: [f"127.0.0.1:{port}"] for name, port in TARGETS.items()
    }


@pytest.mark.integration
async def test_prometheus_and_jaeger_start_and_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (PROMETHEUS.path().exists() and JAEGER.path().exists()):
        pytest.skip("Prometheus and Jaeger are built on the first `portal-dev --observability`")
    port = free_port()
    monkeypatch.setenv("LOCAL_PROMETHEUS_PORT", str(port))
    # Prometheus scrapes itself as the "gateway": a target that certainly answers /metrics.
    observability = Observability(tmp_path, {"gateway": port})
    try:
        urls = await asyncio.to_thread(observability.start)
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{urls.jaeger}/")).status_code == 200

            async def scraped() -> bool:
                answer = await client.get(
                    f"{urls.prometheus}/api/v1/query", params={"query": 'up{service="gateway"}'}
                )
                return [r["value"][1] for r in answer.json()["data"]["result"]] == ["1"]

            await eventually(scraped, within=60, what="Prometheus scraped its target")
    finally:
        observability.stop()
