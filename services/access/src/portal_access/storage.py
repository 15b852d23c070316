"""The only module that talks to MongoDB (FerretDB v1 compatible: no transactions, no TTL
indexes, no partial indexes; `$pull` only with the exact element).

FerretDB v1 (SQLite) does NOT apply concurrent updates of one document atomically (measured:
50 concurrent `$inc` of one field end at 5; a conditional `find_one_and_update` lets two
callers win). So:
- every guarantee that must hold across replicas (single-use tokens and codes, attempt
  limits) rests on inserts into unique indexes, atomic on every backend;
- rate-limit counters use `$inc` (atomic on MongoDB; on FerretDB a burst of concurrent
  requests may be undercounted, which only loosens the dev stack's limits);
- read-modify-write updates of shared documents (portal, session) are also serialised per
  process with a lock, which makes one replica correct on FerretDB; on MongoDB the single
  document operations are atomic by themselves.

Collections
- `portals`: one document per bill group: the contract projection (tenant, account, name,
  contract status, version), the portal switch, the portal key, the access rules, a revision
  for optimistic concurrency, and the embedded outbox.
- `challenges`: sign-in challenges (and decoys) and preview grants, by id; their hashed
  tokens in `challenge_tokens` (`_id` = token hash).
- `sessions`: customer and preview sessions, `_id` = hashed session token.

Hot lookups go by `_id`: FerretDB v1 (SQLite) answers any other filter with a full scan.
- `api_keys`, `rate_limits`, `audit`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from portal_access.domain import Rule
from portal_access.outbox import Hint, Publish
from portal_contracts.portal import RuleKind

Doc = dict[str, Any]

OUTBOX_COLLECTIONS = ("portals", "challenges", "sessions")
# Used and expired documents stay this long after they stop mattering (FerretDB v1 has no TTL
# indexes, so housekeeping deletes them).
RETENTION = timedelta(days=1)
_OUTBOX_FIELDS = {"outbox": 1, "has_outbox": 1}


@dataclass(frozen=True)
class Projected:
    applied: bool
    contract_active: bool


def rules_of(portal: Doc) -> list[Rule]:
    return [Rule(r["id"], RuleKind(r["kind"]), r["value"]) for r in portal.get("rules", [])]


class Storage:
    def __init__(self, client: AsyncMongoClient[Doc], database: str) -> None:
        db = client[database]
        self.client = client
        self.portals: AsyncCollection[Doc] = db["portals"]
        self.challenges: AsyncCollection[Doc] = db["challenges"]
        self.sessions: AsyncCollection[Doc] = db["sessions"]
        self.api_keys: AsyncCollection[Doc] = db["api_keys"]
        self.rate_limits: AsyncCollection[Doc] = db["rate_limits"]
        self.audit_log: AsyncCollection[Doc] = db["audit"]
        # Unique `_id` inserts: a challenge consumed, a code attempt slot taken.
        self.consumed: AsyncCollection[Doc] = db["consumed"]
        self.attempts: AsyncCollection[Doc] = db["code_attempts"]
        self.tokens: AsyncCollection[Doc] = db["challenge_tokens"]
        self._locks = {name: asyncio.Lock() for name in OUTBOX_COLLECTIONS}

    async def ensure_indexes(self) -> None:
        await self.portals.create_index("portal_key", unique=True)
        await self.portals.create_index([("tenant_id", ASCENDING), ("account_id", ASCENDING)])
        await self.portals.create_index("has_outbox")
        await self.challenges.create_index("has_outbox")
        await self.challenges.create_index("purge_at")
        await self.sessions.create_index("session_id", unique=True)
        await self.sessions.create_index(
            [("tenant_id", ASCENDING), ("bill_group_id", ASCENDING), ("rule_id", ASCENDING)]
        )
        await self.sessions.create_index("has_outbox")
        await self.sessions.create_index("purge_at")
        await self.api_keys.create_index("key_hash", unique=True)
        await self.rate_limits.create_index("purge_at")
        await self.tokens.create_index("purge_at")
        await self.consumed.create_index("purge_at")
        await self.attempts.create_index([("challenge_id", ASCENDING), ("purge_at", ASCENDING)])
        await self.audit_log.create_index(
            [("tenant_id", ASCENDING), ("bill_group_id", ASCENDING), ("at", DESCENDING)]
        )

    # --- contract projection -----------------------------------------------------------

    async def project_bill_group(
        self, *, tenant_id: str, version: int, fields: Doc, new_portal_key: str
    ) -> Projected:
        """Apply a bill group state only if newer than what is held (replay-safe)."""
        bill_group_id = fields["bill_group_id"]
        state = {k: v for k, v in fields.items() if k != "bill_group_id"}
        active = fields["contract_status"] == "active"
        try:
            await self.portals.insert_one(
                {
                    "_id": bill_group_id,
                    "tenant_id": tenant_id,
                    **state,
                    "version": version,
                    "enabled": False,
                    "portal_key": new_portal_key,
                    "rules": [],
                    "rev": 0,
                    "outbox": [],
                    "has_outbox": False,
                }
            )
            return Projected(applied=True, contract_active=active)
        except DuplicateKeyError as exc:
            if "portal_key" in str(exc):
                raise
        async with self._locks["portals"]:
            result = await self.portals.update_one(
                {"_id": bill_group_id, "tenant_id": tenant_id, "version": {"$lt": version}},
                {"$set": {**state, "version": version}},
            )
        return Projected(applied=result.modified_count == 1, contract_active=active)

    # --- portals -----------------------------------------------------------------------

    async def portal(self, tenant_id: str, bill_group_id: str) -> Doc | None:
        return await self.portals.find_one(
            {"_id": bill_group_id, "tenant_id": tenant_id}, {"outbox": 0}
        )

    async def portal_by_key(self, portal_key: str) -> Doc | None:
        return await self.portals.find_one({"portal_key": portal_key}, {"outbox": 0})

    async def portals_of_account(self, tenant_id: str, account_id: str) -> list[Doc]:
        cursor = self.portals.find(
            {"tenant_id": tenant_id, "account_id": account_id}, {"outbox": 0}
        ).sort("_id", ASCENDING)
        return await cursor.to_list()

    async def commit_portal(self, portal: Doc, changes: Doc, events: Sequence[Doc]) -> bool:
        """State and owed events in one write, only if nobody changed the portal meanwhile."""
        update: Doc = {"$set": dict(changes), "$inc": {"rev": 1}}
        if events:
            update["$set"]["has_outbox"] = True
            update["$push"] = {"outbox": {"$each": list(events)}}
        async with self._locks["portals"]:
            result = await self.portals.update_one(
                {"_id": portal["_id"], "tenant_id": portal["tenant_id"], "rev": portal["rev"]},
                update,
            )
        return result.modified_count == 1

    # --- challenges --------------------------------------------------------------------

    async def insert_challenge(self, challenge: Doc, token_hash: str | None) -> None:
        purge_at = challenge["expires_at"] + RETENTION
        if token_hash is not None:
            # The lookup entry first: a crash before the challenge leaves only a dead pointer.
            await self.tokens.insert_one(
                {"_id": token_hash, "challenge_id": challenge["_id"], "purge_at": purge_at}
            )
        await self.challenges.insert_one({**challenge, "purge_at": purge_at})

    async def challenge_by_token(self, token_hash: str, kind: str, now: datetime) -> Doc | None:
        pointer = await self.tokens.find_one({"_id": token_hash})
        if pointer is None:
            return None
        return await self.live_challenge(
            {"_id": pointer["challenge_id"], "kind": kind, "decoy": False}, now
        )

    async def live_challenge(self, query: Doc, now: datetime) -> Doc | None:
        """`query` holds `_id` and equalities only; expiry is checked here, because FerretDB v1
        turns a range condition beside `_id` into a full collection scan."""
        challenge = await self.challenges.find_one(query, {"outbox": 0})
        if challenge is None or challenge["expires_at"] <= now:
            return None
        return challenge

    async def consume(self, challenge: Doc, now: datetime, method: str) -> bool:
        """Atomic single use: of concurrent callers exactly one inserts the marker."""
        try:
            await self.consumed.insert_one(
                {
                    "_id": challenge["_id"],
                    "at": now,
                    "method": method,
                    "purge_at": challenge["expires_at"] + RETENTION,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def is_consumed(self, challenge_id: str) -> bool:
        return await self.consumed.find_one({"_id": challenge_id}, {"_id": 1}) is not None

    async def take_attempt(self, challenge: Doc, max_attempts: int) -> int | None:
        """Claim the next code attempt slot (1..max); None once all are taken."""
        for slot in range(1, max_attempts + 1):
            try:
                await self.attempts.insert_one(
                    {
                        "_id": f"{challenge['_id']}:{slot}",
                        "challenge_id": challenge["_id"],
                        "purge_at": challenge["expires_at"] + RETENTION,
                    }
                )
            except DuplicateKeyError:
                continue
            return slot
        return None

    # --- sessions ----------------------------------------------------------------------

    async def insert_session(self, session: Doc) -> None:
        await self.sessions.insert_one({**session, "purge_at": session["expires_at"] + RETENTION})

    async def touch_session(
        self, token_hash: str, now: datetime, idle_expires_at: datetime
    ) -> Doc | None:
        """The live session with this token, its idle expiry moved on; None if not live."""
        session = await self.sessions.find_one({"_id": token_hash}, {"outbox": 0})
        if (
            session is None
            or session["revoked_at"] is not None
            or session["idle_expires_at"] <= now
            or session["expires_at"] <= now
        ):
            return None
        async with self._locks["sessions"]:
            await self.sessions.update_one(
                {"_id": token_hash, "revoked_at": None},
                {"$set": {"last_seen_at": now, "idle_expires_at": idle_expires_at}},
            )
        return {**session, "last_seen_at": now, "idle_expires_at": idle_expires_at}

    async def session_by_token(self, token_hash: str) -> Doc | None:
        return await self.sessions.find_one({"_id": token_hash}, {"outbox": 0})

    async def revoke_session(self, token_hash: str, now: datetime, reason: str) -> None:
        async with self._locks["sessions"]:
            await self.sessions.update_one(
                {"_id": token_hash, "revoked_at": None},
                {"$set": {"revoked_at": now, "revoked_reason": reason}},
            )

    async def revoke_sessions(self, query: Doc, now: datetime, reason: str) -> int:
        async with self._locks["sessions"]:
            result = await self.sessions.update_many(
                {**query, "revoked_at": None, "expires_at": {"$gt": now}},
                {"$set": {"revoked_at": now, "revoked_reason": reason}},
            )
        return result.modified_count

    async def active_sessions(self, tenant_id: str, bill_group_id: str, now: datetime) -> list[Doc]:
        cursor = self.sessions.find(
            {
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "revoked_at": None,
                "idle_expires_at": {"$gt": now},
                "expires_at": {"$gt": now},
            },
            {"outbox": 0},
        ).sort("created_at", DESCENDING)
        return await cursor.to_list()

    # --- API keys ----------------------------------------------------------------------

    async def insert_api_key(self, key: Doc) -> None:
        await self.api_keys.insert_one(key)

    async def api_key_by_hash(self, key_hash: str) -> Doc | None:
        return await self.api_keys.find_one({"key_hash": key_hash, "revoked_at": None})

    async def revoke_api_key(self, tenant_id: str, key_id: str, now: datetime) -> bool:
        result = await self.api_keys.update_one(
            {"_id": key_id, "tenant_id": tenant_id, "revoked_at": None},
            {"$set": {"revoked_at": now}},
        )
        return result.modified_count == 1

    async def list_api_keys(self, tenant_id: str) -> list[Doc]:
        cursor = self.api_keys.find({"tenant_id": tenant_id}, {"key_hash": 0}).sort(
            "created_at", ASCENDING
        )
        return await cursor.to_list()

    # --- rate limits -------------------------------------------------------------------

    async def hit(self, bucket: str, purge_at: datetime) -> int:
        """Count one request in a fixed-window bucket shared by every replica."""
        for attempt in range(2):
            try:
                doc = await self.rate_limits.find_one_and_update(
                    {"_id": bucket},
                    {"$inc": {"count": 1}, "$setOnInsert": {"purge_at": purge_at}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                # Two replicas created the same new bucket; the second try increments it.
                if attempt:
                    raise
                continue
            return int(doc["count"]) if doc else 1
        raise AssertionError("unreachable")

    # --- audit -------------------------------------------------------------------------

    async def audit(
        self,
        *,
        tenant_id: str,
        bill_group_id: str,
        actor: str,
        action: str,
        at: datetime,
        detail: Doc | None = None,
    ) -> None:
        await self.audit_log.insert_one(
            {
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "at": at,
                "actor": actor,
                "action": action,
                "detail": detail or {},
            }
        )

    async def audit_entries(self, tenant_id: str, bill_group_id: str, limit: int) -> list[Doc]:
        cursor = (
            self.audit_log.find(
                {"tenant_id": tenant_id, "bill_group_id": bill_group_id}, {"_id": 0}
            )
            .sort("at", DESCENDING)
            .limit(limit)
        )
        return await cursor.to_list()

    # --- outbox and housekeeping -------------------------------------------------------

    async def drain_outbox(self, publish: Publish, only: list[Hint] | None = None) -> int:
        """Publish owed events, oldest first per document, then remove them.

        `only` names the documents to look at (by `_id`); None sweeps every collection.
        """
        published = 0
        if only is None:
            for name in OUTBOX_COLLECTIONS:
                collection = self.portals.database[name]
                cursor = collection.find({"has_outbox": True}, _OUTBOX_FIELDS).limit(500)
                async for doc in cursor:
                    published += await self._relay_doc(name, doc, publish)
            return published
        for name, doc_id in dict.fromkeys(only):
            hinted = await self.portals.database[name].find_one({"_id": doc_id}, _OUTBOX_FIELDS)
            if hinted is not None:
                published += await self._relay_doc(name, hinted, publish)
        return published

    async def _relay_doc(self, name: str, doc: Doc, publish: Publish) -> int:
        collection: AsyncCollection[Doc] = self.portals.database[name]
        entries = doc.get("outbox", [])
        for entry in entries:
            await publish(entry)
        async with self._locks[name]:
            # Common case, one write: nothing was added since the read.
            done = await collection.update_one(
                {"_id": doc["_id"], "outbox": entries},
                {"$set": {"outbox": [], "has_outbox": False}},
            )
            if done.matched_count == 1:
                return len(entries)
            for entry in entries:
                # FerretDB v1 pulls only an exactly equal element: pass back what was read.
                await collection.update_one({"_id": doc["_id"]}, {"$pull": {"outbox": entry}})
        return len(entries)

    async def purge(self, now: datetime) -> int:
        removed = 0
        for collection in (
            self.challenges,
            self.sessions,
            self.rate_limits,
            self.consumed,
            self.attempts,
            self.tokens,
        ):
            result = await collection.delete_many({"purge_at": {"$lt": now}})
            removed += result.deleted_count
        return removed
