"""Branding use cases with an in-memory projection: version gating, the email's brand."""

from __future__ import annotations

from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.branding.service import BrandingService
from tests.notifier.fakes import FakeBrandingStore

ACME = EntityView("Acme Billing", "https://cdn.example/acme.png", "Acme logo")
GROUP = BillGroupView("EMEA", "Globex Corporation", "ent_1")


def service(store: FakeBrandingStore) -> BrandingService:
    return BrandingService(store, neutral_name="Customer Portal", neutral_logo_url=None)


async def test_only_a_newer_version_changes_the_projection() -> None:
    store = FakeBrandingStore()
    branding = service(store)
    assert await branding.apply_entity("t", "ent_1", 3, ACME)
    assert not await branding.apply_entity("t", "ent_1", 2, EntityView("Old", None, ""))
    assert not await branding.apply_entity("t", "ent_1", 3, EntityView("Replay", None, ""))
    assert await branding.apply_bill_group("t", "bg_1", 1, GROUP)
    assert store.entities_held[("t", "ent_1")] == (3, ACME)


async def test_the_event_names_the_entity() -> None:
    store = FakeBrandingStore()
    await store.apply_entity("t", "ent_1", 1, ACME)
    await store.apply_bill_group("t", "bg_1", 1, GROUP)
    brand = await service(store).brand("t", "bg_1", "ent_1")
    assert (brand.branding.entity_name, brand.branding.neutral, brand.entity_id) == (
        "Acme Billing",
        False,
        "ent_1",
    )
    assert brand.branding.account_name == "Globex Corporation"
    assert store.reads == 2


async def test_without_an_entity_in_the_event_the_bill_groups_entity_brands_it() -> None:
    store = FakeBrandingStore()
    await store.apply_entity("t", "ent_1", 1, ACME)
    await store.apply_bill_group("t", "bg_1", 1, GROUP)
    brand = await service(store).brand("t", "bg_1", None)
    assert (brand.branding.entity_name, brand.entity_id) == ("Acme Billing", "ent_1")
    assert store.reads == 2


async def test_unknown_branding_is_neutral_and_never_fails() -> None:
    store = FakeBrandingStore()
    brand = await service(store).brand("t", "bg_unknown", None)
    assert brand.branding.neutral
    assert (brand.branding.entity_name, brand.branding.logo_url, brand.entity_id) == (
        "Customer Portal",
        None,
        None,
    )
    # The bill group is known, its entity not yet: neutral, still addressed to the customer.
    await store.apply_bill_group("t", "bg_1", 1, GROUP)
    brand = await service(store).brand("t", "bg_1", None)
    assert brand.branding.neutral
    assert brand.branding.account_name == "Globex Corporation"
    assert brand.entity_id == "ent_1"


async def test_a_batch_is_branded_in_order_with_at_most_two_round_trips() -> None:
    store = FakeBrandingStore()
    await store.apply_entity("t", "ent_1", 1, ACME)
    await store.apply_entity("u", "ent_1", 1, EntityView("Umbrella", None, ""))
    await store.apply_bill_group("t", "bg_1", 1, GROUP)
    await store.apply_bill_group("u", "bg_1", 1, BillGroupView("U", "Umbrella Corp", "ent_1"))
    brands = await service(store).brands(
        [
            ("t", "bg_1", None),  # the bill group names the entity
            ("u", "bg_1", "ent_1"),  # same ids, another tenant
            ("t", "bg_unknown", None),  # neutral
            ("t", "bg_1", "ent_unknown"),  # named but not projected yet: neutral
        ]
    )
    assert [b.branding.entity_name for b in brands] == [
        "Acme Billing",
        "Umbrella",
        "Customer Portal",
        "Customer Portal",
    ]
    assert [b.entity_id for b in brands] == ["ent_1", "ent_1", None, "ent_unknown"]
    assert brands[1].branding.account_name == "Umbrella Corp"
    assert store.reads == 3  # bill groups + named entities, then the bill groups' entities
