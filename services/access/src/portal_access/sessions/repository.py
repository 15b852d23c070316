"""The `sessions` collection, `_id` = SHA-256 of the session token (globally unique; the
tenant and bill group are fields, indexed for the staff listings and revocations).

The customer's path reads and updates by `_id` only (validate, touch, sign out); the use case
checks idle and absolute expiry itself, and a TTL index on `expires_at` deletes sessions a
day after their absolute expiry. Each update is one atomic single-document write (`touch`
and `revoke_one` only change a session that is not revoked); ending every session of a
scope is one `update_many`, whose per-document updates are atomic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING

from portal_access.db import RETENTION, Doc, Mongo, expire_after, update_by_id
from portal_access.outbox.models import SESSIONS, OutboxEntry
from portal_access.outbox.repository import stored_entry
from portal_access.sessions.models import Session, SessionScope

_NO_OUTBOX = {"outbox": 0}


class SessionRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._sessions = mongo.collection(SESSIONS)

    async def ensure_indexes(self) -> None:
        await self._sessions.create_index("session_id", unique=True)
        await self._sessions.create_index(
            [("tenant_id", ASCENDING), ("bill_group_id", ASCENDING), ("rule_id", ASCENDING)]
        )
        await expire_after(self._sessions, RETENTION)

    async def add(self, session: Session, events: Sequence[OutboxEntry] = ()) -> None:
        """The session and the events it owes, in one insert."""
        await self._sessions.insert_one(
            {
                "_id": session.token_hash,
                "session_id": session.session_id,
                "tenant_id": session.tenant_id,
                "bill_group_id": session.bill_group_id,
                "email": session.email,
                "rule_id": session.rule_id,
                "read_only": session.read_only,
                "created_at": session.created_at,
                "last_seen_at": session.last_seen_at,
                "idle_expires_at": session.idle_expires_at,
                "expires_at": session.expires_at,
                "revoked_at": session.revoked_at,
                "outbox": [stored_entry(e) for e in events],
                "has_outbox": bool(events),
            }
        )

    async def get(self, token_hash: str) -> Session | None:
        doc = await self._sessions.find_one({"_id": token_hash}, _NO_OUTBOX)
        return None if doc is None else _session(doc)

    async def touch(self, token_hash: str, now: datetime, idle_expires_at: datetime) -> None:
        await update_by_id(
            self._sessions,
            {"_id": token_hash, "revoked_at": None},
            {"$set": {"last_seen_at": now, "idle_expires_at": idle_expires_at}},
        )

    async def revoke_one(self, token_hash: str, now: datetime, reason: str) -> None:
        await update_by_id(
            self._sessions,
            {"_id": token_hash, "revoked_at": None},
            {"$set": {"revoked_at": now, "revoked_reason": reason}},
        )

    async def revoke(self, scope: SessionScope, now: datetime, reason: str) -> int:
        """Ends every unexpired session in `scope`; returns how many."""
        query: Doc = {"tenant_id": scope.tenant_id, "bill_group_id": scope.bill_group_id}
        if scope.rule_id is not None:
            query["rule_id"] = scope.rule_id
        if scope.session_id is not None:
            query["session_id"] = scope.session_id
        result = await self._sessions.update_many(
            {**query, "revoked_at": None, "expires_at": {"$gt": now}},
            {"$set": {"revoked_at": now, "revoked_reason": reason}},
        )
        return result.modified_count

    async def active(self, tenant_id: str, bill_group_id: str, now: datetime) -> list[Session]:
        cursor = self._sessions.find(
            {
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "revoked_at": None,
                "idle_expires_at": {"$gt": now},
                "expires_at": {"$gt": now},
            },
            _NO_OUTBOX,
        ).sort("created_at", DESCENDING)
        return [_session(doc) for doc in await cursor.to_list()]


def _session(doc: Doc) -> Session:
    return Session(
        token_hash=doc["_id"],
        session_id=doc["session_id"],
        tenant_id=doc["tenant_id"],
        bill_group_id=doc["bill_group_id"],
        email=doc["email"],
        rule_id=doc.get("rule_id"),
        read_only=bool(doc["read_only"]),
        created_at=doc["created_at"],
        last_seen_at=doc["last_seen_at"],
        idle_expires_at=doc["idle_expires_at"],
        expires_at=doc["expires_at"],
        revoked_at=doc.get("revoked_at"),
    )
