from pathlib import Path

from portal_contracts import schemas
from portal_contracts.registry import all_specs


def test_checked_in_schemas_match_the_models() -> None:
    stale = schemas.drift()
    assert stale == [], (
        f"contracts/schemas drift from the models: {stale}; "
        "run `uv run portal-contracts export-schemas` and review the diff"
    )


def test_drift_is_detected_when_a_schema_file_is_edited(tmp_path: Path) -> None:
    schemas.export(tmp_path)
    assert schemas.drift(tmp_path) == []
    target = tmp_path / schemas.file_name(all_specs()[0])
    target.write_text(target.read_text().replace('"amount_minor"', '"amount"') + " ")
    (tmp_path / "ghost.v1.json").write_text("{}")
    assert schemas.drift(tmp_path) == sorted([target.name, "ghost.v1.json"])


def test_every_event_type_has_a_schema_file() -> None:
    names = {p.name for p in schemas.SCHEMA_DIR.glob("*.json")}
    assert names == {schemas.file_name(spec) for spec in all_specs()}
