"""`portal-access upgrade`: the one-off move from the earlier document layout, run once before
the first replica of this release starts (with the earlier release's replicas stopped).

- `portals` documents keyed by the bill group id alone become `{t: tenant, b: bill group}`
  documents (state, switch, rules, link, revision and owed events kept) with their
  `portal_keys` pointer; each move inserts the new document, then deletes the old one, so a
  rerun after a crash finishes the job;
- the collections of the earlier single-use and attempt slots (`challenge_tokens`,
  `consumed`, `code_attempts`) are dropped, with the `purge_at` indexes of the housekeeping
  loop that TTL indexes replaced; rate-limit counters without an expiry are deleted.
  Sign-in links issued before the upgrade stop working (they lived 15 minutes anyway).
"""

from __future__ import annotations

import contextlib
import logging

from pymongo.errors import DuplicateKeyError, OperationFailure

from portal_access import tokens
from portal_access.db import Mongo, bill_group_key
from portal_access.outbox.models import CHALLENGES, PORTALS, SESSIONS
from portal_access.portals.repository import PORTAL_KEYS

log = logging.getLogger(__name__)

LEGACY_COLLECTIONS = ("challenge_tokens", "consumed", "code_attempts")
PURGE_INDEXED = (CHALLENGES, SESSIONS, "rate_limits", "staff_link_nonces")


async def upgrade(mongo: Mongo) -> int:
    """Returns how many portals were rekeyed."""
    portals, keys = mongo.collection(PORTALS), mongo.collection(PORTAL_KEYS)
    moved = 0
    async for doc in portals.find({"_id": {"$type": "string"}}):
        bill_group_id = str(doc["_id"])
        key = bill_group_key(str(doc["tenant_id"]), bill_group_id)
        await keys.update_one(
            {"_id": tokens.hash_secret(str(doc["portal_key"]))},
            {"$setOnInsert": {"portal": key}},
            upsert=True,
        )
        try:
            await portals.insert_one({**doc, "_id": key, "bill_group_id": bill_group_id})
        except DuplicateKeyError:
            log.warning("portal already rekeyed", extra={"bill_group_id": bill_group_id})
        await portals.delete_one({"_id": bill_group_id})
        moved += 1
    for name in LEGACY_COLLECTIONS:
        await mongo.database.drop_collection(name)
    # Indexes that earlier releases created and nothing reads now (absent ones are fine).
    stale = [(name, "purge_at_1") for name in PURGE_INDEXED] + [(PORTALS, "portal_key_1")]
    for name, index in stale:
        with contextlib.suppress(OperationFailure):
            await mongo.collection(name).drop_index(index)
    await mongo.collection("rate_limits").delete_many({"expires_at": {"$exists": False}})
    return moved
