"""Where the local stack keeps its caches, data and logs (all inside the ignored `.cache/`)."""

from __future__ import annotations

import os
from pathlib import Path


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
