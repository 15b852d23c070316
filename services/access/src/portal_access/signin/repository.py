"""Sign-in storage: `challenges` (+ `challenge_tokens`, `_id` = token hash), the single-use
markers `consumed` and `code_attempts` (unique `_id` inserts: atomic on every backend), and
the shared rate-limit counters `rate_limits`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from portal_access.db import RETENTION, Doc, Mongo
from portal_access.outbox.models import CHALLENGES, OutboxEntry
from portal_access.outbox.repository import stored_entry
from portal_access.signin.models import Challenge, ChallengeKind

_NO_OUTBOX = {"outbox": 0}


class ChallengeRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._challenges = mongo.collection(CHALLENGES)
        self._tokens = mongo.collection("challenge_tokens")
        self._consumed = mongo.collection("consumed")
        self._attempts = mongo.collection("code_attempts")

    async def ensure_indexes(self) -> None:
        await self._challenges.create_index("purge_at")
        await self._tokens.create_index("purge_at")
        await self._consumed.create_index("purge_at")
        await self._attempts.create_index([("challenge_id", ASCENDING), ("purge_at", ASCENDING)])

    async def add(
        self, challenge: Challenge, token_hash: str | None, events: Sequence[OutboxEntry] = ()
    ) -> None:
        """The challenge and the events it owes in one insert; its token pointer first."""
        purge_at = challenge.expires_at + RETENTION
        if token_hash is not None:
            # The lookup entry first: a crash before the challenge leaves only a dead pointer.
            await self._tokens.insert_one(
                {"_id": token_hash, "challenge_id": challenge.challenge_id, "purge_at": purge_at}
            )
        await self._challenges.insert_one(
            {
                "_id": challenge.challenge_id,
                "kind": challenge.kind,
                "tenant_id": challenge.tenant_id,
                "bill_group_id": challenge.bill_group_id,
                "email": challenge.email,
                "created_at": challenge.created_at,
                "expires_at": challenge.expires_at,
                "decoy": challenge.decoy,
                "code_hash": challenge.code_hash,
                "rule_id": challenge.rule_id,
                "has_outbox": bool(events),
                "outbox": [stored_entry(e) for e in events],
                "purge_at": purge_at,
            }
        )

    async def by_token(self, token_hash: str, kind: ChallengeKind) -> Challenge | None:
        """The real (never decoy) challenge of a token; expired ones too."""
        pointer = await self._tokens.find_one({"_id": token_hash})
        if pointer is None:
            return None
        query = {"_id": pointer["challenge_id"], "kind": kind, "decoy": False}
        doc = await self._challenges.find_one(query, _NO_OUTBOX)
        return None if doc is None else _challenge(doc)

    async def get(self, challenge_id: str, kind: ChallengeKind) -> Challenge | None:
        """By `_id` and equalities only: FerretDB v1 scans for a range condition beside `_id`,
        so the caller checks the expiry."""
        doc = await self._challenges.find_one({"_id": challenge_id, "kind": kind}, _NO_OUTBOX)
        return None if doc is None else _challenge(doc)

    async def consume(self, challenge: Challenge, now: datetime, method: str) -> bool:
        """Atomic single use: of concurrent callers exactly one inserts the marker."""
        try:
            await self._consumed.insert_one(
                {
                    "_id": challenge.challenge_id,
                    "at": now,
                    "method": method,
                    "purge_at": challenge.expires_at + RETENTION,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def is_consumed(self, challenge_id: str) -> bool:
        return await self._consumed.find_one({"_id": challenge_id}, {"_id": 1}) is not None

    async def take_attempt(self, challenge: Challenge, max_attempts: int) -> int | None:
        """Claim the next code attempt slot (1..max); None once all are taken."""
        for slot in range(1, max_attempts + 1):
            try:
                await self._attempts.insert_one(
                    {
                        "_id": f"{challenge.challenge_id}:{slot}",
                        "challenge_id": challenge.challenge_id,
                        "purge_at": challenge.expires_at + RETENTION,
                    }
                )
            except DuplicateKeyError:
                continue
            return slot
        return None

    async def purge(self, now: datetime) -> int:
        removed = 0
        for collection in (self._challenges, self._consumed, self._attempts, self._tokens):
            result = await collection.delete_many({"purge_at": {"$lt": now}})
            removed += result.deleted_count
        return removed


def _challenge(doc: Doc) -> Challenge:
    return Challenge(
        challenge_id=doc["_id"],
        kind=doc["kind"],
        tenant_id=doc["tenant_id"],
        bill_group_id=doc["bill_group_id"],
        email=doc["email"],
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        decoy=bool(doc.get("decoy")),
        code_hash=doc.get("code_hash"),
        rule_id=doc.get("rule_id"),
    )


class RateLimitRepository:
    """Fixed-window counters in MongoDB, shared by every replica."""

    def __init__(self, mongo: Mongo) -> None:
        self._limits = mongo.collection("rate_limits")

    async def ensure_indexes(self) -> None:
        await self._limits.create_index("purge_at")

    async def hit(self, bucket: str, purge_at: datetime) -> int:
        """Count one request in a bucket; returns the count so far."""
        for attempt in range(2):
            try:
                doc = await self._limits.find_one_and_update(
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

    async def purge(self, now: datetime) -> int:
        result = await self._limits.delete_many({"purge_at": {"$lt": now}})
        return result.deleted_count
