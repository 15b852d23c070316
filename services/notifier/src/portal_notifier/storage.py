"""The notifier's MongoDB database: delivery state, work queue, branding, suppression list.

This is the only module that talks to MongoDB. Everything here is single-document atomic
(no transactions: FerretDB v1 has none), which is all exactly-once delivery needs: the
delivery document keyed by `event_id` is the claim, the lease and the outcome at once.

A delivery is born claimed (state `sending`, leased to the replica that consumed it), so
the happy path is two writes: the insert, and `sent`. Deliveries parked for a retry also get
an item in `work_queue`, which the retry worker polls often; it stays tiny, whereas finding
them among all deliveries is a scan on FerretDB v1. A slower recovery pass finds deliveries
whose owner died mid-attempt (lease expired). Every hot path reads and writes by `_id`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from portal_notifier.domain import (
    TERMINAL,
    BillGroupView,
    DeliveryState,
    EntityView,
    claimable,
    normalize_email,
)

Document = dict[str, Any]


@dataclass(frozen=True)
class SourceRecord:
    """Where the event came from, kept so a later failure can still be dead-lettered."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    body: bytes


@dataclass(frozen=True)
class Delivery:
    event_id: str
    state: DeliveryState
    tenant_id: str
    bill_group_id: str
    entity_id: str | None
    email: str
    sealed: str
    locale: str
    occurred_at: datetime
    expires_at: datetime
    attempts: int
    first_attempt_at: datetime | None
    source: SourceRecord

    @classmethod
    def from_doc(cls, doc: Document) -> Delivery:
        src = doc["source"]
        return cls(
            event_id=doc["_id"],
            state=DeliveryState(doc["state"]),
            tenant_id=doc["tenant_id"],
            bill_group_id=doc["bill_group_id"],
            entity_id=doc.get("entity_id"),
            email=doc["email"],
            sealed=doc["sealed"],
            locale=doc.get("locale", "en"),
            occurred_at=_aware(doc["occurred_at"]),
            expires_at=_aware(doc["expires_at"]),
            attempts=int(doc.get("attempts", 0)),
            first_attempt_at=_aware(doc["first_attempt_at"])
            if doc.get("first_attempt_at")
            else None,
            source=SourceRecord(
                topic=src["topic"],
                partition=src.get("partition"),
                offset=src.get("offset"),
                key=bytes(src["key"]) if src.get("key") is not None else None,
                body=bytes(src["body"]),
            ),
        )


_DUPLICATE_KEY = 11000


def _key(tenant_id: str, object_id: str) -> str:
    """One string `_id` per (tenant, object): ids are only unique within a tenant, and a
    JSON pair cannot collide whatever characters the ids contain."""
    return json.dumps([tenant_id, object_id], separators=(",", ":"))


