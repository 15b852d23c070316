"""Submitting a customer change: exactly once per idempotency key, whichever replica gets
each repeat, then read-your-writes.

With a key, the change id is claimed in billing-view first (`change-keys`, shared by every
gateway replica): the first submit gets its own change id and publishes; a repeat gets the
first submit's change id and publishes nothing, unless the first died between its claim and
its publish (its lease ran out): then the repeat publishes the change under the recorded id.
The same key with a different body is refused. Without a key every submit is a new change.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from portal_gateway.clients.models import Session
from portal_gateway.errors import (
    FormInvalidError,
    IdempotencyKeyReusedError,
    NotFoundError,
    UpstreamError,
)
from portal_gateway.portal.domain.change_ids import ChangeIds
from portal_gateway.portal.domain.idempotency import FORM_FIELD, fingerprint, parse_key
from portal_gateway.portal.models import ActivityItem, ChangeKey

log = logging.getLogger(__name__)

# Builds the change's payload under the change id it is given (the vault is called here:
# a repeat that publishes nothing tokenizes nothing).
Build = Callable[[str], Awaitable[BaseModel]]


class ChangePublisher(Protocol):
    """Publishes one customer change, acknowledged by Kafka, or raises PublishError."""

    async def publish(self, session: Session, payload: BaseModel) -> None: ...


class ChangeReader(Protocol):
    async def change(self, tenant_id: str, bill_group_id: str, change_id: str) -> ActivityItem: ...


class ChangeKeys(Protocol):
    """billing-view's idempotency keys (`clients.billing.BillingViewClient`)."""

    async def claim_key(
        self, tenant_id: str, bill_group_id: str, key: str, fingerprint: str, change_id: str
    ) -> ChangeKey: ...
    async def settle_key(
        self, tenant_id: str, bill_group_id: str, key: str, published: bool
    ) -> None: ...


def idempotency_key(raw: str | None, field: str = FORM_FIELD) -> str | None:
    """A submit's key (None: none sent); FormInvalidError (400) naming `field` otherwise."""
    try:
        return parse_key(raw)
    except ValueError as exc:
        raise FormInvalidError({field: str(exc)}, status=400) from exc


@dataclass(frozen=True)
class Submitted:
    change_id: str
    # billing-view's activity item, or None when it has not caught up within the wait.
    item: ActivityItem | None

    @property
    def status(self) -> str:
        return self.item.status if self.item is not None else "pending"


@dataclass(frozen=True)
class Change:
    """One submit: what it does (`operation`, with its fields) and its key, if any."""

    operation: str
    fields: Mapping[str, str]
    key: str | None


class ChangeSubmitter:
    def __init__(
        self,
        reader: ChangeReader,
        publisher: ChangePublisher,
        keys: ChangeKeys,
        ids: ChangeIds,
        visible_wait_seconds: float,
    ) -> None:
        self.reader = reader
        self.publisher = publisher
        self.keys = keys
        self.ids = ids
        self.visible_wait_seconds = visible_wait_seconds

    async def submit(self, session: Session, change: Change, build: Build) -> Submitted:
        change_id = self.ids.mint(session.tenant_id, session.bill_group_id, secrets.token_hex(8))
        if change.key is None:
            await self.publisher.publish(session, await build(change_id))
            return await self._submitted(session, change_id)
        body = fingerprint(self.ids.key, change.operation, change.fields)
        held = await self.keys.claim_key(
            session.tenant_id, session.bill_group_id, change.key, body, change_id
        )
        if not hmac.compare_digest(held.fingerprint, body):
            raise IdempotencyKeyReusedError
        if held.publish:
            await self._publish_once(session, change.key, held.change_id, build)
        return await self._submitted(session, held.change_id)

    async def _publish_once(self, session: Session, key: str, change_id: str, build: Build) -> None:
        tenant_id, bill_group_id = session.tenant_id, session.bill_group_id
        try:
            await self.publisher.publish(session, await build(change_id))
        except BaseException:
            # Nothing was published (or the form was refused): a retry with this key may
            # publish at once. If billing-view is away too, the lease runs out instead.
            with suppress(UpstreamError):
                await self.keys.settle_key(tenant_id, bill_group_id, key, published=False)
            raise
        try:
            await self.keys.settle_key(tenant_id, bill_group_id, key, published=True)
        except UpstreamError as exc:
            # Published: the customer's change stands. Only a repeat after the lease would
            # publish it again, under the same change id (billing-view records it once).
            log.warning("change key not settled", extra={"detail": exc.detail})

    async def _submitted(self, session: Session, change_id: str) -> Submitted:
        return Submitted(change_id, await self._wait_until_visible(session, change_id))

    async def _wait_until_visible(self, session: Session, change_id: str) -> ActivityItem | None:
        """Read-your-writes: the change's activity item, or None if billing-view is behind."""
        delay, waited = 0.05, 0.0
        while waited <= self.visible_wait_seconds:
            try:
                return await self.reader.change(session.tenant_id, session.bill_group_id, change_id)
            except (NotFoundError, UpstreamError):
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 0.5)
        return None
