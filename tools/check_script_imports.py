"""Boundary check for what import-linter cannot see: the scripts outside the packages.

Benchmarks and deploy tools drive the services the way an operator would — through their
CLIs, HTTP and Kafka — so they may import the contracts, the runtime kit, the local stack and
the billing simulator, but no service module. Run by `make lint`; exits 1 naming each import.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ("bench/*.py", "deploy/*.py", "deploy/k8s/*.py")
SERVICE_MODULES = frozenset({"portal_access", "billing_view", "portal_notifier", "portal_gateway"})


def imported_roots(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def violations(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for pattern in SCRIPTS:
        for path in sorted(root.glob(pattern)):
            tree = ast.parse(path.read_text(), filename=str(path))
            for line, module in imported_roots(tree):
                if module in SERVICE_MODULES:
                    found.append(f"{path.relative_to(root)}:{line}: imports {module}")
    return found


def main() -> int:
    found = violations()
    for line in found:
        print(f"{line} (use its CLI, HTTP or Kafka instead)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