def _aware(value: datetime) -> datetime:
    """BSON dates come back naive (UTC) unless the client is tz-aware; normalise both."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _maybe_aware(value: datetime | None) -> datetime | None:
    return _aware(value) if value is not None else None


class NotifierStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self._db: AsyncDatabase[Document] = client[database]
        self.deliveries = self._db["deliveries"]
        self.entities = self._db["entities"]
        self.bill_groups = self._db["bill_groups"]
        self.suppressions = self._db["suppressions"]
        self.work_queue = self._db["work_queue"]
        self.claims = self._db["claims"]

    async def ensure_indexes(self) -> None:
        await self.work_queue.create_index([("due_at", ASCENDING)])
        # The recovery pass and the purge; on MongoDB they keep those from scanning.
        await self.deliveries.create_index([("state", ASCENDING), ("lease_until", ASCENDING)])
        await self.deliveries.create_index([("state", ASCENDING), ("due_at", ASCENDING)])
        await self.deliveries.create_index([("created_at", ASCENDING)])
        await self.claims.create_index([("claimed_at", ASCENDING)])

    # --- delivery state -------------------------------------------------------------------

    async def record_many(self, docs: list[Document]) -> dict[int, DeliveryState]:
        """Remember new events (already claimed by their consumer: each `doc` carries the
        lease). Returns, by position in `docs`, the state of those that were already known
        (a redelivery, or the same event twice in `docs`); the others are new."""
        if not docs:
            return {}
        try:
            await self.deliveries.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            positions = [int(e["index"]) for e in errors]
            ids = list({docs[i]["_id"] for i in positions})
            found = await self.deliveries.find({"_id": {"$in": ids}}, {"state": 1}).to_list()
            states = {str(d["_id"]): DeliveryState(d["state"]) for d in found}
            return {i: states.get(str(docs[i]["_id"]), DeliveryState.SENDING) for i in positions}
        return {}

    async def record(self, doc: Document) -> DeliveryState | None:
        """One event: None if it is new, else the state it already has."""
        return (await self.record_many([doc])).get(0)

    async def claim(
        self, event_id: str, owner: str, now: datetime, lease_seconds: float
    ) -> Delivery | None:
        """Take the delivery for `owner` if it is due (or its last owner's lease ran out).

        The claim is the insert of `claims/<event_id>/<generation>`: a unique insert is
        atomic on MongoDB *and* on FerretDB v1, whose conditional updates and
        findAndModify are not (tried: concurrent callers all "win"). Whoever inserts the
        next generation owns the lease; a rival who read the same generation gets a
        duplicate key and backs off, one who reads after the update sees a live lease.
        """
        doc = await self.deliveries.find_one({"_id": event_id})
        if doc is None or not claimable(
            DeliveryState(doc["state"]),
            due_at=_maybe_aware(doc.get("due_at")),
            lease_until=_maybe_aware(doc.get("lease_until")),
            now=now,
        ):
            return None
        generation = int(doc.get("generation", 0)) + 1
        try:
            await self.claims.insert_one(
                {"_id": f"{event_id}/{generation}", "owner": owner, "claimed_at": now}
            )
        except DuplicateKeyError:
            return None
        lease = {
            "state": DeliveryState.SENDING.value,
            "lease_owner": owner,
            "lease_until": now + timedelta(seconds=lease_seconds),
            "generation": generation,
        }
        await self.deliveries.update_one({"_id": event_id}, {"$set": lease})
        return Delivery.from_doc({**doc, **lease})

    async def abandoned(self, now: datetime, limit: int) -> list[str]:
        """Deliveries nobody is working on although they are not final: the owner died
        mid-attempt (lease expired), or between parking and queueing a retry."""
        query = {
            "$or": [
                {"state": DeliveryState.PENDING.value, "due_at": {"$lte": now}},
                {"state": DeliveryState.SENDING.value, "lease_until": {"$lt": now}},
            ]
        }
        docs = await self.deliveries.find(query, {"_id": 1}).limit(limit).to_list()
        return [str(doc["_id"]) for doc in docs]

    async def purge(self, older_than: datetime) -> int:
        """Forget deliveries long past any redelivery (the signin topic keeps one day)."""
        result = await self.deliveries.delete_many(
            {"created_at": {"$lt": older_than}, "state": {"$in": [s.value for s in TERMINAL]}}
        )
        await self.claims.delete_many({"claimed_at": {"$lt": older_than}})
        return result.deleted_count

    # --- work queue (parked retries) ------------------------------------------------------

    async def requeue(self, event_id: str, due_at: datetime) -> None:
        await self.work_queue.update_one(
            {"_id": event_id}, {"$set": {"due_at": due_at}}, upsert=True
        )

    async def dequeue(self, event_id: str) -> None:
        await self.work_queue.delete_one({"_id": event_id})

    async def due(self, now: datetime, limit: int) -> list[str]:
        items = (
            await self.work_queue.find({"due_at": {"$lte": now}}, {"_id": 1}).limit(limit).to_list()
        )
        return [str(item["_id"]) for item in items]

    def _held(self, event_id: str, owner: str) -> Document:
        # Fencing for an owner that lost its lease; best effort on FerretDB v1 (see `claim`),
        # which is why the lease is longer than any SES call.
        return {"_id": event_id, "state": DeliveryState.SENDING.value, "lease_owner": owner}

    async def mark_sent(
        self, event_id: str, owner: str, message_id: str, now: datetime, attempts: int
    ) -> bool:
        result = await self.deliveries.update_one(
            self._held(event_id, owner),
            {
                "$set": {
                    "state": DeliveryState.SENT.value,
                    "message_id": message_id,
                    "sent_at": now,
                    "attempts": attempts,
                    "lease_until": None,
                }
            },
        )
        return result.matched_count == 1

    async def reschedule(
        self,
        event_id: str,
        owner: str,
        *,
        attempts: int,
        first_attempt_at: datetime,
        due_at: datetime,
        error: str,
    ) -> bool:
        result = await self.deliveries.update_one(
            self._held(event_id, owner),
            {
                "$set": {
                    "state": DeliveryState.PENDING.value,
                    "attempts": attempts,
                    "first_attempt_at": first_attempt_at,
                    "due_at": due_at,
                    "last_error": error,
                    "lease_until": None,
                }
            },
        )
        return result.matched_count == 1

    async def finish(
        self, event_id: str, owner: str, state: DeliveryState, reason: str, attempts: int
    ) -> bool:
        result = await self.deliveries.update_one(
            self._held(event_id, owner),
            {
                "$set": {
                    "state": state.value,
                    "reason": reason,
                    "attempts": attempts,
                    "lease_until": None,
                }
            },
        )
        return result.matched_count == 1

    async def peek(self, event_id: str) -> tuple[DeliveryState | None, datetime | None]:
        """The delivery's state and the earliest time it could be claimed again."""
        doc = await self.deliveries.find_one(
            {"_id": event_id}, {"state": 1, "due_at": 1, "lease_until": 1}
        )
        if doc is None:
            return None, None
        state = DeliveryState(doc["state"])
        when = doc.get("lease_until") if state is DeliveryState.SENDING else doc.get("due_at")
        return state, _aware(when) if when else None

    # --- branding projection (version-gated) ----------------------------------------------

    async def _apply_versioned(
        self, collection: Any, key: str, version: int, fields: Document
    ) -> bool:
        """Apply only if newer than what is held: replays and reordering change nothing.

        The filter matches only an older document; when a newer one exists the upsert tries
        to insert a second document with the same `_id`, which MongoDB refuses.
        """
        try:
            result = await collection.update_one(
                {"_id": key, "version": {"$lt": version}},
                {"$set": {**fields, "version": version}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return bool(result.modified_count or result.upserted_id is not None)

    async def apply_entity(
        self, tenant_id: str, entity_id: str, version: int, view: EntityView
    ) -> bool:
        return await self._apply_versioned(
            self.entities,
            _key(tenant_id, entity_id),
            version,
            {
                "tenant_id": tenant_id,
                "entity_id": entity_id,
                "name": view.name,
                "logo_url": view.logo_url,
                "logo_alt": view.logo_alt,
            },
        )

    async def apply_bill_group(
        self, tenant_id: str, bill_group_id: str, version: int, view: BillGroupView
    ) -> bool:
        return await self._apply_versioned(
            self.bill_groups,
            _key(tenant_id, bill_group_id),
            version,
            {
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "name": view.name,
                "account_name": view.account_name,
                "entity_id": view.entity_id,
            },
        )

    async def entity(self, tenant_id: str, entity_id: str) -> EntityView | None:
        doc = await self.entities.find_one({"_id": _key(tenant_id, entity_id)})
        if doc is None:
            return None
        return EntityView(doc["name"], doc.get("logo_url"), doc.get("logo_alt") or "")

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupView | None:
        doc = await self.bill_groups.find_one({"_id": _key(tenant_id, bill_group_id)})
        if doc is None:
            return None
        return BillGroupView(doc["name"], doc["account_name"], doc["entity_id"])

    # --- suppression list -----------------------------------------------------------------

    async def is_suppressed(self, address: str) -> bool:
        return await self.suppressions.find_one({"_id": normalize_email(address)}) is not None

    async def suppress(self, address: str, reason: str, now: datetime) -> bool:
        result = await self.suppressions.update_one(
            {"_id": normalize_email(address)},
            {"$setOnInsert": {"reason": reason, "added_at": now}},
            upsert=True,
        )
        return result.upserted_id is not None

    async def unsuppress(self, address: str) -> bool:
        result = await self.suppressions.delete_one({"_id": normalize_email(address)})
        return result.deleted_count == 1

    async def suppressed(self, limit: int = 1000) -> list[Document]:
        return await self.suppressions.find().sort("_id", ASCENDING).limit(limit).to_list()
