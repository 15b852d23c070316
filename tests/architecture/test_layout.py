"""The layout rules of docs/CONVENTIONS.md that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"
MAX_MODULE_LINES = 350
# Files whose public functions form a boundary: no untyped documents may cross them.
BOUNDARY_FILES = {"repository.py", "routes.py", "handlers.py", "service.py", "clients.py"}
UNTYPED = ("dict[str, Any]", "Mapping[str, Any]", "Doc", "Document")


def _service_modules() -> list[Path]:
    return sorted(p for p in SERVICES.glob("*/src/**/*.py") if "__pycache__" not in p.parts)


def test_no_service_module_is_longer_than_the_limit() -> None:
    too_long = {
        str(p.relative_to(REPO)): n
        for p in _service_modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


def _annotations(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
    found = [ast.unparse(a.annotation) for a in args if a.annotation is not None]
    if function.returns is not None:
        found.append(ast.unparse(function.returns))
    return found


def _untyped(annotation: str) -> bool:
    names = {n.id for n in ast.walk(ast.parse(annotation, mode="eval")) if isinstance(n, ast.Name)}
    return any(u in annotation for u in UNTYPED[:2]) or bool(names & set(UNTYPED[2:]))


def test_no_untyped_document_crosses_a_repository_service_or_http_boundary() -> None:
    offenders: list[str] = []
    for path in _service_modules():
        if path.name not in BOUNDARY_FILES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not (
                node.name.startswith("_")
            ):
                offenders.extend(
                    f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {a}"
                    for a in _annotations(node)
                    if _untyped(a)
                )
    assert offenders == []


def _script_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_script_imports", REPO / "tools" / "check_script_imports.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scripts_reach_services_only_through_public_entry_points() -> None:
    assert _script_checker().violations() == []


def test_the_script_check_names_an_import_of_a_service(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "probe.py").write_text(
        "from portal_contracts.codec import encode\nfrom billing_view.queries import service\n"
    )
    assert _script_checker().violations(tmp_path) == ["bench/probe.py:2: imports billing_view"]


def _subscriber_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "subscriber"
    ]


def test_every_kafka_subscriber_leaves_decoding_to_the_consumer_policy() -> None:
    """FastStream's own decoder can raise before the handler runs (deep JSON nesting, huge
    integers), which rewinds the partition forever instead of dead-lettering the record:
    every subscriber takes the body as bytes (`portal_kit.consumer.undecoded`)."""
    calls = {
        f"{p.relative_to(REPO)}:{call.lineno}": {k.arg: ast.unparse(k.value) for k in call.keywords}
        for p in _service_modules()
        for call in _subscriber_calls(ast.parse(p.read_text()))
    }
    assert len(calls) >= 3, calls
    assert {where for where, kw in calls.items() if kw.get("decoder") != "undecoded"} == set()
