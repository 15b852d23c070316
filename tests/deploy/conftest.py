"""Shared fixtures of the deployment tests: the repo's paths, kustomize, rendered overlays."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
DOCKER = DEPLOY / "docker"
OVERLAYS = ("dev", "prod")
KUSTOMIZE_VERSION = "v5.8.2"
KUSTOMIZE = REPO / ".cache" / "bin" / f"kustomize-{KUSTOMIZE_VERSION}" / "kustomize"


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    package: str
    module: str
    script: str
    port: int
    database: str | None
    consumer_group: str | None


SERVICES = {
    s.name: s
    for s in (
        ServiceInfo(
            "access", "portal-access", "portal_access", "portal-access", 8010, "access", "access"
        ),
        ServiceInfo(
            "billing-view",
            "billing-view",
            "billing_view",
            "billing-view",
            8020,
            "billing_view",
            "billing-view",
        ),
        ServiceInfo(
            "notifier",
            "portal-notifier",
            "portal_notifier",
            "portal-notifier",
            8030,
            "notifier",
            "notifier",
        ),
        ServiceInfo(
            "gateway", "portal-gateway", "portal_gateway", "portal-gateway", 8000, None, None
        ),
    )
}


def load_script(path: Path, name: str) -> ModuleType:
    """Import a standalone script under deploy/ (it is not an installed package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is being built.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def kafka_resources() -> ModuleType:
    return load_script(K8S / "kafka_resources.py", "portal_deploy_kafka_resources")


def _ensure_kustomize() -> Path:
    """The pinned kustomize, built from the Go module proxy into .cache/ on first use."""
    if KUSTOMIZE.exists():
        return KUSTOMIZE
    go = shutil.which("go")
    if go is None:
        pytest.fail("kustomize is not cached and `go` is not on PATH to build it")
    KUSTOMIZE.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [go, "install", f"sigs.k8s.io/kustomize/kustomize/v5@{KUSTOMIZE_VERSION}"],
        env={**os.environ, "GOBIN": str(KUSTOMIZE.parent)},
        check=True,
        timeout=600,
    )
    return KUSTOMIZE


@pytest.fixture(scope="session")
def kustomize() -> Path:
    return _ensure_kustomize()


def build(kustomize: Path, target: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(kustomize), "build", str(target)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered(kustomize: Path) -> dict[str, list[dict[str, Any]]]:
    return {overlay: build(kustomize, K8S / "overlays" / overlay) for overlay in OVERLAYS}
