"""Sign-in storage: `challenges` (`_id` = SHA-256 of the challenge's token, so the emailed
link finds its challenge in one `_id` read), `challenge_ids` (`_id` = the public challenge id
→ the token hash, for the code path) and the shared rate-limit counters `rate_limits`.

MongoDB semantics relied on:
- single use: `consumed_at` is set by an update conditioned on it being unset; of concurrent
  verifies exactly one modifies the document;
- code attempts: `$inc` conditioned on `attempts` below the limit; exactly `limit` callers win;
- rate limits: one document per (bucket, window), counted with an atomic conditional `$inc`
  and upsert (see `RateLimitRepository.hit`);
- expiry: TTL indexes on `expires_at`; the use cases check every expiry themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from portal_access.db import RETENTION, Doc, Mongo, expire_after, update_by_id
from portal_access.outbox.models import CHALLENGES, OutboxEntry
from portal_access.outbox.repository import stored_entry
from portal_access.signin.domain import Bucket
from portal_access.signin.models import Challenge, ChallengeKind

_NO_OUTBOX = {"outbox": 0}


class ChallengeRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._challenges = mongo.collection(CHALLENGES)
        self._ids = mongo.collection("challenge_ids")

    async def ensure_indexes(self) -> None:
        await expire_after(self._challenges, RETENTION)
        await expire_after(self._ids, RETENTION)

    async def add(self, challenge: Challenge, events: Sequence[OutboxEntry] = ()) -> None:
        """The challenge and the events it owes in one insert; its id pointer first (a crash
        in between leaves only a pointer to nothing)."""
        await self._ids.insert_one(
            {
                "_id": challenge.challenge_id,
                "token_hash": challenge.token_hash,
                "expires_at": challenge.expires_at,
            }
        )
        await self._challenges.insert_one(
            {
                "_id": challenge.token_hash,
                "challenge_id": challenge.challenge_id,
                "kind": challenge.kind,
                "tenant_id": challenge.tenant_id,
                "bill_group_id": challenge.bill_group_id,
                "email": challenge.email,
                "created_at": challenge.created_at,
                "expires_at": challenge.expires_at,
                "decoy": challenge.decoy,
                "code_hash": challenge.code_hash,
                "rule_id": challenge.rule_id,
                "portal_key_hash": challenge.portal_key_hash,
                "consumed_at": None,
                "attempts": 0,
                "has_outbox": bool(events),
                "outbox": [stored_entry(e) for e in events],
            }
        )

    async def by_token(self, token_hash: str, kind: ChallengeKind) -> Challenge | None:
        """The real (never decoy) challenge of a token; expired and used ones too."""
        doc = await self._challenges.find_one({"_id": token_hash}, _NO_OUTBOX)
        if doc is None or doc["kind"] != kind or doc.get("decoy"):
            return None
        return _challenge(doc)

    async def get(self, challenge_id: str, kind: ChallengeKind) -> Challenge | None:
        """By the public id (decoys too: they answer codes alike); expired and used ones too."""
        pointer = await self._ids.find_one({"_id": challenge_id})
        if pointer is None:
            return None
        doc = await self._challenges.find_one({"_id": pointer["token_hash"]}, _NO_OUTBOX)
        if doc is None or doc["kind"] != kind or doc["challenge_id"] != challenge_id:
            return None
        return _challenge(doc)

    async def consume(self, challenge: Challenge, now: datetime, method: str) -> bool:
        """Atomic single use: of concurrent callers exactly one sets `consumed_at`."""
        return await update_by_id(
            self._challenges,
            {"_id": challenge.token_hash, "consumed_at": None},
            {"$set": {"consumed_at": now, "consumed_by": method}},
        )

    async def take_attempt(self, challenge: Challenge, max_attempts: int) -> int | None:
        """Take one code try (1..max); None once all are taken."""
        doc = await self._challenges.find_one_and_update(
            {"_id": challenge.token_hash, "attempts": {"$lt": max_attempts}},
            {"$inc": {"attempts": 1}},
            projection={"attempts": 1},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else min(int(doc["attempts"]), max_attempts)


def _challenge(doc: Doc) -> Challenge:
    return Challenge(
        challenge_id=doc["challenge_id"],
        token_hash=doc["_id"],
        kind=doc["kind"],
        tenant_id=doc["tenant_id"],
        bill_group_id=doc["bill_group_id"],
        email=doc["email"],
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        decoy=bool(doc.get("decoy")),
        code_hash=doc.get("code_hash"),
        rule_id=doc.get("rule_id"),
        portal_key_hash=doc.get("portal_key_hash"),
        consumed_at=doc.get("consumed_at"),
        attempts=int(doc.get("attempts", 0)),
    )


class RateLimitRepository:
    """Fixed-window counters shared by every replica: one document per (bucket, window),
    `_id` = `{s: scope, t: tenant or "", k: key, w: window start}`, TTL at the window's end.

    A hit is one atomic `$inc` with upsert, conditioned on the count being below the limit:
    the decision is the write's own outcome (matched or inserted: let in; no document left to
    match: the window is full), not a count read back, so it is exact for any number of
    concurrent callers and replicas. Two first hits of a window race to insert the document;
    the unique `_id` admits one and the loser (DuplicateKeyError) retries once as an update,
    and a DuplicateKeyError then means the document exists and is full. Refused hits are
    counted too (`refused`), so `n + refused` is every request of the window."""

    def __init__(self, mongo: Mongo) -> None:
        self._limits = mongo.collection("rate_limits")

    async def ensure_indexes(self) -> None:
        await expire_after(self._limits, timedelta(0))

    async def hit(self, bucket: Bucket) -> bool:
        """Count one request in its bucket; True if it is within the limit."""
        key = {"s": bucket.scope, "t": bucket.tenant_id, "k": bucket.key, "w": bucket.window}
        for attempt in range(2):
            try:
                return await update_by_id(
                    self._limits,
                    {"_id": key, "n": {"$lt": bucket.limit}},
                    {"$inc": {"n": 1}, "$setOnInsert": {"expires_at": bucket.resets_at}},
                    upsert=True,
                )
            except DuplicateKeyError:
                if attempt:
                    break
        await self._limits.update_one({"_id": key}, {"$inc": {"refused": 1}})
        return False
