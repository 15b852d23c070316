"""Pure branding rules: which name and logo the sign-in email shows."""

from __future__ import annotations

from dataclasses import dataclass

from portal_notifier.branding.models import BillGroupView, EntityView


@dataclass(frozen=True)
class Branding:
    """What the email shows about who sends it and to whom it is addressed."""

    entity_name: str
    logo_url: str | None
    logo_alt: str
    bill_group_name: str | None
    account_name: str | None
    neutral: bool


@dataclass(frozen=True)
class EmailBrand:
    """The branding of one email and the entity that sends it (if known), which also picks
    the sender address."""

    branding: Branding
    entity_id: str | None


def resolve_branding(
    entity: EntityView | None,
    bill_group: BillGroupView | None,
    *,
    neutral_name: str,
    neutral_logo_url: str | None,
) -> Branding:
    """The entity's branding when the projection knows it, else the platform's neutral one.

    A sign-in email must never wait for (or fail on) branding that has not arrived yet: the
    customer is waiting for the code, and an unbranded email is better than none.
    """
    account_name = bill_group.account_name if bill_group else None
    group_name = bill_group.name if bill_group else None
    if entity is None:
        return Branding(
            entity_name=neutral_name,
            logo_url=neutral_logo_url,
            logo_alt=neutral_name,
            bill_group_name=group_name,
            account_name=account_name,
            neutral=True,
        )
    return Branding(
        entity_name=entity.name,
        logo_url=entity.logo_url,
        logo_alt=entity.logo_alt or entity.name,
        bill_group_name=group_name,
        account_name=account_name,
        neutral=False,
    )


def sending_entity(event_entity_id: str | None, bill_group: BillGroupView | None) -> str | None:
    """The event names the entity when access knew it; otherwise the bill group's does."""
    return event_entity_id or (bill_group.entity_id if bill_group else None)
