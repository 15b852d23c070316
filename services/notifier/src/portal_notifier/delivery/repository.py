"""Delivery state in MongoDB (`deliveries`): the only module of this feature that talks to
the database, and the only place a delivery is a raw document.

One document per event, `_id` = `[tenant_id, event_id]`: it is the claim, the lease and the
outcome at once, and every write to it is one single-document atomic operation:

- `record_many`: new events in one unordered `insert_many`; the unique `_id` refuses a
  redelivery (or the same event twice in a batch);
- `claim`: one `find_one_and_update` by `_id`, conditional on the delivery being claimable
  (parked and due, or its owner's lease expired): concurrent claimers, on any replica, have
  exactly one winner, which gets the document as it is after its own update;
- outcomes (`mark_sent`, `reschedule`, `finish`): conditional on `state = sending` and
  `lease_owner = me` (fencing: an owner that lost its lease changes nothing).

Due retries and abandoned leases are found with a query on `(state, due_at)` /
`(state, lease_until)`, indexed for production; it runs in the background worker, never on a
customer's path (the local stand-in scans for it). Old deliveries go through a TTL index on
`expire_at`; nothing depends on the deletion (a stored final delivery is simply final).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError

from portal_kit.deadletter import SourceRecord
from portal_notifier.db import DUPLICATE_KEY, Database, Document, aware, maybe_aware
from portal_notifier.delivery.models import (
    Delivery,
    DeliveryState,
    DeliveryStatus,
    SigninEmail,
)
from portal_notifier.keys import tenant_key

# Kept well beyond the signin topic's retention (one day): any redelivery finds its record.
DEFAULT_RETENTION = timedelta(hours=168)


def _to_document(delivery: Delivery, expire_at: datetime) -> Document:
    request, source = delivery.request, delivery.request.source
    return {
        "_id": delivery.key,
        "state": delivery.state.value,
        "lease_owner": delivery.lease_owner,
        "lease_until": delivery.lease_until,
        "tenant_id": request.tenant_id,
        "event_id": request.event_id,
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
        # TTL index (production); the record is final long before.
        "expire_at": expire_at,
        # The Kafka record itself: the offset is long committed when a failure is reported.
        "source": {
            "topic": source.topic,
            "partition": source.partition,
            "offset": source.offset,
            "key": source.key,
            "body": source.value,
        },
    }


def _from_document(doc: Document) -> Delivery:
    src = doc["source"]
    request = SigninEmail(
        event_id=str(doc["event_id"]),
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
    )


def _due(now: datetime) -> Document:
    return {"state": DeliveryState.PENDING.value, "due_at": {"$lte": now}}


def _lease_expired(now: datetime) -> Document:
    return {"state": DeliveryState.SENDING.value, "lease_until": {"$lt": now}}


def _held(key: str, owner: str) -> Document:
    """The fence of every outcome: still being sent, by this owner."""
    return {"_id": key, "state": DeliveryState.SENDING.value, "lease_owner": owner}


@dataclass(frozen=True)
class _Sent:
    key: str
    owner: str
    message_id: str
    sent_at: datetime
    attempts: int


def _sent_fields(sent: _Sent) -> Document:
    return {
        "$set": {
            "state": DeliveryState.SENT.value,
            "message_id": sent.message_id,
            "sent_at": sent.sent_at,
            "attempts": sent.attempts,
            "lease_until": None,
        }
    }


class DeliveryRepository:
    def __init__(self, db: Database, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._deliveries = db["deliveries"]
        self._retention = retention
        # Group commit of `sent` (see `mark_sent`).
        self._sent_waiting: list[tuple[_Sent, asyncio.Future[bool]]] = []
        self._sent_writer: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        # The retry worker's two queries (production; the stand-in scans, off the hot path).
        await self._deliveries.create_index([("state", ASCENDING), ("due_at", ASCENDING)])
        await self._deliveries.create_index([("state", ASCENDING), ("lease_until", ASCENDING)])
        # Housekeeping by MongoDB's TTL monitor; the stand-in keeps everything, harmlessly.
        await self._deliveries.create_index([("expire_at", ASCENDING)], expireAfterSeconds=0)

    # --- claim and lease --------------------------------------------------------------------

    async def record_many(self, deliveries: Sequence[Delivery]) -> dict[int, DeliveryState]:
        """Remember new events (each delivery already carries its lease) in one insert.

        Returns, by position, the state of those that were already known (a redelivery, or
        the same event twice in `deliveries`): the unique `_id` refused them. The others are
        new and now durable.
        """
        if not deliveries:
            return {}
        docs = [_to_document(d, d.created_at + self._retention) for d in deliveries]
        try:
            await self._deliveries.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            positions = [int(e["index"]) for e in errors]
            keys = list({docs[i]["_id"] for i in positions})
            found = await self._deliveries.find({"_id": {"$in": keys}}, {"state": 1}).to_list()
            states = {str(d["_id"]): DeliveryState(d["state"]) for d in found}
            return {i: states.get(str(docs[i]["_id"]), DeliveryState.SENDING) for i in positions}
        return {}

    async def claim(
        self, key: str, owner: str, now: datetime, lease_seconds: float
    ) -> Delivery | None:
        """Take the delivery for `owner` if it is due (or its last owner's lease ran out).

        One atomic conditional update of the document itself: among concurrent claimers
        exactly one matches, the others find the condition false and get None.
        """
        doc = await self._deliveries.find_one_and_update(
            {"_id": key, "$or": [_due(now), _lease_expired(now)]},
            {
                "$set": {
                    "state": DeliveryState.SENDING.value,
                    "lease_owner": owner,
                    "lease_until": now + timedelta(seconds=lease_seconds),
                },
                "$inc": {"claims": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _from_document(doc)

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Parked deliveries whose retry is due, earliest first (keys, to be claimed)."""
        cursor = self._deliveries.find(_due(now), {"_id": 1}).sort("due_at", ASCENDING)
        return [str(doc["_id"]) for doc in await cursor.limit(limit).to_list()]

    async def abandoned(self, now: datetime, limit: int) -> list[str]:
        """Deliveries whose owner died mid-attempt: still `sending`, lease expired."""
        docs = await self._deliveries.find(_lease_expired(now), {"_id": 1}).limit(limit).to_list()
        return [str(doc["_id"]) for doc in docs]

    # --- outcomes (fenced on the lease) -----------------------------------------------------

    async def _update_held(self, key: str, owner: str, update: Document) -> bool:
        """One fenced single-document write. As `findAndModify` by `_id` (the document read
        back is not used, only whether it matched): mongo-java-server serves that from the
        `_id` index, whereas an `update` with a condition beside `_id` scans the collection
        there; on MongoDB both are the same atomic conditional update."""
        found = await self._deliveries.find_one_and_update(
            _held(key, owner), update, projection={"_id": 1}
        )
        return found is not None

    async def mark_sent(
        self, key: str, owner: str, message_id: str, now: datetime, attempts: int
    ) -> bool:
        """Record that SES accepted the email (fenced on the lease); False if the lease was
        lost.

        Group commit: a call made while no `sent` write is in flight is written at once;
        calls made meanwhile wait for it and then go together in the next write, one
        unordered `bulk_write` of fenced `update_one`s (on MongoDB each is served by the
        `_id` index; the local stand-in scans per statement, cheap at the sizes it holds).
        Under load that is one round trip for many emails; it never waits for more than the
        write in flight plus its own, so the duplicate window (SES accepted, `sent` not yet
        durable) stays that short.
        """
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._sent_waiting.append((_Sent(key, owner, message_id, now, attempts), done))
        if self._sent_writer is None or self._sent_writer.done():
            self._sent_writer = asyncio.create_task(self._write_sent(), name="deliveries-sent")
        return await done

    async def _write_sent(self) -> None:
        while self._sent_waiting:
            batch, self._sent_waiting = self._sent_waiting, []
            try:
                lost = await self._mark_sent_many([sent for sent, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for sent, done in batch:
                if not done.done():
                    done.set_result(sent.key not in lost)

    async def _mark_sent_many(self, batch: Sequence[_Sent]) -> set[str]:
        """The keys (of `batch`) whose lease was lost: nothing was written for them."""
        if len(batch) == 1:
            [sent] = batch
            held = await self._update_held(sent.key, sent.owner, _sent_fields(sent))
            return set() if held else {sent.key}
        updates = [UpdateOne(_held(s.key, s.owner), _sent_fields(s)) for s in batch]
        result = await self._deliveries.bulk_write(updates, ordered=False)
        if result.matched_count == len(batch):
            return set()
        # Rare (a lease was lost): which ones, by `_id`. Ours are `sent` with our message id.
        ours = {s.key: s.message_id for s in batch}
        found = await self._deliveries.find(
            {"_id": {"$in": list(ours)}}, {"state": 1, "message_id": 1}
        ).to_list()
        written = {
            str(d["_id"])
            for d in found
            if d["state"] == DeliveryState.SENT.value and d.get("message_id") == ours[d["_id"]]
        }
        return set(ours) - written

    async def reschedule(
        self,
        key: str,
        owner: str,
        *,
        attempts: int,
        first_attempt_at: datetime,
        due_at: datetime,
        error: str,
    ) -> bool:
        fields = {
            "state": DeliveryState.PENDING.value,
            "attempts": attempts,
            "first_attempt_at": first_attempt_at,
            "due_at": due_at,
            "last_error": error,
            "lease_until": None,
        }
        return await self._update_held(key, owner, {"$set": fields})

    async def finish(
        self, key: str, owner: str, state: DeliveryState, reason: str, attempts: int
    ) -> bool:
        fields = {"state": state.value, "reason": reason, "attempts": attempts, "lease_until": None}
        return await self._update_held(key, owner, {"$set": fields})

    # --- operators --------------------------------------------------------------------------

    async def statuses(self, tenant_id: str, event_ids: Sequence[str]) -> list[DeliveryStatus]:
        """By `_id` only; unknown ids are left out."""
        keys = [tenant_key(tenant_id, event_id) for event_id in event_ids]
        projection = {
            "event_id": 1,
            "state": 1,
            "attempts": 1,
            "sent_at": 1,
            "reason": 1,
            "last_error": 1,
        }
        docs = await self._deliveries.find({"_id": {"$in": keys}}, projection).to_list()
        return [
            DeliveryStatus(
                event_id=str(doc["event_id"]),
                state=DeliveryState(doc["state"]),
                attempts=int(doc.get("attempts", 0)),
                sent_at=maybe_aware(doc.get("sent_at")),
                reason=doc.get("reason"),
                last_error=doc.get("last_error"),
            )
            for doc in docs
        ]
