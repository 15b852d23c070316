"""`portal-dev env [--service NAME]`: the environment a portal-dev stack gave each service, as
shell `export` lines, so a service started by hand (a debugger, a profiler, an edited copy)
joins the running stack with the same secrets, ports and endpoints.

    eval "$(portal-dev env --service gateway)" && portal-gateway run

The stack writes what it gave each service into its ready.json when it is up; this reads the
running (or last) stack's file. Secrets in it are the stack's own, generated per stack.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from portal_localstack.paths import cache_dir


class NoStackError(RuntimeError):
    """No portal-dev stack of that name has come up yet."""


def ready_file(name: str) -> Path:
    return cache_dir() / "stack" / name / "ready.json"


def service_environments(name: str) -> dict[str, dict[str, str]]:
    path = ready_file(name)
    if not path.exists():
        raise NoStackError(f"no portal-dev stack {name!r} has come up yet ({path}): run make dev")
    ready = json.loads(path.read_text())
    environments = ready.get("service_env")
    if not isinstance(environments, dict):
        raise NoStackError(f"{path} is from an older portal-dev: start the stack once more")
    return {str(k): {str(n): str(v) for n, v in env.items()} for k, env in environments.items()}


def export_lines(name: str, service: str | None) -> str:
    environments = service_environments(name)
    if service is not None and service not in environments:
        known = ", ".join(sorted(environments))
        raise NoStackError(f"no service {service!r} in stack {name!r} (one of: {known})")
    chosen = [service] if service is not None else sorted(environments)
    lines: list[str] = []
    for each in chosen:
        lines.append(f"# {each}")
        lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(environments[each].items())]
    return "\n".join(lines) + "\n"
