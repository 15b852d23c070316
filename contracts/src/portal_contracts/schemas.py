"""JSON Schema export of every (event type, version): the checked-in copy is the contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portal_contracts.envelope import Envelope
from portal_contracts.registry import EventSpec, all_specs

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def file_name(spec: EventSpec) -> str:
    return f"{spec.event_type.value}.v{spec.schema_version}.json"


def schema_of(spec: EventSpec) -> dict[str, Any]:
    schema = Envelope[spec.model].model_json_schema()  # type: ignore[name-defined]
    schema["title"] = f"{spec.event_type.value} v{spec.schema_version}"
    schema["$id"] = f"urn:portal:event:{spec.event_type.value}:v{spec.schema_version}"
    schema["x-topic"] = spec.topic.value
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_files() -> dict[str, str]:
    return {file_name(spec): render(schema_of(spec)) for spec in all_specs()}


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    wanted = expected_files()
    for stale in directory.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that differ from the models (missing, changed or extra)."""
    wanted = expected_files()
    present = {p.name: p.read_text() for p in directory.glob("*.json")}
    return sorted(
        {name for name in wanted if present.get(name) != wanted[name]}
        | {name for name in present if name not in wanted}
    )
