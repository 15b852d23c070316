"""The `sessions` collection. Reads by `_id` (the token hash) on the customer's path; the
expiry is checked by the use case, because FerretDB v1 turns a range condition beside `_id`
into a full collection scan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING

from portal_access.db import RETENTION, Doc, Mongo
from portal_access.outbox.models import SESSIONS, OutboxEntry
from portal_access.outbox.repository import stored_entry
from portal_access.sessions.models import Session, SessionScope

_NO_OUTBOX = {"outbox": 0}


class SessionRepository:
    def __init__(self, mongo: Mongo) -> None:
        self._mongo = mongo
        self._sessions = mongo.collection(SESSIONS)

    async def ensure_indexes(self) -> None:
        await self._sessions.create_index("session_id", unique=True)
        await self._sessions.create_index(
            [("tenant_id", ASCENDING), ("bill_group_id", ASCENDING), ("rule_id", ASCENDING)]
        )
        await self._sessions.create_index("purge_at")

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
                "purge_at": session.expires_at + RETENTION,
            }
        )

    async def get(self, token_hash: str) -> Session | None:
        doc = await self._sessions.find_one({"_id": token_hash}, _NO_OUTBOX)
        return None if doc is None else _session(doc)

    async def touch(self, token_hash: str, now: datetime, idle_expires_at: datetime) -> None:
        async with self._mongo.lock(SESSIONS):
            await self._sessions.update_one(
                {"_id": token_hash, "revoked_at": None},
                {"$set": {"last_seen_at": now, "idle_expires_at": idle_expires_at}},
            )

    async def revoke_one(self, token_hash: str, now: datetime, reason: str) -> None:
        async with self._mongo.lock(SESSIONS):
            await self._sessions.update_one(
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
        async with self._mongo.lock(SESSIONS):
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

    async def purge(self, now: datetime) -> int:
        result = await self._sessions.delete_many({"purge_at": {"$lt": now}})
        return result.deleted_count


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
