"""Where the local stack keeps its caches, data and logs (all inside the ignored `.cache/`)."""

from __future__ import annotations

import os
from pathlib import Path

# What the local stack's commands read from the environment (`--help` lists them).
STACK_VARIABLES = (
    "PORTAL_REPO_ROOT",
    "PORTAL_CACHE_DIR",
    "LOCAL_KAFKA_PORT",
    "LOCAL_KAFKA_CONTROLLER_PORT",
    "LOCAL_MONGODB_PORT",
    "LOCAL_MOTO_PORT",
)
SERVICE_PORT_VARIABLES = ("GATEWAY_PORT", "ACCESS_PORT", "BILLING_VIEW_PORT", "NOTIFIER_PORT")


def repo_root() -> Path:
    override = os.environ.get("PORTAL_REPO_ROOT")
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "local" / "pom.xml").is_file() and (parent / "uv.lock").is_file():
            return parent
    raise RuntimeError("cannot find the repository root; set PORTAL_REPO_ROOT")


def cache_dir() -> Path:
    path = Path(os.environ.get("PORTAL_CACHE_DIR", repo_root() / ".cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_dir() -> Path:
    return repo_root() / "deploy" / "local"
