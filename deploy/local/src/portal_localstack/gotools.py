"""Go programs built from the Go module proxy into `.cache/go/` on first use: promtool for the
alert rule tests, Prometheus and Jaeger v2 for `portal-dev --observability`.

Nothing is downloaded as a binary: `go install module/cmd@version` compiles the pinned
release, so the one prerequisite is `go` on the PATH (the machine has it; see deploy/local).
A first build takes minutes (Prometheus and Jaeger are large); later calls reuse the binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from portal_localstack.paths import cache_dir


@dataclass(frozen=True)
class GoTool:
    name: str
    package: str
    version: str
    # A module whose go.mod has replace directives cannot be `go install`ed at a version: it
    # is built as a tool dependency of a scratch module instead (its replaces then ignored).
    as_tool: bool = False

    def path(self) -> Path:
        return cache_dir() / "go" / f"{self.name}-{self.version}" / self.name


# Prometheus' Go module versions are v0.<minor>.<patch> for release 3.<minor>.<patch>.
PROMETHEUS_VERSION = "v0.316.0"
PROMTOOL = GoTool("promtool", "github.com/prometheus/prometheus/cmd/promtool", PROMETHEUS_VERSION)
PROMETHEUS = GoTool(
    "prometheus", "github.com/prometheus/prometheus/cmd/prometheus", PROMETHEUS_VERSION
)
# Jaeger's Go module v1.76.0 is the release whose cmd/jaeger is the v2 binary.
JAEGER = GoTool("jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger", "v1.76.0", as_tool=True)
TOOLS = {tool.name: tool for tool in (PROMTOOL, PROMETHEUS, JAEGER)}


class GoToolError(RuntimeError):
    """The tool could not be built (no `go`, the proxy unreachable, a compile error)."""


def ensure(tool: GoTool, timeout: float = 1800.0) -> Path:
    target = tool.path()
    if target.exists():
        return target
    go = shutil.which("go")
    if go is None:
        raise GoToolError(f"{tool.name} is not in {target.parent} and `go` is not on the PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(target.parent), "GOFLAGS": "-mod=mod -buildvcs=false"}
    if tool.as_tool:
        scratch = target.parent / "module"
        scratch.mkdir(exist_ok=True)
        if not (scratch / "go.mod").exists():
            _go(tool, [go, "mod", "init", f"local/{tool.name}"], env, scratch, timeout)
        _go(tool, [go, "get", "-tool", f"{tool.package}@{tool.version}"], env, scratch, timeout)
        _go(tool, [go, "build", "-o", str(target), tool.package], env, scratch, timeout)
    else:
        _go(tool, [go, "install", f"{tool.package}@{tool.version}"], env, None, timeout)
    if not target.exists():
        raise GoToolError(f"building {tool.name} left no {target}")
    return target


def _go(
    tool: GoTool, argv: list[str], env: dict[str, str], cwd: Path | None, timeout: float
) -> None:
    try:
        result = subprocess.run(  # noqa: S603 - argv is built here from the pinned table
            argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise GoToolError(f"building {tool.name} took longer than {timeout:.0f}s") from exc
    if result.returncode != 0:
        raise GoToolError(f"{' '.join(argv[1:])} failed for {tool.name}:\n{result.stderr}")
