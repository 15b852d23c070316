"""Branding use cases: project entity and bill group state; brand a sign-in email."""

from __future__ import annotations

import asyncio
from typing import Protocol

from portal_notifier.branding.domain import EmailBrand, resolve_branding, sending_entity
from portal_notifier.branding.models import BillGroupView, EntityView


class BrandingStore(Protocol):
    """What the use cases need of the projection (`BrandingRepository`, or a fake)."""

    async def apply_entity(
        self, tenant_id: str, entity_id: str, version: int, view: EntityView
    ) -> bool: ...

    async def apply_bill_group(
        self, tenant_id: str, bill_group_id: str, version: int, view: BillGroupView
    ) -> bool: ...

    async def entity(self, tenant_id: str, entity_id: str) -> EntityView | None: ...

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupView | None: ...


async def _none() -> None:
    return None


class BrandingService:
    def __init__(
        self, store: BrandingStore, *, neutral_name: str, neutral_logo_url: str | None
    ) -> None:
        self._store = store
        self._neutral_name = neutral_name
        self._neutral_logo_url = neutral_logo_url

    async def apply_entity(
        self, tenant_id: str, entity_id: str, version: int, view: EntityView
    ) -> bool:
        """True when this version is newer than the one held (and now applied)."""
        return await self._store.apply_entity(tenant_id, entity_id, version, view)

    async def apply_bill_group(
        self, tenant_id: str, bill_group_id: str, version: int, view: BillGroupView
    ) -> bool:
        return await self._store.apply_bill_group(tenant_id, bill_group_id, version, view)

    async def brand(self, tenant_id: str, bill_group_id: str, entity_id: str | None) -> EmailBrand:
        """The branding of a sign-in email; neutral when the projection does not know it yet.

        The bill group and (when the event names it) the entity are read concurrently: each is
        a full round trip to the database.
        """
        bill_group, entity = await asyncio.gather(
            self._store.bill_group(tenant_id, bill_group_id),
            self._store.entity(tenant_id, entity_id) if entity_id else _none(),
        )
        sender_entity = sending_entity(entity_id, bill_group)
        if entity is None and sender_entity and not entity_id:
            # The event did not name the entity; the bill group's projection does.
            entity = await self._store.entity(tenant_id, sender_entity)
        branding = resolve_branding(
            entity,
            bill_group,
            neutral_name=self._neutral_name,
            neutral_logo_url=self._neutral_logo_url,
        )
        return EmailBrand(branding, sender_entity)
