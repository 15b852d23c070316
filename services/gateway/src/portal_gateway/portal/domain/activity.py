"""Before/after of a change as the rows a customer reads: only what changed, in words."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue


def _flatten(value: JsonValue | Mapping[str, JsonValue], prefix: str = "") -> dict[str, str]:
    if isinstance(value, Mapping):
        flat: dict[str, str] = {}
        for key, inner in value.items():
            label = f"{prefix} {key}".strip() if prefix else str(key)
            flat.update(_flatten(inner, label))
        return flat
    if value is None or value == "":
        return {prefix: ""} if prefix else {}
    if isinstance(value, bool):
        return {prefix: "yes" if value else "no"}
    return {prefix: str(value)}


_ACRONYMS = {"po": "PO", "vat": "VAT", "id": "ID"}


def _label(key: str) -> str:
    words = [_ACRONYMS.get(w, w) for w in key.replace("_", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def changed_fields(
    before: Mapping[str, JsonValue] | None, after: Mapping[str, JsonValue] | None
) -> list[tuple[str, str, str]]:
    """(field, before, after) for every leaf that differs; `billing_contact address city`
    becomes `Billing contact address city`, `po_number` `PO number`."""
    old, new = _flatten(before or {}), _flatten(after or {})
    rows = []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key, "") != new.get(key, ""):
            rows.append((_label(key), old.get(key, ""), new.get(key, "")))
    return rows
