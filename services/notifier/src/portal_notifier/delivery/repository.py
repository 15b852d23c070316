"""Delivery state in MongoDB (`deliveries`, `claims`, `work_queue`): the only module of this
feature that talks to the database, and the only place a delivery is a raw document.

The delivery document keyed by `event_id` is the claim, the lease and the outcome at once;
every write is single-document atomic. Deliveries parked for a retry also get an item in
`work_queue`, which the retry worker polls often: it stays tiny, whereas finding them among
all deliveries is a scan on FerretDB v1. A slower recovery pass finds deliveries whose owner
died mid-attempt (lease expired).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from portal_kit.deadletter import SourceRecord
from portal_notifier.db import DUPLICATE_KEY, Database, Document, aware, maybe_aware
from portal_notifier.delivery.domain import TERMINAL, claimable
from portal_notifier.delivery.models import (
    Delivery,
    DeliveryState,
    DeliveryStatus,
    Lease,
    SigninEmail,
)


def _to_document(delivery: Delivery) -> Document:
    request, source = delivery.request, delivery.request.source
    doc: Document = {
        "_id": request.event_id,
        "state": delivery.state.value,
        "lease_owner": delivery.lease_owner,
        "lease_until": delivery.lease_until,
        "tenant_id": request.tenant_id,
        "bill_group_id": request.bill_group_id,
        "entity_id": request.entity_id,
        "email": request.email,
        "sealed": request.sealed,
        "locale": request.locale,
        "occurred_at": request.occurred_at,
        "expires_at": request.expires_at,
        "attempts": delivery.attempts,
        "first_attempt_at": delivery.first_attempt_at,
        "due_at": delivery.due_at,
        "created_at": delivery.created_at,
        # The Kafka record itself: the offset is long committed when a failure is reported.
        "source": {
            "topic": source.topic,
            "partition": source.partition,
            "offset": source.offset,
            "key": source.key,
            "body": source.value,
        },
    }
    if delivery.generation:
        doc["generation"] = delivery.generation
    return doc


def _from_document(doc: Document) -> Delivery:
    src = doc["source"]
    request = SigninEmail(
        event_id=str(doc["_id"]),
        tenant_id=doc["tenant_id"],
        bill_group_id=doc["bill_group_id"],
        entity_id=doc.get("entity_id"),
        email=doc["email"],
        sealed=doc["sealed"],
        locale=doc.get("locale", "en"),
        occurred_at=aware(doc["occurred_at"]),
        expires_at=aware(doc["expires_at"]),
        source=SourceRecord(
            topic=src["topic"],
            partition=src.get("partition"),
            offset=src.get("offset"),
            key=bytes(src["key"]) if src.get("key") is not None else None,
            value=bytes(src["body"]),
        ),
    )
    return Delivery(
        request=request,
        state=DeliveryState(doc["state"]),
        lease_owner=doc.get("lease_owner"),
        lease_until=maybe_aware(doc.get("lease_until")),
        attempts=int(doc.get("attempts", 0)),
        first_attempt_at=maybe_aware(doc.get("first_attempt_at")),
        due_at=maybe_aware(doc.get("due_at")),
        created_at=aware(doc["created_at"]),
        generation=int(doc.get("generation", 0)),
    )


class DeliveryRepository:
    def __init__(self, db: Database) -> None:
        self._deliveries = db["deliveries"]
        self._work_queue = db["work_queue"]
        self._claims = db["claims"]

    async def ensure_indexes(self) -> None:
        await self._work_queue.create_index([("due_at", ASCENDING)])
        # The recovery pass and the purge; on MongoDB they keep those from scanning.
        await self._deliveries.create_index([("state", ASCENDING), ("lease_until", ASCENDING)])
        await self._deliveries.create_index([("state", ASCENDING), ("due_at", ASCENDING)])
        await self._deliveries.create_index([("created_at", ASCENDING)])
        await self._claims.create_index([("claimed_at", ASCENDING)])

    # --- claim and lease --------------------------------------------------------------------

    async def record_many(self, deliveries: Sequence[Delivery]) -> dict[int, DeliveryState]:
        """Remember new events (each delivery already carries its lease) in one insert.

        Returns, by position, the state of those that were already known (a redelivery, or
        the same event twice in `deliveries`): the unique `_id` refused them. The others are
        new and now durable.
        """
        if not deliveries:
            return {}
        docs = [_to_document(d) for d in deliveries]
        try:
            await self._deliveries.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            positions = [int(e["index"]) for e in errors]
            ids = list({docs[i]["_id"] for i in positions})
            found = await self._deliveries.find({"_id": {"$in": ids}}, {"state": 1}).to_list()
            states = {str(d["_id"]): DeliveryState(d["state"]) for d in found}
            return {i: states.get(str(docs[i]["_id"]), DeliveryState.SENDING) for i in positions}
        return {}

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
        doc = await self._deliveries.find_one({"_id": event_id})
        if doc is None:
            return None
        current = _from_document(doc)
        if not claimable(
            current.state, due_at=current.due_at, lease_until=current.lease_until, now=now
        ):
            return None
        generation = current.generation + 1
        try:
            await self._claims.insert_one(
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
        await self._deliveries.update_one({"_id": event_id}, {"$set": lease})
        return _from_document({**doc, **lease})

    async def abandoned(self, now: datetime, limit: int) -> list[str]:
        """Deliveries nobody is working on although they are not final: the owner died
        mid-attempt (lease expired), or between parking and queueing a retry."""
        query = {
            "$or": [
                {"state": DeliveryState.PENDING.value, "due_at": {"$lte": now}},
                {"state": DeliveryState.SENDING.value, "lease_until": {"$lt": now}},
            ]
        }
        docs = await self._deliveries.find(query, {"_id": 1}).limit(limit).to_list()
        return [str(doc["_id"]) for doc in docs]

    async def lease(self, event_id: str) -> Lease | None:
        """The delivery's state and the earliest time it could be claimed again."""
        doc = await self._deliveries.find_one(
            {"_id": event_id}, {"state": 1, "due_at": 1, "lease_until": 1}
        )
        if doc is None:
            return None
        state = DeliveryState(doc["state"])
        when = doc.get("lease_until") if state is DeliveryState.SENDING else doc.get("due_at")
        return Lease(state, aware(when) if when else None)

    async def purge(self, older_than: datetime) -> int:
        """Forget deliveries long past any redelivery (the signin topic keeps one day)."""
        result = await self._deliveries.delete_many(
            {"created_at": {"$lt": older_than}, "state": {"$in": [s.value for s in TERMINAL]}}
        )
        await self._claims.delete_many({"claimed_at": {"$lt": older_than}})
        return result.deleted_count

    # --- work queue (parked retries) --------------------------------------------------------

    async def requeue(self, event_id: str, due_at: datetime) -> None:
        await self._work_queue.update_one(
            {"_id": event_id}, {"$set": {"due_at": due_at}}, upsert=True
        )

    async def dequeue(self, event_id: str) -> None:
        await self._work_queue.delete_one({"_id": event_id})

    async def due(self, now: datetime, limit: int) -> list[str]:
        query = {"due_at": {"$lte": now}}
        items = await self._work_queue.find(query, {"_id": 1}).limit(limit).to_list()
        return [str(item["_id"]) for item in items]

    # --- outcomes (fenced on the lease) -----------------------------------------------------

    async def _update_held(self, event_id: str, owner: str, fields: Document) -> bool:
        # Fencing for an owner that lost its lease; best effort on FerretDB v1 (see `claim`),
        # which is why the lease is longer than any SES call.
        result = await self._deliveries.update_one(
            {"_id": event_id, "state": DeliveryState.SENDING.value, "lease_owner": owner},
            {"$set": {**fields, "lease_until": None}},
        )
        return result.matched_count == 1

    async def mark_sent(
        self, event_id: str, owner: str, message_id: str, now: datetime, attempts: int
    ) -> bool:
        return await self._update_held(
            event_id,
            owner,
            {
                "state": DeliveryState.SENT.value,
                "message_id": message_id,
                "sent_at": now,
                "attempts": attempts,
            },
        )

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
        return await self._update_held(
            event_id,
            owner,
            {
                "state": DeliveryState.PENDING.value,
                "attempts": attempts,
                "first_attempt_at": first_attempt_at,
                "due_at": due_at,
                "last_error": error,
            },
        )

    async def finish(
        self, event_id: str, owner: str, state: DeliveryState, reason: str, attempts: int
    ) -> bool:
        fields = {"state": state.value, "reason": reason, "attempts": attempts}
        return await self._update_held(event_id, owner, fields)

    # --- operators --------------------------------------------------------------------------

    async def statuses(self, event_ids: Sequence[str]) -> list[DeliveryStatus]:
        """By `_id` only; unknown ids are left out."""
        projection = {"state": 1, "attempts": 1, "sent_at": 1, "reason": 1, "last_error": 1}
        docs = await self._deliveries.find({"_id": {"$in": list(event_ids)}}, projection).to_list()
        return [
            DeliveryStatus(
                event_id=str(doc["_id"]),
                state=DeliveryState(doc["state"]),
                attempts=int(doc.get("attempts", 0)),
                sent_at=maybe_aware(doc.get("sent_at")),
                reason=doc.get("reason"),
                last_error=doc.get("last_error"),
            )
            for doc in docs
        ]
