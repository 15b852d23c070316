"""What the projection would store for an event, without storing it (`billing-view documents`).

Operators and `deploy/sizing.py` measure the read model from the outside with it: the same
decode and `state_write` as the live consumer, plus the key fields of every index the
document's collection has.
"""

from __future__ import annotations

from typing import Any

from billing_view.db import INDEXES
from billing_view.projection.domain import state_write
from portal_contracts.codec import decode


def describe(envelope: bytes) -> dict[str, Any]:
    """`{collection, document, indexes: [[field, …], …]}` of one upstream state event."""
    write = state_write(decode(envelope))
    indexes = [["_id"]] + [list(i.document["key"]) for i in INDEXES.get(write.collection, [])]
    return {"collection": write.collection, "document": write.document(), "indexes": indexes}
