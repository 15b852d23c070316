"""What the projection would store for some events, without storing them
(`billing-view documents`).

Operators and `deploy/sizing.py` measure the read model from the outside with it: the same
decode, `state_write` and version-gated upserts as the live consumer, applied in memory to
the documents they build; it prints each resulting document once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from billing_view.projection.domain import state_write
from billing_view.projection.writes import apply_in_memory, upserts
from portal_contracts.codec import decode

# The kind of a document, from the marker after the tenant in its `_id` (`db.*_id`).
_KINDS = {"b": "portal_view", "e": "entity", "a": "account"}


def kind_of(document_id: str) -> str:
    parts = document_id.split("|")
    return "invoice" if len(parts) > 3 and parts[3] == "i" else _KINDS[parts[1]]


def build(envelopes: Iterable[bytes]) -> list[dict[str, Any]]:
    """`[{kind, document}]` of the read model these upstream state events build."""
    documents: dict[str, dict[str, Any]] = {}
    for envelope in envelopes:
        for upsert in upserts(state_write(decode(envelope))):
            apply_in_memory(documents, upsert)
    return [{"kind": kind_of(key), "document": doc} for key, doc in documents.items()]
