"""Branding use cases: project entity and bill group state; brand a sign-in email."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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

    async def entities(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], EntityView]: ...

    async def bill_groups(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], BillGroupView]: ...


# What to brand: (tenant id, bill group id, entity id if the event names it).
BrandRequest = tuple[str, str, str | None]


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
        """The branding of one sign-in email; neutral when the projection does not know it."""
        [brand] = await self.brands([(tenant_id, bill_group_id, entity_id)])
        return brand

    async def brands(self, requests: Sequence[BrandRequest]) -> list[EmailBrand]:
        """The branding of several emails (a consumer batch), in order, with at most two
        round trips in all: the bill groups and the entities the events name, concurrently;
        then the entities only the bill groups name, if any.
        """
        named = [(t, e) for t, _, e in requests if e]
        groups, entities = await asyncio.gather(
            self._store.bill_groups([(t, g) for t, g, _ in requests]),
            self._store.entities(named),
        )
        senders = [sending_entity(e, groups.get((t, g))) for t, g, e in requests]
        missing = {
            (t, sender)
            for (t, _, _), sender in zip(requests, senders, strict=True)
            if sender and (t, sender) not in entities
        } - set(named)
        if missing:
            # The events did not name the entity; the bill groups' projection does.
            entities = {**entities, **await self._store.entities(sorted(missing))}
        return [
            EmailBrand(
                resolve_branding(
                    entities.get((t, sender)) if sender else None,
                    groups.get((t, g)),
                    neutral_name=self._neutral_name,
                    neutral_logo_url=self._neutral_logo_url,
                ),
                sender,
            )
            for (t, g, _), sender in zip(requests, senders, strict=True)
        ]
