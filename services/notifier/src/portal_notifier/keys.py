"""The one key format of tenant data: `_id` = the JSON pair `[tenant_id, id]`.

Ids are only unique within a tenant (two tenants may reuse an upstream id), so every
document about a tenant's data is keyed by the pair, read and written by `_id` alone. A JSON
pair cannot collide whatever characters the ids contain, and it is a plain string: equality
on `_id` uses the unique `_id` index on MongoDB and on the local stand-in alike.
"""

from __future__ import annotations

import json


def tenant_key(tenant_id: str, object_id: str) -> str:
    return json.dumps([tenant_id, object_id], separators=(",", ":"))
