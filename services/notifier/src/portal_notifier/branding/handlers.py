"""Kafka edge of the branding projection: upstream state events → the projection."""

from __future__ import annotations

from portal_contracts.billing import BillGroupState, EntityState
from portal_contracts.envelope import Envelope
from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.branding.service import BrandingService


async def on_entity_state(service: BrandingService, event: Envelope[EntityState]) -> None:
    if event.aggregate_version is None:
        return
    entity = event.payload
    await service.apply_entity(
        event.tenant_id,
        entity.entity_id,
        event.aggregate_version,
        EntityView(
            name=entity.name,
            logo_url=entity.logo.url if entity.logo else None,
            logo_alt=entity.logo.alt if entity.logo else "",
        ),
    )


async def on_bill_group_state(service: BrandingService, event: Envelope[BillGroupState]) -> None:
    if event.aggregate_version is None:
        return
    group = event.payload
    await service.apply_bill_group(
        event.tenant_id,
        group.bill_group_id,
        event.aggregate_version,
        BillGroupView(name=group.name, account_name=group.account_name, entity_id=group.entity_id),
    )
